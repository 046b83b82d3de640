import Foundation
import Imaging
import Models
import NN
import Tensor

/// One training example of a task: an image and what the model should say of it.
public struct Example: Sendable {
    public enum Target: Sendable {
        /// Caption word ids, `<end>` last.
        case caption([Int])
        /// Question word ids and the answer id.
        case answer(question: [Int], answer: Int)
        case label(Int)
    }

    public let imagePath: String
    public let target: Target

    public init(imagePath: String, target: Target) {
        self.imagePath = imagePath
        self.target = target
    }

    /// Questions of one length run through the LSTM together (no padding).
    var length: Int {
        switch target {
        case let .caption(words): return words.count
        case let .answer(question, _): return question.count
        case .label: return 0
        }
    }
}

public struct TrainingOptions: Sendable {
    public enum OptimizerKind: String, CaseIterable, Sendable { case adam, sgd }
    public var epochs = 10
    public var batchSize = 32
    public var learningRate: Float = 1e-3
    public var optimizer: OptimizerKind = .adam
    /// SGD's momentum.
    public var momentum: Float = 0.9
    public var schedule: LearningRateSchedule = .cosine
    /// Gradient-norm clipping (for the LSTM); nil for none.
    public var clipNorm: Float? = 5
    /// Threads, each running a share of every batch (data parallel). Runs
    /// are deterministic for a seed and a thread count.
    public var threads = 1
    public var seed: UInt64 = 1
    /// Files saved beside the model (a split's question_forms.txt).
    public var modelFiles: [String: Data] = [:]

    public init() {}
}

/// What the progress callback sees after every step.
public struct TrainingProgress: Sendable {
    public let epoch: Int, epochs: Int
    public let step: Int, stepsPerEpoch: Int
    /// Running means over the epoch so far.
    public let loss: Float, accuracy: Float
    public let learningRate: Float
    public let elapsed: Double
    /// Seconds left in the whole run, from the pace so far.
    public let eta: Double
    public let skippedImages: Int
    public var epochFinished: Bool { step == stepsPerEpoch }
}

public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Trains a task model on examples with minibatches, checkpointing every
/// epoch into the model directory (atomically) with the optimiser's state, so
/// `resume` continues from the last complete epoch. Deterministic for a seed
/// and a thread count: the order of epoch e and the dropout of each step
/// derive from (seed, e, step).
public final class Trainer {
    public let config: ModelConfig
    public let model: TaskModel
    public let options: TrainingOptions
    let examples: [Example]
    let optimizer: Optimizer
    let preprocessing: Preprocessing
    private var imageCache: [String: [Float]] = [:]
    private var unreadable: Set<String> = []
    public private(set) var skippedImages = 0

    static let stateFile = "training-state.safetensors"
    static let progressFile = "training-state.json"

    public init(config: ModelConfig, model: TaskModel, examples: [Example], options: TrainingOptions) throws {
        guard !examples.isEmpty else { throw TrainingError("no training examples: the split is empty") }
        guard options.epochs > 0, options.batchSize > 0, options.learningRate > 0 else {
            throw TrainingError("epochs, batch size and learning rate must be positive")
        }
        self.config = config
        self.model = model
        self.examples = examples
        self.options = options
        optimizer = options.optimizer == .adam
            ? Adam(learningRate: options.learningRate, threads: options.threads)
            : SGD(learningRate: options.learningRate, momentum: options.momentum, threads: options.threads)
        preprocessing = try Preprocessing(width: config.input.width, height: config.input.height,
                                          resize: config.input.resize.mode,
                                          mean: config.input.mean, std: config.input.std)
    }

    /// Runs training to the last epoch, saving the model to `out` after each.
    /// With `resume`, starts after the epoch recorded in `out`'s training state.
    /// An error thrown by `progress` stops training; the last saved epoch stays.
    public func run(out: String, resume: Bool, progress: (TrainingProgress) throws -> Void) throws {
        var firstEpoch = 0
        if resume {
            firstEpoch = try restore(from: out)
            guard firstEpoch < options.epochs else {
                throw TrainingError("\(out) has been trained for \(firstEpoch) epochs already; "
                                    + "give --epochs above \(firstEpoch) to train it further")
            }
        }
        let parameters = model.root.trainableParameters
        let start = Date()
        var stepsDone = 0
        for epoch in firstEpoch..<options.epochs {
            let batches = self.batches(epoch: epoch)
            var lossSum: Float = 0, accuracySum: Float = 0
            for (b, batch) in batches.enumerated() {
                optimizer.learningRate = options.schedule.rate(base: options.learningRate, epoch: epoch,
                                                               totalEpochs: options.epochs,
                                                               progress: Float(b) / Float(batches.count))
                for p in parameters { p.value = p.value.tracked() }
                var (loss, accuracy, grads) = try step(batch, parameters: parameters.map(\.value),
                                                       seed: options.seed &* 1_000_003 &+ UInt64(epoch * 100_003 + b))
                if let clip = options.clipNorm { clipGradientNorm(&grads, maxNorm: clip) }
                optimizer.step(parameters, grads)
                lossSum += loss
                accuracySum += accuracy
                stepsDone += 1
                let elapsed = Date().timeIntervalSince(start)
                let remaining = (options.epochs - epoch) * batches.count - b - 1
                try progress(TrainingProgress(epoch: epoch + 1, epochs: options.epochs, step: b + 1,
                                          stepsPerEpoch: batches.count, loss: lossSum / Float(b + 1),
                                          accuracy: accuracySum / Float(b + 1), learningRate: optimizer.learningRate,
                                          elapsed: elapsed, eta: elapsed / Double(stepsDone) * Double(remaining),
                                          skippedImages: skippedImages))
            }
            for p in parameters { p.value = p.value.detached() }
            // The optimiser's state is kept after the last epoch too, so a finished
            // run can be resumed for more epochs.
            try ModelDirectory.save(config: config, model: model, to: out, extraFiles: try checkpoint(epoch: epoch + 1))
        }
    }

