import ArgumentParser
import Export
import Foundation
import Models
import NN
import Tensor

struct ListModels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List the shipped models and any model directories given.",
        discussion: "For each model: its task, backbone, decoder, input size, vocabulary sizes, and the layer and method explained by default.")

    @Argument(help: "Model directories to describe besides the shipped ones.")
    var directories: [String] = []

    @Flag(help: "Print JSON.") var json = false
    @Flag(help: ArgumentHelp("For VQA models, list the question forms they were trained on (question_forms.txt): "
                             + "a question of another form gets an answer that means nothing."))
    var forms = false

    func run() throws {
        var rows: [[String: Any]] = []
        for path in ModelLocator.shippedModels() + directories {
            let dir = try ModelDirectory(path: path)
            var sizes: [String: Int] = [:]
            switch dir.model {
            case let .captioning(_, v): sizes["vocabulary"] = v.count
            case let .vqa(_, q, a): sizes["questions"] = q.count; sizes["answers"] = a.count
            case let .classification(_, c): sizes["classes"] = c.count
            }
            var row: [String: Any] = ["path": path, "task": dir.config.task.rawValue,
                                      "input": [dir.config.input.width, dir.config.input.height],
                                      "backbone": dir.config.backbone.arch.rawValue, "sizes": sizes,
                                      "explain_layer": dir.explainLayer, "explain_method": dir.defaultMethod.rawValue]
            if let decoder = dir.config.decoder { row["decoder"] = decoder.decoderKind.rawValue }
            if forms, let questionForms = dir.questionForms { row["question_forms"] = questionForms.lines }
            rows.append(row)
        }
        if json {
            print(JSON.text(rows), terminator: "")
            return
        }
        if rows.isEmpty { print("no models found (see `gradcam models --help`)") }
        for r in rows {
            let input = r["input"] as! [Int]
            let sizes = (r["sizes"] as! [String: Int]).sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            print(Terminal.bold(r["path"] as! String))
            let decoder = (r["decoder"] as? String).map { ", decoder \($0)" } ?? ""
            print("  task \(r["task"]!), backbone \(r["backbone"]!)\(decoder), input \(input[0])×\(input[1]), "
                + sizes.joined(separator: ", ") + ", default layer \(r["explain_layer"]!), method \(r["explain_method"]!)")
            if forms, r["task"] as? String == "vqa" {
                let lines = r["question_forms"] as? [String]
                print(lines.map { "  question forms:\n" + $0.map { "    " + $0 }.joined(separator: "\n") }
                      ?? "  question forms: not listed (no question_forms.txt)")
            }
        }
    }
}

struct Layers: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every layer of a model with its output shape, to choose --layer.",
        discussion: """
            Names are PyTorch's dotted module paths (for an imported model, those of the code it \
            came from). Layers computed from the image with a spatial \
            output [N, C, h, w] can be explained by CAM methods; the others say why not. The layer \
            explained by default is marked with *.
            """)

    @Argument(help: "A model directory.") var model: String

    func run() throws {
        let dir = try ModelDirectory(path: model)
        let root = dir.model.root
        let (image, rest) = layerOutputs(dir)
        // An imported model's layers go by their names in the code it came from.
        let width = root.namedModules().map { dir.originalName($0.name).count }.max() ?? 10
        for (name, module) in root.namedModules() where !name.isEmpty {
            let shape: String
            if let a = image.captured[name] {
                shape = "[" + a.shape.map(String.init).joined(separator: ", ") + "]" + (a.rank == 4 ? "" : "  (no spatial map)")
            } else if let a = rest.captured[name], a.rank == 4 {
                // An attention VQA model's 1×1 convolutions read the map's cells: explainable too.
                shape = "[" + a.shape.map(String.init).joined(separator: ", ") + "]  (after the image features, over its cells)"
            } else if rest.captured[name] != nil {
                shape = "(after the image features: no map)"
            } else if !module.namedModules().dropFirst().isEmpty {
                shape = "(holds the layers below)"
            } else {
                shape = "(not computed from the image: no map)"
            }
            let mark = name == dir.explainLayer ? " *" : ""
            print(dir.originalName(name).padding(toLength: width + 2, withPad: " ", startingAt: 0)
                + String(describing: type(of: module)).padding(toLength: 20, withPad: " ", startingAt: 0) + shape + mark)
        }
    }
}

/// Every layer's output on a blank image: computed from the image alone
/// (`image`), then the rest of the model on one word or question token (`rest`).
func layerOutputs(_ dir: ModelDirectory) -> (image: ForwardContext, rest: ForwardContext) {
    let names = dir.model.root.namedModules().map(\.name).filter { !$0.isEmpty }
    let image = ForwardContext(capturing: Set(names)), rest = ForwardContext(capturing: Set(names))
    let input = Tensor.zeros([1, 3, dir.config.input.height, dir.config.input.width])
    switch dir.model {
    case let .captioning(m, v):
        _ = m.teacherForcedLogits(m.imageFeature(input, image), words: [v.endID!], rest)
    case let .vqa(m, _, _):
        _ = m.answerLogits(imageFeature: m.imageFeature(input, image), question: m.questionVector([0], rest), rest)
    case let .classification(m, _): _ = m.logits(input, image)
    }
    return (image, rest)
}

/// The layers with a map to explain, in forward order: a spatial output
/// computed from the image (or, in an attention VQA model, over its cells).
func mapLayers(_ dir: ModelDirectory) -> [(name: String, shape: [Int])] {
    let (image, rest) = layerOutputs(dir)
    return dir.model.root.namedModules().compactMap { name, _ in
        guard let a = image.captured[name] ?? rest.captured[name], a.rank == 4 else { return nil }
        return (name, a.shape)
    }
}
