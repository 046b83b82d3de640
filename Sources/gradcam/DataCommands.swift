import ArgumentParser
import Foundation
import Evaluation
import Explain
import Export
import Models
import ShapesWorld
import Tensor
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
        try checkCanCreate(out)
        let biasOption: Bias? = bias.flatMap(Shape.init(rawValue:)).map { .markWithShape($0) } ?? (markAtRandom ? .markAtRandom : nil)
        let bar = ProgressBar("shapes", total: count, quiet: quiet)
        try withInterruptsPolled {
            try writeDataset(to: out, count: count, seed: seed, size: size, split: split, bias: biasOption) { done, _ in
                bar.update(done)
                return interruptRequested() == nil
            }
        }
        bar.finish()
        if !quiet { print("wrote \(count) scenes to \(out)") }
    }
}

extension TrainingTask: ExpressibleByArgument {}

extension TrainingOptions.OptimizerKind: ExpressibleByArgument {}

struct Train: ParsableCommand {
    typealias Task = TrainingTask

    static let configuration = CommandConfiguration(
        abstract: "Train a captioner, VQA model or classifier on COCO/VQA-format data (e.g. ShapesWorld).",
        discussion: """
            Reads DATA/captions.json (captioner), DATA/questions.json + answers.json (vqa) or \
            DATA/labels.json (classifier) with DATA/images/. The architecture is a small VGG with \
            batch norm for 64×64 inputs unless --config gives a config.json. Saves the model \
            directory after every epoch with the optimiser's state (training-state.*), so \
            --resume continues an interrupted run, or a finished one with a larger --epochs (the \
            learning-rate schedule then spans the new total). Delete training-state.* to ship \
            the model without it.

            Examples:
              gradcam shapes --out data/train --count 60000 --seed 31
              gradcam train vqa --data data/train --out my-vqa --epochs 6 --limit 45000
            """)

    @Argument(help: "captioner, vqa or classifier.") var task: Task
    @Option(help: "A split folder.") var data: String
    @Option(help: "The model directory to write.") var out: String
    @Option(help: "Epochs.") var epochs = 10
    @Option(help: "Random seed (initialisation, order, dropout).") var seed: UInt64 = 1
    @Option(help: "Minibatch size.") var batchSize = 32
    @Option(help: "Learning rate (cosine decay to 0 over the run).") var learningRate: Float = 2e-3
    @Option(help: "adam, or sgd (with momentum).") var optimizer: TrainingOptions.OptimizerKind = .adam
    @Option(help: "SGD's momentum, at least 0 and below 1.") var momentum: Float = 0.9
    @Option(help: "A config.json for the architecture (input, backbone, decoder…); default: the ShapesWorld one.")
    var config: String?
    @Option(help: "Keep words seen at least this often (rarer ones become <unk>).") var minCount = 1
    @Option(help: "VQA: keep the most frequent answers, at most this many.") var answers = 1000
    @Option(help: "Use only the first N images (for quick checks).") var limit: Int?
    @Option(help: "Captioner: train only on reference captions of these ShapesWorld forms (comma-separated: list, count, relation, total).")
    var captionForms: String?
    @Option(help: "Start from this model directory's weights: all of them for a model of the same task and shape (continue training), else the backbone's (transfer learning).")
    var initFrom: String?
    @Flag(help: "Continue from the last epoch saved in --out (up to --epochs in all).") var resume = false
    @Option(help: """
        Threads, each training on a share of every batch (data parallel; batch norm \
        normalises each share by its own statistics). A run is deterministic for a seed and \
        a thread count.
        """)
    var threads = 1
    @Flag(help: "No progress bar.") var quiet = false

    /// Below this many images per thread's share, batch norm's statistics are
    /// suspect: ShapesWorld VQA batches of 32 questions (about 7 images) on two
    /// threads stalled at 0.77 accuracy where one thread reaches 0.93.
    static let fewestImagesPerShare = 6.0

    func validate() throws {
        guard epochs >= 1, batchSize >= 1, learningRate > 0, minCount >= 1, answers >= 1, threads >= 1 else {
            throw ValidationError("--epochs, --batch-size, --learning-rate, --min-count, --answers and --threads must be positive")
        }
        guard momentum >= 0 && momentum < 1 else { throw ValidationError("--momentum must be at least 0 and below 1") }
    }

