import Explain
import Tensor
import XCTest

/// Metric values on hand-made maps and masks.
final class MetricsTests: XCTestCase {
    // A 4×4 plane; the mask is the top-left 2×2 block.
    let mask: [Bool] = (0..<16).map { ($0 / 4) < 2 && ($0 % 4) < 2 }

    func testPointingGame() {
        var map = [Float](repeating: 0, count: 16)
        XCTAssertFalse(Grounding.pointingHit(map: map, mask: mask), "an all-zero map points nowhere")
        map[5] = 1
        XCTAssertTrue(Grounding.pointingHit(map: map, mask: mask))
        map[15] = 2
        XCTAssertFalse(Grounding.pointingHit(map: map, mask: mask))
        map[0] = 2  // a tie: the first maximum counts
        XCTAssertTrue(Grounding.pointingHit(map: map, mask: mask))
    }

    func testEnergyAndIoU() {
        var map = [Float](repeating: 0, count: 16)
        map[0] = 3; map[1] = 1; map[15] = 4; map[14] = -5
        XCTAssertEqual(Grounding.energy(map: map, mask: mask), 0.5, accuracy: 1e-6)
        // Threshold 0.6 (15% of 4): pixels 0, 1, 15 are on; mask has 4 pixels → IoU 2/5.
        XCTAssertEqual(Grounding.iou(map: map, mask: mask), 0.4, accuracy: 1e-6)
        XCTAssertEqual(Grounding.energy(map: [Float](repeating: 0, count: 16), mask: mask), 0)
        XCTAssertEqual(Grounding.insideOutsideRatio(map: [Float](repeating: 1, count: 16), mask: mask), 1, accuracy: 1e-6)
    }

    func testDeletionAndInsertionCurves() {
        // Score = the mean of channel 0 over the mask's pixels.
        let values: [Float] = (0..<16).map { mask[$0] ? 1 : 0.5 }
        let image = Tensor(shape: [1, 1, 4, 4], values: values)
        func score(_ batch: Tensor) -> [Float] {
            let v = batch.values
            return (0..<batch.shape[0]).map { b in (0..<16).filter { mask[$0] }.reduce(0) { $0 + v[b * 16 + $1] } / 4 }
        }
        let good: [Float] = (0..<16).map { mask[$0] ? 1 : 0 }
        let bad: [Float] = (0..<16).map { mask[$0] ? 0 : 1 }
        let d1 = Faithfulness.deletion(image: image, saliency: good, perStep: 2, score: score)
        let d2 = Faithfulness.deletion(image: image, saliency: bad, perStep: 2, score: score)
        XCTAssertEqual(d1.scores.count, 9)
        XCTAssertEqual(d1.scores.first!, 1)
        XCTAssertEqual(d1.scores.last!, 0)
        // Good saliency removes the mask first: 1, 0.5, 0, … → area 0.5/8 + 0.25/8·… ; bad removes it last.
        XCTAssertEqual(d1.area, (1.5 / 2 + 0.5 / 2) / 8, accuracy: 1e-6)
        XCTAssertLessThan(d1.area, d2.area)
        let i1 = Faithfulness.insertion(image: image, saliency: good, perStep: 2, score: score)
        let i2 = Faithfulness.insertion(image: image, saliency: bad, perStep: 2, score: score)
        XCTAssertGreaterThan(i1.area, i2.area)
        XCTAssertEqual(i1.scores.last!, 1, accuracy: 1e-6)
    }

    func testBlurIsNormalisedGaussian() {
        let image = Tensor.ones([1, 2, 21, 21])
        let b = Faithfulness.blurred(image).values
        XCTAssertEqual(b[10 * 21 + 10], 1, accuracy: 1e-5, "the centre of a constant image keeps its value")
        XCTAssertLessThan(b[0], 0.5, "zero padding darkens the corner")
    }
}
