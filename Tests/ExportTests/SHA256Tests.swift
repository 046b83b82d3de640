@testable import Export
import Foundation
import XCTest

final class SHA256Tests: XCTestCase {
    func testKnownVectors() {
        // FIPS 180-4 examples, plus messages around the 55/56/64-byte padding edges.
        let cases: [(String, String)] = [
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
            (String(repeating: "a", count: 55), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
            (String(repeating: "a", count: 56), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"),
            (String(repeating: "a", count: 64), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
        ]
        for (message, digest) in cases {
            XCTAssertEqual(sha256Hex(of: Array(message.utf8)), digest, "\(message.count) bytes")
        }
    }

    /// A file larger than one read chunk, checked against `sha256sum` when installed.
    func testFileMatchesSha256sum() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/weights ü.safetensors"
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<(1 << 20) + 12345).map { _ in UInt8.random(in: 0...255, using: &generator) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let digest = try sha256Hex(ofFile: path)
        XCTAssertEqual(digest, sha256Hex(of: bytes))
        guard let result = try runProgram("sha256sum", [path]) else {
            print("skipped: sha256sum is not installed")
            throw XCTSkip("sha256sum is not installed")
        }
        XCTAssertEqual(String(result.stdout.prefix(64)), digest)
    }

    func testMissingFileNamesIt() {
        XCTAssertThrowsError(try sha256Hex(ofFile: "/nonexistent/weights.safetensors")) { error in
            XCTAssertEqual("\(error)", "cannot read \"/nonexistent/weights.safetensors\": No such file or directory")
        }
    }
}
