import ArgumentParser
import Explain
import Export
import Foundation
import Imaging
import Models
import Tensor

extension Method: ExpressibleByArgument {}
extension ScoreKind: ExpressibleByArgument {}
extension Normalization: ExpressibleByArgument {}
extension Colormap: ExpressibleByArgument {}

/// The options every explaining command shares (cli.md, EXPLAIN OPTIONS).
struct ExplainFlags: ParsableArguments {
    @Option(help: ArgumentHelp("The explanation method: \(Method.allCases.map(\.rawValue).joined(separator: ", ")) "
                               + "(default: the model's explain_method, else gradcam; see `gradcam models`)."))
    var method: Method?

    @Option(help: "The layer to explain, by dotted name, or by its name in the original code for an imported model (default: the model's explain_layer; see `gradcam layers MODEL`).")
    var layer: String?

    @Option(help: "The scalar differentiated: logprob, logit or prob (default: logprob for captions, logit otherwise).")
    var score: ScoreKind?

    @Flag(help: "Negate the gradients: show where evidence speaks against the target (the paper's counterfactual maps).")
    var counterfactual = false

    @Flag(help: ArgumentHelp("Measure each map: the area under the deletion curve (the entry's score as the map's pixels "
                             + "are removed, most important first; lower is better) and the insertion curve (added to a "
                             + "blurred image; higher is better), beside a random pixel order's; and ROAD, pytorch-grad-cam's "
                             + "ROADCombined (the most or least relevant pixels imputed from their neighbours; higher is "
                             + "better). In the table and the manifest."))
    var faithfulness = false

    @Flag(help: ArgumentHelp("Smooth each map by test-time augmentation, as pytorch-grad-cam's aug_smooth: the mean of "
                             + "the maps of the image and its mirror image, each times 0.9, 1 and 1.1 (6 passes)."))
    var augSmooth = false

    @Flag(help: ArgumentHelp("Make each map the first principal component of its channels' weighted activations "
                             + "instead of their sum, as pytorch-grad-cam's eigen_smooth: less noise, one dominant pattern."))
    var eigenSmooth = false

    @Option(help: "Map scaling: token (each map to [0, 1]), sequence (one scale for all, to compare strength) or none.")
    var normalize: Normalization = .token

    @Option(help: "Colour map of the overlays: jet, viridis or turbo.") var colormap: Colormap = .jet

    @Option(help: "Overlay opacity, 0 to 1.") var alpha: Float = 0.5

    @Option(help: "What to write besides manifest.json: a comma-separated subset of npy, png, html.")
    var format: String = "npy,png,html"

    @Option(help: "Write the explanation (export-format.md) to this directory. Without it nothing is written.")
    var out: String?

    @Flag(help: "Replace --out if it exists.") var force = false
    @Flag(help: "Print the manifest as JSON instead of the table.") var json = false
    @Flag(help: "Print nothing but errors (and --json's output).") var quiet = false

    func validate() throws {
        guard alpha.isFinite, (0...1).contains(alpha) else { throw ValidationError("--alpha must be between 0 and 1, got \(alpha)") }
        _ = try formats()
    }

    func formats() throws -> Set<ExportDocument.Format> {
        var set = Set<ExportDocument.Format>()
        for part in format.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            guard let f = ExportDocument.Format(rawValue: part) else {
                throw ValidationError("unknown --format \"\(part)\"; valid: npy, png, html")
            }
            set.insert(f)
        }
        return set
    }

    /// Whether a manifest will be written or printed, which records the weights' digest.
    var needsManifest: Bool { out != nil || json }

    /// Refuses a bad --out before any work is done (see `checkExportDestination`).
    func checkOut() throws {
        if let out { try checkExportDestination(out, force: force) }
    }

    /// The scalar explained: --score, else the task's default.
    func score(for task: ModelConfig.Task) -> ScoreKind { score ?? .defaultKind(for: task) }

    /// The method used for `model`: --method, else the model's default.
    func method(for model: ModelDirectory) -> Method { method ?? model.defaultMethod }

    func options(for model: ModelDirectory) -> ExplainOptions {
        ExplainOptions(method: method(for: model), layer: layer.map(model.layerName), counterfactual: counterfactual,
                       normalize: normalize, faithfulness: faithfulness, augSmooth: augSmooth, eigenSmooth: eigenSmooth)
    }
}

