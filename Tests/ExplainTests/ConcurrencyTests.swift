import Explain
import Foundation
import Models
import NN
import Tensor
import Text
import XCTest

/// Several images explained at once from several threads (Swift concurrency)
/// give bit-identical results to one-at-a-time runs: the engine keeps no global
/// tape, grad mode or rule table, and a replaced backward rule (guided
/// backpropagation) is local to its own pass. scripts/tsan.sh runs these tests
/// under Thread Sanitizer.
///
/// Threads and determinism: a large product is cut into bands of its output
/// rows or columns by its shape alone (`BLAS.gemm`), and the threads share the
/// bands, so results are the same whatever the number of threads and whether
/// another thread is multiplying at the same time — under any BLAS kernel. The
/// last test checks this on products large enough to be cut.
final class ConcurrencyTests: XCTestCase {
    static let models = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ModelsTests/Fixtures")

    /// A model shared by the tasks. Loaded models are read-only during inference (each
    /// explanation builds its own graph from its own ForwardContext), which is what
    /// these tests and Thread Sanitizer check; the type system cannot know it.
    struct Shared: @unchecked Sendable { let model: ModelDirectory }

    /// Everything an explanation computed, as bit patterns: equal means bit-identical.
    struct Bits: Equatable, Sendable {
        var raw: [UInt32] = [], cams: [UInt32] = [], guided: [UInt32] = [], scores: [UInt32] = []
        var labels: [String] = []
        var peaks: [[Int]] = []

        /// The first thing that differs from `other`, in a line (XCTAssertEqual would print every value).
        func difference(from other: Bits) -> String? {
            for (name, a, b) in [("raw", raw, other.raw), ("cams", cams, other.cams), ("guided", guided, other.guided),
                                 ("scores", scores, other.scores)] where a != b {
                guard a.count == b.count else { return "\(name): \(a.count) values against \(b.count)" }
                let i = a.indices.first { a[$0] != b[$0] }!
                return "\(name)[\(i)] of \(a.count): \(Float(bitPattern: a[i])) against \(Float(bitPattern: b[i]))"
            }
            if labels != other.labels { return "labels \(labels) against \(other.labels)" }
            if peaks != other.peaks { return "peaks \(peaks) against \(other.peaks)" }
            return nil
        }

        init(_ sequences: [ExplainedSequence]) {
            for s in sequences {
                let e = s.explanation
                raw += e.raw?.values.map(\.bitPattern) ?? []
                cams += e.cams?.values.map(\.bitPattern) ?? []
                guided += e.guided?.values.map(\.bitPattern) ?? []
                scores += e.entries.map(\.score.bitPattern) + (s.logProbs ?? []).map(\.bitPattern)
                labels += e.entries.map(\.label)
                peaks += e.entries.map(\.peak)
            }
        }
    }

    /// Image k: a seeded random input of the model's size.
    static func input(_ k: Int, _ model: ModelDirectory) -> Tensor {
        var rng = SeededGenerator(seed: 1000 + UInt64(k))
        return Tensor.randn([1, 3, model.preprocessing.height, model.preprocessing.width], using: &rng)
    }

    /// Explains image k with its own task object, explainer and contexts.
    static func captionJob(_ k: Int, _ shared: Shared) throws -> Bits {
        let methods: [Method] = [.gradcam, .guidedGradcam, .hirescam, .gradcamPlusPlus, .layercam, .guidedBackprop]
        let task = try CaptionTask(model: shared.model)
        let sequences = try task.explain(image: input(k, shared.model), caption: nil, beam: 2, nbest: 2, maxLength: 6,
                                         includeEnd: true, score: .logprob,
                                         options: ExplainOptions(method: methods[k % methods.count]))
        return Bits(sequences)
    }

