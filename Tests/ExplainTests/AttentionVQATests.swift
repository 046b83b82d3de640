import Explain
import Foundation
import Models
import NN
import Tensor
import XCTest

/// Show, Ask, Attend and Answer against PyTorch models built with pytorch-vqa's
/// class structure and the format's relation extensions
/// (Tests/ModelsTests/Fixtures/make_vqa_attention_fixtures.py): answer logits,
/// every hop's glimpses, and the top answers' Grad-CAM in one backward.
final class AttentionVQATests: XCTestCase {
    typealias Array = FixtureArray
    struct Expected: Decodable {
        let input: Array
        let question: [Int]
        let logits: Array
        let glimpses: Array
        let top: [Int]
        let layer: String
        let raw: Array
        let inner_layer: String
        let raw_inner: Array
    }

    static let names = ["saaa-resnet18", "saaa-vgg-relations"]
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("ModelsTests/Fixtures")

    func load(_ name: String) throws -> (VQATask, Expected, Tensor) {
        let dir = Self.fixtures.appendingPathComponent(name)
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: dir.appendingPathComponent("expected.json")))
        let task = try VQATask(model: try ModelDirectory(path: dir.path))
        XCTAssertTrue(task.vqa is ShowAskAttendAnswer, name)
        return (task, expected, Tensor(shape: expected.input.shape, values: expected.input.data))
    }

    func testLogitsAndGlimpsesMatchPyTorch() throws {
        for name in Self.names {
            let (task, expected, x) = try load(name)
            let ctx = ForwardContext()
            let feature = task.vqa.imageFeature(x, ctx), q = task.vqa.questionVector(expected.question, ctx)
            assertClose(task.vqa.answerLogits(imageFeature: feature, question: q, ctx), expected.logits, absolute: 1e-4,
                        "\(name) answer logits")
            let glimpses = try XCTUnwrap(task.vqa.glimpses(imageFeature: feature, question: q, ctx))
            assertClose(glimpses.squeezed(axis: 0), expected.glimpses, absolute: 1e-4, "\(name) glimpses")
        }
    }

    /// The top three answers' maps in one backward through the classifier, every hop
    /// and the question-guided softmax, as PyTorch's one backward per answer gives them;
    /// also at a layer inside the second hop, so the gradient crosses the first hop's output.
    func testTopAnswersGradCAMMatchesPyTorch() throws {
        for name in Self.names {
            let (task, expected, x) = try load(name)
            let question = try task.read("what the left of the square ?")
            XCTAssertEqual(question.tokens.map(\.id), expected.question, "\(name): the fixture's question")
            for (layer, reference) in [(expected.layer, expected.raw), (expected.inner_layer, expected.raw_inner)] {
                let e = try task.explain(image: x, question: question, answer: nil, top: 3, score: .logit,
                                         options: ExplainOptions(layer: layer))
                XCTAssertEqual(e.explanation.entries.map(\.id), expected.top, "\(name): the top answers")
                assertClose(try XCTUnwrap(e.explanation.raw), reference, relative: 2e-3, "\(name) raw Grad-CAM at \(layer)")
                let attention = try XCTUnwrap(e.attention, "\(name): the glimpses ride along")
                XCTAssertEqual(attention.shape, [3] + expected.glimpses.shape)
                for k in 0..<3 {
                    assertClose(attention.slice(axis: 0, k..<(k + 1)).squeezed(axis: 0), expected.glimpses, absolute: 1e-4,
                                "\(name) glimpses beside answer \(k)")
                }
            }
        }
    }

    /// The map the model normalises cell by cell is named when asked to explain it with
    /// a gradient method: there, gradient × activation vanishes in every cell.
    func testExplainingTheNormalisedMapWarns() throws {
        let (task, expected, _) = try load("saaa-vgg-relations")
        XCTAssertEqual(task.vqa.cellNormalizedLayer, "adaptive_pool")
        XCTAssertEqual(task.layerWarnings(layer: "adaptive_pool", method: .layercam).count, 1)
        XCTAssertTrue(task.layerWarnings(layer: "adaptive_pool", method: .hirescam)[0].contains("gradient × activation is zero"))
        XCTAssertEqual(task.layerWarnings(layer: "adaptive_pool", method: .eigencam), [])
        XCTAssertEqual(task.layerWarnings(layer: "adaptive_pool", method: .gradcam), [], "channel weights pool the gradients over cells")
        XCTAssertEqual(task.layerWarnings(layer: nil, method: .gradcam), [], "the fixture explains \(expected.layer)")
        let (unpooled, _, _) = try load("saaa-resnet18")
        XCTAssertEqual(unpooled.vqa.cellNormalizedLayer, "backbone.layer4")
    }
}