/// An image from the command line, decoded, with its model input.
struct LoadedImage {
    let path: String
    let image: RGBImage
    let input: Tensor

    /// Decodes the image; unless `quiet`, warns of what makes it unlike the
    /// images the model saw (`Preprocessing.concerns`).
    init(path: String, model: ModelDirectory, quiet: Bool) throws {
        self.path = path
        do {
            image = try RGBImage(contentsOf: path)
        } catch {
            throw CLIError("\(error)")
        }
        if !quiet {
            for concern in model.preprocessing.concerns(about: image) { Terminal.warn("\(path): \(concern)") }
        }
        input = model.input(for: image)
    }

    /// An image decoded elsewhere (`gradcam serve`'s upload), `path` its name.
    init(path: String, image: RGBImage, input: Tensor) {
        self.path = path
        self.image = image
        self.input = input
    }
}

/// Loads a model; with `hashing`, its weights' digest (which a manifest
/// records) is computed beside the work that follows.
func loadModel(_ path: String?, task: String, hashing: Bool = false) throws -> ModelDirectory {
    let dir = try path ?? ModelLocator.defaultModel(task: task)
    do {
        let model = try ModelDirectory(path: dir)
        if hashing { model.hashWeightsInBackground() }
        return model
    } catch {
        throw CLIError("cannot load the model: \(error)")
    }
}

/// Turns an explained sequence into an export and writes it or prints its manifest.
func emit(_ sequence: ExplainedSequence, task: ExportDocument.Task, image: LoadedImage, model: ModelDirectory,
          flags: ExplainFlags, score: ScoreKind, question: ReadQuestion? = nil, out: String?) throws {
    guard out != nil || flags.json else { return }
    var doc = try exportDocument(sequence, task: task, image: image, model: model, flags: flags, score: score,
                                 question: question)
    // Without --out nothing is written, so the printed manifest names no file.
    if out == nil { doc.formats = [] }
    if let out {
        try withInterruptsDeferred { try writeExport(doc, to: out, force: flags.force) }
        if !flags.quiet && !flags.json { print("report: \(out)/report.html") }
    }
    if flags.json { print(try manifestJSON(doc)) }
}

/// What an export of `sequence` holds (export-format.md), before it is written.
func exportDocument(_ sequence: ExplainedSequence, task: ExportDocument.Task, image: LoadedImage, model: ModelDirectory,
                    flags: ExplainFlags, score: ScoreKind, question: ReadQuestion? = nil) throws -> ExportDocument {
    var doc = ExportDocument(task: task, imagePath: image.path, image: image.image, modelPath: model.path,
                             weightsSHA256: model.weightsSHA256,
                             explanation: sequence.explanation, score: score, counterfactual: flags.counterfactual,
                             normalize: flags.normalize, colormap: flags.colormap, alpha: flags.alpha,
                             formats: try flags.formats(), text: sequence.text, logprobs: sequence.logProbs,
                             probabilities: sequence.probabilities)
    if let question {
        doc.question = .init(text: question.text, tokens: question.tokens.map { .init(token: $0.token, id: $0.id, unknown: $0.unknown) })
    }
    if let b = sequence.beam { doc.beam = .init(size: b.size, rank: b.rank, logprob: b.logProb) }
    doc.attention = sequence.attention
    doc.faithfulness = sequence.faithfulness
    doc.reportSettings = [("command", CommandLine.arguments.map(shellQuoted).joined(separator: " "))]
    return doc
}

