import Decoding
import Foundation
import Models
import NN
import Tensor
import Text
import XCTest

/// Decoding on the captioners built in PyTorch (Tests/ModelsTests/Fixtures/make_fixtures.py):
/// greedy search equals PyTorch's greedy decode, and teacher forcing equals PyTorch's
/// log-probabilities.
final class CaptionerFixtureTests: XCTestCase {
    struct Values: Decodable { let shape: [Int]; let data: [Float] }
    struct Expected: Decodable {
        let input: Values
        let words: [Int]
        let logprobs: Values
        let greedy: [Int]
    }

    struct Fixture {
        let directory: ModelDirectory
        let captioner: Captioner
        let vocabulary: Vocabulary
        let expected: Expected
        let feature: Tensor

        /// PyTorch's log p(token | caption words before `position`).
        func expectedLogProb(position: Int, token: Int) -> Float {
            let v = expected.logprobs.shape[2]
            return expected.logprobs.data[position * v + token]
        }
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("ModelsTests/Fixtures")
    static let names = ["captioner-vgg-fc7", "captioner-resnet-2layer", "sat-resnet18", "sat-vgg", "sat-vgg-tanh"]

    func load(_ name: String) throws -> Fixture {
        let dir = Self.fixtures.appendingPathComponent(name)
        let directory = try ModelDirectory(path: dir.path)
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: dir.appendingPathComponent("expected.json")))
        guard case let .captioning(captioner, vocabulary) = directory.model else { throw CaptionError.notCaptioning(task: name) }
        let image = Tensor(shape: expected.input.shape, values: expected.input.data)
        return Fixture(directory: directory, captioner: captioner, vocabulary: vocabulary, expected: expected,
                       feature: captioner.imageFeature(image, ForwardContext()))
    }

    func assertClose(_ actual: Float?, _ expected: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let actual else { return XCTFail("\(what): missing", file: file, line: line) }
        XCTAssertLessThanOrEqual(abs(actual - expected), 1e-4 * abs(expected), "\(what): \(actual) vs \(expected)",
                                 file: file, line: line)
    }

    func maxLength(_ f: Fixture) throws -> Int { try XCTUnwrap(f.directory.config.decoder).maxLength }

    /// PyTorch's greedy decode proposes every token; with nothing masked ours is identical.
    /// (The VGG fixture's random model prefers `<start>` at every step.)
    func testGreedyEqualsPyTorch() throws {
        for name in Self.names {
            let f = try load(name)
            let unmasked = try CaptionerStepper(captioner: f.captioner, feature: f.feature,
                                                specialTokens: SpecialTokens(end: 2, masked: [], unknown: 3))
            let greedy = try XCTUnwrap(BeamSearch(beamSize: 1, maxLength: try maxLength(f)).search(unmasked).first)
            XCTAssertEqual(greedy.words, f.expected.greedy, name)
            XCTAssertEqual(greedy.finished, f.expected.greedy.count < (try maxLength(f)), name)
        }
    }

    /// With `<start>` and `<pad>` masked, the first word is PyTorch's best other word.
    func testMaskedGreedyNeverProposesStart() throws {
        for name in Self.names {
            let f = try load(name)
            let stepper = try CaptionerStepper(captioner: f.captioner, vocabulary: f.vocabulary, feature: f.feature)
            let greedy = try XCTUnwrap(BeamSearch(beamSize: 1, maxLength: try maxLength(f)).search(stepper).first)
            XCTAssertFalse(greedy.words.contains { $0 == 0 || $0 == 1 }, "\(name): \(greedy.words)")
            let firstChoices = [2] + Array(3..<f.vocabulary.count)
            let expectedFirst = try XCTUnwrap(firstChoices.max {
                f.expectedLogProb(position: 0, token: $0) < f.expectedLogProb(position: 0, token: $1)
            })
            XCTAssertEqual(greedy.words.first ?? 2, expectedFirst, name)
            assertClose(greedy.tokenLogProbs.first ?? greedy.endLogProb, f.expectedLogProb(position: 0, token: expectedFirst),
                        "\(name) first word")
        }
    }

    /// Teacher forcing of the fixture's caption (which ends with `<end>`) gives PyTorch's
    /// log-probability at each word's position, and its logits give PyTorch's whole rows.
    func testTeacherForcingEqualsPyTorch() throws {
        for name in Self.names {
            let f = try load(name)
            let forcing = try TeacherForcing(model: f.directory)
            let words = Array(f.expected.words.dropLast())
            XCTAssertEqual(f.expected.words.last, 2)
            let scores = try forcing.score(words: words, feature: f.feature, includeEnd: true, keepLogits: true)
            XCTAssertEqual(scores.logProbs.count, words.count)
            for (t, word) in words.enumerated() {
                assertClose(scores.logProbs[t], f.expectedLogProb(position: t, token: word), "\(name) word \(t)")
            }
            assertClose(scores.endLogProb, f.expectedLogProb(position: words.count, token: 2), "\(name) <end>")
            XCTAssertEqual(scores.tokens, words.map { f.vocabulary.tokens[$0] })
            XCTAssertFalse(scores.truncated)

            let logits = try XCTUnwrap(scores.logits)
            XCTAssertEqual(logits.shape, [words.count + 1, f.vocabulary.count])
            for (a, e) in zip(logits.logSoftmax(axis: 1).values, f.expected.logprobs.data) {
                XCTAssertEqual(a, e, accuracy: 1e-4 * max(abs(e), 1), name)
            }
        }
    }

    /// The beam's scores are the teacher-forced ones of its words, and its top score is not
    /// below greedy's on these models.
    func testBeamOfThreeOnTheFixtures() throws {
        for name in Self.names {
            let f = try load(name)
            let forcing = try TeacherForcing(model: f.directory)
            let stepper = try CaptionerStepper(captioner: f.captioner, vocabulary: f.vocabulary, feature: f.feature)
            let greedy = try XCTUnwrap(BeamSearch(beamSize: 1, maxLength: try maxLength(f)).search(stepper).first)
            let beams = try BeamSearch(beamSize: 3, maxLength: try maxLength(f)).search(stepper, best: 3)
            XCTAssertEqual(beams.count, 3, name)
            XCTAssertEqual(beams.map(\.score), beams.map(\.score).sorted(by: >), name)

            let greedyForced = try forcing.score(words: greedy.words, feature: f.feature, includeEnd: greedy.finished)
            let top = beams[0]
            XCTAssertGreaterThanOrEqual(top.score, greedyForced.logProb - 1e-4, name)

            let topForced = try forcing.score(words: top.words, feature: f.feature, includeEnd: top.finished)
            for (a, e) in zip(top.tokenLogProbs, topForced.logProbs) { assertClose(a, e, "\(name) beam word") }
            if let end = topForced.endLogProb { assertClose(top.endLogProb, end, "\(name) beam <end>") }
        }
    }

    func testUserText() throws {
        let f = try load("captioner-vgg-fc7")
        let forcing = try TeacherForcing(model: f.directory)

        // Lower-cased and split as the vocabulary was built; "," is not a vocabulary token.
        let caption = try forcing.score(text: "A red circle, LEFT of a blue square", feature: f.feature)
        XCTAssertEqual(caption.words, Array(f.expected.words.dropLast()))
        XCTAssertEqual(caption.unknown, [])
        XCTAssertFalse(caption.truncated)
        XCTAssertNil(caption.endLogProb)
        for (t, word) in caption.words.enumerated() {
            assertClose(caption.logProbs[t], f.expectedLogProb(position: t, token: word), "word \(t)")
        }

        let unknown = try forcing.score(text: "a red triangle", feature: f.feature)
        XCTAssertEqual(unknown.words, [4, 5, 3])
        XCTAssertEqual(unknown.tokens, ["a", "red", "triangle"])
        XCTAssertEqual(unknown.unknown, ["triangle"])

        let long = try forcing.score(text: Array(repeating: "a red", count: 10).joined(separator: " "), feature: f.feature)
        XCTAssertTrue(long.truncated)
        XCTAssertEqual(long.words.count, try maxLength(f))
        XCTAssertEqual(long.logProbs.count, try maxLength(f))
    }

    func testEmptyCaptionGivesEmptyScores() throws {
        let f = try load("captioner-vgg-fc7")
        let forcing = try TeacherForcing(model: f.directory)
        let empty = try forcing.score(text: " , ", feature: f.feature, keepLogits: true)
        XCTAssertEqual(empty.words, [])
        XCTAssertEqual(empty.logProbs, [])
        XCTAssertNil(empty.endLogProb)
        XCTAssertEqual(empty.logits?.shape, [0, f.vocabulary.count])
        XCTAssertEqual(empty.logProb, 0)

        let endOnly = try forcing.score(words: [], feature: f.feature, includeEnd: true)
        assertClose(endOnly.endLogProb, f.expected.logprobs.data[2], "p(<end> | <start>)")
    }

    func testInvalidCaptionsAreErrors() throws {
        let f = try load("captioner-vgg-fc7")
        let forcing = try TeacherForcing(model: f.directory)
        XCTAssertThrowsError(try forcing.score(words: [4, 99], feature: f.feature)) {
            XCTAssertEqual("\($0)", "caption word 1 (id 99): outside the vocabulary of 12 tokens")
        }
        XCTAssertThrowsError(try forcing.score(words: [4, 2], feature: f.feature)) {
            XCTAssertEqual("\($0)", "caption word 1 (id 2): <end> is not a caption word (captions are given without <start> and <end>)")
        }
        XCTAssertThrowsError(try forcing.score(words: [4], feature: Tensor.zeros([2, 20]))) {
            XCTAssertEqual($0 as? CaptionError, .featureShape(got: [2, 20], expected: [1, 20]))
        }
        XCTAssertThrowsError(try CaptionerStepper(captioner: f.captioner, vocabulary: f.vocabulary, feature: Tensor.zeros([20]))) {
            XCTAssertEqual($0 as? CaptionError, .featureShape(got: [20], expected: [1, 20]))
        }
        let vqa = try ModelDirectory(path: Self.fixtures.appendingPathComponent("vqa-flat").path)
        XCTAssertThrowsError(try TeacherForcing(model: vqa)) {
            XCTAssertEqual("\($0)", "the model is a vqa model, not a captioning model")
        }
    }
}
