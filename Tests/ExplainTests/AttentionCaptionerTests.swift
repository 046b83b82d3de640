import Explain
import Foundation
import Models
import NN
import Tensor
import XCTest

/// Show, Attend and Tell against PyTorch models built with the two tutorials'
/// class structure (Tests/ModelsTests/Fixtures/make_attention_fixtures.py):
/// word log-probabilities, attention maps and per-word Grad-CAM.
final class AttentionCaptionerTests: XCTestCase {
    typealias Array = FixtureArray
    struct Expected: Decodable {
        let input: Array
        let words: [Int]
        let logprobs: Array
        let attention: Array
        let layer: String
        let raw_logprob: Array
        let inner_layer: String?
        let raw_inner: Array?
    }

    static let names = ["sat-resnet18", "sat-vgg", "sat-vgg-tanh"]
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("ModelsTests/Fixtures")

    func load(_ name: String) throws -> (ModelDirectory, Captioner, Expected, Tensor) {
        let dir = Self.fixtures.appendingPathComponent(name)
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: dir.appendingPathComponent("expected.json")))
        let model = try ModelDirectory(path: dir.path)
        guard case let .captioning(captioner, _) = model.model else { throw XCTSkip("\(name) is not a captioner") }
        XCTAssertTrue(captioner is ShowAttendTell, name)
        return (model, captioner, expected, Tensor(shape: expected.input.shape, values: expected.input.data))
    }

    func testLogProbsAndAttentionMatchPyTorch() throws {
        for name in Self.names {
            let (_, model, expected, x) = try load(name)
            let feature = model.imageFeature(x, ForwardContext())
            let logits = model.teacherForcedLogits(feature, words: expected.words, ForwardContext())
            assertClose(logits.logSoftmax(axis: 2), expected.logprobs, absolute: 2e-4, "\(name) log-probabilities")
            let forced = model.teacherForced(feature, rows: [expected.words], needed: nil, ForwardContext())
            let attention = try XCTUnwrap(forced.attention).reshaped([expected.words.count] + feature.shape.suffix(2))
            assertClose(attention, expected.attention, absolute: 1e-4, "\(name) attention")
        }
    }

    /// Every word's map in one backward through the recurrence, gate, attention and
    /// initial state, as PyTorch's one backward per word gives it.
    func testPerWordGradCAMMatchesPyTorch() throws {
        for name in Self.names {
            let (dir, model, expected, x) = try load(name)
            guard case let .captioning(_, vocabulary) = dir.model else { return XCTFail() }
            let explainer = try Explainer(root: model, defaultLayer: expected.layer, options: ExplainOptions())
            let targets = TargetSet.caption(model, vocabulary: vocabulary, words: expected.words, kind: .logprob)
            let e = try explainer.explain(targets, image: x)
            assertClose(try XCTUnwrap(e.raw), expected.raw_logprob, relative: 2e-3, "\(name) per-word raw Grad-CAM")
            if let inner = expected.inner_layer, let reference = expected.raw_inner {
                let deeper = try Explainer(root: model, defaultLayer: inner, options: ExplainOptions()).explain(targets, image: x)
                assertClose(try XCTUnwrap(deeper.raw), reference, relative: 2e-3, "\(name) per-word raw Grad-CAM at \(inner)")
            }
        }
    }

    /// Explaining only some rows (the batch shrinking as words end) changes no row's value.
    func testShrinkingBatchEqualsFullBatch() throws {
        let (_, model, expected, x) = try load("sat-vgg")
        let n = expected.words.count
        let feature = model.imageFeature(x, ForwardContext()).expanded(to: [n] + model.featureShape)
        let rows = Swift.Array(repeating: expected.words, count: n)
        let full = model.teacherForced(feature, rows: rows, needed: nil, ForwardContext()).hidden
        let shrinking = model.teacherForced(feature, rows: rows, needed: (1...n).map { $0 }, ForwardContext()).hidden
        let h = full.shape[2], a = full.values, b = shrinking.values
        for r in 0..<n {
            for t in 0..<n {
                for k in 0..<h {
                    let i = (r * n + t) * h + k
                    XCTAssertEqual(b[i], t <= r ? a[i] : 0, accuracy: 1e-6, "row \(r), position \(t)")
                }
            }
        }
    }
}
