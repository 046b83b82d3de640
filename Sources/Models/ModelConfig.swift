import Foundation
import Imaging

/// config.json of a model directory (spec/model-format.md, `gradcam-model/1`).
public struct ModelConfig: Codable, Equatable, Sendable {
    public enum Task: String, Codable, Sendable { case captioning, vqa, classification }

    /// How an image is brought to the input size (Imaging's `Preprocessing.ResizeMode`).
    public enum Resize: String, ConfigValue {
        case stretch
        case centerCrop = "center-crop"

        public var mode: Preprocessing.ResizeMode {
            switch self {
            case .stretch: .stretch
            case .centerCrop: .centerCrop
            }
        }
    }

    public struct Input: Codable, Equatable, Sendable {
        public var width: Int
        public var height: Int
        public var resize: Resize
        public var mean: [Float]
        public var std: [Float]
        /// "center-crop": the shorter side before the crop (pytorch-vqa: 512 for a 448 crop);
        /// absent: the input's larger side. An extension of the spec.
        public var resizeTo: Int?

        enum CodingKeys: String, CodingKey {
            case width, height, resize, mean, std
            case resizeTo = "resize_to"
        }
    }

    /// One entry of a `vgg` cfg list: a 3×3 convolution's width, or "M" (a max pool).
    public enum CfgItem: Codable, Equatable, Sendable {
        case conv(Int)
        case pool

        public init(from decoder: Swift.Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let n = try? c.decode(Int.self), n > 0 { self = .conv(n); return }
            if let s = try? c.decode(String.self), s == "M" { self = .pool; return }
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "a cfg entry must be a positive width or \"M\"")
        }