    func run() throws {
        setBLASThreads(1)  // each training thread's products run whole on that thread
        if FileManager.default.fileExists(atPath: out) && !resume {
            throw CLIError("\(out) exists; use --resume to continue its training or choose another --out")
        }
        try checkCanCreate(out)
        let modelConfig = try config.map { path -> ModelConfig in
            guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read \(path)") }
            return try ModelConfig.parse(data, file: path)
        } ?? DefaultArchitectures.config(for: task)
        let (vocabularies, examples) = try TrainingData.load(task: task, directory: data, config: modelConfig,
                                                            minCount: minCount, answers: answers, limit: limit,
                                                            captionForms: captionForms.map { Set($0.split(separator: ",").map(String.init)) })
        let model = ModelDirectory.build(modelConfig, vocabularies, initializer: .random(seed: seed))
        if let initFrom {
            let copied = try model.initialize(from: try loadModel(initFrom, task: ""))
            if !quiet { print("initialised \(copied) tensors from \(initFrom)") }
        }
        var options = TrainingOptions()
        options.epochs = epochs
        options.batchSize = batchSize
        options.learningRate = learningRate
        options.optimizer = optimizer
        options.momentum = momentum
        options.seed = seed
        options.threads = threads
        // A VQA model carries the question forms of the split it learnt from.
        if task == .vqa, let forms = FileManager.default.contents(atPath: data + "/" + QuestionForms.fileName) {
            options.modelFiles[QuestionForms.fileName] = forms
        }
        let trainer = try Trainer(config: modelConfig, model: model, examples: examples, options: options)
        if threads > 1, modelConfig.backbone.hasBatchNorm, trainer.imagesPerShare < Self.fewestImagesPerShare {
            Terminal.warn(String(format: "each thread's share of a batch holds %.1f images; batch norm normalises a share "
                + "by its own statistics, and shares this small can stall training (raise --batch-size)", trainer.imagesPerShare))
        }
        if !quiet {
            print("training \(task.rawValue) on \(Terminal.count(examples.count, "example")) from \(data) for \(Terminal.count(epochs, "epoch"))")
        }
        var bar: ProgressBar?
        let start = Date()
        try withInterruptsPolled { try trainer.run(out: out, resume: resume) { p in
            if let signal = interruptRequested() { throw Interrupted(signal: signal) }
            if p.step == 1 { bar = ProgressBar("epoch \(p.epoch)/\(p.epochs)", total: p.stepsPerEpoch, quiet: quiet) }
            bar?.update(p.step, detail: String(format: "loss %.3f acc %.3f", p.loss, p.accuracy))
            if p.epochFinished {
                bar?.finish()
                if !quiet {
                    print(String(format: "epoch %d/%d  loss %.4f  accuracy %.4f  lr %.2e  %@ elapsed, ETA %@",
                                 p.epoch, p.epochs, p.loss, p.accuracy, p.learningRate,
                                 Terminal.duration(p.elapsed), Terminal.duration(p.eta)))
                    fflush(nil)  // epoch lines appear as they happen in a log file too
                }
            }
        } }
        if trainer.skippedImages > 0 { Terminal.warn("\(trainer.skippedImages) unreadable images were skipped") }
        if !quiet { print("saved \(out) (\(Terminal.duration(Date().timeIntervalSince(start))))") }
    }
}


struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model on a split: task scores and grounding of its explanations.",
        discussion: """
            Task scores: captioning BLEU-4 and the share of captions naming every object's colour and \
            shape; VQA accuracy per question type (a type with yes/no and other answers also split: \
            spatial_yes_no, spatial_other); classification accuracy. Grounding, per method and beside \
            a centre and a random baseline: pointing game, energy inside the mask and IoU at 15% of \
            the maximum, for every groundable token (see `Evaluator` in Sources/Evaluation; a VQA \
            answer against the union of the objects it refers to: either object of a relation, the \
            counted objects — read energy for counts); and the same per kind of token (captions: \
            colour and shape words; VQA: question types; classification: classes), \
            "grounding_by_kind" in the JSON.

            Example:
              gradcam eval Models/shapes-vqa --data data/test \\
                  --method gradcam,gradcam++ --json
            """)

    @Argument(help: "A model directory.") var model: String
    @Option(help: "A split folder with instances.json (e.g. from `gradcam shapes`).") var data: String
    @Option(help: ArgumentHelp("Methods to evaluate, comma-separated (default: the model's explain_method, else gradcam). "
                               + "An attention model's attention (a VQA model's glimpses, averaged) is always evaluated too, as \"attention\"."))
    var method: String?
    @Option(help: "The scalar explained: logprob, logit or prob (default: logprob for captions, logit otherwise).")
    var score: ScoreKind?
    @Option(help: "Evaluate only the first N images.") var limit: Int?
    @Option(help: "Write a PNG bar chart of the grounding scores here.") var chart: String?
    @Flag(help: ArgumentHelp("Also measure each graded token's map by deletion and insertion (RISE) beside a random "
                             + "pixel order, and by ROAD (pytorch-grad-cam's ROADCombined), per method and kind: "
                             + "\"faithfulness\" in the JSON. Slower: 4 curves of 33 forward passes and 18 imputed images a token."))
    var faithfulness = false
    @Flag(help: ArgumentHelp("Also run the cascading randomisation test of `gradcam sanity` on each image (its caption's "
                             + "words, its first graded answer, its class): each method's mean Spearman with the trained "
                             + "model's maps at every step and the share of entries at most 0.3 once everything above the "
                             + "explained layer is random; \"sanity\" in the JSON. About 15 more explanations an image."))
    var sanity = false
    @Flag(help: "Smooth every map as `caption --aug-smooth` does (6 passes an explanation).") var augSmooth = false
    @Flag(help: "Make every map the first principal component, as `caption --eigen-smooth` does.") var eigenSmooth = false
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(help: "Print nothing but errors (and --json's output).") var quiet = false

    func validate() throws {
        if let chart, !chart.lowercased().hasSuffix(".png") { throw ValidationError("--chart writes a PNG: give a path ending in .png") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
    }

    func run() throws {
        if let chart { try checkCanCreate(chart) }
        let named = try method.map {
            try $0.split(separator: ",").map { name -> Method in
                guard let m = Method(rawValue: String(name)) else {
                    throw ValidationError("unknown method \"\(name)\"; valid: \(Method.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return m
            }
        }
        let dir = try loadModel(model, task: "")
        let methods = named ?? [dir.defaultMethod]
        var progressBar: ProgressBar?
        var evaluator = Evaluator(model: dir, methods: methods)
        evaluator.score = score
        evaluator.faithfulness = faithfulness
        evaluator.sanity = sanity
        evaluator.augSmooth = augSmooth
        evaluator.eigenSmooth = eigenSmooth
        let report = try evaluator.evaluate(data: data, limit: limit) { done, total in
            if progressBar == nil { progressBar = ProgressBar("eval", total: total, quiet: quiet || json) }
            progressBar?.update(done)
        }
        progressBar?.finish()
        if let chart {
            let folder = URL(fileURLWithPath: chart).deletingLastPathComponent()
            do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
                throw CLIError("cannot create \(folder.path)", error)
            }
            try groundingChart(report).write(to: chart)
        }
        if json {
            print(JSON.text(report.json), terminator: "")
            return
        }
        guard !quiet else { return }
        let smoothing = report.smoothing.isEmpty ? "" : " (maps: \(report.smoothing.joined(separator: ", ")))"
        print(Terminal.bold("\(report.task) model \(report.model) on \(data): \(Terminal.count(report.count, "item"))\(smoothing)"))
        for (k, v) in report.scores.sorted(by: { $0.key < $1.key }) {
            print("  " + k.padding(toLength: 32, withPad: " ", startingAt: 0) + String(format: "%.4f", v))
        }
        let names = report.groundingNames
        print(Terminal.dim("  grounding                        pointing   energy      iou   tokens"))
        for name in names {
            let g = report.grounding[name]!
            print("  " + name.padding(toLength: 30, withPad: " ", startingAt: 0)
                + String(format: " %8.3f %8.3f %8.3f %8d", g.pointingGame, g.energy, g.iou, g.count))
        }
        if report.groundingByKind.count > 1 {
            print(Terminal.dim("  pointing game by kind         " + names.map { $0.padding(toLength: 16, withPad: " ", startingAt: 0) }.joined()
                + "tokens"))
            for (kind, g) in report.groundingByKind.sorted(by: { $0.key < $1.key }) {
                print("  " + kind.padding(toLength: 30, withPad: " ", startingAt: 0)
                    + names.map { String(format: "%-16.3f", g[$0]?.pointingGame ?? 0) }.joined()
                    + String(g.values.first?.count ?? 0))
            }
        }
        if !report.faithfulness.isEmpty {
            print(Terminal.dim("  faithfulness (AUC)     deletion (random)   insertion (random)   deletion beats random     ROAD   tokens"))
            for (name, f) in report.faithfulness.sorted(by: { $0.key < $1.key }) {
                print("  " + name.padding(toLength: 20, withPad: " ", startingAt: 0)
                    + String(format: " %8.3f (%7.3f)  %8.3f (%7.3f)  %20.3f   %6.3f   %6d", f.deletion, f.randomDeletion, f.insertion,
                             f.randomInsertion, f.beatsRandomDeletion, f.road, f.count))
            }
            for (kind, byMethod) in report.faithfulnessByKind.sorted(by: { $0.key < $1.key }) {
                let shares = byMethod.sorted { $0.key < $1.key }.map { String(format: "%@ %.3f", $0.key, $0.value.beatsRandomDeletion) }
                print("  deletion beats random, \(kind): " + shares.joined(separator: ", "))
            }
        }
        if !report.sanity.isEmpty {
            print(Terminal.dim("  sanity (cascading)     Spearman once all above \(dir.originalName(dir.explainLayer)) is random   entries ≤ 0.3   verdict"))
            for (name, s) in report.sanity.sorted(by: { $0.key < $1.key }) {
                print("  " + name.padding(toLength: 20, withPad: " ", startingAt: 0)
                    + String(format: " %8.3f %38.3f   %@", s.decisive?.spearman ?? 0, s.passingEntries, s.passes ? "passes" : "FAILS"))
            }
        }
        if let chart { print("chart: \(chart)") }
    }
}

struct BuildVocabulary: ParsableCommand {
    enum Kind: String, ExpressibleByArgument, CaseIterable { case captions, questions, answers }

    static let configuration = CommandConfiguration(
        commandName: "vocab",
        abstract: "Build a vocabulary from a split's captions, questions or answers.",
        discussion: """
            Words seen fewer than --min-count times are left out (they become <unk>, as in \
            neuraltalk2); the rest are ordered by count, then alphabetically, after the specials. \
            Answers are whole lines, the --top most frequent.

            Example:
              gradcam vocab --data data/train --kind captions --min-count 5 --out vocab.txt
            """)

    @Option(help: "A split folder (captions.json, or questions.json + answers.json).") var data: String
    @Option(help: "captions, questions or answers.") var kind: Kind
    @Option(help: "Keep words seen at least this often.") var minCount = 1
    @Option(help: "Answers: keep the most frequent, at most this many.") var top = 1000
    @Option(help: "The vocabulary file to write (one token per line).") var out: String

    func run() throws {
        let vocabulary: Vocabulary
        switch kind {
        case .captions:
            let texts = try CaptionDataset(directory: data).entries.flatMap { $0.captions.map(\.text) }
            vocabulary = TrainingData.captionVocabulary(texts, minCount: minCount)
        case .questions:
            vocabulary = TrainingData.questionVocabulary(try VQADataset(directory: data).items.map(\.question), minCount: minCount)
        case .answers:
            vocabulary = try TrainingData.answerVocabulary(try VQADataset(directory: data).items.map(\.answer),
                                                           minCount: minCount, top: top)
        }
        try vocabulary.write(to: out)
        print("wrote \(vocabulary.count) tokens to \(out)")
    }
}