    /// Batches of example indices for an epoch: the images shuffled, all the
    /// examples of an image in one batch (so each image goes through the CNN
    /// once per step, however many questions it has), at least `batchSize`
    /// examples a batch except the last.
    ///
    /// Batches are never grouped by caption or question length: a caption's
    /// length gives away how many objects the image holds, and batch norm's
    /// batch statistics would learn from that what the running statistics
    /// cannot tell at inference.
    func batches(epoch: Int) -> [[Int]] {
        var rng = SeededGenerator(seed: options.seed &+ UInt64(epoch) &* 0x9E37_79B9)
        var images: [String] = [], byImage: [String: [Int]] = [:]
        for (i, example) in examples.enumerated() {
            if byImage[example.imagePath] == nil { images.append(example.imagePath) }
            byImage[example.imagePath, default: []].append(i)
        }
        images.shuffle(using: &rng)
        var batches: [[Int]] = [], current: [Int] = []
        for path in images {
            current += byImage[path]!
            if current.count >= options.batchSize {
                batches.append(current)
                current = []
            }
        }
        if !current.isEmpty { batches.append(current) }
        return batches
    }

    /// How many images a thread's share of a batch holds on average (over the
    /// first epoch's batches): with several threads, batch norm's statistics
    /// come from that many images.
    public var imagesPerShare: Double {
        Double(Set(examples.map(\.imagePath)).count) / Double(batches(epoch: 0).count * options.threads)
    }

    /// One step's loss, accuracy and gradients. With `options.threads` above 1
    /// the batch is split into that many shares of whole images, each run
    /// forward and backward on a thread of its own, and the shares' gradients
    /// are averaged by their number of targets: the gradient of the whole
    /// batch's mean loss, except that batch norm normalises each share by its
    /// own statistics (as PyTorch's DistributedDataParallel does).
    func step(_ batch: [Int], parameters: [Tensor], seed: UInt64) throws -> (loss: Float, accuracy: Float, grads: [Tensor]) {
        let shards = self.shards(batch).map(images)  // reads the image cache here, on one thread
        var results = [Result<(loss: Float, accuracy: Float, targets: Int, grads: [Tensor]), Error>?](
            repeating: nil, count: shards.count)
        results.withUnsafeMutableBufferPointer { slots in
            concurrently(shards.count) { s in
                slots[s] = Result {
                    let ctx = ForwardContext(training: true, updatesStatistics: s == 0, seed: seed &+ UInt64(s) &* 7_919)
                    guard let (logits, targets) = self.logits(shards[s], ctx) else {
                        return (0, 0, 0, parameters.map { Tensor.zeros($0.shape) })  // every image unreadable
                    }
                    let (loss, accuracy) = crossEntropy(logits: logits, targets: targets)
                    // Only numbers leave the thread: the recorded graph is freed here, in parallel.
                    return (loss.scalar, accuracy, targets.count, try gradients(of: loss, withRespectTo: parameters))
                }
            }
        }
        let parts = try results.map { try $0!.get() }
        if parts.count == 1 { return (parts[0].loss, parts[0].accuracy, parts[0].grads) }
        let total = Float(max(parts.reduce(0) { $0 + $1.targets }, 1))
        let weights = parts.map { Float($0.targets) / total }
        let grads = parameters.indices.map { i in
            Tensor(shape: parameters[i].shape) { sum in
                let n = parameters[i].count
                sum.initialize(repeating: 0, count: n)
                for (part, w) in zip(parts, weights) {
                    part.grads[i].withUnsafeBufferPointer { g in for j in 0..<n { sum[j] += w * g[j] } }
                }
            }
        }
        return (zip(parts, weights).reduce(0) { $0 + $1.0.loss * $1.1 },
                zip(parts, weights).reduce(0) { $0 + $1.0.accuracy * $1.1 }, grads)
    }

