import Foundation
import Imaging
import XCTest

final class CodecTests: XCTestCase {
    /// A deterministic 7×5 image with every byte different enough to notice a shuffle.
    private func sample(width: Int = 7, height: Int = 5) -> RGBImage {
        var image = RGBImage(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                image[x, y] = (UInt8(x * 30 % 256), UInt8(y * 50 % 256), UInt8((x * 7 + y * 13) % 256))
            }
        }
        return image
    }

    func testPNGRoundTripIsExact() throws {
        let image = sample()
        let decoded = try RGBImage.decode(data: try image.encodePNG())
        XCTAssertEqual(decoded, image)
    }

    func testGreyscalePNGDecodesToEqualChannels() throws {
        let grey: [UInt8] = [0, 64, 128, 255, 3, 77]
        let png = try RGBImage.encodeGreyscalePNG(grey, width: 3, height: 2)
        let decoded = try RGBImage.decode(data: png)
        XCTAssertEqual(decoded.width, 3)
        XCTAssertEqual(decoded.height, 2)
        XCTAssertEqual(decoded.pixels, grey.flatMap { [$0, $0, $0] })
    }

    func testJPEGRoundTripIsClose() throws {
        // Smooth content: JPEG's error there is small.
        var image = RGBImage(width: 32, height: 24)
        for y in 0..<24 {
            for x in 0..<32 {
                image[x, y] = (UInt8(x * 8), UInt8(y * 10), 128)
            }
        }
        let decoded = try RGBImage.decode(data: try image.encodeJPEG(quality: 95))
        XCTAssertEqual(decoded.width, 32)
        XCTAssertEqual(decoded.height, 24)
        XCTAssertLessThan(meanDifference(decoded, image), 2.0)
    }

    func testOnePixelImages() throws {
        let dot = RGBImage(width: 1, height: 1, pixels: [200, 30, 90])
        XCTAssertEqual(try RGBImage.decode(data: try dot.encodePNG()), dot)
        let jpeg = try RGBImage.decode(data: try dot.encodeJPEG(quality: 100))
        XCTAssertEqual(jpeg.width, 1)
        XCTAssertEqual(jpeg.height, 1)
        XCTAssertLessThanOrEqual(maxDifference(jpeg, dot), 4)
    }

    func testDecodeAcceptsData() throws {
        let image = sample()
        XCTAssertEqual(try RGBImage.decode(data: Data(try image.encodePNG())), image)
    }

    // MARK: JPEG fixtures against djpeg

    func testBaselineJPEGMatchesDjpeg() throws {
        let decoded = try RGBImage.decode(data: try fixture("rgb.jpg"))
        let expected = try netpbm(try fixture("rgb.ppm"))
        XCTAssertEqual(decoded.width, 16)
        XCTAssertEqual(decoded.height, 12)
        XCTAssertLessThanOrEqual(maxDifference(decoded, expected), 1)
    }

    func testGreyscaleJPEGMatchesDjpeg() throws {
        let decoded = try RGBImage.decode(data: try fixture("grey.jpg"))
        let expected = try netpbm(try fixture("grey.pgm"))
        XCTAssertEqual(decoded.width, expected.width)
        XCTAssertLessThanOrEqual(maxDifference(decoded, expected), 1)
    }

    func testProgressiveJPEGMatchesDjpeg() throws {
        let decoded = try RGBImage.decode(data: try fixture("progressive.jpg"))
        let expected = try netpbm(try fixture("progressive.ppm"))
        XCTAssertEqual(decoded.width, expected.width)
        XCTAssertLessThanOrEqual(maxDifference(decoded, expected), 1)
    }

    func testAdobeCMYKJPEGBecomesRGB() throws {
        // Left block C=255 M=0 Y=0 K=0 -> cyan; right block C=0 M=128 Y=255 K=64:
        // R = 255·191/255 = 191, G = 127·191/255 ≈ 95, B = 0.
        let decoded = try RGBImage.decode(data: try fixture("cmyk.jpg"))
        XCTAssertEqual(decoded.width, 16)
        XCTAssertEqual(decoded.height, 8)
        for (x, expected) in [(3, (0, 255, 255)), (12, (191, 95, 0))] {
            let (r, g, b) = decoded[x, 4]
            XCTAssertLessThanOrEqual(abs(Int(r) - expected.0), 3, "R at x=\(x)")
            XCTAssertLessThanOrEqual(abs(Int(g) - expected.1), 3, "G at x=\(x)")
            XCTAssertLessThanOrEqual(abs(Int(b) - expected.2), 3, "B at x=\(x)")
        }
    }

    func testCMYKWithoutAdobeMarkerIsReadAsPlainCMYK() throws {
        // Without Adobe's APP14 segment the samples are ink amounts, not inverted:
        // the stored (0,255,255,255) reads as C=0 M=Y=K=255 -> black, and
        // (255,127,0,191) as C=255 M=127 Y=0 K=191 -> (0, 128·64/255 ≈ 32, 64).
        var bytes = try fixture("cmyk.jpg")
        let app14 = try XCTUnwrap((2..<bytes.count - 3).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xEE })
        let length = Int(bytes[app14 + 2]) << 8 | Int(bytes[app14 + 3])
        bytes.removeSubrange(app14..<app14 + 2 + length)
        let decoded = try RGBImage.decode(data: bytes)
        for (x, expected) in [(3, (0, 0, 0)), (12, (0, 32, 64))] {
            let (r, g, b) = decoded[x, 4]
            XCTAssertLessThanOrEqual(abs(Int(r) - expected.0), 3, "R at x=\(x)")
            XCTAssertLessThanOrEqual(abs(Int(g) - expected.1), 3, "G at x=\(x)")
            XCTAssertLessThanOrEqual(abs(Int(b) - expected.2), 3, "B at x=\(x)")
        }
    }

    // MARK: EXIF orientation

    /// Every orientation on a 3×2 image with pixels a...f, written out by hand.
    func testAllEightOrientations() {
        let raw = RGBImage(width: 3, height: 2, pixels: (1...6).flatMap { [UInt8($0), 0, 0] })
        let (a, b, c, d, e, f): (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (1, 2, 3, 4, 5, 6)
        let expected: [Int: (width: Int, rows: [UInt8])] = [
            1: (3, [a, b, c, d, e, f]),
            2: (3, [c, b, a, f, e, d]),
            3: (3, [f, e, d, c, b, a]),
            4: (3, [d, e, f, a, b, c]),
            5: (2, [a, d, b, e, c, f]),
            6: (2, [d, a, e, b, f, c]),
            7: (2, [f, c, e, b, d, a]),
            8: (2, [c, f, b, e, a, d]),
        ]
        for (orientation, want) in expected {
            let turned = raw.applyingEXIFOrientation(orientation)
            XCTAssertEqual(turned.width, want.width, "orientation \(orientation)")
            XCTAssertEqual(turned.height, 6 / want.width, "orientation \(orientation)")
            XCTAssertEqual(stride(from: 0, to: turned.pixels.count, by: 3).map { turned.pixels[$0] }, want.rows,
                           "orientation \(orientation)")
        }
        XCTAssertEqual(raw.applyingEXIFOrientation(0), raw)
        XCTAssertEqual(raw.applyingEXIFOrientation(9), raw)
    }

    /// Finds the Orientation IFD entry in a fixture so tests can rewrite its value.
    private func orientationValueOffset(_ bytes: [UInt8], bigEndian: Bool) throws -> Int {
        let tag: [UInt8] = bigEndian ? [0x01, 0x12, 0x00, 0x03] : [0x12, 0x01, 0x03, 0x00]
        let start = try XCTUnwrap((0..<80).first { Array(bytes[$0..<$0 + 4]) == tag })
        return start + (bigEndian ? 9 : 8)  // low byte of the SHORT value
    }

    func testBigEndianEXIFOrientationSixIsApplied() throws {
        var bytes = try fixture("exif_mm.jpg")
        let rotated = try RGBImage.decode(data: bytes)
        XCTAssertEqual(rotated.width, 3)
        XCTAssertEqual(rotated.height, 5)

        let offset = try orientationValueOffset(bytes, bigEndian: true)
        XCTAssertEqual(bytes[offset], 6)
        bytes[offset] = 1
        let upright = try RGBImage.decode(data: bytes)
        XCTAssertEqual(upright.width, 5)
        XCTAssertEqual(upright.height, 3)
        XCTAssertEqual(rotated, upright.applyingEXIFOrientation(6))
        // Rotating clockwise puts the stored bottom-left pixel at the top-left.
        XCTAssertTrue(rotated[0, 0] == upright[0, 2])

        for orientation: UInt8 in 1...8 {
            bytes[offset] = orientation
            XCTAssertEqual(try RGBImage.decode(data: bytes), upright.applyingEXIFOrientation(Int(orientation)))
        }
        bytes[offset] = 9  // out of range: ignored
        XCTAssertEqual(try RGBImage.decode(data: bytes), upright)
    }

    func testLittleEndianEXIFOrientationEightIsApplied() throws {
        var bytes = try fixture("exif_ii.jpg")
        let rotated = try RGBImage.decode(data: bytes)
        let offset = try orientationValueOffset(bytes, bigEndian: false)
        XCTAssertEqual(bytes[offset], 8)
        bytes[offset] = 1
        let upright = try RGBImage.decode(data: bytes)
        XCTAssertEqual(rotated.width, 3)
        XCTAssertEqual(rotated, upright.applyingEXIFOrientation(8))
    }

    // MARK: PNG variants

    func testPNGFixtureMatchesItsSource() throws {
        let expected = try netpbm(try fixture("pattern.ppm"))
        XCTAssertEqual(try RGBImage.decode(data: try fixture("pattern.png")), expected)
        XCTAssertEqual(try RGBImage.decode(data: try fixture("interlaced.png")), expected)
    }

    func testSixteenBitPNGIsRoundedToEightBits() throws {
        // 25828/257 = 100.498 -> 100 and 25829/257 = 100.502 -> 101: rounding, not the high byte.
        let image = try RGBImage.decode(data: try fixture("rgb16.png"))
        XCTAssertEqual(image.pixels, [0, 255, 100, 101, 7, 4])
    }

    func testPaletteWithTransparencyIsCompositedOnWhite() throws {
        // Entries: red alpha 255, green alpha 128, blue alpha 0, (10,20,30) opaque.
        let image = try RGBImage.decode(data: try fixture("palette.png"))
        XCTAssertEqual(image.pixels, [255, 0, 0, 127, 255, 127, 255, 255, 255, 10, 20, 30])
    }

    func testGreyAlphaIsCompositedOnWhite() throws {
        // (g, a): (0,255) -> 0; (0,0) -> 255; (100,128) -> (100·128 + 255·127)/255 ≈ 177;
        // (200,51) -> (200·51 + 255·204)/255 = 244.
        let image = try RGBImage.decode(data: try fixture("grey_alpha.png"))
        XCTAssertEqual(image.pixels, [0, 255, 177, 244].flatMap { [$0, $0, $0] })
    }

    func testRGBAIsCompositedOnWhite() throws {
        // (200,100,50) at alpha 77: c·77/255 + 255·178/255 -> 238, 208, 193.
        let image = try RGBImage.decode(data: try fixture("rgba.png"))
        XCTAssertEqual(image.pixels, [10, 20, 30, 238, 208, 193])
    }

    func testOneBitGreyExpandsToFullRange() throws {
        let image = try RGBImage.decode(data: try fixture("grey1.png"))
        XCTAssertEqual(image.pixels, [255, 0, 255, 255, 0, 0, 0, 255].flatMap { [$0, $0, $0] })
    }

    // MARK: Files

    func testWriteChoosesFormatByExtensionAndReadsBack() throws {
        let dir = try temporaryDirectory(self)
        let image = sample()
        try image.write(to: dir + "/a.png")
        XCTAssertEqual(try RGBImage(contentsOf: dir + "/a.png"), image)

        try image.write(to: dir + "/b.JPG", quality: 95)
        let jpeg = try fixtureBytes(dir + "/b.JPG")
        XCTAssertEqual(Array(jpeg.prefix(3)), [0xFF, 0xD8, 0xFF])
        XCTAssertEqual(try RGBImage(contentsOf: dir + "/b.JPG").width, image.width)

        XCTAssertEqual(imageError { try image.write(to: dir + "/c.bmp") },
                       .unsupportedExtension(path: dir + "/c.bmp"))
    }

    private func fixtureBytes(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
