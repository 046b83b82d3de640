import Imaging
import XCTest

final class ResizeTests: XCTestCase {
    /// An image whose three channels are `red`, 255 - red and a constant 10.
    private func image(width: Int, height: Int, red: [UInt8]) -> RGBImage {
        RGBImage(width: width, height: height, pixels: red.flatMap { [$0, 255 - $0, 10] })
    }

    private func red(_ image: RGBImage) -> [UInt8] {
        stride(from: 0, to: image.pixels.count, by: 3).map { image.pixels[$0] }
    }

    func testBilinearUpscaleUsesHalfPixelCentres() {
        // Reference: PyTorch's formula in NumPy; e.g. (1, 1) = 0.75·(0.75·0 + 0.25·100)
        // + 0.25·(0.75·200 + 0.25·40) = 58.75.
        let out = image(width: 2, height: 2, red: [0, 100, 200, 40]).resized(width: 4, height: 4)
        let expected: [UInt8] = [
            0, 25, 75, 100,
            50, 59, 76, 85,
            150, 126, 79, 55,
            200, 160, 80, 40,
        ]
        XCTAssertEqual(red(out), expected)
        XCTAssertEqual(out.pixels[1], 255)
        XCTAssertEqual(out.pixels[5 * 3 + 1], 255 - 59)
        XCTAssertEqual(out.pixels[5 * 3 + 2], 10)
    }

    func testHalvingIsBilinearAndAveragesPairs() {
        let out = image(width: 4, height: 4, red: (0..<16).map { UInt8($0 * 10) }).resized(width: 2, height: 2)
        XCTAssertEqual(red(out), [25, 45, 105, 125])
    }

    func testLargeShrinkAveragesAreas() {
        // 9 -> 2 (4.5×): output 0 = (0+10+20+30 + 0.5·40)/4.5 ≈ 17.8, output 1 = (0.5·40 + 50+60+70+80)/4.5 ≈ 62.2.
        let row = image(width: 9, height: 1, red: (0..<9).map { UInt8($0 * 10) }).resized(width: 2, height: 1)
        XCTAssertEqual(red(row), [18, 62])
        // 8×8 -> 2×2 (4×): the mean of each 4×4 block.
        let block = image(width: 8, height: 8, red: (0..<64).map { UInt8($0 * 2) }).resized(width: 2, height: 2)
        XCTAssertEqual(red(block), [27, 35, 91, 99])
    }

    func testThumbnailOfStripesDoesNotAlias() {
        // Alternating black and white columns: bilinear sampling would return
        // pure black or white; area averaging returns mid grey.
        let stripes = image(width: 64, height: 4, red: (0..<256).map { $0 % 2 == 0 ? 0 : 255 })
        let thumb = stripes.resized(width: 8, height: 4)
        XCTAssertTrue(red(thumb).allSatisfy { (127...128).contains($0) }, "\(red(thumb))")
    }

    func testOnePixelResizes() {
        let dot = RGBImage(width: 1, height: 1, pixels: [9, 99, 199])
        XCTAssertEqual(dot.resized(width: 3, height: 2), RGBImage(width: 3, height: 2, color: (9, 99, 199)))
        let square = image(width: 3, height: 3, red: [0, 10, 20, 30, 40, 50, 60, 70, 80])
        XCTAssertEqual(red(square.resized(width: 1, height: 1)), [40])
    }

    func testCenterCropped() {
        let source = image(width: 4, height: 3, red: (0..<12).map { UInt8($0) })
        // Margins 2 and 2 split evenly: offset (1, 1).
        XCTAssertEqual(red(source.centerCropped(width: 2, height: 1)), [5, 6])
        // Margin 1 rounds half to even: offset 0, as torchvision's CenterCrop.
        XCTAssertEqual(red(source.centerCropped(width: 3, height: 3)), [0, 1, 2, 4, 5, 6, 8, 9, 10])
    }

    // MARK: Preprocessing

    private let halfMean: [Float] = [0.5, 0.5, 0.4]
    private let quarterStd: [Float] = [0.25, 0.25, 0.2]

    /// R varies left to right, G top to bottom, B is 51 (0.2 after /255).
    private func gradient2x2() -> RGBImage {
        RGBImage(width: 2, height: 2, pixels: [0, 0, 51, 255, 0, 51, 0, 255, 51, 255, 255, 51])
    }

    private func assertClose(_ a: [Float], _ b: [Float], accuracy: Float = 1e-5,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (i, (x, y)) in zip(a, b).enumerated() where abs(x - y) > accuracy {
            XCTFail("element \(i): \(x) != \(y)", file: file, line: line)
            return
        }
    }

    func testPreprocessingNormalisesPerChannelInCHW() throws {
        let p = try Preprocessing(width: 2, height: 2, resize: .stretch, mean: halfMean, std: quarterStd)
        // (x/255 - mean)/std: R 0 -> -2, 255 -> 2; B 0.2 -> -1.
        assertClose(p.apply(to: gradient2x2()), [-2, 2, -2, 2, -2, -2, 2, 2, -1, -1, -1, -1])
    }

