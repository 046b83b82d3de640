@testable import Explain
import Foundation
import Models
import NN
import Tensor
import XCTest

/// The parameter randomisation tests (Adebayo et al. 2018) on a fixture captioner.
final class SanityTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("ModelsTests/Fixtures")

    func testRankCorrelationAndSSIM() {
        XCTAssertEqual(SanityCheck.spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1, accuracy: 1e-6)
        XCTAssertEqual(SanityCheck.spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1, accuracy: 1e-6)
        // Ties share their mean rank: ranks (0.5, 0.5, 2, 3) against (0, 1, 2, 3).
        XCTAssertEqual(SanityCheck.spearman([1, 1, 2, 3], [1, 2, 3, 4]), Float(4.5 / (4.5 * 5).squareRoot()), accuracy: 1e-6)
        XCTAssertEqual(SanityCheck.spearman([2, 2, 2], [1, 2, 3]), 0)
        let map = (0..<64).map { Float($0 % 8) / 7 }
        XCTAssertEqual(SanityCheck.ssim(map, map, width: 8, height: 8), 1, accuracy: 1e-6)
        XCTAssertLessThan(SanityCheck.ssim(map, map.reversed(), width: 8, height: 8), 0.5)
    }

    /// Eigen-CAM reads the explained layer's activations alone: randomising everything above
    /// it leaves its maps exactly as they were, and it fails. Grad-CAM's change. The trained
    /// weights are back afterwards.
    func testAGradientFreeMethodFailsTheCascade() throws {
        let dir = try ModelDirectory(path: Self.fixtures.appendingPathComponent("sat-vgg").path)
        guard case let .captioning(model, vocabulary) = dir.model else { return XCTFail() }
        let check = try SanityCheck(model: dir, layer: dir.explainLayer)
        XCTAssertEqual(check.groups.first, "backbone.features.0")
        XCTAssertTrue(check.groups.contains("attention") && check.groups.contains("decode_step"), "\(check.groups)")
        var rng = SeededGenerator(seed: 3)
        let image = Tensor.randn([1, 3, dir.config.input.height, dir.config.input.width], using: &rng)
        let targets = TargetSet.caption(model, vocabulary: vocabulary, words: [4, 5, 7], kind: .logprob)
        func explain(_ method: Method) throws -> Explanation {
            try Explainer(root: model, defaultLayer: dir.explainLayer, options: ExplainOptions(method: method)).explain(targets, image: image)
        }
        let before = try explain(.gradcam).raw!.values
        let (_, steps) = try check.run(methods: [.gradcam, .eigencam], explain: explain)
        XCTAssertEqual(steps.count, 2 * 2 * check.groups.count)
        let eigen = try XCTUnwrap(SanityCheck.decisiveStep(.eigencam, steps))
        XCTAssertEqual(eigen.spearman, [1, 1, 1])
        XCTAssertFalse(SanityCheck.passes(.eigencam, steps))
        let gradcam = try XCTUnwrap(SanityCheck.decisiveStep(.gradcam, steps))
        XCTAssertLessThan(gradcam.meanSpearman, 0.9, "Grad-CAM's maps follow the randomised decoder")
        XCTAssertEqual(try explain(.gradcam).raw!.values, before, "the trained weights are back")
    }

    func testNothingAboveTheLayerIsRefused() throws {
        let dir = try ModelDirectory(path: Self.fixtures.appendingPathComponent("classifier-resnet18").path)
        XCTAssertThrowsError(try SanityCheck(model: dir, layer: "fc")) {
            XCTAssertTrue("\($0)".hasPrefix("nothing lies above fc to randomise"), "\($0)")
        }
    }
}
