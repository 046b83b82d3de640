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

    /// The image encoder.
    public var backbone: Backbone {
        switch self {
        case let .captioning(m, _): return m.backbone
        case let .vqa(m, _, _): return m.backbone
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
    /// VQA: the question forms the model was trained on (`question_forms.txt`, optional).
    public let questionForms: QuestionForms?
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
        if config.questionEncoder?.padTo != nil { try vocabularies[0].require([Vocabulary.padToken]) }
        let weightsPath = dir.appendingPathComponent("weights.safetensors").path
        let weights = try MappedFile(path: weightsPath)
        let tensors = try Safetensors.read(weights)
        try Self.checkPinnedSizes(config, tensors, file: configPath)
        let values = tensors.values.reduce(0) { $0 + $1.shape.reduce(1, *) }
        let budget = LoadingBudget(values: values)
        let model = Self.build(config, vocabularies, initializer: .forLoading(budget))
        try Self.checkInputFits(config, model.backbone, file: configPath)
        try Self.checkCoordinates(config, model.backbone, tensors, file: configPath)
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
        let formsPath = dir.appendingPathComponent(QuestionForms.fileName).path
        if config.task == .vqa, let data = FileManager.default.contents(atPath: formsPath) {
            questionForms = try QuestionForms(parsing: String(decoding: data, as: UTF8.self), source: formsPath)
        } else {
            questionForms = nil
        }
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
            let (q, a) = (vocabularies[0], vocabularies[1])
            let vqa: VQAModel = switch config.fusion!.fusionKind {
            case .pointwise, .basicVQA: DeeperLSTMQ(config: config, questionVocabularySize: q.count, answers: a.count, padID: q.padID,
                                                    initializer: &initializer)
            case .attention: ShowAskAttendAnswer(config: config, questionVocabularySize: q.count, answers: a.count,
                                                 initializer: &initializer)
            }
            return .vqa(vqa, questions: q, answers: a)
        case .classification:
            return .classification(Classifier(config: config, classes: vocabularies[0].count, initializer: &initializer),
                                   classes: vocabularies[0])
        }
    }

    /// The sizes of an attention model's config that its checkpoint pins down,
    /// compared before the model is built, so a mismatch names the config key
    /// rather than a tensor deep inside the model.
    static func checkPinnedSizes(_ config: ModelConfig, _ tensors: [String: Tensor], file: String) throws {
        let pinned: [(key: String, value: Int, tensor: String, axis: Int)]
        if let d = config.decoder, d.decoderKind == .showAttendTell {
            let attention = d.attention == .tanh ? "attention.W.weight" : "attention.encoder_att.weight"
            pinned = [("decoder.attention_dim", d.attentionDim ?? 0, attention, 0), ("decoder.hidden", d.hidden, "init_h.weight", 0),
                      ("decoder.embed", d.embed, "embedding.weight", 1)]
        } else if let f = config.fusion, f.fusionKind == .attention, let q = config.questionEncoder {
            pinned = [("fusion.dim", f.dim, "attention.v_conv.weight", 0), ("fusion.glimpses", f.glimpses ?? 2, "attention.x_conv.weight", 0),
                      ("fusion.hidden", f.hidden ?? 0, "classifier.lin1.weight", 0),
                      ("question_encoder.hidden", q.hidden, "text.lstm.weight_hh_l0", 1),
                      ("question_encoder.embed", q.embed, "text.embedding.weight", 1)]
        } else {
            return
        }
        for (key, value, name, axis) in pinned {
            guard let t = tensors[name] ?? tensors["module." + name], t.rank > axis, t.shape[axis] != value else { continue }
            throw ConfigError(file: file, "\"\(key)\" is \(value), but the checkpoint's \(name) has shape \(t.shape): "
                              + "\(key) should be \(t.shape[axis])")
        }
    }

    /// Every pooling of the backbone must have something to pool: an input so
    /// small that the last map would be empty is named with the smallest that fits.
    static func checkInputFits(_ config: ModelConfig, _ backbone: Backbone, file: String) throws {
        func fits(_ h: Int, _ w: Int) -> Bool { backbone.mapShape(input: (h, w)).dropFirst().allSatisfy { $0 >= 1 } }
        let (h, w) = (config.input.height, config.input.width)
        guard !fits(h, w) else { return }
        var side = 1
        while !fits(side, side) && side < 1 << 20 { side *= 2 }
        throw ConfigError(file: file, "\"input\" is \(w)×\(h), too small for the \(config.backbone.arch.rawValue) backbone: "
                          + "its pools would leave no map (it needs at least \(side)×\(side))")
    }

    /// An attention VQA checkpoint's v_conv reads the map's C channels, or C + 2
    /// with coordinates: a config that says otherwise is named by its key.
    static func checkCoordinates(_ config: ModelConfig, _ backbone: Backbone, _ tensors: [String: Tensor], file: String) throws {
        guard let f = config.fusion, f.fusionKind == .attention,
              let t = tensors["attention.v_conv.weight"] ?? tensors["module.attention.v_conv.weight"], t.rank == 4 else { return }
        let c = backbone.mapShape(input: (config.input.height, config.input.width))[0], on = f.coordinates ?? false
        guard t.shape[1] == c + (on ? 0 : 2) else { return }
        throw ConfigError(file: file, "\"fusion.coordinates\" is \(on), but the checkpoint's attention.v_conv.weight reads "
                          + "\(t.shape[1]) channels, the map's \(c)\(on ? " without" : " and") x, y: fusion.coordinates should be \(!on)")
    }

    static func preprocessing(_ config: ModelConfig, file: String) throws -> Preprocessing {
        do {
            return try Preprocessing(width: config.input.width, height: config.input.height,
                                     resize: config.input.resize.mode,
                                     mean: config.input.mean, std: config.input.std, shorterSide: config.input.resizeTo)
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
            // What describes the model beyond its weights stays with it.
            for kept in ["MODEL_CARD.md", QuestionForms.fileName] where extraFiles[kept] == nil && fm.fileExists(atPath: path + "/" + kept) {
                try fm.copyItem(atPath: path + "/" + kept, toPath: temporary + "/" + kept)
            }
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

    /// The model's own name for a layer given by its name in the original
    /// code (`encoder.resnet.7` → `backbone.layer4`, config `original_names`);
    /// any other name is returned as it is.
    public func layerName(_ name: String) -> String {
        Self.rename(name, config.originalNames ?? [:])
    }

    /// A layer's name in the original code of an imported model, else its own.
    public func originalName(_ layer: String) -> String {
        Self.rename(layer, Dictionary((config.originalNames ?? [:]).map { ($0.value, $0.key) }) { a, _ in a })
    }

    /// Replaces the longest prefix of `name` that `prefixes` maps, matched at a
    /// dot (a key ending in "." matches what follows it; "" matches every name).
    private static func rename(_ name: String, _ prefixes: [String: String]) -> String {
        let matches = prefixes.filter { key, _ in
            key.isEmpty || (key.hasSuffix(".") ? name.hasPrefix(key) : (name == key || name.hasPrefix(key + ".")))
        }
        guard let (key, value) = matches.max(by: { $0.key.count < $1.key.count }) else { return name }
        let rest = name.dropFirst(key.count)
        if value.isEmpty, rest.hasPrefix(".") { return String(rest.dropFirst()) }
        return value + rest
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