/// `argument` as a POSIX shell reads it back: as it is when it is plain, else in
/// single quotes, so a recorded command can be pasted.
func shellQuoted(_ argument: String) -> String {
    let plain = !argument.isEmpty && argument.unicodeScalars.allSatisfy {
        CharacterSet.alphanumerics.contains($0) && $0.isASCII || "_./=:,@%+-".unicodeScalars.contains($0)
    }
    return plain ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// `--faithfulness`: an entry's deletion and insertion AUC with the random order's in brackets, and ROAD.
func faithfulnessText(_ f: EntryFaithfulness?) -> String {
    guard let f else { return "" }
    return String(format: "  deletion %.3f (random %.3f), insertion %.3f (random %.3f), ROAD %.3f",
                  f.deletion, f.randomDeletion, f.insertion, f.randomInsertion, f.road.combined)
}

func peakText(_ peak: [Int]) -> String { peak.count == 2 ? "(\(peak[0]), \(peak[1]))" : "-" }

/// Where a peak is: "(row, column) of LAYER's h×w map", the layer by its
/// name in the model's original code (an imported model's).
func peakPlace(_ e: Explanation, _ dir: ModelDirectory) -> String {
    let layer = dir.originalName(e.layer)
    return e.layerSize.map { "(row, column) of \(layer)'s \($0.height)×\($0.width) map" } ?? "at \(layer)"
}

/// Said after a table when nothing was written: the maps need --out.
func outHint(_ flags: ExplainFlags) {
    if flags.out == nil && !flags.quiet && !flags.json {
        print(Terminal.dim("(the maps themselves: add --out DIR for npy arrays, overlays, a sheet and report.html)"))
    }
}

struct Caption: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Caption an image and explain every word.",
        discussion: """
            Generates a caption by beam search (or takes --caption), then explains each word's \
            log-probability given the image and the words before it, all words in one backward pass. \
            Prints the caption and a table of words; --out writes maps, overlays, a contact sheet and \
            report.html. For an attention captioner (Show, Attend and Tell, like the shipped one) the \
            export also holds each word's attention over the map (attention.npy), drawn under the \
            word's map in the sheet and beside it in the report: where the decoder looked, beside \
            what made the word. The default --method is the model's explain_method (`gradcam models`).

            Examples:
              gradcam caption scene.png
              gradcam caption scene.png --out out/scene --method gradcam++ \\
                  --normalize sequence
              gradcam caption scene.png --caption "a red circle" --counterfactual
              gradcam caption scene.png --beam 5 --nbest 3 --out out/beams
            """)

    @Argument(help: "A JPEG or PNG image.") var image: String
    @Option(help: "A captioning model directory (default: the shipped shapes-captioner).") var model: String?
    @Option(help: "Beam size; 1 is greedy decoding.") var beam = 3
    @Option(help: "Explain each of the K best hypotheses (written to OUT/beam-0, OUT/beam-1, …).") var nbest = 1
    @Option(help: "Maximum caption length in words (default: the model's max_length).") var maxLength: Int?
    @Option(help: "Explain this caption, teacher-forced, instead of generating one.") var caption: String?
    @Flag(help: "Also explain the <end> token.") var includeEnd = false
    @Flag(help: ArgumentHelp("Also explain the whole caption — the sum of its words' log-probabilities, <end> excluded — "
                             + "in the same pass: the single map of the paper's released code, a last entry flagged "
                             + "\"whole_caption\" in the manifest."))
    var whole = false
    @OptionGroup var flags: ExplainFlags

    func validate() throws {
        guard beam >= 1 else { throw ValidationError("--beam must be at least 1, got \(beam)") }
        guard nbest >= 1 && nbest <= beam else { throw ValidationError("--nbest must be between 1 and --beam (\(beam)), got \(nbest)") }
        // Explaining T words runs the decoder T times at batch T: unbounded, --max-length 100000 never ends.
        if let maxLength, !(1...ModelConfig.maxCaptionLength).contains(maxLength) {
            throw ValidationError("--max-length must be between 1 and \(ModelConfig.maxCaptionLength), got \(maxLength)")
        }
        if caption != nil && nbest > 1 { throw ValidationError("--nbest explains beam hypotheses; it cannot be used with --caption") }
    }

    func run() throws {
        try flags.checkOut()
        let dir = try loadModel(model, task: "captioning", hashing: flags.needsManifest)
        let task = try CaptionTask(model: dir)
        let loaded = try LoadedImage(path: image, model: dir, quiet: flags.quiet)
        let score = flags.score(for: .captioning)
        let sequences = try task.explain(image: loaded.input, caption: caption, beam: beam, nbest: nbest,
                                         maxLength: maxLength, includeEnd: includeEnd, whole: whole, score: score,
                                         options: flags.options(for: dir)) { unknown, truncated in
            if !unknown.isEmpty { Terminal.warn("not in the vocabulary, read as <unk>: \(unknown.joined(separator: ", "))") }
            if truncated { Terminal.warn("the caption is longer than the model's \(dir.config.decoder!.maxLength) words; truncated") }
        }
        guard let out = flags.out, sequences.count > 1 else {
            for s in sequences {
                if !flags.quiet && !flags.json { printCaption(s, dir) }
                try emit(s, task: .captioning, image: loaded, model: dir, flags: flags, score: score, out: flags.out)
            }
            outHint(flags)
            return
        }
        // With --nbest, OUT holds one export per hypothesis, OUT/beam-0, OUT/beam-1, …, all written at once.
        var docs: [(name: String, doc: ExportDocument)] = []
        for (k, s) in sequences.enumerated() {
            if !flags.quiet && !flags.json { printCaption(s, dir) }
            let doc = try exportDocument(s, task: .captioning, image: loaded, model: dir, flags: flags, score: score)
            if flags.json { print(try manifestJSON(doc)) }
            docs.append(("beam-\(k)", doc))
        }
        try withInterruptsDeferred { try writeExports(docs, to: out, force: flags.force) }
        if !flags.quiet && !flags.json {
            for (name, _) in docs { print("report: \(out)/\(name)/report.html") }
        }
    }

    func printCaption(_ s: ExplainedSequence, _ dir: ModelDirectory) {
        let text = s.text ?? ""
        print(Terminal.bold(text.isEmpty ? "(empty caption)" : text))
        if let b = s.beam {
            print(Terminal.dim(String(format: "  beam %d, hypothesis %d, log p %.3f", b.size, b.rank, b.logProb)))
        }
        let e = s.explanation
        guard !e.entries.isEmpty else { print("  nothing to explain"); return }
        let width = max(6, e.entries.map(\.label.count).max() ?? 4)
        print(Terminal.dim("  #  " + "word".padding(toLength: width, withPad: " ", startingAt: 0)
            + "    log p  \(flags.score.map { $0.rawValue + "   " } ?? "")peak \(peakPlace(e, dir))"))
        let faint = flags.score(for: .captioning).faint(logProbs: s.logProbs)
        for (i, entry) in e.entries.enumerated() {
            let lp = s.logProbs.map { String(format: "%8.3f", $0[i]) } ?? "       -"
            let sc = flags.score.map { _ in String(format: "%8.3f   ", entry.score) } ?? ""
            print(String(format: "%3d  ", i) + entry.label.padding(toLength: width, withPad: " ", startingAt: 0)
                + " " + lp + (faint.indices.contains(i) && faint[i] ? "* " : "  ") + sc + peakText(entry.peak)
                + faithfulnessText(s.faithfulness?[i]))
        }
        if faint.contains(true) { print(Terminal.dim("  * " + ScoreKind.faintNote)) }
    }
}