    func testStretchUpsamplesBilinearInFloat() throws {
        let p = try Preprocessing(width: 4, height: 4, resize: .stretch, mean: halfMean, std: quarterStd)
        // Along an axis 2 -> 4 samples sit at 0, 0.25, 0.75, 1 (half-pixel, clamped): -2, -1, 1, 2.
        let ramp: [Float] = [-2, -1, 1, 2]
        let r = (0..<4).flatMap { _ in ramp }
        let g = ramp.flatMap { [Float](repeating: $0, count: 4) }
        assertClose(p.apply(to: gradient2x2()), r + g + [Float](repeating: -1, count: 16))
    }

    func testCenterCropResizesShorterSideThenCrops() throws {
        let unit: ([Float], [Float]) = ([0, 0, 0], [1, 1, 1])
        let crop = try Preprocessing(width: 2, height: 2, resize: .centerCrop, mean: unit.0, std: unit.1)

        // 6×3 -> shorter side 2 -> 4×2 (scale 1.5: samples at 0.25, 1.75, 3.25, 4.75),
        // crop offset 1 keeps 1.75 and 3.25: red 17.5 and 32.5.
        let wide = image(width: 6, height: 3, red: (0..<18).map { UInt8($0 % 6 * 10) })
        assertClose(crop.apply(to: wide).prefix(4).map { $0 * 255 }, [17.5, 32.5, 17.5, 32.5], accuracy: 1e-3)

        // 3×2 keeps its size; the margin of 1 rounds half to even, so columns 0 and 1.
        let odd = image(width: 3, height: 2, red: [10, 20, 30, 10, 20, 30])
        assertClose(crop.apply(to: odd).prefix(4).map { $0 * 255 }, [10, 20, 10, 20], accuracy: 1e-3)

        // Portrait 2×4 keeps its size and loses a row at the top and bottom.
        let tall = image(width: 2, height: 4, red: [0, 0, 40, 40, 80, 80, 120, 120])
        assertClose(crop.apply(to: tall).prefix(4).map { $0 * 255 }, [40, 40, 80, 80], accuracy: 1e-3)
    }

    func testCenterCropWithNonSquareTarget() throws {
        // Target 3 wide × 2 high: the shorter side becomes max(3, 2) = 3, then 3×2 is cut from the centre.
        let crop = try Preprocessing(width: 3, height: 2, resize: .centerCrop, mean: [0, 0, 0], std: [1, 1, 1])
        let square = image(width: 3, height: 3, red: (0..<9).map { UInt8($0 * 20) })
        // 3×3 stays 3×3; vertical margin 1 rounds to offset 0: rows 0 and 1.
        assertClose(crop.apply(to: square).prefix(6).map { $0 * 255 }, [0, 20, 40, 60, 80, 100], accuracy: 1e-3)
    }

    func testPreprocessingRejectsBadDescriptions() {
        XCTAssertThrowsError(try Preprocessing(width: 0, height: 2, resize: .stretch, mean: halfMean, std: quarterStd))
        XCTAssertThrowsError(try Preprocessing(width: 2, height: 2, resize: .stretch, mean: [0.5], std: quarterStd))
        XCTAssertThrowsError(try Preprocessing(width: 2, height: 2, resize: .stretch, mean: halfMean, std: [1, 0, 1]))
        XCTAssertEqual(Preprocessing.ResizeMode(rawValue: "center-crop"), .centerCrop)
        XCTAssertEqual(Preprocessing.ResizeMode(rawValue: "stretch"), .stretch)
    }

    /// Inputs far from what a model saw are named (issue 22's trial: a 640×480 photo stretched to a
    /// square, grey images, an 8×8 image); an image like the training ones raises nothing.
    func testConcernsAboutImagesUnlikeTheModelsInput() throws {
        let stretch = try Preprocessing(width: 64, height: 64, resize: .stretch, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])
        func colourful(_ w: Int, _ h: Int) -> RGBImage {
            RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { UInt8(($0 * 37) % 251) })
        }
        XCTAssertEqual(stretch.concerns(about: colourful(128, 128)), [])
        let wide = stretch.concerns(about: colourful(640, 480))
        XCTAssertEqual(wide.count, 1)
        XCTAssertTrue(wide[0].contains("640×480") && wide[0].contains("distorted 1.33×"), wide[0])
        XCTAssertTrue(stretch.concerns(about: colourful(8, 8)).first?.contains("less than half") == true)
        let grey = RGBImage(width: 64, height: 64, pixels: (0..<(64 * 64)).flatMap { i in Array(repeating: UInt8(i % 256), count: 3) })
        XCTAssertTrue(grey.isGrey)
        XCTAssertEqual(stretch.concerns(about: grey), ["the image has no colour (every pixel is grey); a model trained on colour images may misread it"])
        let crop = try Preprocessing(width: 224, height: 224, resize: .centerCrop, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])
        XCTAssertTrue(crop.concerns(about: colourful(600, 300)).first?.contains("central 50%") == true)
    }
}
