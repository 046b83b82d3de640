@testable import Export
import Foundation
import Tensor
import XCTest

final class NPYTests: XCTestCase {
    func testHeaderIsNumPyVersion1AlignedTo64Bytes() {
        let bytes = NPY.encode(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(Array(bytes[0..<8]), [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 0x01, 0x00])
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        XCTAssertEqual((10 + headerLength) % 64, 0)
        let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
        XCTAssertTrue(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"), header)
        XCTAssertTrue(header.hasSuffix(" \n"))
        XCTAssertEqual(bytes.count, 10 + headerLength + 6 * 4)
        // 1.0 as little-endian float32 right after the header.
        XCTAssertEqual(Array(bytes[(10 + headerLength)..<(14 + headerLength)]), [0x00, 0x00, 0x80, 0x3F])
    }

    func testShapeTuplesAreWrittenLikeNumPy() {
        let cases: [([Int], String)] = [([], "()"), ([3], "(3,)"), ([0, 14, 14], "(0, 14, 14)"), ([2, 3, 4, 5], "(2, 3, 4, 5)")]
        for (shape, tuple) in cases {
            let header = NPY.header(shape: shape)
            XCTAssertTrue(String(decoding: header, as: UTF8.self).contains("'shape': \(tuple), }"))
            XCTAssertEqual(header.count % 64, 0)
        }
    }

    func testRoundTripKeepsShapeAndEveryBit() throws {
        let values: [Float] = [0, -0, 1.5, -2.25, .pi, .leastNonzeroMagnitude, .greatestFiniteMagnitude, .infinity, .nan]
        let cases: [([Int], [Float])] = [([9], values), ([3, 3], values), ([], [42]), ([0, 4, 4], []), ([1, 1, 9], values)]
        for (shape, values) in cases {
            let (readShape, readValues) = try NPY.decode(NPY.encode(shape: shape, values: values))
            XCTAssertEqual(readShape, shape)
            XCTAssertEqual(readValues.map(\.bitPattern), values.map(\.bitPattern))
        }
        let tensor = Tensor(shape: [2, 2], values: [1, 2, 3, 4])
        XCTAssertEqual(NPY.encode(tensor), NPY.encode(shape: [2, 2], values: [1, 2, 3, 4]))
    }

    func testWriteAndReadAFile() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/a b ü.npy"
        try NPY.write(Tensor(shape: [2, 1, 3], values: [1, 2, 3, 4, 5, 6]), to: path)
        let (shape, values) = try NPY.read(path)
        XCTAssertEqual(shape, [2, 1, 3])
        XCTAssertEqual(values, [1, 2, 3, 4, 5, 6])
        XCTAssertThrowsError(try NPY.read(dir + "/missing.npy")) { error in
            XCTAssertTrue("\(error)".contains("missing.npy"), "\(error)")
        }
    }

    func testRejectsWhatItDoesNotRead() {
        let good = NPY.encode(shape: [2], values: [1, 2])
        func header(_ dict: String, version: UInt8 = 1, data: Int = 8) -> [UInt8] {
            var text = Array(dict.utf8)
            text += [UInt8](repeating: 0x20, count: (64 - (10 + text.count + 1) % 64) % 64) + [0x0A]
            return NPY.magic + [version, 0, UInt8(text.count), 0] + text + [UInt8](repeating: 0, count: data)
        }
        let cases: [([UInt8], String)] = [
            ([], "\\x93NUMPY"),
            (Array("hello world, not numpy".utf8), "\\x93NUMPY"),
            (header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", version: 2), "version 2.0"),
            (header("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }"), "'>f4'"),
            (header("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }"), "'<f8'"),
            (header("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }"), "C order"),
            (header("{'descr': '<f4', 'fortran_order': False, }"), "no shape"),
            (header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }"), "cannot parse"),
            (header("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"), "needs 12 data bytes, the file has 8"),
            (Array(good.dropLast()), "needs 8 data bytes, the file has 7"),
            (Array(good.prefix(20)), "header is cut off"),
        ]
        for (bytes, reason) in cases {
            XCTAssertThrowsError(try NPY.decode(bytes, source: "x.npy")) { error in
                XCTAssertTrue("\(error)".hasPrefix("x.npy is not a float32 .npy file"), "\(error)")
                XCTAssertTrue("\(error)".contains(reason), "\(error) should say \(reason)")
            }
        }
    }

    /// numpy reads what NPY writes: shape, dtype, order and every value.
    func testNumPyLoadsTheFiles() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let values = (0..<24).map { Float($0) * 0.37 - 4 }
        let cases: [([Int], [Float])] = [([2, 3, 4], values), ([24], values), ([], [-1.5]), ([0, 14, 14], [])]
        for (i, (shape, values)) in cases.enumerated() {
            let path = dir + "/case \(i) 'q'.npy"
            try NPY.write(shape: shape, values: values, to: path)
            let loaded = try numpyLoad(path)
            XCTAssertEqual(loaded.shape, shape)
            XCTAssertEqual(loaded.dtype, "float32")
            XCTAssertTrue(loaded.cOrder)
            XCTAssertEqual(loaded.values, values)
        }
    }
}

/// `numpy.load(path)` in Python: shape, dtype, C-contiguity and values
/// (float32 → Python float → JSON is exact). Skips when Python or numpy is missing.
func numpyLoad(_ path: String) throws -> (shape: [Int], dtype: String, cOrder: Bool, values: [Float]) {
    let script = """
        import json, sys, numpy
        a = numpy.load(sys.argv[1])
        print(json.dumps({"shape": list(a.shape), "dtype": str(a.dtype),
                          "c": bool(a.flags["C_CONTIGUOUS"]), "values": a.ravel().tolist()}))
        """
    guard let result = try runProgram("python3", ["-c", "import numpy"]), result.status == 0 else {
        print("skipped: python3 with numpy is not installed, so numpy.load is not checked")
        throw XCTSkip("python3 with numpy is not installed")
    }
    let output = try XCTUnwrap(try runProgram("python3", ["-c", script, path]))
    XCTAssertEqual(output.status, 0, output.stderr)
    let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
    return (try XCTUnwrap(json["shape"] as? [Int]), try XCTUnwrap(json["dtype"] as? String),
            try XCTUnwrap(json["c"] as? Bool), try XCTUnwrap(json["values"] as? [Double]).map { Float($0) })
}
