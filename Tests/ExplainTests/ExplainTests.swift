import Explain
import Foundation
import Models
import NN
import Tensor
import Text
import XCTest

/// Explanations against PyTorch (hooks) and pytorch-grad-cam, on the PyTorch-built
/// fixture models of Tests/ModelsTests/Fixtures (Fixtures/make_fixtures.py).
final class ExplainTests: XCTestCase {
    struct Array: Decodable { let shape: [Int]; let data: [Float] }
    struct Reference: Decodable {
        let layer: String
        let classes: [Int]?
        let answers: [Int]?
        let words: [Int]?
        let raw: Array?
        let cams: [String: Array]?
        let guided: Array?
        let raw_logprob: Array?
        let raw_logit: Array?
        let raw_whole: Array?
        let raw_prob: Array?
    }
    struct ModelInput: Decodable { let input: Array; let question: [Int]? }

    static let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let models = here.deletingLastPathComponent().appendingPathComponent("ModelsTests/Fixtures")
    static let references = try! JSONDecoder().decode([String: Reference].self,
        from: Data(contentsOf: here.appendingPathComponent("Fixtures/expected.json")))

    func load(_ name: String) throws -> (ModelDirectory, Tensor, ModelInput) {
        let dir = Self.models.appendingPathComponent(name)
        let input = try JSONDecoder().decode(ModelInput.self, from: Data(contentsOf: dir.appendingPathComponent("expected.json")))
        return (try ModelDirectory(path: dir.path), Tensor(shape: input.input.shape, values: input.input.data), input)
    }

    func assertClose(_ actual: Tensor?, _ expected: Array?, relative: Float? = nil, absolute: Float? = nil, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        guard let actual, let expected else { return XCTFail("\(what): missing", file: file, line: line) }
        XCTAssertEqual(actual.shape, expected.shape, what, file: file, line: line)
        let scale = expected.data.map(abs).max() ?? 0
        XCTAssertGreaterThan(scale, 0, "\(what): the reference is all zeros", file: file, line: line)
        let err = zip(actual.values, expected.data).map { abs($0 - $1) }.max() ?? .infinity
        let bound = absolute ?? (relative ?? 1e-3) * scale
        XCTAssertLessThanOrEqual(err, bound, "\(what): max error \(err) (scale \(scale))", file: file, line: line)
    }

    func explainer(_ dir: ModelDirectory, _ options: ExplainOptions = ExplainOptions()) throws -> Explainer {
        try Explainer(root: dir.model.root, defaultLayer: dir.config.explainLayer!, options: options)
    }

    func testClassifierMapsMatchPyTorchAndPytorchGradCAM() throws {
        for name in ["classifier-vgg", "classifier-resnet18"] {
            let ref = Self.references[name]!
            let (dir, x, _) = try load(name)
            guard case let .classification(model, classes) = dir.model else { return XCTFail() }
            let top = TargetSet.top(3, of: model.logits(x, ForwardContext()))
            XCTAssertEqual(top, ref.classes!, name)
            let targets = TargetSet.classes(model, names: classes, ids: top, kind: .logit)
            let gradcam = try explainer(dir).explain(targets, image: x)
            assertClose(gradcam.raw, ref.raw, relative: 1e-3, "\(name) raw Grad-CAM")
            for method in [Method.gradcam, .gradcamPlusPlus, .hirescam, .layercam, .xgradcam] {
                let e = try explainer(dir, ExplainOptions(method: method)).explain(targets, image: x)
                assertClose(e.cams, ref.cams![method.rawValue], absolute: 2e-3, "\(name) \(method.rawValue) vs pytorch-grad-cam")
            }
            // Smoothing as pytorch-grad-cam's aug_smooth and eigen_smooth (keys "METHOD aug", "METHOD eigen", …).
            var smoothed = 0
            for (key, expected) in ref.cams! where key.contains(" ") || key == "eigencam" {
                let parts = key.split(separator: " ")
                let method = try XCTUnwrap(Method(rawValue: String(parts[0])))
                let smoothing = parts.count > 1 ? parts[1].split(separator: "+").map(String.init) : []
                let options = ExplainOptions(method: method, augSmooth: smoothing.contains("aug"),
                                             eigenSmooth: smoothing.contains("eigen"))
                let e = try explainer(dir, options).explain(method == .eigencam ? targets.selecting([0]) : targets, image: x)
                assertClose(e.cams, expected, absolute: 2e-3, "\(name) \(key) vs pytorch-grad-cam")
                smoothed += 1
            }
            XCTAssertEqual(smoothed, 10, "every smoothing reference was compared")
            let guided = try explainer(dir, ExplainOptions(method: .guidedBackprop)).explain(targets.selecting([0]), image: x)
            XCTAssertNil(guided.raw)
            assertClose(guided.guided?.reshaped(Swift.Array(x.shape.dropFirst())), ref.guided, relative: 1e-3, "\(name) guided backprop")
        }
    }

