import AtomicOutput
import Crypto
import Foundation
import Imaging
import NN
import Tensor
import Text

/// A loaded model of one of the three tasks.
public enum TaskModel {
    case captioning(Captioner, vocabulary: Vocabulary)
    case vqa(VQAModel, questions: Vocabulary, answers: Vocabulary)
    case classification(Classifier, classes: Vocabulary)

    /// The module whose dotted paths name layers.
    public var root: Module {
        switch self {
        case let .captioning(m, _): return m
        case let .vqa(m, _, _): return m
        case let .classification(m, _): return m.network
        }
    }
}

/// A model directory (spec/model-format.md): config.json, weights.safetensors
/// and the vocabulary files of its task. It never half-loads: every file is
/// read and checked before the model is returned.
public struct ModelDirectory {
    public let path: String
    public let config: ModelConfig
    public let model: TaskModel
    public let preprocessing: Preprocessing
    /// weights.safetensors as mapped when loaded: the model's tensors point into it.
    private let weights: MappedFile
    private let digest = WeightsDigest()

    /// The vocabulary files each task needs, with the specials each must hold.
    static func vocabularyFiles(_ task: ModelConfig.Task) -> [(file: String, specials: [String])] {
        switch task {
        case .captioning: return [("vocab.txt", Vocabulary.captioningSpecials)]
        case .vqa: return [("questions.txt", Vocabulary.questionSpecials), ("answers.txt", [])]
        case .classification: return [("classes.txt", [])]
        }
    }

