import Foundation
import Imaging
import XCTest

/// The bytes of a file in Fixtures/ (made by make_fixtures.py).
func fixture(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> [UInt8] {
    let path = try fixturePath(name, file: file, line: line)
    return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

func fixturePath(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
    let url = URL(fileURLWithPath: name)
    let path = Bundle.module.path(forResource: url.deletingPathExtension().lastPathComponent,
                                  ofType: url.pathExtension, inDirectory: "Fixtures")
    return try XCTUnwrap(path, "missing fixture \(name)", file: file, line: line)
}

/// Reads a binary PPM (P6) or PGM (P5) as written by djpeg; grey becomes R=G=B.
func netpbm(_ bytes: [UInt8]) throws -> RGBImage {
    var fields: [String] = []
    var i = 0
    while fields.count < 4 {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
        let start = i
        while i < bytes.count, !(bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09) { i += 1 }
        fields.append(String(decoding: bytes[start..<i], as: UTF8.self))
    }
    i += 1  // the single whitespace byte after maxval
    let width = try XCTUnwrap(Int(fields[1])), height = try XCTUnwrap(Int(fields[2]))
    let body = Array(bytes[i...])
    switch fields[0] {
    case "P6":
        return RGBImage(width: width, height: height, pixels: body)
    case "P5":
        return RGBImage(width: width, height: height, pixels: body.flatMap { [$0, $0, $0] })
    default:
        throw XCTSkip("not a binary netpbm file")
    }
}

/// Largest per-byte difference between two images of the same size.
func maxDifference(_ a: RGBImage, _ b: RGBImage) -> Int {
    zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
}

func meanDifference(_ a: RGBImage, _ b: RGBImage) -> Double {
    Double(zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.reduce(0, +)) / Double(a.pixels.count)
}

/// Runs `body`, which must throw an ImageError, and returns that error.
func imageError(_ body: () throws -> Any, file: StaticString = #filePath, line: UInt = #line) -> ImageError? {
    do {
        _ = try body()
        XCTFail("expected an ImageError", file: file, line: line)
    } catch let error as ImageError {
        return error
    } catch {
        XCTFail("expected an ImageError, got \(error)", file: file, line: line)
    }
    return nil
}

/// A temporary directory removed when the test ends.
func temporaryDirectory(_ test: XCTestCase) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("imaging-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url.path
}
