import XCTest
@testable import ShapesWorld

final class EncodingTests: XCTestCase {
    func testRunLengthRoundTripIsColumnMajor() throws {
        // 3 wide, 2 high:  row 0: . X X   row 1: . . X
        let mask = [false, true, true, false, false, true]
        let counts = RunLengthEncoding.encode(mask, width: 3, height: 2)
        XCTAssertEqual(counts, [2, 1, 1, 2])  // column 0: ..; column 1: X.; column 2: XX
        XCTAssertEqual(RunLengthEncoding.decode(counts, width: 3, height: 2), mask)
        XCTAssertEqual(RunLengthEncoding.encode([true, true], width: 2, height: 1), [0, 2])
        XCTAssertNil(RunLengthEncoding.decode([2, 1], width: 3, height: 2))
        XCTAssertNil(RunLengthEncoding.decode([7, -1], width: 3, height: 2))

        let scene = try SceneGenerator(seed: 9).scene(index: 0)
        for object in scene.objects {
            let runs = RunLengthEncoding.encode(object.mask, width: 64, height: 64)
            XCTAssertEqual(RunLengthEncoding.decode(runs, width: 64, height: 64), object.mask)
        }
    }

    func testCompressedRunLengthStrings() throws {
        // Hand-encoded with pycocotools' rules: 100 needs two groups ("T3"), and
        // the fourth and fifth values are stored relative to two before (14 − 10 = 4, 1 − 2 = −1 → "O").
        XCTAssertEqual(RunLengthEncoding.counts(compressed: "T3:24O"), [100, 10, 2, 14, 1])
        XCTAssertEqual(RunLengthEncoding.counts(compressed: ""), [])
        XCTAssertNil(RunLengthEncoding.counts(compressed: "T"))  // a continued group that never ends
        XCTAssertNil(RunLengthEncoding.counts(compressed: "3 5"))
        let mask = try Segmentation.compressed(height: 1, width: 127, counts: "T3:24O").mask(width: 127, height: 1)
        XCTAssertEqual(mask.filter { $0 }.count, 10 + 14)  // runs: 100 off, 10 on, 2 off, 14 on, 1 off
        XCTAssertTrue(mask[100] && mask[109] && !mask[110] && !mask[111] && mask[112] && mask[125] && !mask[126])
    }

    func testPolygonOfASquareCoversThePixelsWhoseCentresAreInside() throws {
        let square = Segmentation.polygons([[2, 3, 6, 3, 6, 5, 2, 5]])
        let mask = try square.mask(width: 8, height: 8)
        var expected = [Bool](repeating: false, count: 64)
        for y in 3..<5 { for x in 2..<6 { expected[y * 8 + x] = true } }
        XCTAssertEqual(mask, expected)
        // Two polygons are united; a polygon outside the image contributes nothing.
        let two = try Segmentation.polygons([[0, 0, 1, 0, 1, 1, 0, 1], [20, 20, 30, 20, 30, 30]]).mask(width: 8, height: 8)
        XCTAssertEqual(two.filter { $0 }.count, 1)
        XCTAssertThrowsError(try Segmentation.polygons([[1, 2, 3, 4]]).mask(width: 8, height: 8))
    }

    func testSegmentationJSONForms() throws {
        let decoder = JSONRecords.decoder()
        func decode(_ json: String) throws -> Segmentation {
            try decoder.decode(Segmentation.self, from: Data(json.utf8))
        }
        XCTAssertEqual(try decode("[[1, 2, 3, 4, 5, 6]]"), .polygons([[1, 2, 3, 4, 5, 6]]))
        XCTAssertEqual(try decode(#"{"size": [2, 3], "counts": [2, 1, 1, 2]}"#), .runs(height: 2, width: 3, counts: [2, 1, 1, 2]))
        XCTAssertEqual(try decode(#"{"size": [1, 127], "counts": "T3:24O"}"#), .compressed(height: 1, width: 127, counts: "T3:24O"))
        XCTAssertThrowsError(try decode(#"{"size": [2], "counts": [6]}"#))
        let runs = Segmentation.runs(height: 2, width: 3, counts: [2, 1, 1, 2])
        XCTAssertEqual(try decode(String(decoding: try JSONRecords.encoder().encode(runs), as: UTF8.self)), runs)
        XCTAssertThrowsError(try runs.mask(width: 4, height: 2))
    }
}