    public init(path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigError(file: path, "no such model directory")
        }
        guard isDirectory.boolValue else { throw ConfigError(file: path, "is a file; a model is a directory holding config.json") }
        let dir = URL(fileURLWithPath: path)
        let configPath = dir.appendingPathComponent("config.json").path
        guard let configData = FileManager.default.contents(atPath: configPath) else {
            throw ConfigError(file: configPath, "missing or unreadable")
        }
        let config = try ModelConfig.parse(configData, file: configPath)
        var vocabularies: [Vocabulary] = []
        for (file, specials) in Self.vocabularyFiles(config.task) {
            let v = try Vocabulary(contentsOfFile: dir.appendingPathComponent(file).path)
            try v.require(specials)
            vocabularies.append(v)
        }
        let weightsPath = dir.appendingPathComponent("weights.safetensors").path
        let weights = try MappedFile(path: weightsPath)
        let tensors = try Safetensors.read(weights)
        try Self.checkDecoderSizes(config, tensors, file: configPath)
        let values = tensors.values.reduce(0) { $0 + $1.shape.reduce(1, *) }
        let budget = LoadingBudget(values: values)
        let model = Self.build(config, vocabularies, initializer: .forLoading(budget))
        guard !budget.exceeded else {
            // A checkpoint of another model is named as such; the same names with
            // too few numbers mean the config's widths are wrong.
            try model.root.checkNames(tensors, file: weightsPath)
            throw ConfigError(file: configPath, "describes a model with more parameters than \(weightsPath) holds "
                              + "(\(values) numbers in all): a width or size in the config is wrong")
        }
        try model.root.load(tensors, file: weightsPath)
        self.weights = weights
        self.path = path
        self.config = config
        self.model = model
        self.preprocessing = try Self.preprocessing(config, file: configPath)
    }

    /// A model of `config`'s architecture with PyTorch's default random
    /// initialisation (for training from scratch or for tests).
    public static func build(_ config: ModelConfig, _ vocabularies: [Vocabulary], initializer: Initializer) -> TaskModel {
        var initializer = initializer
        switch config.task {
        case .captioning:
            let v = vocabularies[0]
            let captioner: Captioner = switch config.decoder!.decoderKind {
            case .showAndTell: ShowAndTell(config: config, vocabularySize: v.count, startID: v.startID!, initializer: &initializer)
            case .showAttendTell: ShowAttendTell(config: config, vocabularySize: v.count, startID: v.startID!,
                                                 initializer: &initializer)
            }
            return .captioning(captioner, vocabulary: v)
        case .vqa:
            return .vqa(VQAModel(config: config, questionVocabularySize: vocabularies[0].count,
                                 answers: vocabularies[1].count, initializer: &initializer),
                        questions: vocabularies[0], answers: vocabularies[1])
        case .classification:
            return .classification(Classifier(config: config, classes: vocabularies[0].count, initializer: &initializer),
                                   classes: vocabularies[0])
        }
    }

    /// The sizes of an attention decoder's config that its checkpoint pins down,
    /// compared before the model is built, so a mismatch names the config key
    /// rather than a tensor deep inside the model.
    static func checkDecoderSizes(_ config: ModelConfig, _ tensors: [String: Tensor], file: String) throws {
        guard let d = config.decoder, d.decoderKind == .showAttendTell else { return }
        let attention = d.attention == .tanh ? "attention.W.weight" : "attention.encoder_att.weight"
        let pinned = [("decoder.attention_dim", d.attentionDim ?? 0, attention, 0), ("decoder.hidden", d.hidden, "init_h.weight", 0),
                      ("decoder.embed", d.embed, "embedding.weight", 1)]
        for (key, value, name, axis) in pinned {
            guard let t = tensors[name] ?? tensors["module." + name], t.rank == 2, t.shape[axis] != value else { continue }
            throw ConfigError(file: file, "\"\(key)\" is \(value), but the checkpoint's \(name) has shape \(t.shape): "
                              + "\(key) should be \(t.shape[axis])")
        }
    }

    static func preprocessing(_ config: ModelConfig, file: String) throws -> Preprocessing {
        do {
            return try Preprocessing(width: config.input.width, height: config.input.height,
                                     resize: config.input.resize.mode,
                                     mean: config.input.mean, std: config.input.std)
        } catch {
            throw ConfigError(file: file, "\"input\": \(error)")
        }
    }

    /// Writes a model directory: config.json, weights.safetensors and the
    /// vocabulary files (plus `extraFiles`, such as a training checkpoint's
    /// state), atomically (`OutputPath`). Only an earlier model directory (one
    /// holding config.json), an empty folder or a link is replaced; its model
    /// card is kept. Missing folders above it are made.
    public static func save(config: ModelConfig, model: TaskModel, to path: String,
                            extraFiles: [String: Data] = [:]) throws {
        try withInterruptsDeferred { try write(config: config, model: model, to: path, extraFiles: extraFiles) }
    }

    private static func write(config: ModelConfig, model: TaskModel, to path: String, extraFiles: [String: Data]) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        try OutputPath(path, replacing: .earlier(kind: "model directory", marker: "config.json")).writeDirectory { temporary in
            let dir = URL(fileURLWithPath: temporary)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try encoder.encode(config).write(to: dir.appendingPathComponent("config.json"))
            try Safetensors.write(model.root.stateDict(), to: dir.appendingPathComponent("weights.safetensors").path)
            let vocabularies: [Vocabulary]
            switch model {
            case let .captioning(_, v): vocabularies = [v]
            case let .vqa(_, q, a): vocabularies = [q, a]
            case let .classification(_, c): vocabularies = [c]
            }
            for ((file, _), v) in zip(vocabularyFiles(config.task), vocabularies) {
                try v.write(to: dir.appendingPathComponent(file).path)
            }
            for (name, data) in extraFiles { try data.write(to: dir.appendingPathComponent(name)) }
            let card = path + "/MODEL_CARD.md"
            if fm.fileExists(atPath: card) { try fm.copyItem(atPath: card, toPath: temporary + "/MODEL_CARD.md") }
        }
    }

    /// The SHA-256 of the weights this model was loaded from, as 64 hex digits
    /// (`sha256sum`'s): the manifest records which weights made an explanation.
    /// Hashed from the mapped bytes the tensors use, once per loaded model.
    public var weightsSHA256: String {
        digest.value(of: weights)
    }

    /// Starts hashing the weights on a thread of its own, for a caller that
    /// will ask for `weightsSHA256`: the hash (about 50 ms for 100 MB) then
    /// runs beside the explanation instead of after it.
    public func hashWeightsInBackground() {
        digest.start(weights)
    }

    /// The layer explained by default: config.json's `explain_layer`, else the
    /// backbone's last convolutional stage (VGG's last ReLU, ResNet's layer4).
    public var explainLayer: String {
        if let layer = config.explainLayer { return layer }
        switch model {
        case let .captioning(m, _): return "backbone." + m.backbone.defaultExplainLayer
        case let .vqa(m, _, _): return "backbone." + m.backbone.defaultExplainLayer
        case let .classification(m, _): return m.network.defaultExplainLayer
        }
    }

    /// The model input [1, 3, H, W] for an image.
    public func input(for image: RGBImage) -> Tensor {
        Tensor(shape: [1, 3, preprocessing.height, preprocessing.width], values: preprocessing.apply(to: image))
    }
}

/// The weights' digest, computed once: in the background when started, else
/// by the first thread that asks.
private final class WeightsDigest: @unchecked Sendable {
    private let lock = NSCondition()
    private var computed: String?
    private var running = false

    func start(_ weights: MappedFile) {
        lock.lock()
        defer { lock.unlock() }
        guard computed == nil, !running else { return }
        running = true
        Thread.detachNewThread { [self] in
            let value = Self.hash(weights)
            lock.lock()
            computed = value
            running = false
            lock.broadcast()
            lock.unlock()
        }
    }

    func value(of weights: MappedFile) -> String {
        lock.lock()
        defer { lock.unlock() }
        while running { lock.wait() }
        if let computed { return computed }
        let value = Self.hash(weights)
        computed = value
        return value
    }

    private static func hash(_ weights: MappedFile) -> String {
        SHA256.hash(data: weights.bytes).map { String(format: "%02x", $0) }.joined()
    }
}