        public func encode(to encoder: Swift.Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case let .conv(n): try c.encode(n)
            case .pool: try c.encode("M")
            }
        }
    }

    /// A ResNet's layout: torchvision's, or the Caffe one of the ported ImageNet
    /// weights (ruotianluo/pytorch-resnet, which pytorch-vqa extracts its features
    /// with): a max pool of padding 0 rounding up, and each stage's stride on the
    /// first 1×1 convolution instead of the 3×3.
    public enum ResNetLayout: String, ConfigValue { case torchvision, caffe }

    /// The backbone architectures: torchvision's names, or "vgg" with a `cfg` list.
    public enum Arch: String, ConfigValue {
        case vgg11, vgg13, vgg16, vgg19, vgg, resnet18, resnet34, resnet50, resnet101, resnet152

        public var isResNet: Bool { rawValue.hasPrefix("resnet") }
    }

    public struct Backbone: Codable, Equatable, Sendable {
        public var arch: Arch
        public var batchNorm: Bool?
        public var cfg: [CfgItem]?
        /// captioning and vqa: how the last feature map becomes the decoder's input.
        public var feature: FeatureKind?
        /// `map` features: torch.nn.AdaptiveAvgPool2d(S) on the map, S×S cells
        /// (Show, Attend and Tell's encoder: 14). nil keeps the map's own size.
        public var adaptivePool: Int?
        /// VGG only: false cuts `features` before its last max pool (a finer map
        /// for attention); default true.
        public var lastPool: Bool?
        /// VGG's classifier width (torchvision: 4096). An extension of the spec for small models.
        public var hidden: Int?
        /// ResNet's first-stage width (torchvision: 64). An extension of the spec for small models.
        public var baseWidth: Int?
        /// ResNet only: torchvision (default) or caffe.
        public var layout: ResNetLayout?

        enum CodingKeys: String, CodingKey {
            case arch, cfg, feature, hidden, layout
            case batchNorm = "batch_norm"
            case baseWidth = "base_width"
            case adaptivePool = "adaptive_pool"
            case lastPool = "last_pool"
        }

        /// Whether the backbone normalises by batch statistics when training:
        /// a ResNet always, a VGG when `batch_norm` is true.
        public var hasBatchNorm: Bool { arch.isResNet || batchNorm == true }
    }

    /// The caption decoder's architecture.
    public enum DecoderKind: String, ConfigValue {
        /// Show and Tell: the image vector is the LSTM's first input.
        case showAndTell = "show-and-tell"
        /// Show, Attend and Tell: attention over the map's cells at every step.
        case showAttendTell = "show-attend-tell"
    }

    /// How a Show, Attend and Tell decoder scores the cells.
    public enum AttentionKind: String, ConfigValue {
        /// sgrvinod's tutorial: full_att(relu(encoder_att(a) + decoder_att(h))); linear init_h/init_c.
        case additive
        /// AaronCCWong's: v(tanh(W(h) + U(a))); tanh on init_h/init_c.
        case tanh
    }

    /// Show and Tell: what follows image_proj.
    public enum ImageActivation: String, ConfigValue { case relu, none }

    /// VQA: what follows the question's embedding.
    public enum EmbedActivation: String, ConfigValue { case tanh, none }

    public struct Decoder: Codable, Equatable, Sendable {
        public var kind: DecoderKind?
        public var embed: Int
        public var hidden: Int
        public var layers: Int
        public var maxLength: Int
        /// Show and Tell: relu or none on the projected image vector.
        public var imageActivation: ImageActivation?
        /// Show, Attend and Tell: the attention network's width.
        public var attentionDim: Int?
        /// Show, Attend and Tell: additive (default) or tanh.
        public var attention: AttentionKind?
        /// Show, Attend and Tell: dropout before `fc` in training (default 0.5).
        public var dropout: Float?
        /// Show and Tell: the output after the image gives the first token, which is fed
        /// back like any word (yunjey's pytorch-tutorial, trained to predict `<start>`
        /// there); default false: that output is unused and `<start>` is fed.
        public var imageStepPredicts: Bool?

        enum CodingKeys: String, CodingKey {
            case kind, embed, hidden, layers, attention, dropout
            case maxLength = "max_length"
            case imageActivation = "image_activation"
            case attentionDim = "attention_dim"
            case imageStepPredicts = "image_step_predicts"
        }

        /// Show and Tell unless the config says otherwise.
        public var decoderKind: DecoderKind { kind ?? .showAndTell }
    }

    public struct QuestionEncoder: Codable, Equatable, Sendable {
        public var embed: Int
        public var hidden: Int
        public var layers: Int
        public var maxLength: Int
        public var embedActivation: EmbedActivation?
        /// Questions are padded with `<pad>` to this many tokens before the LSTM reads
        /// them (basic_vqa: 30, and its LSTM reads the padding); absent: no padding.
        public var padTo: Int?

        enum CodingKeys: String, CodingKey {
            case embed, hidden, layers
            case maxLength = "max_length"
            case embedActivation = "embed_activation"
            case padTo = "pad_to"
        }
    }

    /// How a VQA model joins the image and the question.
    public enum FusionKind: String, ConfigValue {
        /// Deeper LSTM Q + norm I: one pooled image vector times the question vector.
        case pointwise
        /// Show, Ask, Attend and Answer: question-guided softmax glimpses over the map's cells.
        case attention
        /// Deeper LSTM Q + norm I as tbmoon's basic_vqa writes it: i = image_proj(feature)
        /// over its length (a constant to the gradient, as its `.detach()` makes it),
        /// q = question_proj(tanh([h₀; c₀; h₁; c₁; …])), logits = classifier(tanh(i ⊙ q)).
        case basicVQA = "basic-vqa"
    }

    public struct Fusion: Codable, Equatable, Sendable {
        public var kind: FusionKind?
        /// pointwise: the joint space's width; attention: the attention network's (mid_features).
        public var dim: Int
        /// The classifier's hidden width (attention: required, lin1's).
        public var hidden: Int?
        /// attention: how many softmax glimpses (default 2).
        public var glimpses: Int?
        /// attention: append each cell's (x, y) in [-1, 1] to its channels (default false).
        public var coordinates: Bool?
        /// attention: how many times to attend (default 1); hop k > 1 is asked with the
        /// question and the cells hop k − 1 attended.
        public var hops: Int?
        /// attention: dropout in training before the attention's and classifier's layers (default 0.5).
        public var dropout: Float?

        /// Pointwise unless the config says otherwise.
        public var fusionKind: FusionKind { kind ?? .pointwise }
    }

    public var format: String
    public var task: Task
    public var input: Input
    public var backbone: Backbone
    public var decoder: Decoder?
    public var questionEncoder: QuestionEncoder?
    public var fusion: Fusion?
    public var explainLayer: String?
    /// The CAM method every command uses by default for this model (e.g.
    /// "layercam"); nil means Grad-CAM. Checked against the methods by `Explain`.
    public var explainMethod: String?
    /// An imported model's module paths in the code it came from, by prefix
    /// (`"encoder.resnet.7": "backbone.layer4"`, `"decoder.": ""`): `layers`
    /// lists those names and `--layer` accepts them (`ModelDirectory.layerName`).
    public var originalNames: [String: String]?

    enum CodingKeys: String, CodingKey {
        case format, task, input, backbone, decoder, fusion
        case questionEncoder = "question_encoder"
        case explainLayer = "explain_layer"
        case explainMethod = "explain_method"
        case originalNames = "original_names"
    }

    public static let formatName = "gradcam-model/1"

    /// The names `explain_method` may take: Explain's methods (a test keeps the two lists equal).
    public static let explainMethods = ["gradcam", "gradcam++", "hirescam", "layercam", "xgradcam", "scorecam", "eigencam",
                                        "guided-backprop", "guided-gradcam"]

    /// The longest caption a model decodes or explains. Explaining T words
    /// runs the decoder T times at batch T (quadratic work), so an unbounded
    /// length from a hostile config.json or `--max-length` would never finish.
    public static let maxCaptionLength = 1000
}