    /// config.json's `explain_method` is checked in Models against this module's methods.
    func testConfigKnowsEveryMethod() {
        XCTAssertEqual(ModelConfig.explainMethods, Method.allCases.map(\.rawValue))
    }

    func testCaptionWordMapsMatchPyTorch() throws {
        for name in ["captioner-vgg-fc7", "captioner-resnet-2layer"] {
            let ref = Self.references[name]!
            let (dir, x, _) = try load(name)
            guard case let .captioning(model, vocabulary) = dir.model else { return XCTFail() }
            let words = ref.words!
            for (kind, expected) in [(ScoreKind.logprob, ref.raw_logprob), (.logit, ref.raw_logit)] {
                let targets = TargetSet.caption(model, vocabulary: vocabulary, words: words, kind: kind)
                let e = try explainer(dir).explain(targets, image: x)
                assertClose(e.raw, expected, relative: 1e-3, "\(name) per-word \(kind)")
                XCTAssertEqual(e.entries.map(\.label), words.map { vocabulary.token(at: $0)! })
            }
            // The whole caption rides as one more entry of the same pass; its words' maps are unchanged.
            let whole = TargetSet.caption(model, vocabulary: vocabulary, words: words, kind: .logprob, wholeCaption: true)
            let both = try explainer(dir).explain(whole, image: x)
            XCTAssertEqual(both.entries.last?.label, TargetSet.wholeCaptionLabel)
            let raw = try XCTUnwrap(both.raw)
            assertClose(raw.slice(axis: 0, words.count..<(words.count + 1)), ref.raw_whole, relative: 1e-3, "\(name) whole caption")
            assertClose(raw.slice(axis: 0, 0..<words.count), ref.raw_logprob, relative: 1e-3, "\(name) per-word beside the whole")
        }
    }

    func testAnswerMapsMatchPyTorch() throws {
        for name in ["vqa-flat", "vqa-hidden"] {
            let ref = Self.references[name]!
            let (dir, x, input) = try load(name)
            guard case let .vqa(model, _, answers) = dir.model else { return XCTFail() }
            let q = input.question!
            let logits = model.answerLogits(imageFeature: model.imageFeature(x, ForwardContext()),
                                            question: model.questionVector(q, ForwardContext()), ForwardContext())
            let top = TargetSet.top(3, of: logits)
            XCTAssertEqual(top, ref.answers!)
            for (kind, expected) in [(ScoreKind.logit, ref.raw), (.prob, ref.raw_prob)] {
                let targets = TargetSet.answers(model, answers: answers, question: q, ids: top, kind: kind)
                assertClose(try explainer(dir).explain(targets, image: x).raw, expected, relative: 1e-3, "\(name) \(kind)")
            }
        }
    }

    func testManyTargetsInOnePassEqualOneAtATime() throws {
        let (dir, x, _) = try load("captioner-resnet-2layer")
        guard case let .captioning(model, vocabulary) = dir.model else { return XCTFail() }
        let words = Self.references["captioner-resnet-2layer"]!.words!
        let all = TargetSet.caption(model, vocabulary: vocabulary, words: words, kind: .logprob)
        for method in [Method.gradcam, .gradcamPlusPlus, .guidedGradcam] {
            let together = try explainer(dir, ExplainOptions(method: method)).explain(all, image: x)
            for t in 0..<words.count {
                let alone = try explainer(dir, ExplainOptions(method: method)).explain(all.selecting([t]), image: x)
                let row = together.raw!.slice(axis: 0, t..<(t + 1)).values, one = alone.raw!.values
                let scale = max(one.map(abs).max()!, 1e-12)
                for (a, b) in zip(row, one) { XCTAssertEqual(a, b, accuracy: 1e-5 * scale, "\(method) word \(t)") }
                XCTAssertEqual(together.entries[t].score, alone.entries[0].score, accuracy: 1e-5)
            }
        }
    }