    func testConcurrentCaptionExplanationsAreBitIdenticalToSequentialOnes() async throws {
        let shared = Shared(model: try ModelDirectory(path: Self.models.appendingPathComponent("captioner-vgg-fc7").path))
        let jobs = 6
        let sequential = try (0..<jobs).map { try Self.captionJob($0, shared) }
        XCTAssertEqual(Set(sequential.map(\.raw)).count, jobs, "each image and method gives its own maps")
        for round in 0..<2 {
            let concurrent = try await withThrowingTaskGroup(of: (Int, Bits).self) { group in
                for k in 0..<jobs { group.addTask { (k, try Self.captionJob(k, shared)) } }
                var results = [Bits?](repeating: nil, count: jobs)
                for try await (k, bits) in group { results[k] = bits }
                return results
            }
            for k in 0..<jobs { XCTAssertNil(concurrent[k]!.difference(from: sequential[k]), "round \(round), image \(k)") }
        }
    }

    func testConcurrentVQAAndClassificationAreBitIdenticalToSequentialOnes() async throws {
        let vqa = Shared(model: try ModelDirectory(path: Self.models.appendingPathComponent("vqa-hidden").path))
        let classifier = Shared(model: try ModelDirectory(path: Self.models.appendingPathComponent("classifier-resnet18").path))
        @Sendable func job(_ k: Int) throws -> Bits {
            if k % 2 == 0 {
                let task = try VQATask(model: vqa.model)
                let question = try task.read(["what color is the circle?", "how many squares are there?"][k / 2 % 2])
                return Bits([try task.explain(image: Self.input(k, vqa.model), question: question, answer: nil, top: 2,
                                              score: .logit, options: ExplainOptions(method: k % 4 == 0 ? .gradcam : .guidedGradcam))])
            }
            let task = try ClassifyTask(model: classifier.model)
            return Bits([try task.explain(image: Self.input(k, classifier.model), className: nil, top: 3, score: .logit,
                                          options: ExplainOptions(method: k % 4 == 1 ? .gradcamPlusPlus : .xgradcam))])
        }
        let sequential = try (0..<8).map(job)
        let concurrent = try await withThrowingTaskGroup(of: (Int, Bits).self) { group in
            for k in 0..<8 { group.addTask { (k, try job(k)) } }
            var results = [Bits?](repeating: nil, count: 8)
            for try await (k, bits) in group { results[k] = bits }
            return results
        }
        for k in 0..<8 { XCTAssertNil(concurrent[k]!.difference(from: sequential[k]), "item \(k)") }
    }

    /// A classifier whose convolutions are large enough to be split between
    /// threads: results are the same with 1 thread, with several, and with four
    /// explanations running at once.
    func testResultsDoNotDependOnThreads() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("concurrency-\(UUID())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = try ModelConfig.parse(Data("""
            {"format": "gradcam-model/1", "task": "classification",
             "input": {"width": 48, "height": 48, "resize": "stretch", "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
             "backbone": {"arch": "vgg", "cfg": [64, "M", 128, "M", 256], "hidden": 32}}
            """.utf8), file: "config.json")
        let classes = try Vocabulary(tokens: ["circle", "square", "star"])
        try ModelDirectory.save(config: config, model: ModelDirectory.build(config, [classes], initializer: .random(seed: 7)),
                                to: dir.path)
        let shared = Shared(model: try ModelDirectory(path: dir.path))
        @Sendable func job(_ k: Int) throws -> Bits {
            Bits([try ClassifyTask(model: shared.model).explain(
                image: Self.input(k, shared.model), className: nil, top: 2, score: .logit,
                options: ExplainOptions(method: k % 2 == 0 ? .gradcam : .guidedGradcam))])
        }
        defer { setBLASThreads(ProcessInfo.processInfo.activeProcessorCount) }
        setBLASThreads(1)
        let one = try (0..<4).map(job)
        setBLASThreads(max(2, ProcessInfo.processInfo.activeProcessorCount))
        let several = try (0..<4).map(job)
        for k in 0..<4 { XCTAssertNil(several[k].difference(from: one[k]), "image \(k), several threads against one") }
        let concurrent = try await withThrowingTaskGroup(of: (Int, Bits).self) { group in
            for k in 0..<4 { group.addTask { (k, try job(k)) } }
            var results = [Bits?](repeating: nil, count: 4)
            for try await (k, bits) in group { results[k] = bits }
            return results
        }
        for k in 0..<4 { XCTAssertNil(concurrent[k]!.difference(from: one[k]), "image \(k), at once against alone") }
        XCTAssertFalse(one[0].raw.isEmpty)
    }
}