/// A config value from a fixed set, decoded straight into its enum; an unknown
/// value is an error naming the key and the values it may take.
public protocol ConfigValue: RawRepresentable<String>, CaseIterable, Codable, Equatable, Sendable {}

extension ConfigValue {
    public init(from decoder: Swift.Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let value = Self(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown value \"\(text)\"",
                underlyingError: UnknownConfigValue(value: text, expected: Self.allCases.map(\.rawValue))))
        }
        self = value
    }

    public func encode(to encoder: Swift.Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

struct UnknownConfigValue: Error {
    let value: String
    let expected: [String]
}

/// A config.json that cannot be used, with the field at fault.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let message: String

    public init(file: String, _ message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }
}

extension ModelConfig {
    /// Parses and validates config.json's bytes.
    public static func parse(_ data: Data, file: String) throws -> ModelConfig {
        let config: ModelConfig
        do {
            config = try JSONDecoder().decode(ModelConfig.self, from: data)
        } catch let error as DecodingError {
            throw ConfigError(file: file, describe(error))
        } catch {
            throw ConfigError(file: file, "not valid JSON: \(error.localizedDescription)")
        }
        try config.validate(file: file)
        return config
    }

    func validate(file: String) throws {
        func fail(_ m: String) -> ConfigError { ConfigError(file: file, m) }
        guard format == Self.formatName else {
            throw fail("\"format\" is \"\(format)\"; this version reads \"\(Self.formatName)\"")
        }
        guard input.width > 0, input.height > 0, input.width <= 4096, input.height <= 4096 else {
            throw fail("\"input\" width and height must be between 1 and 4096, got \(input.width)×\(input.height)")
        }
        if let method = explainMethod, !Self.explainMethods.contains(method) {
            throw fail("unknown \"explain_method\" \"\(method)\"; expected one of \(Self.explainMethods.joined(separator: ", "))")
        }
        if backbone.arch == .vgg && (backbone.cfg ?? []).isEmpty {
            throw fail("\"backbone.arch\" \"vgg\" needs a \"backbone.cfg\" list")
        }
        if backbone.arch.isResNet && backbone.batchNorm == false {
            throw fail("ResNet always has batch norm; drop \"backbone.batch_norm\": false")
        }
        for case let .conv(width) in backbone.cfg ?? [] where width > 1 << 16 {
            throw fail("\"backbone.cfg\" widths must be at most 65536, got \(width)")
        }
        for (name, v) in [("backbone.hidden", backbone.hidden), ("backbone.base_width", backbone.baseWidth)] {
            if let v, v <= 0 || v > 65536 { throw fail("\"\(name)\" must be positive, got \(v)") }
        }
        if backbone.lastPool != nil && backbone.arch.isResNet {
            throw fail("\"backbone.last_pool\" is for VGG backbones, not \(backbone.arch.rawValue)")
        }
        if task != .classification {
            guard let feature = backbone.feature else {
                throw fail("missing field \"backbone.feature\" (avgpool, flatten, fc7 or map) for task \(task.rawValue)")
            }
            if feature == .fc7 && !backbone.arch.rawValue.hasPrefix("vgg") {
                throw fail("\"backbone.feature\" fc7 needs a VGG backbone, not \(backbone.arch.rawValue)")
            }
        }
        func checkSizes(_ prefix: String, _ values: [(String, Int)]) throws {
            for (k, v) in values where v <= 0 || v > 1 << 16 {
                throw fail("\"\(prefix).\(k)\" must be a positive size, got \(v)")
            }
        }
        switch task {
        case .captioning:
            guard let d = decoder else { throw fail("missing field \"decoder\" for task captioning") }
            try checkSizes("decoder", [("embed", d.embed), ("hidden", d.hidden), ("layers", d.layers), ("max_length", d.maxLength)])
            guard d.maxLength <= Self.maxCaptionLength else {
                throw fail("\"decoder.max_length\" must be at most \(Self.maxCaptionLength), got \(d.maxLength)")
            }
            try validateDecoder(d, fail)
        case .vqa:
            guard let q = questionEncoder else { throw fail("missing field \"question_encoder\" for task vqa") }
            guard let f = fusion else { throw fail("missing field \"fusion\" for task vqa") }
            try checkSizes("question_encoder", [("embed", q.embed), ("hidden", q.hidden), ("layers", q.layers), ("max_length", q.maxLength)])
            try checkSizes("fusion", [("dim", f.dim)] + (f.hidden.map { [("hidden", $0)] } ?? [])
                           + (f.glimpses.map { [("glimpses", $0)] } ?? []) + (f.hops.map { [("hops", $0)] } ?? []))
            if let n = q.padTo, !(q.maxLength...Self.maxCaptionLength).contains(n) {
                throw fail("\"question_encoder.pad_to\" must be between max_length (\(q.maxLength)) and \(Self.maxCaptionLength), got \(n)")
            }
            try validateFusion(f, fail)
        case .classification:
            break
        }
        if backbone.layout != nil, !backbone.arch.isResNet {
            throw fail("\"backbone.layout\" is for ResNets; this backbone is \(backbone.arch.rawValue)")
        }
        if let s = backbone.adaptivePool {
            guard backbone.feature == .map else {
                throw fail("\"backbone.adaptive_pool\" pools a map for attention: it needs \"backbone.feature\": \"map\"")
            }
            guard s >= 1 && s <= 1024 else { throw fail("\"backbone.adaptive_pool\" must be between 1 and 1024, got \(s)") }
        }
    }