    func testCounterfactualNegatesTheGradient() throws {
        let (dir, x, _) = try load("classifier-vgg")
        guard case let .classification(model, classes) = dir.model else { return XCTFail() }
        let targets = TargetSet.classes(model, names: classes, ids: [0, 2], kind: .logit)
        let plain = try explainer(dir).explain(targets, image: x).raw!.values
        let counter = try explainer(dir, ExplainOptions(counterfactual: true)).explain(targets, image: x).raw!.values
        for (a, b) in zip(plain, counter) { XCTAssertEqual(a, -b, accuracy: 1e-6) }
    }

    func testNormalisation() throws {
        let (dir, x, _) = try load("classifier-resnet18")
        guard case let .classification(model, classes) = dir.model else { return XCTFail() }
        let targets = TargetSet.classes(model, names: classes, ids: [0, 1, 2, 3], kind: .logit)
        let none = try explainer(dir, ExplainOptions(normalize: .none)).explain(targets, image: x).cams!
        let token = try explainer(dir, ExplainOptions(normalize: .token)).explain(targets, image: x).cams!
        let sequence = try explainer(dir, ExplainOptions(normalize: .sequence)).explain(targets, image: x).cams!
        let plane = x.shape[2] * x.shape[3]
        let n = none.values, tk = token.values, sq = sequence.values
        let lo = n.min()!, hi = n.max()!
        for k in 0..<4 {
            let r = (k * plane)..<((k + 1) * plane)
            let (l, h) = (n[r].min()!, n[r].max()!)
            for i in r {
                XCTAssertEqual(tk[i], h > l ? (n[i] - l) / (h - l) : 0, accuracy: 1e-6)
                XCTAssertEqual(sq[i], (n[i] - lo) / (hi - lo), accuracy: 1e-6)
            }
        }
        XCTAssertGreaterThanOrEqual(lo, 0, "cams are ReLU'd")
    }

