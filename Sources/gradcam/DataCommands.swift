import ArgumentParser
import Foundation
import Models
import ShapesWorld
import Text
import Training

extension Split: ExpressibleByArgument {}

struct Shapes: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a ShapesWorld split: images, masks, captions, questions and labels.",
        discussion: """
            Scenes of 1–4 coloured shapes on textured backgrounds, with an exact mask per object, \
            COCO-style captions and instances, VQA-style questions and answers, and labels.json. \
            Deterministic for a seed. The heldout split uses colour–shape combinations never seen \
            in train.

            Examples:
              gradcam shapes --out data/train --count 10000 --seed 1
              gradcam shapes --out data/test --count 500 --seed 2 --split test
              gradcam shapes --out data/biased --count 4000 --bias circle
            """)

    @Option(help: "The split's folder (must not exist).") var out: String
    @Option(help: "Number of images.") var count = 1000
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Image size in pixels (square).") var size = 128
    @Option(help: "train, test or heldout.") var split: Split = .train
    @Option(help: "Dataset-bias study: put a corner mark on every image that has this shape, and on no other.")
    var bias: String?
    @Flag(help: "Put the corner mark on a random half of the images (the unbiased control).") var markAtRandom = false
    @Flag(help: "No progress bar.") var quiet = false

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1, got \(count)") }
        guard size >= 32 && size <= 1024 else { throw ValidationError("--size must be between 32 and 1024, got \(size)") }
        if let bias, Shape(rawValue: bias) == nil {
            throw ValidationError("unknown shape \"\(bias)\" for --bias; valid: \(Shape.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if bias != nil && markAtRandom { throw ValidationError("give either --bias or --mark-at-random") }
    }

    func run() throws {
        let biasOption: Bias? = bias.flatMap(Shape.init(rawValue:)).map { .markWithShape($0) } ?? (markAtRandom ? .markAtRandom : nil)
        let bar = ProgressBar("shapes", total: count, quiet: quiet)
        try writeDataset(to: out, count: count, seed: seed, size: size, split: split, bias: biasOption) { done, _ in
            bar.update(done)
        }
        bar.finish()
        if !quiet { print("wrote \(count) scenes to \(out)") }
    }
}

extension TrainingTask: ExpressibleByArgument {}

struct Train: ParsableCommand {
    typealias Task = TrainingTask

    static let configuration = CommandConfiguration(
        abstract: "Train a captioner, VQA model or classifier on COCO/VQA-format data (e.g. ShapesWorld).",
        discussion: """
            Reads DATA/captions.json (captioner), DATA/questions.json + answers.json (vqa) or \
            DATA/labels.json (classifier) with DATA/images/. The architecture is a small VGG with \
            batch norm for 64×64 inputs unless --config gives a config.json. Saves the model \
            directory after every epoch (with the optimiser's state, so --resume continues).

            Example:
              gradcam train captioner --data data/train --out Models/shapes-captioner --epochs 12
            """)

    @Argument(help: "captioner, vqa or classifier.") var task: Task
    @Option(help: "A split folder.") var data: String
    @Option(help: "The model directory to write.") var out: String
    @Option(help: "Epochs.") var epochs = 10
    @Option(help: "Random seed (initialisation, order, dropout).") var seed: UInt64 = 1
    @Option(help: "Minibatch size.") var batchSize = 32
    @Option(help: "Learning rate (Adam; cosine decay).") var learningRate: Float = 2e-3
    @Option(help: "A config.json for the architecture (input, backbone, decoder…); default: the ShapesWorld one.")
    var config: String?
    @Option(help: "Keep words seen at least this often (rarer ones become <unk>).") var minCount = 1
    @Option(help: "VQA: keep the most frequent answers, at most this many.") var answers = 1000
    @Option(help: "Use only the first N images (for quick checks).") var limit: Int?
    @Flag(help: "Continue from the last epoch saved in --out.") var resume = false
    @Flag(help: "No progress bar.") var quiet = false

    func validate() throws {
        guard epochs >= 1, batchSize >= 1, learningRate > 0, minCount >= 1, answers >= 1 else {
            throw ValidationError("--epochs, --batch-size, --learning-rate, --min-count and --answers must be positive")
        }
    }

    func run() throws {
        let modelConfig = try config.map { path -> ModelConfig in
            guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read \(path)") }
            return try ModelConfig.parse(data, file: path)
        } ?? DefaultArchitectures.config(for: task)
        let (vocabularies, examples) = try TrainingData.load(task: task, directory: data, config: modelConfig,
                                                            minCount: minCount, answers: answers, limit: limit)
        if FileManager.default.fileExists(atPath: out) && !resume {
            throw CLIError("\(out) exists; use --resume to continue its training or choose another --out")
        }
        let model = ModelDirectory.build(modelConfig, vocabularies, initializer: .random(seed: seed))
        var options = TrainingOptions()
        options.epochs = epochs
        options.batchSize = batchSize
        options.learningRate = learningRate
        options.seed = seed
        let trainer = try Trainer(config: modelConfig, model: model, examples: examples, options: options)
        if !quiet { print("training \(task.rawValue) on \(examples.count) examples from \(data) for \(epochs) epochs") }
        var bar: ProgressBar?
        let start = Date()
        try trainer.run(out: out, resume: resume) { p in
            if p.step == 1 { bar = ProgressBar("epoch \(p.epoch)/\(p.epochs)", total: p.stepsPerEpoch, quiet: quiet) }
            bar?.update(p.step, detail: String(format: "loss %.3f acc %.3f", p.loss, p.accuracy))
            if p.epochFinished {
                bar?.finish()
                if !quiet {
                    print(String(format: "epoch %d/%d  loss %.4f  accuracy %.4f  lr %.2e  %@ elapsed, ETA %@",
                                 p.epoch, p.epochs, p.loss, p.accuracy, p.learningRate,
                                 Terminal.duration(p.elapsed), Terminal.duration(p.eta)))
                }
            }
        }
        if trainer.skippedImages > 0 { Terminal.warn("\(trainer.skippedImages) unreadable images were skipped") }
        if !quiet { print("saved \(out) (\(Terminal.duration(Date().timeIntervalSince(start))))") }
    }
}

