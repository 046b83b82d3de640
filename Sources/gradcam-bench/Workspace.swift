// The bench's working directory, shared with scripts/bench_pytorch.py:
//   DIR/<model>/            model directories (config.json, weights.safetensors, vocabularies)
//   DIR/inputs/image.npy    the input image tensor [1, 3, 224, 224]
//   DIR/inputs/image256.npy the attention captioner's input [1, 3, 256, 256]
//   DIR/inputs/inputs.json  the caption's word ids, the question's ids
//   DIR/out/<scenario>/     each scenario's outputs (ours_*.npy, targets.json), checked by PyTorch

import Export
import Foundation
import Models
import NN
import Tensor
import Text

struct Workspace {
    let dir: String

    func model(_ spec: ModelSpec) -> String { dir + "/" + spec.rawValue }
    var inputs: String { dir + "/inputs" }
    func out(_ scenario: String) -> String {
        let d = dir + "/out/" + scenario
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    func image() throws -> Tensor {
        let (shape, values) = try NPY.read(inputs + "/image.npy")
        return Tensor(shape: shape, values: values)
    }

    struct Inputs: Codable {
        var caption: [Int]
        var question: [Int]
    }

    /// The attention captioner's input, at the 256² of sgrvinod's tutorial.
    func image256() throws -> Tensor {
        let path = inputs + "/image256.npy"
        if !FileManager.default.fileExists(atPath: path) {
            var rng = SeededGenerator(seed: 2025)
            try NPY.write(Tensor.randn([1, 3, 256, 256], using: &rng), to: path)
        }
        let (shape, values) = try NPY.read(path)
        return Tensor(shape: shape, values: values)
    }

    func readInputs() throws -> Inputs {
        try JSONDecoder().decode(Inputs.self, from: Data(contentsOf: URL(fileURLWithPath: inputs + "/inputs.json")))
    }

    func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(value).write(to: URL(fileURLWithPath: path))
    }

    /// The image tensor and the token ids every scenario reads, written once.
    func prepareInputs() throws {
        try FileManager.default.createDirectory(atPath: inputs, withIntermediateDirectories: true)
        let imagePath = inputs + "/image.npy", jsonPath = inputs + "/inputs.json"
        guard !FileManager.default.fileExists(atPath: imagePath) || !FileManager.default.fileExists(atPath: jsonPath) else { return }
        var rng = SeededGenerator(seed: 2024)
        try NPY.write(Tensor.randn([1, 3, 224, 224], using: &rng), to: imagePath)
        // 16 ordinary words (ids past the four specials) and a 10-word question.
        let caption = (0..<16).map { _ in 4 + Int(rng.next() % UInt64(ModelSpec.captionVocabulary - 4)) }
        let question = (0..<10).map { _ in 1 + Int(rng.next() % UInt64(ModelSpec.questionVocabulary - 1)) }
        try writeJSON(Inputs(caption: caption, question: question), to: jsonPath)
    }

    /// Builds the model with random weights and saves it, unless a directory
    /// with the same config.json is already there (`--models DIR` reuses it).
    func prepare(_ spec: ModelSpec) throws {
        let path = model(spec)
        let config = spec.config
        let configFile = path + "/config.json", weights = path + "/weights.safetensors"
        if FileManager.default.fileExists(atPath: weights),
           let data = FileManager.default.contents(atPath: configFile),
           let existing = try? ModelConfig.parse(data, file: configFile), existing == config {
            return
        }
        let start = Date()
        let model = ModelDirectory.build(config, spec.vocabularies, initializer: .random(seed: spec.seed))
        try ModelDirectory.save(config: config, model: model, to: path)
        let mb = Double((try? FileManager.default.attributesOfItem(atPath: weights)[.size] as? Int) ?? 0) / 1e6
        log(String(format: "prepared %@ (%.0f MB of weights) in %.1f s", spec.rawValue, mb, Date().timeIntervalSince(start)))
    }
}

/// The models of the suite, at full size.
enum ModelSpec: String, CaseIterable {
    case resnet50 = "resnet50-classifier"
    case vgg16 = "vgg16-classifier"
    case captioner = "captioner-resnet50"
    case vqa = "vqa-resnet50"
    case attentionCaptioner = "sat-resnet101"

    static let captionVocabulary = 10_000
    static let questionVocabulary = 10_000
    static let answers = 1000
    static let classes = 1000

    var seed: UInt64 {
        switch self {
        case .resnet50: return 1
        case .vgg16: return 2
        case .captioner: return 3
        case .vqa: return 4
        case .attentionCaptioner: return 5
        }
    }

    static let input = #"{"width": 224, "height": 224, "resize": "stretch", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}"#

    var configJSON: String {
        switch self {
        case .resnet50:
            return #"{"format": "gradcam-model/1", "task": "classification", "input": \#(Self.input), "backbone": {"arch": "resnet50"}, "explain_layer": "layer4"}"#
        case .vgg16:
            return #"{"format": "gradcam-model/1", "task": "classification", "input": \#(Self.input), "backbone": {"arch": "vgg16"}, "explain_layer": "features.29"}"#
        case .captioner:
            return #"{"format": "gradcam-model/1", "task": "captioning", "input": \#(Self.input), "backbone": {"arch": "resnet50", "feature": "avgpool"}, "decoder": {"embed": 512, "hidden": 512, "layers": 1, "max_length": 16, "image_activation": "none"}, "explain_layer": "backbone.layer4"}"#
        case .attentionCaptioner:
            return Self.attentionJSON
        case .vqa:
            return #"{"format": "gradcam-model/1", "task": "vqa", "input": \#(Self.input), "backbone": {"arch": "resnet50", "feature": "avgpool"}, "question_encoder": {"embed": 300, "hidden": 512, "layers": 2, "max_length": 26, "embed_activation": "tanh"}, "fusion": {"dim": 1024}, "explain_layer": "backbone.layer4"}"#
        }
    }

    /// sgrvinod's Show, Attend and Tell: ResNet-101 at 256², its 8×8 layer4 pooled to 14×14, widths 512.
    static let attentionJSON = #"{"format": "gradcam-model/1", "task": "captioning", "input": {"width": 256, "height": 256, "resize": "stretch", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}, "backbone": {"arch": "resnet101", "feature": "map", "adaptive_pool": 14}, "decoder": {"kind": "show-attend-tell", "embed": 512, "hidden": 512, "attention_dim": 512, "layers": 1, "max_length": 16, "dropout": 0.5}, "explain_layer": "backbone.layer4"}"#

    var config: ModelConfig { try! ModelConfig.parse(Data(configJSON.utf8), file: rawValue + "/config.json") }

    var vocabularies: [Vocabulary] {
        switch self {
        case .resnet50, .vgg16:
            return [try! Vocabulary(tokens: (0..<Self.classes).map { "class\($0)" })]
        case .captioner, .attentionCaptioner:
            return [try! Vocabulary(tokens: ["<pad>", "<start>", "<end>", "<unk>"] + (4..<Self.captionVocabulary).map { "w\($0)" })]
        case .vqa:
            return [try! Vocabulary(tokens: ["<unk>"] + (1..<Self.questionVocabulary).map { "q\($0)" }),
                    try! Vocabulary(tokens: (0..<Self.answers).map { "answer\($0)" })]
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

func log(_ message: String) {
    FileHandle.standardError.write(Data(("gradcam-bench: " + message + "\n").utf8))
}