    /// The VQA keys of one fusion kind, each checked against the other kind's and
    /// against the backbone's feature.
    private func validateFusion(_ f: Fusion, _ fail: (String) -> ConfigError) throws {
        switch f.fusionKind {
        case .pointwise, .basicVQA:
            if f.fusionKind == .basicVQA, f.hidden == nil {
                throw fail("missing field \"fusion.hidden\" (fc1's width) for a basic-vqa fusion")
            }
            for (key, present) in [("glimpses", f.glimpses != nil), ("coordinates", f.coordinates != nil),
                                   ("hops", f.hops != nil), ("dropout", f.dropout != nil)] where present {
                throw fail("\"fusion.\(key)\" is for \"fusion.kind\": \"attention\"; this fusion is \(f.fusionKind.rawValue)")
            }
            if backbone.feature == .map {
                throw fail("\"backbone.feature\" map is for \"fusion.kind\": \"attention\"; a pointwise VQA model reads avgpool, flatten or fc7")
            }
        case .attention:
            guard backbone.feature == .map else {
                throw fail("an attention fusion attends over the cells of a map: \"backbone.feature\" must be "
                           + "\"map\", not \"\(backbone.feature?.rawValue ?? "avgpool")\"")
            }
            guard f.hidden != nil else { throw fail("missing field \"fusion.hidden\" (the classifier's width) for an attention fusion") }
            if let g = f.glimpses, g > 64 { throw fail("\"fusion.glimpses\" must be at most 64, got \(g)") }
            if let h = f.hops, !(1...8).contains(h) { throw fail("\"fusion.hops\" must be between 1 and 8, got \(h)") }
        }
        if let p = f.dropout, !(p >= 0 && p < 1) { throw fail("\"fusion.dropout\" must be in [0, 1), got \(p)") }
    }

