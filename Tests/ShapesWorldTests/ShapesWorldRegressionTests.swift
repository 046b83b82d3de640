import Foundation
import XCTest
@testable import ShapesWorld

/// Inputs that crashed the COCO readers (found by Fuzz/fuzz-coco and by
/// reading its code paths): each must now be a `DatasetError`, not a trap.
final class ShapesWorldRegressionTests: XCTestCase {
    /// An instances file with one image and one annotation of `segmentation`.
    func instances(width: Int, height: Int, segmentation: String) throws -> (file: String, images: String) {
        let dir = try temporaryFolder(self)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("images"), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir.appendingPathComponent("images/a.png").path, contents: Data())
        let json = """
            {"images": [{"id": 1, "file_name": "a.png", "width": \(width), "height": \(height)}],
             "categories": [{"id": 1, "name": "circle"}],
             "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "area": 1,
                              "segmentation": \(segmentation)}]}
            """
        let file = dir.appendingPathComponent("instances.json")
        try Data(json.utf8).write(to: file)
        return (file.path, dir.appendingPathComponent("images").path)
    }

    func assertInvalid(_ body: () throws -> Void, mentions fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            try body()
            XCTFail("no error", file: file, line: line)
        } catch let error as DatasetError {
            guard case .invalid = error else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertTrue(error.description.contains(fragment), "«\(error)» lacks «\(fragment)»", file: file, line: line)
        } catch {
            XCTFail("\(error)", file: file, line: line)
        }
    }

    /// Was: "Can't construct Array with count < 0" in the mask of a -2×3 image.
    func testNegativeImageSizeIsRefusedOnReading() throws {
        let (file, images) = try instances(width: -2, height: 3, segmentation: "[[0, 0, 1, 0, 1, 1]]")
        assertInvalid({ _ = try InstanceMasks(annotationFile: file, imagesDirectory: images) }, mentions: "image id 1 has size -2×3")
    }

    /// Was: an overflowing width × height (2⁶² × 4) when the mask was allocated.
    func testOverflowingImageSizeIsRefusedOnReading() throws {
        let (file, images) = try instances(width: 1 << 62, height: 4, segmentation: "[[0, 0, 1, 0, 1, 1]]")
        assertInvalid({ _ = try InstanceMasks(annotationFile: file, imagesDirectory: images) }, mentions: "at most 100000000 pixels")
        // A zero-sized image is refused too, as is one over the decoders' 100-megapixel limit.
        let (zero, _) = try instances(width: 0, height: 10, segmentation: "[[0, 0, 1, 0, 1, 1]]")
        assertInvalid({ _ = try InstanceMasks(annotationFile: zero, imagesDirectory: images) }, mentions: "0×10")
        let (big, _) = try instances(width: 100_001, height: 1000, segmentation: "[[0, 0, 1, 0, 1, 1]]")
        assertInvalid({ _ = try InstanceMasks(annotationFile: big, imagesDirectory: images) }, mentions: "100001×1000")
    }

    /// Was: an arithmetic overflow summing run lengths [Int.max, 1].
    func testRunLengthsThatOverflowAreMalformed() throws {
        XCTAssertNil(RunLengthEncoding.decode([Int.max, 1], width: 4, height: 4))
        XCTAssertNil(RunLengthEncoding.decode([16], width: Int.max, height: 2))
        XCTAssertEqual(RunLengthEncoding.decode([1, 2, 13], width: 4, height: 4)?.enumerated().filter(\.element).map(\.offset), [4, 8])
        let (file, images) = try instances(width: 4, height: 4, segmentation: #"{"size": [4, 4], "counts": [9223372036854775807, 1]}"#)
        let masks = try InstanceMasks(annotationFile: file, imagesDirectory: images)
        assertInvalid({ _ = try masks.mask(of: masks.instances[0]) }, mentions: "annotation 7: RLE counts must be non-negative and sum to 4×4 = 16")
    }

    /// Was: an arithmetic overflow adding each compressed value to the one two before.
    func testCompressedRunLengthsThatOverflowAreMalformed() throws {
        // Eleven continuation groups of 0x1F and a last group of 0x0F: a value near 2⁵⁹, repeated.
        let big = String(repeating: "o", count: 11) + "?"
        XCTAssertNil(RunLengthEncoding.counts(compressed: String(repeating: big, count: 40)))
        XCTAssertEqual(RunLengthEncoding.counts(compressed: "0"), [0])
        let (file, images) = try instances(width: 4, height: 4, segmentation: #"{"size": [4, 4], "counts": "\#(String(repeating: big, count: 40))"}"#)
        let masks = try InstanceMasks(annotationFile: file, imagesDirectory: images)
        assertInvalid({ _ = try masks.mask(of: masks.instances[0]) }, mentions: "malformed compressed RLE string")
    }

    /// Was: "Double value cannot be converted to Int" for a polygon vertex at 1e300.
    func testPolygonWithHugeCoordinatesIsClampedToTheImage() throws {
        let (file, images) = try instances(width: 4, height: 3,
                                           segmentation: "[[-1e300, -1e300, 1e300, -1e300, 1e300, 1e300, -1e300, 1e300]]")
        let masks = try InstanceMasks(annotationFile: file, imagesDirectory: images)
        XCTAssertEqual(try masks.mask(of: masks.instances[0]), [Bool](repeating: true, count: 12))
        let (far, _) = try instances(width: 4, height: 3, segmentation: "[[1e300, 0, 2e300, 0, 2e300, 5]]")
        let farMasks = try InstanceMasks(annotationFile: far, imagesDirectory: images)
        XCTAssertEqual(try farMasks.mask(of: farMasks.instances[0]), [Bool](repeating: false, count: 12))
    }
}
