import XCTest
import Explain
import Tensor

/// ROAD against pytorch-grad-cam's own code (Fixtures/make_road_fixtures.py):
/// which pixels each percentile keeps, the linear imputation (noise off), and
/// ROADCombined with its two averages on a linear model.
final class ROADTests: XCTestCase {
    struct Case: Decodable {
        let image: [Float], map: [Float], weight: [Float]
        let height: Int, width: Int, percentile: Double
        let morf_kept: [Bool], lerf_kept: [Bool]
        let morf_imputed: [Float], lerf_imputed: [Float]
        let road_morf: Float, road_lerf: Float, road_combined: Float
    }

    static let cases: [Case] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/road.json")
        return try! JSONDecoder().decode([Case].self, from: Data(contentsOf: url))
    }()

    func testKeptPixelsAndImputationMatchPytorchGradCAM() {
        for (k, c) in Self.cases.enumerated() {
            let image = Tensor(shape: [1, 3, c.height, c.width], values: c.image)
            for (mostRelevantFirst, kept, imputed) in [(true, c.morf_kept, c.morf_imputed), (false, c.lerf_kept, c.lerf_imputed)] {
                let what = "case \(k) \(mostRelevantFirst ? "MoRF" : "LeRF") at \(c.percentile)"
                let ours = ROAD.kept(map: c.map, percentile: c.percentile, mostRelevantFirst: mostRelevantFirst)
                XCTAssertEqual(ours, kept, what)
                XCTAssertTrue(kept.contains(true) && kept.contains(false), "\(what): a case that removes some pixels and keeps some")
                var rng = SeededGenerator(seed: 1)
                let filled = ROAD.imputed(image, keep: kept, noise: 0, using: &rng).values
                let err = zip(filled, imputed).map { abs($0 - $1) }.max()!
                XCTAssertLessThanOrEqual(err, 1e-5, what)
            }
        }
    }

    func testCombinedScoreMatchesPytorchGradCAM() {
        for (k, c) in Self.cases.enumerated() {
            let image = Tensor(shape: [1, 3, c.height, c.width], values: c.image)
            let plane = 3 * c.height * c.width
            let linear: (Tensor) -> [Float] = { batch in
                (0..<batch.shape[0]).map { b in (0..<plane).reduce(0) { $0 + batch.values[b * plane + $1] * c.weight[$1] } }
            }
            let scores = ROAD.scores(image: image, map: c.map, seed: 7, noise: 0, score: linear)
            XCTAssertEqual(scores.mostRelevantFirst, c.road_morf, accuracy: 1e-4 * max(1, abs(c.road_morf)), "case \(k)")
            XCTAssertEqual(scores.leastRelevantFirst, c.road_lerf, accuracy: 1e-4 * max(1, abs(c.road_lerf)), "case \(k)")
            XCTAssertEqual(scores.combined, c.road_combined, accuracy: 1e-4 * max(1, abs(c.road_combined)), "case \(k)")
        }
    }

    /// The noise is pytorch-grad-cam's (σ 0.01 on imputed pixels only), seeded.
    func testNoiseIsSeededAndOnlyOnImputedPixels() {
        let c = Self.cases[0]
        let image = Tensor(shape: [1, 3, c.height, c.width], values: c.image)
        var a = SeededGenerator(seed: 3), b = SeededGenerator(seed: 3), quiet = SeededGenerator(seed: 3)
        let noisy = ROAD.imputed(image, keep: c.morf_kept, noise: ROAD.noise, using: &a).values
        XCTAssertEqual(noisy, ROAD.imputed(image, keep: c.morf_kept, noise: ROAD.noise, using: &b).values)
        let clean = ROAD.imputed(image, keep: c.morf_kept, noise: 0, using: &quiet).values
        let plane = c.height * c.width
        var differences: [Float] = []
        for i in noisy.indices {
            if c.morf_kept[i % plane] { XCTAssertEqual(noisy[i], c.image[i]) } else { differences.append(noisy[i] - clean[i]) }
        }
        let std = (differences.reduce(0) { $0 + $1 * $1 } / Float(differences.count)).squareRoot()
        XCTAssertEqual(std, 0.01, accuracy: 0.003)
    }
}