    /// The batch in `options.threads` contiguous shares of nearly equal numbers
    /// of examples, an image's examples together; fewer when the batch has
    /// fewer images.
    func shards(_ batch: [Int]) -> [[Int]] {
        var byImage: [[Int]] = []
        for i in batch {
            if let last = byImage.last?.last, examples[last].imagePath == examples[i].imagePath {
                byImage[byImage.count - 1].append(i)
            } else {
                byImage.append([i])
            }
        }
        let n = min(options.threads, byImage.count)
        guard n > 1 else { return [batch] }
        // Share p ends at the image boundary nearest to p/n of the examples.
        var shards: [[Int]] = [[]], done = 0
        for image in byImage {
            let end = batch.count * shards.count / n
            if shards.count < n, !shards[shards.count - 1].isEmpty, abs(done - end) < abs(done + image.count - end) {
                shards.append([])
            }
            shards[shards.count - 1] += image
            done += image.count
        }
        return shards
    }

    /// The batch's distinct images [U, 3, H, W], the examples kept (unreadable
    /// images are skipped and counted) and, for each, its image's row.
    private func images(_ indices: [Int]) -> (x: Tensor, kept: [Int], rows: [Int]) {
        var kept: [Int] = [], rows: [Int] = [], values: [Float] = []
        var rowOfPath: [String: Int] = [:]
        for i in indices {
            let path = examples[i].imagePath
            if unreadable.contains(path) { continue }
            if let row = rowOfPath[path] {
                kept.append(i)
                rows.append(row)
                continue
            }
            if imageCache[path] == nil {
                guard let image = try? RGBImage(contentsOf: path) else {
                    unreadable.insert(path)
                    skippedImages += 1
                    continue
                }
                imageCache[path] = preprocessing.apply(to: image)
            }
            values += imageCache[path]!
            rowOfPath[path] = rowOfPath.count
            kept.append(i)
            rows.append(rowOfPath.count - 1)
        }
        let shape = [rowOfPath.count, 3, preprocessing.height, preprocessing.width]
        return (Tensor(shape: shape, values: values), kept, rows)
    }

    /// The logits of the batch's targets (labels, caption words or answers)
    /// and those targets, one row each; nil when no image could be read.
    private func logits(_ inputs: (x: Tensor, kept: [Int], rows: [Int]), _ ctx: ForwardContext) -> (Tensor, [Int])? {
        let (x, kept, rows) = inputs
        guard !kept.isEmpty else { return nil }
        switch model {
        case let .classification(net, _):
            let labels = kept.map { i -> Int in if case let .label(l) = examples[i].target { return l }; return 0 }
            return (net.logits(x, ctx).indexSelect(rows), labels)
        case let .captioning(net, _):
            // Captions padded to the longest: the decoder is causal, so padding after
            // `<end>` changes no earlier output, and only real positions are scored.
            let words = kept.map { i -> [Int] in if case let .caption(w) = examples[i].target { return w }; return [] }
            let n = words.map(\.count).max() ?? 0
            let padded = words.map { $0 + Array(repeating: $0.last ?? 0, count: n - $0.count) }
            let hidden = net.teacherForced(net.imageFeature(x, ctx).indexSelect(rows), rows: padded, needed: nil, ctx).hidden
            let real = words.enumerated().flatMap { r, w in (0..<w.count).map { r * n + $0 } }
            return (net.head(hidden.reshaped([kept.count * n, -1]).indexSelect(real), ctx), words.flatMap { $0 })
        case let .vqa(net, _, _):
            // Questions run through the LSTM in groups of one length: the question
            // vector is the final state, which padding would change.
            var byLength: [Int: [Int]] = [:]
            for k in kept.indices { byLength[examples[kept[k]].length, default: []].append(k) }
            let features = net.imageFeature(x, ctx)
            var logits: [Tensor] = [], answers: [Int] = []
            for length in byLength.keys.sorted() {
                let group = byLength[length]!
                var questions: [[Int]] = []
                for k in group {
                    if case let .answer(q, a) = examples[kept[k]].target { questions.append(q); answers.append(a) }
                }
                logits.append(net.answerLogits(imageFeature: features.indexSelect(group.map { rows[$0] }),
                                               question: net.questionVectors(questions, ctx), ctx))
            }
            return (Tensor.concat(logits, axis: 0), answers)
        }
    }

    /// The optimiser's state and the next epoch, as files for the model directory.
    private func checkpoint(epoch: Int) throws -> [String: Data] {
        let state = try Safetensors.encode(optimizer.state())
        let info = try JSONSerialization.data(withJSONObject: ["next_epoch": epoch, "seed": options.seed,
                                                               "epochs": options.epochs], options: [.sortedKeys])
        return options.modelFiles.merging([Self.stateFile: state, Self.progressFile: info]) { _, training in training }
    }

    /// Loads the model and optimiser state saved in `out`; returns the epoch to start from.
    private func restore(from out: String) throws -> Int {
        let dir = URL(fileURLWithPath: out)
        let infoURL = dir.appendingPathComponent(Self.progressFile)
        guard let data = try? Data(contentsOf: infoURL),
              let info = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let next = info["next_epoch"] as? Int else {
            throw TrainingError("\(out): no checkpoint to resume from (\(Self.progressFile) is missing or unreadable); train without --resume")
        }
        let saved = try ModelDirectory(path: out)
        try model.root.load(saved.model.root.stateDict(), file: out)
        try optimizer.restore(try Safetensors.read(path: dir.appendingPathComponent(Self.stateFile).path))
        return next
    }
}
