import Foundation
import Imaging
import XCTest

final class ErrorTests: XCTestCase {
    func testEmptyData() {
        XCTAssertEqual(imageError { try RGBImage.decode(data: [UInt8]()) }, .emptyFile(source: "image data"))
    }

    func testEmptyFileNamesTheFile() throws {
        let path = try temporaryDirectory(self) + "/empty.jpg"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data()))
        let error = imageError { try RGBImage(contentsOf: path) }
        XCTAssertEqual(error, .emptyFile(source: path))
        XCTAssertEqual(error?.description, "\(path) is empty")
    }

    func testRandomBytesAreNotAnImage() {
        var generator = SplitMix(seed: 7)
        let bytes = (0..<300).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let error = imageError { try RGBImage.decode(data: bytes) }
        XCTAssertEqual(error, .notAnImage(source: "image data"))
        XCTAssertEqual(error?.description, "image data is not a JPEG or PNG image")
        // A file name alone does not make an image.
        XCTAssertEqual(imageError { try RGBImage.decode(data: Array("GIF89a".utf8)) }, .notAnImage(source: "image data"))
    }

    func testMissingFileAndDirectory() throws {
        let dir = try temporaryDirectory(self)
        let missing = dir + "/nope.png"
        guard case .unreadable(let path, let reason)? = imageError({ try RGBImage(contentsOf: missing) }) else {
            return XCTFail("expected unreadable")
        }
        XCTAssertEqual(path, missing)
        XCTAssertEqual(reason, "No such file or directory")
        let error = imageError { try RGBImage(contentsOf: dir) }
        XCTAssertEqual(error, .isDirectory(path: dir))
        XCTAssertEqual(error?.description, "\(dir) is a directory, not an image file")
    }

    func testTruncatedJPEGIsAnErrorNotGrey() throws {
        for name in ["rgb.jpg", "progressive.jpg", "grey.jpg"] {
            let bytes = try fixture(name)
            let error = imageError { try RGBImage.decode(data: Array(bytes.prefix(bytes.count / 2))) }
            XCTAssertEqual(error, .truncated(source: "image data", format: "JPEG"), name)
        }
    }

    func testTruncatedJPEGFileNamesTheFile() throws {
        let path = try temporaryDirectory(self) + "/cut.jpg"
        let bytes = try fixture("rgb.jpg")
        try Data(bytes.prefix(bytes.count - 20)).write(to: URL(fileURLWithPath: path))
        let error = imageError { try RGBImage(contentsOf: path) }
        XCTAssertEqual(error?.description, "\(path) is truncated: the JPEG data ends before the image does")
    }

    /// Wherever a file is cut (past the magic bytes), the error says truncated.
    func testEveryPrefixIsTruncated() throws {
        for (name, magic) in [("rgb.jpg", 3), ("progressive.jpg", 3), ("cmyk.jpg", 3), ("pattern.png", 8), ("interlaced.png", 8)] {
            let bytes = try fixture(name)
            let format = magic == 3 ? "JPEG" : "PNG"
            for length in magic..<bytes.count {
                let error = imageError { try RGBImage.decode(data: bytes[..<length]) }
                guard error == .truncated(source: "image data", format: format) else {
                    return XCTFail("\(name) cut at \(length): \(String(describing: error))")
                }
            }
        }
    }

    func testTruncatedPNG() throws {
        let bytes = try fixture("pattern.png")
        for length in [bytes.count / 2, bytes.count - 5, 20] {
            XCTAssertEqual(imageError { try RGBImage.decode(data: Array(bytes.prefix(length))) },
                           .truncated(source: "image data", format: "PNG"), "length \(length)")
        }
    }

    func testCorruptCRCInCriticalChunk() throws {
        var bytes = try fixture("pattern.png")
        bytes[8 + 8 + 13] ^= 0xFF  // first byte of IHDR's CRC
        guard case .corrupt(_, "PNG", let detail)? = imageError({ try RGBImage.decode(data: bytes) }) else {
            return XCTFail("expected corrupt PNG")
        }
        XCTAssertTrue(detail.contains("CRC"), detail)
    }

    func testCorruptCRCInAncillaryChunk() throws {
        let good = try fixture("text.png")
        XCTAssertEqual(try RGBImage.decode(data: good).width, 2)
        // text.png: signature, IHDR (25 bytes), then tEXt with 13 bytes of data.
        let textCRC = 8 + 25 + 8 + 13
        XCTAssertEqual(Array(good[8 + 25 + 4..<8 + 25 + 8]), Array("tEXt".utf8))
        var bad = good
        bad[textCRC] ^= 0x01
        guard case .corrupt(_, "PNG", let detail)? = imageError({ try RGBImage.decode(data: bad) }) else {
            return XCTFail("expected corrupt PNG")
        }
        XCTAssertTrue(detail.contains("CRC"), detail)
    }

    func testCorruptJPEGReportsLibjpegMessage() throws {
        var bytes = try fixture("rgb.jpg")
        // Destroy the SOF marker: libjpeg meets a scan without a frame header.
        let sof = try XCTUnwrap((2..<bytes.count - 1).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
        bytes[sof + 1] = 0xCF  // SOF15 (lossless arithmetic): unsupported
        guard case .corrupt(_, "JPEG", let detail)? = imageError({ try RGBImage.decode(data: bytes) }) else {
            return XCTFail("expected corrupt JPEG")
        }
        XCTAssertFalse(detail.isEmpty)
    }

    /// A "scan bomb" repeats scans so decoding takes ages; libjpeg warns about
    /// the inconsistent progression, and warnings are errors.
    func testRepeatedProgressiveScansAreRejected() throws {
        let bytes = try fixture("progressive.jpg")
        let lastScan = try XCTUnwrap((0..<bytes.count - 1).last { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xDA })
        let end = bytes.count - 2  // EOI
        let bomb = Array(bytes[..<end]) + Array(repeating: bytes[lastScan..<end], count: 300).flatMap { $0 } + [0xFF, 0xD9]
        guard case .corrupt(_, "JPEG", let detail)? = imageError({ try RGBImage.decode(data: bomb) }) else {
            return XCTFail("expected corrupt JPEG")
        }
        XCTAssertTrue(detail.contains("progression"), detail)
    }

    /// A scan bomb whose progression is consistent (see make_fixtures.py's
    /// `many_scans`) decodes up to 500 scans and is refused at the 501st.
    func testProgressiveJPEGScanLimit() throws {
        let flat = try RGBImage.decode(data: try fixture("scans_500.jpg"))
        XCTAssertEqual(flat.width, 8)
        XCTAssertEqual(Set(flat.pixels), [128])
        guard case .corrupt(_, "JPEG", let detail)? = imageError({ try RGBImage.decode(data: try fixture("scans_501.jpg")) }) else {
            return XCTFail("expected the 501-scan JPEG to be refused")
        }
        XCTAssertTrue(detail.contains("more than 500 scans"), detail)
    }

    func testJPEGDeclaringHugeSizeIsRefusedBeforeDecoding() throws {
        var bytes = try fixture("rgb.jpg")
        let sof = try XCTUnwrap((2..<bytes.count - 1).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
        // FF C0, length (2), precision (1), height (2), width (2): 60000 = 0xEA60.
        bytes.replaceSubrange(sof + 5..<sof + 9, with: [0xEA, 0x60, 0xEA, 0x60])
        let error = imageError { try RGBImage.decode(data: bytes, maxPixels: 1_000_000) }
        XCTAssertEqual(error, .tooLarge(source: "image data", width: 60000, height: 60000, limit: 1_000_000))
        XCTAssertEqual(error?.description,
                       "image data is too large: it declares 60000x60000 = 3600000000 pixels, more than the limit of 1000000 pixels")
        // The default limit (100 megapixels) refuses it too.
        XCTAssertEqual(imageError { try RGBImage.decode(data: bytes) },
                       .tooLarge(source: "image data", width: 60000, height: 60000, limit: RGBImage.defaultMaxPixels))
    }

    func testPNGDeclaringHugeSizeIsRefused() throws {
        let error = imageError { try RGBImage.decode(data: try fixture("huge.png")) }
        XCTAssertEqual(error, .tooLarge(source: "image data", width: 100_000, height: 100_000,
                                        limit: RGBImage.defaultMaxPixels))
    }

    func testLimitIsInclusive() throws {
        let bytes = try fixture("rgb.jpg")  // 16×12 = 192 pixels
        XCTAssertEqual(try RGBImage.decode(data: bytes, maxPixels: 192).width, 16)
        XCTAssertNotNil(imageError { try RGBImage.decode(data: bytes, maxPixels: 191) })
        XCTAssertNotNil(imageError { try RGBImage.decode(data: bytes, maxPixels: -1) })
    }

    func testInvalidJPEGQuality() {
        let image = RGBImage(width: 2, height: 2)
        XCTAssertEqual(imageError { try image.encodeJPEG(quality: 0) },
                       .encodingFailed(format: "JPEG", detail: "quality 0 is outside 1...100"))
    }

    /// Damaged files must fail cleanly or decode to a well-formed image: never crash.
    func testMutatedFixturesNeverCrash() throws {
        var generator = SplitMix(seed: 42)
        for name in ["rgb.jpg", "progressive.jpg", "cmyk.jpg", "exif_mm.jpg", "pattern.png", "interlaced.png", "palette.png"] {
            let original = try fixture(name)
            for _ in 0..<60 {
                var bytes = original
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    let i = Int.random(in: 0..<bytes.count, using: &generator)
                    bytes[i] = UInt8.random(in: 0...255, using: &generator)
                }
                if Bool.random(using: &generator) {
                    bytes.removeLast(Int.random(in: 0..<bytes.count, using: &generator))
                }
                if let image = try? RGBImage.decode(data: bytes, maxPixels: 1 << 20) {
                    XCTAssertEqual(image.pixels.count, image.width * image.height * 3)
                }
            }
        }
    }
}

/// A tiny seeded generator so "random" test inputs are the same on every run.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