    /// The captioning keys of one decoder kind, each checked against the other
    /// kind's and against the backbone's feature.
    private func validateDecoder(_ d: Decoder, _ fail: (String) -> ConfigError) throws {
        switch d.decoderKind {
        case .showAndTell:
            for (key, present) in [("attention_dim", d.attentionDim != nil), ("attention", d.attention != nil),
                                   ("dropout", d.dropout != nil)] where present {
                throw fail("\"decoder.\(key)\" is for \"decoder.kind\": \"show-attend-tell\"; this decoder is show-and-tell")
            }
            if backbone.feature == .map {
                throw fail("\"backbone.feature\" map is for \"decoder.kind\": \"show-attend-tell\"; "
                           + "a show-and-tell decoder reads avgpool, flatten or fc7")
            }
        case .showAttendTell:
            guard backbone.feature == .map else {
                throw fail("a show-attend-tell decoder attends over the cells of a map: \"backbone.feature\" must be "
                           + "\"map\", not \"\(backbone.feature?.rawValue ?? "")\"")
            }
            guard let a = d.attentionDim else { throw fail("missing field \"decoder.attention_dim\" for a show-attend-tell decoder") }
            guard a > 0 && a <= 1 << 16 else { throw fail("\"decoder.attention_dim\" must be a positive size, got \(a)") }
            guard d.layers == 1 else { throw fail("\"decoder.layers\" must be 1 for a show-attend-tell decoder (one LSTMCell)") }
            if d.imageActivation != nil { throw fail("\"decoder.image_activation\" is for show-and-tell decoders") }
            if d.imageStepPredicts != nil { throw fail("\"decoder.image_step_predicts\" is for show-and-tell decoders") }
            if let p = d.dropout, !(p >= 0 && p < 1) { throw fail("\"decoder.dropout\" must be in [0, 1), got \(p)") }
        }
    }

    /// The dotted path of a DecodingError's field, in words.
    private static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [CodingKey], _ last: CodingKey? = nil) -> String {
            let all = keys + (last.map { [$0] } ?? [])
            return all.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
                .replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case let .keyNotFound(key, ctx): return "missing field \"\(path(ctx.codingPath, key))\""
        case let .typeMismatch(_, ctx), let .valueNotFound(_, ctx):
            return "field \"\(path(ctx.codingPath))\" has the wrong type: \(ctx.debugDescription)"
        case let .dataCorrupted(ctx):
            if ctx.codingPath.isEmpty { return "not valid JSON" }
            if let unknown = ctx.underlyingError as? UnknownConfigValue {
                return "unknown \"\(path(ctx.codingPath))\" \"\(unknown.value)\"; expected one of \(unknown.expected.joined(separator: ", "))"
            }
            if path(ctx.codingPath) == "task" { return "unknown \"task\"; expected captioning, vqa or classification" }
            return "field \"\(path(ctx.codingPath))\": \(ctx.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