struct VQA: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vqa",
        abstract: "Answer a question about an image and show where the answer is grounded.",
        discussion: """
            Prints the top answers with probabilities and explains the top one (or --answer, which \
            must be one of the model's answers, or the --top K). Words the model never saw are read \
            as <unk>, with a warning saying how many were known. For an attention model (Show, Ask, \
            Attend and Answer, like the shipped one) the export also holds where each glimpse \
            looked (attention.npy), drawn under each answer's map in sheet.png and beside it in \
            report.html; the method defaults to the model's explain_method.

            Examples:
              gradcam vqa scene.png --question "what color is the circle?"
              gradcam vqa scene.png --question "what color is the circle?" \\
                  --answer blue --counterfactual
              gradcam vqa scene.png --question "how many squares are there?" \\
                  --top 3 --out out/count
            """)

    @Argument(help: "A JPEG or PNG image.") var image: String
    @Option(help: "The question.") var question: String
    @Option(help: "A VQA model directory (default: the shipped shapes-vqa).") var model: String?
    @Option(help: "Explain this answer (one of the model's answers).") var answer: String?
    @Option(help: "Explain the K most probable answers.") var top = 1
    @OptionGroup var flags: ExplainFlags

    func validate() throws {
        guard top >= 1 else { throw ValidationError("--top must be at least 1, got \(top)") }
        if answer != nil && top != 1 { throw ValidationError("give either --answer or --top, not both") }
    }

    func run() throws {
        try flags.checkOut()
        let dir = try loadModel(model, task: "vqa", hashing: flags.needsManifest)
        let task = try VQATask(model: dir)
        let loaded = try LoadedImage(path: image, model: dir, quiet: flags.quiet)
        let read = try task.read(question)
        for warning in read.warnings(maxLength: dir.config.questionEncoder!.maxLength) { Terminal.warn(warning) }
        for warning in task.layerWarnings(layer: flags.layer.map(dir.layerName), method: flags.method(for: dir)) { Terminal.warn(warning) }
        let score = flags.score(for: .vqa)
        let s = try task.explain(image: loaded.input, question: read, answer: answer, top: top, score: score,
                                 options: flags.options(for: dir))
        if !flags.quiet && !flags.json {
            let probs = task.probabilities(image: loaded.input, question: read)
            print(Terminal.bold(question))
            let best = TargetSet.top(min(5, probs.count), of: Tensor(shape: [1, probs.count], values: probs))
            for id in best {
                let p = probs[id]
                let bar = String(repeating: "█", count: Int((p * 30).rounded()))
                print(String(format: "  %6.1f%%  ", p * 100) + (task.answers.token(at: id) ?? "?")
                    .padding(toLength: 14, withPad: " ", startingAt: 0) + " " + Terminal.green(bar))
            }
            for (k, entry) in s.explanation.entries.enumerated() {
                print("explained: \(entry.label)  \(score.rawValue) \(String(format: "%.3f", entry.score))  peak \(peakText(entry.peak)), "
                      + peakPlace(s.explanation, dir) + faithfulnessText(s.faithfulness?[k]))
            }
        }
        try emit(s, task: .vqa, image: loaded, model: dir, flags: flags, score: score, question: read, out: flags.out)
        outHint(flags)
    }
}

struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify an image and explain the top classes (or a named one).",
        discussion: """
            Examples:
              gradcam classify scene.png --top 3
              gradcam classify photo.jpg --model my-resnet50 --class 281 \\
                  --method gradcam++ --out out/cat
            """)

    @Argument(help: "A JPEG or PNG image.") var image: String
    @Option(help: "A classification model directory (default: the shipped shapes-classifier).") var model: String?
    @Option(name: .customLong("class"), help: "Explain this class, by name or index.") var className: String?
    @Option(help: "Explain the K highest-scoring classes.") var top = 1
    @OptionGroup var flags: ExplainFlags

    func validate() throws {
        guard top >= 1 else { throw ValidationError("--top must be at least 1, got \(top)") }
        if className != nil && top != 1 { throw ValidationError("give either --class or --top, not both") }
    }

    func run() throws {
        try flags.checkOut()
        let dir = try loadModel(model, task: "classification", hashing: flags.needsManifest)
        let task = try ClassifyTask(model: dir)
        let loaded = try LoadedImage(path: image, model: dir, quiet: flags.quiet)
        let score = flags.score(for: .classification)
        let s = try task.explain(image: loaded.input, className: className, top: top, score: score, options: flags.options(for: dir))
        if !flags.quiet && !flags.json {
            for (k, (entry, p)) in zip(s.explanation.entries, s.probabilities ?? []).enumerated() {
                print(String(format: "%6.1f%%  ", p * 100) + entry.label.padding(toLength: 16, withPad: " ", startingAt: 0)
                    + "  peak \(peakText(entry.peak)), \(peakPlace(s.explanation, dir))" + faithfulnessText(s.faithfulness?[k]))
            }
        }
        try emit(s, task: .classification, image: loaded, model: dir, flags: flags, score: score, out: flags.out)
        outHint(flags)
    }
}
