import Foundation
import Imaging
import Models
import NN
import Tensor
import Text
@testable import Training
import XCTest

final class TrainingTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("training-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// 16×16 images: a red or blue block on grey at a random place; label 0 = red, 1 = blue.
    func makeImages(_ n: Int) throws -> [Example] {
        var rng = SeededGenerator(seed: 11)
        return try (0..<n).map { i in
            var image = RGBImage(width: 16, height: 16, color: (128, 128, 128))
            let (x0, y0) = (Int(rng.next() % 10), Int(rng.next() % 10))
            let label = i % 2
            for y in y0..<(y0 + 6) { for x in x0..<(x0 + 6) { image[x, y] = label == 0 ? (220, 30, 30) : (30, 30, 220) } }
            let path = dir.appendingPathComponent("img\(i).png").path
            try image.write(to: path)
            return Example(imagePath: path, target: .label(label))
        }
    }

    func classifierConfig() throws -> ModelConfig {
        try ModelConfig.parse(Data("""
            {"format": "gradcam-model/1", "task": "classification",
             "input": {"width": 16, "height": 16, "resize": "stretch", "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
             "backbone": {"arch": "vgg", "cfg": [4, "M", 8, "M"], "batch_norm": true, "hidden": 8},
             "explain_layer": "features.6"}
            """.utf8), file: "config.json")
    }

    func newModel(_ config: ModelConfig) throws -> TaskModel {
        ModelDirectory.build(config, [try Vocabulary(tokens: ["red", "blue"])], initializer: .random(seed: 3))
    }

    func testLossFallsAndRunsAreDeterministic() throws {
        let examples = try makeImages(32)
        let config = try classifierConfig()
        var options = TrainingOptions()
        options.epochs = 10
        options.batchSize = 8
        options.learningRate = 1e-2
        var losses: [Float] = []
        let model = try newModel(config)
        try Trainer(config: config, model: model, examples: examples, options: options)
            .run(out: dir.appendingPathComponent("a").path, resume: false) { p in
                if p.epochFinished { losses.append(p.loss) }
            }
        XCTAssertEqual(losses.count, 10)
        // Dropout makes single epochs noisy: compare the last three epochs' mean with the first.
        XCTAssertLessThan(losses.suffix(3).reduce(0, +) / 3, losses.first! * 0.7, "loss did not fall: \(losses)")
        // The saved model loads and keeps its training state, for more epochs later.
        let saved = try ModelDirectory(path: dir.appendingPathComponent("a").path)
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("a/training-state.json")))
        XCTAssertEqual((state as? [String: Any])?["next_epoch"] as? Int, 10)

        // The same seed gives the same weights.
        let again = try newModel(config)
        try Trainer(config: config, model: again, examples: examples, options: options)
            .run(out: dir.appendingPathComponent("b").path, resume: false) { _ in }
        let w1 = saved.model.root.stateDict(), w2 = again.root.stateDict()
        for (k, v) in w1 { XCTAssertEqual(v.values, w2[k]!.values, k) }

        // So do two threads (each a share of every batch), run twice; their loss falls too.
        options.threads = 2
        var shared: [[String: Tensor]] = [], sharedLosses: [Float] = []
        for run in ["c", "d"] {
            let model = try newModel(config)
            try Trainer(config: config, model: model, examples: examples, options: options)
                .run(out: dir.appendingPathComponent(run).path, resume: false) { p in
                    if p.epochFinished && run == "c" { sharedLosses.append(p.loss) }
                }
            shared.append(model.root.stateDict())
        }
        for (k, v) in shared[0] { XCTAssertEqual(v.values, shared[1][k]!.values, k) }
        XCTAssertNotEqual(shared[0]["features.0.weight"]!.values, w1["features.0.weight"]!.values)
        XCTAssertLessThan(sharedLosses.suffix(3).reduce(0, +) / 3, sharedLosses.first! * 0.7, "loss did not fall: \(sharedLosses)")
    }

    /// Checks that a step on 2 and 3 threads has the loss and gradients of the whole batch on one
    /// (a model without batch norm or dropout, whose shares differ only in their examples).
    func assertSharedStepsMatchOneThread(_ config: ModelConfig, _ vocabularies: [Vocabulary], _ examples: [Example],
                                         file: StaticString = #filePath, line: UInt = #line) throws {
        let model = ModelDirectory.build(config, vocabularies, initializer: .random(seed: 3))
        for p in model.root.trainableParameters { p.value = p.value.tracked() }
        let parameters = model.root.trainableParameters.map(\.value)
        func step(threads: Int) throws -> (loss: Float, grads: [Tensor]) {
            var options = TrainingOptions()
            options.threads = threads
            let trainer = try Trainer(config: config, model: model, examples: examples, options: options)
            let (loss, _, grads) = try trainer.step(Array(examples.indices), parameters: parameters, seed: 5)
            return (loss, grads)
        }
        let whole = try step(threads: 1)
        XCTAssertTrue(whole.grads.allSatisfy { $0.values.contains { $0 != 0 } }, "a parameter got no gradient", file: file, line: line)
        for threads in [2, 3] {
            let shared = try step(threads: threads)
            XCTAssertEqual(shared.loss, whole.loss, accuracy: 1e-5 * abs(whole.loss), file: file, line: line)
            for (a, b) in zip(shared.grads, whole.grads) {
                let scale = b.values.map(abs).max()! + 1e-6
                for (x, y) in zip(a.values, b.values) { XCTAssertEqual(x, y, accuracy: 1e-4 * scale, file: file, line: line) }
            }
        }
    }

    func testThreadsShareABatchAndAverageTheirGradients() throws {
        // The shares' gradients, weighted by their targets (caption words, answers), are the whole
        // batch's. Two captions or questions per image, of different lengths.
        let images = try makeImages(5)
        let input = #""input": {"width": 16, "height": 16, "resize": "stretch", "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}"#
        let backbone = #""backbone": {"arch": "vgg", "cfg": [4, "M", 8, "M"], "batch_norm": false, "feature": "avgpool"}"#
        let captioner = try ModelConfig.parse(Data("""
            {"format": "gradcam-model/1", "task": "captioning", \(input), \(backbone),
             "decoder": {"embed": 4, "hidden": 6, "layers": 1, "max_length": 5}}
            """.utf8), file: "config.json")
        let captions = images.flatMap { e -> [Example] in
            guard case let .label(l) = e.target else { return [] }
            return [Example(imagePath: e.imagePath, target: .caption([3 + l, 1])),
                    Example(imagePath: e.imagePath, target: .caption([3 + l, 3 + l, 3, 1]))]
        }
        try assertSharedStepsMatchOneThread(captioner, [try Vocabulary(tokens: ["<start>", "<end>", "<unk>", "red", "blue"])], captions)
        let attending = try ModelConfig.parse(Data("""
            {"format": "gradcam-model/1", "task": "captioning", \(input),
             "backbone": {"arch": "vgg", "cfg": [4, "M", 8], "feature": "map", "adaptive_pool": 3},
             "decoder": {"kind": "show-attend-tell", "embed": 4, "hidden": 6, "attention_dim": 5, "layers": 1,
                         "max_length": 5, "dropout": 0}}
            """.utf8), file: "config.json")
        try assertSharedStepsMatchOneThread(attending, [try Vocabulary(tokens: ["<start>", "<end>", "<unk>", "red", "blue"])], captions)

        let vqa = try ModelConfig.parse(Data("""
            {"format": "gradcam-model/1", "task": "vqa", \(input), \(backbone),
             "question_encoder": {"embed": 4, "hidden": 5, "layers": 2, "max_length": 6, "embed_activation": "tanh"},
             "fusion": {"dim": 6, "hidden": 7}}
            """.utf8), file: "config.json")
        let questions = images.enumerated().flatMap { i, e -> [Example] in
            guard case let .label(l) = e.target else { return [] }
            return [Example(imagePath: e.imagePath, target: .answer(question: [1, 2, 3], answer: l)),
                    Example(imagePath: e.imagePath, target: .answer(question: Array([1, 3, 2, 3].prefix(2 + i % 3)), answer: 2 + i % 2))]
        }
        try assertSharedStepsMatchOneThread(vqa, [try Vocabulary(tokens: ["<unk>", "what", "color", "shape"]),
                                                  try Vocabulary(tokens: ["red", "blue", "yes", "no"])], questions)

        // Shares: whole images, nearly equal numbers of examples, none empty, at most one per image.
        let model = ModelDirectory.build(captioner, [try Vocabulary(tokens: ["<start>", "<end>", "<unk>", "red", "blue"])],
                                         initializer: .random(seed: 3))
        var options = TrainingOptions()
        options.threads = 2
        let batch = Array(0..<10)
        let trainer = try Trainer(config: captioner, model: model, examples: captions, options: options)
        XCTAssertEqual(trainer.shards(batch), [Array(0..<6), Array(6..<10)])
        XCTAssertEqual(trainer.shards([0, 1]), [[0, 1]])
        options.threads = 8
        XCTAssertEqual(try Trainer(config: captioner, model: model, examples: captions, options: options).shards(batch),
                       stride(from: 0, to: 10, by: 2).map { [$0, $0 + 1] })
    }

    func testOptimizersOnThreadsMatchOneThread() {
        let sizes = [7, 300, 1, 42, 42]
        var rng = SeededGenerator(seed: 2)
        let start = sizes.map { n in (0..<n).map { _ in rng.nextFloat() - 0.5 } }
        let grads = sizes.map { n in (0..<3).map { _ in Tensor(shape: [n], values: (0..<n).map { _ in rng.nextFloat() - 0.5 }) } }
        func run(_ optimizer: Optimizer) -> [[Float]] {
            let parameters = start.map { Parameter(Tensor(shape: [$0.count], values: $0)) }
            for s in 0..<3 { optimizer.step(parameters, grads.map { $0[s] }) }
            return parameters.map(\.value.values)
        }
        XCTAssertEqual(run(Adam(learningRate: 0.01, threads: 2)), run(Adam(learningRate: 0.01)))
        XCTAssertNotEqual(run(Adam(learningRate: 0.01)), start)
        XCTAssertEqual(run(SGD(learningRate: 0.01, weightDecay: 0.1, threads: 2)), run(SGD(learningRate: 0.01, weightDecay: 0.1)))
        XCTAssertNotEqual(run(SGD(learningRate: 0.01)), start)
        XCTAssertEqual(balancedShares([7, 300, 1, 42, 42], parts: 2).map { $0.sorted() }, [[1], [0, 2, 3, 4]])
        XCTAssertEqual(balancedShares([5], parts: 4), [[0]])
    }

    func testBatchesKeepAnImagesExamplesTogetherAndMixLengths() throws {
        let config = try classifierConfig()
        var options = TrainingOptions()
        options.batchSize = 5
        // Several questions per image (3 images × 4): whole images per batch, every example once.
        let perImage = (0..<12).map { i in
            Example(imagePath: "img\(i / 4).png", target: .answer(question: Array(repeating: 1, count: 2 + i % 3), answer: 0))
        }
        let vqaBatches = try Trainer(config: config, model: try newModel(config), examples: perImage, options: options)
            .batches(epoch: 0)
        XCTAssertEqual(vqaBatches.flatMap { $0 }.sorted(), Array(0..<12))
        for batch in vqaBatches {
            let images = Set(batch.map { $0 / 4 })
            XCTAssertEqual(batch.count, images.count * 4, "an image's examples were split: \(vqaBatches)")
        }
        // One caption per image: batches of batchSize, lengths mixed (a caption's length gives away
        // how many objects the image has, which batch norm's batch statistics must not learn from).
        let captions = (0..<20).map { i in Example(imagePath: "img\(i).png", target: .caption(Array(repeating: 1, count: 3 + i % 2))) }
        let captionBatches = try Trainer(config: config, model: try newModel(config), examples: captions, options: options)
            .batches(epoch: 0)
        XCTAssertEqual(captionBatches.flatMap { $0 }.sorted(), Array(0..<20))
        XCTAssertEqual(captionBatches.map(\.count), [5, 5, 5, 5])
        XCTAssertTrue(captionBatches.contains { Set($0.map { 3 + $0 % 2 }).count == 2 }, "no batch mixes lengths")
    }

    func testResumeContinuesFromTheLastCheckpoint() throws {
        let examples = try makeImages(16)
        let config = try classifierConfig()
        var options = TrainingOptions()
        options.epochs = 4
        options.batchSize = 8
        let out = dir.appendingPathComponent("m").path
        // A full run, and a run stopped after 2 epochs then resumed: the same weights.
        let full = try newModel(config)
        try Trainer(config: config, model: full, examples: examples, options: options).run(out: out + "-full", resume: false) { _ in }

        // Stop the run during epoch 3: epochs 1 and 2 are saved.
        let first = try newModel(config)
        final class Stop: Error {}
        do {
            try Trainer(config: config, model: first, examples: examples, options: options).run(out: out, resume: false) { p in
                if p.epoch == 3 && p.step == 1 { throw Stop() }
            }
        } catch is Stop {}
        let info = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/training-state.json"))) as! [String: Any]
        XCTAssertEqual(info["next_epoch"] as? Int, 2)
        let resumed = try newModel(config)
        var epochsSeen: [Int] = []
        try Trainer(config: config, model: resumed, examples: examples, options: options).run(out: out, resume: true) { p in
            if p.epochFinished { epochsSeen.append(p.epoch) }
        }
        XCTAssertEqual(epochsSeen, [3, 4])
        let a = full.root.stateDict(), b = resumed.root.stateDict()
        for (k, v) in a {
            let err = zip(v.values, b[k]!.values).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(err, 1e-5, k)
        }
    }

    func testCorruptImagesAreSkippedAndCounted() throws {
        var examples = try makeImages(8)
        let bad = dir.appendingPathComponent("bad.png").path
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: bad))
        examples.append(Example(imagePath: bad, target: .label(0)))
        var options = TrainingOptions()
        options.epochs = 1
        options.batchSize = 4
        var skipped = 0
        let config = try classifierConfig()
        try Trainer(config: config, model: try newModel(config), examples: examples, options: options)
            .run(out: dir.appendingPathComponent("c").path, resume: false) { skipped = $0.skippedImages }
        XCTAssertEqual(skipped, 1)
        XCTAssertThrowsError(try Trainer(config: config, model: try newModel(config), examples: [], options: options))
    }

    /// torch.optim.SGD([w], lr=0.05, momentum=0.9, weight_decay=0.01) minimising Σ(w − t)², t = [3, −1, 0.5],
    /// from w = [0, 1, −2]: w after each of four steps. A checkpoint's velocity resumes the run exactly.
    func testSGDMatchesPyTorch() throws {
        let want: [[Float]] = [[0.3, 0.7995, -1.749], [0.83985, 0.4387002, -1.2973255],
                               [1.5413101, -0.0301089, -0.7104372], [2.3177226, -0.5490112, -0.0608389]]
        let target: [Float] = [3, -1, 0.5]
        let p = Parameter(Tensor(shape: [3], values: [0, 1, -2]))
        var sgd = SGD(learningRate: 0.05, momentum: 0.9, weightDecay: 0.01)
        for (s, expected) in want.enumerated() {
            if s == 2 {  // continue from a checkpoint of the optimiser
                let resumed = SGD(learningRate: 0.05, momentum: 0.9, weightDecay: 0.01)
                try resumed.restore(sgd.state())
                sgd = resumed
            }
            let g = zip(p.value.values, target).map { 2 * ($0 - $1) }
            sgd.step([p], [Tensor(shape: [3], values: g)])
            for (got, w) in zip(p.value.values, expected) { XCTAssertEqual(got, w, accuracy: 1e-5, "step \(s + 1)") }
        }
        XCTAssertThrowsError(try SGD(learningRate: 0.1).restore(Adam().state()))
    }

    func testAdamMatchesPyTorchOnAQuadratic() {
        // Minimising (w − 3)² from w = 0 with lr 0.1: PyTorch's Adam gives w = 0.1, 0.19995…, after steps 1, 2.
        let p = Parameter(Tensor(shape: [1], values: [0]))
        let adam = Adam(learningRate: 0.1)
        var ws: [Float] = []
        for _ in 0..<3 {
            let g = 2 * (p.value.values[0] - 3)
            adam.step([p], [Tensor(shape: [1], values: [g])])
            ws.append(p.value.values[0])
        }
        XCTAssertEqual(ws[0], 0.1, accuracy: 1e-5)
        XCTAssertEqual(ws[1], 0.19999, accuracy: 1e-3)
        var grads = [Tensor(shape: [2], values: [3, 4])]
        XCTAssertEqual(clipGradientNorm(&grads, maxNorm: 1), 5)
        XCTAssertEqual(grads[0].values[0], 0.6, accuracy: 1e-5)
    }

    func testBackboneTransferCopiesFeaturesOnly() throws {
        let config = try classifierConfig()
        let source = try newModel(config)
        let out = dir.appendingPathComponent("source").path
        try ModelDirectory.save(config: config, model: source, to: out)
        let target = ModelDirectory.build(config, [try Vocabulary(tokens: ["red", "blue"])], initializer: .random(seed: 99))
        let copied = try target.initialize(from: try ModelDirectory(path: out))
        let a = source.root.stateDict(), b = target.root.stateDict()
        // Same task and shapes: everything is copied (continuing training).
        XCTAssertEqual(copied, a.count)
        XCTAssertEqual(a["classifier.0.weight"]!.values, b["classifier.0.weight"]!.values)
        // Another task: only the backbone, under its prefix.
        let captioner = try ModelConfig.parse(Data("""
            {"format": "gradcam-model/1", "task": "captioning",
             "input": {"width": 16, "height": 16, "resize": "stretch", "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
             "backbone": {"arch": "vgg", "cfg": [4, "M", 8, "M"], "batch_norm": true, "feature": "flatten"},
             "decoder": {"embed": 4, "hidden": 4, "layers": 1, "max_length": 5}}
            """.utf8), file: "config.json")
        let vocabulary = try Vocabulary(tokens: ["<start>", "<end>", "<unk>", "red"])
        let other = ModelDirectory.build(captioner, [vocabulary], initializer: .random(seed: 5))
        XCTAssertEqual(try other.initialize(from: try ModelDirectory(path: out)), a.keys.filter { $0.hasPrefix("features.") }.count)
        XCTAssertEqual(other.root.stateDict()["backbone.features.0.weight"]!.values, a["features.0.weight"]!.values)
    }
}
