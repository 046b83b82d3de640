import Foundation
import Models
import NN
import Tensor
import XCTest

/// Model directories built in PyTorch (Fixtures/make_fixtures.py) load here and
/// give PyTorch's outputs, and PyTorch's gradients at a named layer.
final class PyTorchFixtureTests: XCTestCase {
    struct Array: Decodable { let shape: [Int]; let data: [Float] }
    struct Expected: Decodable {
        let input: Array
        let layer: String
        let grad: Array
        let logits: Array?
        let target: Int?
        let words: [Int]?
        let logprobs: Array?
        let target_step: Int?
        let greedy: [Int]?
        let question: [Int]?
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    func load(_ name: String) throws -> (ModelDirectory, Expected, Tensor) {
        let dir = Self.fixtures.appendingPathComponent(name)
        let model = try ModelDirectory(path: dir.path)
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: dir.appendingPathComponent("expected.json")))
        return (model, expected, Tensor(shape: expected.input.shape, values: expected.input.data))
    }

    /// A context that makes `layer`'s output a tracked leaf and keeps it.
    func tracking(_ layer: String) -> ForwardContext {
        ForwardContext(capturing: [layer], replacing: [layer: { $0.tracked() }])
    }

    func assertClose(_ actual: Tensor, _ expected: Array, relative: Float, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, what, file: file, line: line)
        let scale = max(expected.data.map(abs).max() ?? 0, 1e-6)
        let err = zip(actual.values, expected.data).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(err / scale, relative, "\(what): max error \(err), scale \(scale)", file: file, line: line)
        XCTAssertGreaterThan(scale, 1e-6, "\(what): the reference is all zeros", file: file, line: line)
    }

    func testClassifiers() throws {
        for name in ["classifier-vgg", "classifier-vgg-bn", "classifier-resnet18", "classifier-resnet50"] {
            let (dir, expected, x) = try load(name)
            guard case let .classification(model, classes) = dir.model else { return XCTFail("\(name): wrong task") }
            XCTAssertEqual(classes.count, 5)
            assertClose(model.logits(x, ForwardContext()), expected.logits!, relative: 1e-4, "\(name) logits")
            let ctx = tracking(expected.layer)
            let score = model.logits(x, ctx).pick([expected.target!]).sum()
            let a = try XCTUnwrap(ctx.captured[expected.layer], "\(name): layer \(expected.layer) not captured")
            assertClose(try gradients(of: score, withRespectTo: [a])[0], expected.grad, relative: 1e-3, "\(name) gradient")
        }
    }

    func testCaptioners() throws {
        for name in ["captioner-vgg-fc7", "captioner-resnet-2layer"] {
            let (dir, expected, x) = try load(name)
            guard case let .captioning(model, vocabulary) = dir.model else { return XCTFail("\(name): wrong task") }
            let words = expected.words!
            let logits = model.teacherForcedLogits(model.imageFeature(x, ForwardContext()), words: words, ForwardContext())
            assertClose(logits.logSoftmax(axis: 2), expected.logprobs!, relative: 1e-4, "\(name) log-probabilities")

            let ctx = tracking(expected.layer)
            let logp = model.teacherForcedLogits(model.imageFeature(x, ctx), words: words, ctx).logSoftmax(axis: 2)
            let t = expected.target_step!
            // Seed only step t's word.
            var seed = [Float](repeating: 0, count: logp.count)
            seed[t * logp.shape[2] + words[t]] = 1
            let a = try XCTUnwrap(ctx.captured[expected.layer])
            let g = try gradients(of: logp, withRespectTo: [a], seed: Tensor(shape: logp.shape, values: seed))[0]
            assertClose(g, expected.grad, relative: 1e-3, "\(name) gradient")

            // Greedy decoding through the step API equals PyTorch's.
            var (logProbs, state) = model.start(model.imageFeature(x, ForwardContext()), ForwardContext())
            var decoded: [Int] = []
            for _ in 0..<dir.config.decoder!.maxLength {
                let w = logProbs.argmax(axis: 1)[0]
                if w == vocabulary.endID { break }
                decoded.append(w)
                (logProbs, state) = model.step([w], state, ForwardContext())
            }
            XCTAssertEqual(decoded, expected.greedy!, "\(name) greedy decoding")
        }
    }

    func testVQA() throws {
        for name in ["vqa-flat", "vqa-hidden"] {
            let (dir, expected, x) = try load(name)
            guard case let .vqa(model, questions, answers) = dir.model else { return XCTFail("\(name): wrong task") }
            XCTAssertEqual(answers.token(at: 5), "left of")
            XCTAssertEqual(questions.unkID, 0)
            let ids = expected.question!
            let logits = model.answerLogits(imageFeature: model.imageFeature(x, ForwardContext()),
                                            question: model.questionVector(ids, ForwardContext()), ForwardContext())
            assertClose(logits, expected.logits!, relative: 1e-4, "\(name) logits")
            let ctx = tracking(expected.layer)
            let score = model.answerLogits(imageFeature: model.imageFeature(x, ctx),
                                           question: model.questionVector(ids, ctx), ctx).pick([expected.target!]).sum()
            let a = try XCTUnwrap(ctx.captured[expected.layer])
            assertClose(try gradients(of: score, withRespectTo: [a])[0], expected.grad, relative: 1e-3, "\(name) gradient")
        }
    }
}