    func testAllZeroMapStaysZero() throws {
        let (dir, x, _) = try load("classifier-vgg")
        guard case let .classification(model, classes) = dir.model else { return XCTFail() }
        // The counterfactual of a map that is all positive is all negative: ReLU gives zeros.
        let targets = TargetSet.classes(model, names: classes, ids: [0], kind: .logit)
        let e = try explainer(dir, ExplainOptions(counterfactual: true)).explain(targets, image: x)
        let positive = try explainer(dir).explain(targets, image: x)
        if positive.raw!.values.allSatisfy({ $0 >= 0 }) {
            XCTAssertTrue(e.cams!.values.allSatisfy { $0 == 0 })
        }
        XCTAssertTrue(e.cams!.values.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 })
    }

    func testEigenAndScoreCAM() throws {
        let (dir, x, _) = try load("classifier-resnet18")
        guard case let .classification(model, classes) = dir.model else { return XCTFail() }
        let targets = TargetSet.classes(model, names: classes, ids: [1, 4], kind: .logit)
        let eigen = try explainer(dir, ExplainOptions(method: .eigencam)).explain(targets, image: x)
        let raw = eigen.raw!
        XCTAssertEqual(raw.slice(axis: 0, 0..<1).values, raw.slice(axis: 0, 1..<2).values, "Eigen-CAM is class-agnostic")
        let v = raw.values
        XCTAssertGreaterThan(v.max()!, -v.min()!, "the sign is chosen so the largest magnitude is positive")
        let score = try explainer(dir, ExplainOptions(method: .scorecam)).explain(targets, image: x)
        XCTAssertEqual(score.raw!.shape, raw.shape)
        XCTAssertEqual(score.entries[1].score, model.logits(x, ForwardContext()).values[4], accuracy: 1e-5)
    }

    func testEmptyCaptionAndBadLayers() throws {
        let (dir, x, _) = try load("captioner-vgg-fc7")
        guard case let .captioning(model, vocabulary) = dir.model else { return XCTFail() }
        let empty = TargetSet.caption(model, vocabulary: vocabulary, words: [], kind: .logprob)
        let e = try explainer(dir).explain(empty, image: x)
        XCTAssertEqual(e.raw?.shape, [0, 16, 16])
        XCTAssertEqual(e.cams?.shape, [0, 32, 32])
        XCTAssertTrue(e.entries.isEmpty)

        XCTAssertThrowsError(try explainer(dir, ExplainOptions(layer: "backbone.features.44"))) { error in
            XCTAssertTrue("\(error)".contains("backbone.features.4"), "\(error)")
        }
        let words = [4, 5, 2]
        let targets = TargetSet.caption(model, vocabulary: vocabulary, words: words, kind: .logprob)
        XCTAssertThrowsError(try explainer(dir, ExplainOptions(layer: "image_proj")).explain(targets, image: x)) { error in
            XCTAssertEqual(error as? ExplainError, .notSpatial("image_proj", shape: [1, 12]))
        }
        XCTAssertThrowsError(try explainer(dir, ExplainOptions(layer: "lstm")).explain(targets, image: x)) { error in
            XCTAssertEqual(error as? ExplainError, .notOnImagePath("lstm"))
        }
    }

    /// `--aug-smooth` on a captioner, T words at once: the mean of the maps of the image and its
    /// mirror image, each times 0.9, 1 and 1.1, the mirrored maps mirrored back; the scores are the image's own.
    func testAugSmoothAveragesTheAugmentedImagesMaps() throws {
        let (dir, x, _) = try load("captioner-resnet-2layer")
        guard case let .captioning(model, vocabulary) = dir.model else { return XCTFail() }
        let targets = TargetSet.caption(model, vocabulary: vocabulary, words: Self.references["captioner-resnet-2layer"]!.words!,
                                        kind: .logit)
        func mirrored(_ t: Tensor) -> Tensor {
            let w = t.shape.last!
            return Tensor(shape: t.shape, values: t.values.indices.map { i in t.values[i - i % w + (w - 1 - i % w)] })
        }
        for method in [Method.gradcam, .layercam] {
            let plain = try explainer(dir, ExplainOptions(method: method)).explain(targets, image: x)
            let smooth = try explainer(dir, ExplainOptions(method: method, augSmooth: true)).explain(targets, image: x)
            var sum = Tensor.zeros(plain.cams!.shape)
            for flip in [false, true] {
                for factor: Float in [0.9, 1, 1.1] {
                    let cams = try explainer(dir, ExplainOptions(method: method))
                        .explain(targets, image: (flip ? mirrored(x) : x) * factor).cams!
                    sum = sum + (flip ? mirrored(cams) : cams)
                }
            }
            let mean = sum * (1 / 6)
            let err = zip(smooth.cams!.values, mean.values).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(err, 1e-5, "\(method)")
            let change = zip(smooth.cams!.values, plain.cams!.values).map { abs($0 - $1) }.max()!
            XCTAssertGreaterThan(change, 0.05, "\(method): smoothing changes the maps")
            XCTAssertEqual(smooth.entries.map(\.score), plain.entries.map(\.score))
            XCTAssertTrue(smooth.augSmooth)
        }
    }

    func testSmoothingNeedsALayerMap() throws {
        let (dir, _, _) = try load("captioner-vgg-fc7")
        XCTAssertThrowsError(try explainer(dir, ExplainOptions(method: .guidedBackprop, augSmooth: true))) { error in
            XCTAssertEqual("\(error)", "--aug-smooth smooths a map at a layer; guided-backprop has none (try guided-gradcam)")
        }
        XCTAssertThrowsError(try explainer(dir, ExplainOptions(method: .eigencam, eigenSmooth: true))) { error in
            XCTAssertTrue("\(error)".contains("already the first principal component"), "\(error)")
        }
        XCTAssertNoThrow(try explainer(dir, ExplainOptions(method: .guidedGradcam, augSmooth: true, eigenSmooth: true)))
    }

    func testUnknownAnswerNamesTheClosest() throws {
        let (dir, _, _) = try load("vqa-hidden")
        guard case let .vqa(_, _, answers) = dir.model else { return XCTFail() }
        XCTAssertEqual(try TargetSet.resolve("left of", in: answers, kind: "answer"), 5)
        XCTAssertThrowsError(try TargetSet.resolve("bleu", in: answers, kind: "answer")) { error in
            let m = "\(error)"
            XCTAssertTrue(m.contains("\"bleu\" is not one of the model's answers"), m)
            XCTAssertTrue(m.contains("\"blue\""), m)
        }
    }

    /// A question is read with warnings for what it lost: unknown words (how many were
    /// known), no known word at all, words past the model's length.
    func testQuestionWarnings() throws {
        let (dir, _, _) = try load("vqa-hidden")
        let task = try VQATask(model: dir)
        XCTAssertEqual(try task.read("what color is the circle?").warnings(maxLength: 26), [])
        let partly = try task.read("what colour is the circle?").warnings(maxLength: 26)
        XCTAssertEqual(partly, ["not in the question vocabulary, read as <unk>: colour (5 of 6 words known)"])
        let none = try task.read("zebra giraffe").warnings(maxLength: 26)
        XCTAssertEqual(none.count, 1)
        XCTAssertTrue(none[0].hasPrefix("none of the question's 2 words is in the model's vocabulary"), none[0])
        let long = String(repeating: "what ", count: 30) + "?"
        let cut = try task.read(long)
        XCTAssertTrue(cut.truncated)
        XCTAssertEqual(cut.warnings(maxLength: 26), ["the question is longer than the model's 26 words: only its first 26 were read"])
    }

    /// Passes over one image share the network below the explained layer (`ForwardMemo`): a
    /// second pass takes layer3's and layer4's outputs from the first (the very same tensors) and
    /// computes only what lies above; another image starts over; a pass at another layer inside
    /// layer4 still reaches it. Logits are those of a plain pass.
    func testTheNetworkBelowTheLayerRunsOnce() throws {
        let (dir, x, _) = try load("classifier-resnet18")
        guard case let .classification(classifier, _) = dir.model else { return XCTFail("wrong task") }
        let plain = classifier.logits(x, ForwardContext()).values
        let watched: Set<String> = ["layer3", "layer4", "fc"]
        let memo = ForwardMemo(layer: "layer4")
        memo.use(for: x)
        let first = ForwardContext(capturing: watched, memo: memo), second = ForwardContext(capturing: watched, memo: memo)
        XCTAssertEqual(classifier.logits(x, first).values, plain)
        XCTAssertEqual(classifier.logits(x, second).values, plain)
        XCTAssertTrue(second.captured["layer3"] === first.captured["layer3"], "layer3 ran again")
        XCTAssertTrue(second.captured["layer4"] === first.captured["layer4"], "layer4 ran again")
        XCTAssertFalse(second.captured["fc"] === first.captured["fc"], "above the layer, the pass computes")

        let other = x * 0.5
        memo.use(for: other)
        let third = ForwardContext(capturing: watched, memo: memo)
        XCTAssertEqual(classifier.logits(other, third).values, classifier.logits(other, ForwardContext()).values)
        XCTAssertFalse(third.captured["layer3"] === first.captured["layer3"], "another image starts over")

        // Inside a block whose one ReLU module follows each convolution: the first pass is not
        // served its own first ReLU output for the second.
        let inner = ForwardMemo(layer: "layer4.1.conv2")
        inner.use(for: x)
        XCTAssertEqual(classifier.logits(x, ForwardContext(memo: inner)).values, plain)
        let deep = ForwardContext(capturing: ["layer3", "layer4.1.conv2"], memo: inner)
        // Observing a layer inside a block unfuses its group, as without a memo.
        XCTAssertEqual(classifier.logits(x, deep).values,
                       classifier.logits(x, ForwardContext(capturing: ["layer4.1.conv2"])).values)
        XCTAssertNotNil(deep.captured["layer4.1.conv2"], "the layer inside an ancestor is reached")
    }
}
