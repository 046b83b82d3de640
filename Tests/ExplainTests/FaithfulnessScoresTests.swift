@testable import Explain
import NN
import Tensor
import XCTest

/// `TargetSet.faithfulness` on a model whose answer is known: entry k's score is the
/// mean of quadrant k of the image, so a map of that quadrant deletes the score in
/// the first quarter of the curve (AUC 1/8 of the start, by the trapezoid rule over
/// 32 steps) while a random order takes the whole curve (about 1/2).
final class FaithfulnessScoresTests: XCTestCase {
    func testAQuadrantMapBeatsRandomOrderByTheExpectedAreas() throws {
        let size = 16, plane = size * size
        func quadrant(_ k: Int) -> [Bool] {
            (0..<plane).map { p in (p / size < size / 2) == (k < 2) && (p % size < size / 2) == (k % 2 == 0) }
        }
        let targets = TargetSet(entries: [.init(label: "top-left", id: 0), .init(label: "bottom-right", id: 3)], kind: .logit,
                                image: { _, _ in }) { images, _ in
            let b = images.shape[0], v = images.values
            return Tensor(shape: [b, 2], values: (0..<b).flatMap { i in [0, 3].map { k in
                zip(quadrant(k), v[(i * plane)..<((i + 1) * plane)]).reduce(Float(0)) { $0 + ($1.0 ? $1.1 : 0) } / Float(plane / 4)
            } })
        }
        let image = Tensor(shape: [1, 1, size, size], values: [Float](repeating: 1, count: plane))
        let cams = Tensor(shape: [2, size, size], values: [0, 3].flatMap { k in quadrant(k).map { $0 ? Float(1) : 0 } })
        let explanation = Explanation(method: .gradcam, layer: "x", inputSize: (size, size), layerSize: (size, size),
                                      raw: cams, cams: cams, guided: nil,
                                      entries: [.init(label: "top-left", id: 0, score: 1, camMax: 1, peak: [0, 0]),
                                                .init(label: "bottom-right", id: 3, score: 1, camMax: 1, peak: [8, 8])])
        let scores = targets.faithfulness(of: explanation, image: image, steps: 32)
        XCTAssertEqual(scores.count, 2)
        for f in scores {
            // 8 of 32 steps delete the quadrant: the curve falls 1 → 0 over the first quarter.
            XCTAssertEqual(f.deletion, 0.125, accuracy: 1e-5)
            XCTAssertEqual(f.randomDeletion, 0.5, accuracy: 0.1)
            XCTAssertTrue(f.beatsRandomDeletion)
            // Insertion from the blurred image restores the quadrant first: above the random order.
            XCTAssertGreaterThan(f.insertion, f.randomInsertion)
        }
    }
}
