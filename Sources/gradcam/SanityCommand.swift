import ArgumentParser
import AtomicOutput
import Explain
import Export
import Foundation
import Imaging
import Models
import Tensor

/// `gradcam sanity`: do the maps depend on the model? (Adebayo et al. 2018)
struct Sanity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that a method's maps depend on the model: the parameter randomisation tests.",
        discussion: """
            The model's weights are replaced by random ones group by group — cascading, from the top \
            of the network down, and independently, one group at a time — and the same caption \
            (or answer, or class) is explained again. Each map is compared with the trained model's \
            by Spearman rank correlation and SSIM. A method passes when, once every group above the \
            explained layer is random, its maps keep a mean Spearman of at most 0.3; a method that \
            ignores the gradient (eigencam) keeps them, and fails.

            Examples:
              gradcam sanity Models/shapes-captioner notebooks-cli/images/scene-1.png \\
                  --method layercam,gradcam,eigencam
              gradcam sanity Models/shapes-vqa notebooks-cli/images/scene-1.png \\
                  --question "what color is the circle?" --strict --out out/sanity
            """)

    @Argument(help: "A model directory.") var model: String
    @Argument(help: "A JPEG or PNG image.") var image: String
    @Option(help: "Captioning: explain this caption (default: the trained model's greedy caption).") var caption: String?
    @Option(help: "VQA: the question (its top answer is explained).") var question: String?
    @Option(help: "Methods, comma-separated (default: the model's explain_method and gradcam).") var method: String?
    @Option(help: "The layer to explain (default: the model's explain_layer).") var layer: String?
    @Option(help: "Write sanity.json and cascade.png (the first method's maps, one row per step) here.") var out: String?
    @Flag(help: "Exit with status 1 when a method fails.") var strict = false
    @Flag(help: "Replace --out if it is an earlier sanity check.") var force = false

    func run() throws {
        let output = try out.map { try OutputPath($0, replacing: force ? .earlier(kind: "gradcam sanity", marker: "sanity.json")
                                                        : .nothing(remedy: "pass --force to replace it, or choose another directory")) }
        let dir = try loadModel(model, task: "")
        let methods = try method.map { try $0.split(separator: ",").map { name in
            guard let m = Method(rawValue: String(name)) else { throw ValidationError("unknown method \"\(name)\"") }
            return m
        } } ?? (dir.defaultMethod == .gradcam ? [.gradcam] : [dir.defaultMethod, .gradcam])
        let loaded = try LoadedImage(path: image, model: dir, quiet: false)
        let explainedLayer = layer.map(dir.layerName) ?? dir.explainLayer
        let check = try SanityCheck(model: dir, layer: explainedLayer)
        let explain = try fixedTargets(dir, loaded.input)
        let bar = ProgressBar("sanity", total: 2 * check.groups.count * methods.count, quiet: false)
        let (original, steps) = try check.run(methods: methods, progress: { done, _ in bar.update(done) }) { m in
            try explain(ExplainOptions(method: m, layer: explainedLayer))
        }
        bar.finish()
        for test in [SanityCheck.Test.cascading, .independent] {
            print(Terminal.bold("\(test.rawValue) randomisation") + Terminal.dim("  (mean Spearman of each map with the trained model's)"))
            print(Terminal.dim("  " + "group randomised".padding(toLength: 32, withPad: " ", startingAt: 0)
                               + methods.map { $0.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0) }.joined()))
            for group in check.groups.reversed() {
                let row = methods.map { m in steps.first { $0.test == test && $0.group == group && $0.method == m }!.meanSpearman }
                let above = SanityCheck.isAbove(group, layer: explainedLayer, in: dir)
                print("  " + (dir.originalName(group) + (above ? "" : " (below)")).padding(toLength: 32, withPad: " ", startingAt: 0)
                      + row.map { String(format: "%-12.3f", $0) }.joined())
            }
        }
        var failed: [Method] = []
        for m in methods {
            let decisive = SanityCheck.decisiveStep(m, steps)!
            let pass = SanityCheck.passes(m, steps)
            if !pass { failed.append(m) }
            print(String(format: "%@: %@ (mean Spearman %.3f once everything above %@ is random; passing ≤ %.1f)",
                         m.rawValue, pass ? "passes" : "FAILS", decisive.meanSpearman, dir.originalName(explainedLayer),
                         SanityCheck.passingSpearman))
        }
        if let output {
            let trained = original[methods[0]]!
            try write(steps, trained: trained.cams ?? Tensor.zeros([trained.entries.count, trained.inputSize.height, trained.inputSize.width]),
                      methods: methods, image: loaded.image, to: output)
        }
        if strict && !failed.isEmpty { throw ExitCode.failure }
    }

    /// Explains the trained model's own targets — its greedy caption, its top answer,
    /// its top class — so every randomised model is asked about the same thing.
    private func fixedTargets(_ dir: ModelDirectory, _ input: Tensor) throws -> (ExplainOptions) throws -> Explanation {
        if caption != nil && dir.config.task != .captioning { throw ValidationError("--caption is for captioning models") }
        if question != nil && dir.config.task != .vqa { throw ValidationError("--question is for VQA models") }
        switch dir.config.task {
        case .captioning:
            let task = try CaptionTask(model: dir)
            let text = try caption ?? task.explain(image: input, caption: nil, beam: 1, nbest: 1, maxLength: nil, includeEnd: false,
                                                     score: .logprob, options: ExplainOptions())[0].text ?? ""
            return { options in
                try task.explain(image: input, caption: text, beam: 1, nbest: 1, maxLength: nil, includeEnd: false,
                                 score: .logprob, options: options)[0].explanation
            }
        case .vqa:
            guard let question else { throw ValidationError("a VQA model needs --question") }
            let task = try VQATask(model: dir)
            let read = try task.read(question)
            let answer = try task.explain(image: input, question: read, answer: nil, top: 1, score: .logit,
                                          options: ExplainOptions()).explanation.entries[0].label
            return { options in
                try task.explain(image: input, question: read, answer: answer, top: 1, score: .logit, options: options).explanation
            }
        case .classification:
            let task = try ClassifyTask(model: dir)
            let top = try task.explain(image: input, className: nil, top: 1, score: .logit, options: ExplainOptions()).explanation
            return { options in
                try task.explain(image: input, className: top.entries[0].label, top: 1, score: .logit, options: options).explanation
            }
        }
    }

    /// sanity.json (every step) and cascade.png: for the first method, the trained
    /// model's maps and then each cascading step's, one row each, eight entries at most.
    private func write(_ steps: [SanityCheck.Step], trained: Tensor, methods: [Method], image: RGBImage, to output: OutputPath) throws {
        let json = steps.map { s -> [String: Any] in
            ["test": s.test.rawValue, "group": s.group, "above_layer": s.aboveLayer, "method": s.method.rawValue,
             "spearman": s.spearman, "ssim": s.ssim]
        }
        let rows = [("trained", trained)] + steps.filter { $0.test == .cascading && $0.method == methods[0] }.map { ($0.group, $0.cams) }
        let cell = 96, label = 150
        let entries = min(trained.shape[0], 8)
        var sheet = RGBImage(width: label + entries * cell, height: rows.count * cell)
        for (row, (name, cams)) in rows.enumerated() {
            sheet.drawText(name, x: 4, y: row * cell + cell / 2 - 4, color: (0, 0, 0))
            let (h, w) = (cams.shape[1], cams.shape[2])
            for t in 0..<entries {
                let map = Array(cams.values[(t * h * w)..<((t + 1) * h * w)])
                let tile = image.resized(width: cell, height: cell).overlay(map: map, mapWidth: w, mapHeight: h, colormap: .jet, alpha: 0.5)
                sheet = sheet.pasted(tile, x: label + t * cell, y: row * cell)
            }
        }
        try output.writeDirectory { folder in
            try Data(JSON.text(["steps": json]).utf8).write(to: URL(fileURLWithPath: folder + "/sanity.json"))
            try sheet.write(to: folder + "/cascade.png")
        }
        print("wrote \(output.path)/sanity.json and cascade.png")
    }
}
