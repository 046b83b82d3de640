import Foundation
import NN
import Tensor
import XCTest

final class SafetensorsTests: XCTestCase {
    /// A safetensors file from a header dictionary and raw data bytes.
    func file(_ header: [String: Any], data: [UInt8], headerLength: UInt64? = nil) -> Data {
        let json = try! JSONSerialization.data(withJSONObject: header)
        var out = Data()
        withUnsafeBytes(of: (headerLength ?? UInt64(json.count)).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(contentsOf: data)
        return out
    }

    func floats(_ xs: [Float]) -> [UInt8] { xs.withUnsafeBytes { Array($0) } }

    func testRoundTripAndDtypes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("w.safetensors").path
        let a = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, -6]), b = Tensor(shape: [], values: [7.5])
        try Safetensors.write(["layer.weight": a, "scale": b], to: path)
        let back = try Safetensors.read(path: path)
        XCTAssertEqual(back["layer.weight"]?.shape, [2, 3])
        XCTAssertEqual(back["layer.weight"]?.values, a.values)
        XCTAssertEqual(back["scale"]?.values, [7.5])

        // F16 1.5 = 0x3E00, BF16 −2 = 0xC000, I64 3, F64 0.1 (rounded to the nearest Float).
        let data: [UInt8] = [0x00, 0x3E, 0x00, 0xC0] + withUnsafeBytes(of: Int64(3).littleEndian) { Array($0) }
            + withUnsafeBytes(of: (0.1 as Double).bitPattern.littleEndian) { Array($0) }
        let parsed = try Safetensors.parse(file([
            "h": ["dtype": "F16", "shape": [1], "data_offsets": [0, 2]],
            "b": ["dtype": "BF16", "shape": [1], "data_offsets": [2, 4]],
            "n": ["dtype": "I64", "shape": [], "data_offsets": [4, 12]],
            "d": ["dtype": "F64", "shape": [1], "data_offsets": [12, 20]],
            "__metadata__": ["format": "pt"],
        ], data: data), file: "x.safetensors")
        XCTAssertEqual(parsed["h"]?.values, [1.5])
        XCTAssertEqual(parsed["b"]?.values, [-2])
        XCTAssertEqual(parsed["n"]?.values, [3])
        XCTAssertEqual(parsed["d"]?.values, [0.1])

        // Python's safetensors reads what we write, where it is installed.
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = ["python3", "-c", """
            import sys
            try:
                from safetensors.numpy import load_file
            except ImportError:
                sys.exit(3)
            t = load_file(sys.argv[1])
            assert t["layer.weight"].tolist() == [[1, 2, 3], [4, 5, -6]], t
            assert float(t["scale"]) == 7.5
            """, path]
        try check.run()
        check.waitUntilExit()
        if check.terminationStatus == 3 { print("skipped: python safetensors not installed") }
        else { XCTAssertEqual(check.terminationStatus, 0, "safetensors.numpy.load_file could not read our file") }
    }

    func assertMalformed(_ data: Data, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Safetensors.parse(data, file: "bad.safetensors"), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("bad.safetensors"), message, file: file, line: line)
            XCTAssertTrue(message.contains(fragment), "\(message) lacks \(fragment)", file: file, line: line)
        }
    }

    func testBadFiles() {
        let good: [String: Any] = ["w": ["dtype": "F32", "shape": [2], "data_offsets": [0, 8]]]
        assertMalformed(Data([1, 2, 3]), "shorter than the 8-byte header")
        assertMalformed(file(good, data: floats([1, 2]), headerLength: 1 << 62), "exceeds the limit")
        assertMalformed(file(good, data: floats([1, 2]), headerLength: 5000), "larger than the file")
        assertMalformed(file(good, data: floats([1])), "outside the")
        assertMalformed(file(["w": ["dtype": "U8", "shape": [8], "data_offsets": [0, 8]]], data: floats([1, 2])),
                        "U8 is not supported")
        assertMalformed(file(["w": ["dtype": "F32", "shape": [3], "data_offsets": [0, 8]]], data: floats([1, 2])),
                        "byte count")
        assertMalformed(file(["a": ["dtype": "F32", "shape": [2], "data_offsets": [0, 8]],
                              "b": ["dtype": "F32", "shape": [1], "data_offsets": [4, 8]]], data: floats([1, 2])),
                        "overlap")
        assertMalformed(file(["w": ["dtype": "F32", "shape": [-1], "data_offsets": [0, 8]]], data: floats([1, 2])),
                        "shape")
        assertMalformed(file(["w": ["dtype": "F32", "shape": [1 << 40, 1 << 40], "data_offsets": [0, 8]]], data: floats([1, 2])),
                        "shape")
        var notJSON = Data()
        withUnsafeBytes(of: UInt64(4).littleEndian) { notJSON.append(contentsOf: $0) }
        notJSON.append(contentsOf: Array("{oops".utf8.prefix(4)))
        assertMalformed(notJSON, "not a JSON object")
    }

    func testLoadingNamesEveryProblemAndChangesNothing() throws {
        var initializer = Initializer.random(seed: 1)
        let layer = Linear(3, 2, initializer: &initializer)
        let before = layer.weight.value.values
        let bad: [String: Tensor] = ["weight": .zeros([3, 2]), "extra": .zeros([1])]
        XCTAssertThrowsError(try layer.load(bad, file: "w.safetensors")) { error in
            let m = "\(error)"
            XCTAssertTrue(m.contains("w.safetensors"), m)
            XCTAssertTrue(m.contains("\"weight\" has shape [3, 2], expected [2, 3]"), m)
            XCTAssertTrue(m.contains("missing tensor \"bias\""), m)
            XCTAssertTrue(m.contains("unexpected tensor \"extra\""), m)
        }
        XCTAssertEqual(layer.weight.value.values, before, "a failed load changed the weights")
        try layer.load(["weight": .ones([2, 3]), "bias": .zeros([2])], file: "w.safetensors")
        XCTAssertEqual(layer.weight.value.values, [Float](repeating: 1, count: 6))
    }
}
