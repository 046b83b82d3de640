import Foundation

/// config.json of a model directory (spec/model-format.md, `gradcam-model/1`).
public struct ModelConfig: Codable, Equatable, Sendable {
    public enum Task: String, Codable, Sendable { case captioning, vqa, classification }

    public struct Input: Codable, Equatable, Sendable {
        public var width: Int
        public var height: Int
        public var resize: String
        public var mean: [Float]
        public var std: [Float]
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

    public struct Backbone: Codable, Equatable, Sendable {
        public var arch: String
        public var batchNorm: Bool?
        public var cfg: [CfgItem]?
        /// captioning and vqa: avgpool, flatten or fc7.
        public var feature: String?
        /// VGG's classifier width (torchvision: 4096). An extension of the spec for small models.
        public var hidden: Int?
        /// ResNet's first-stage width (torchvision: 64). An extension of the spec for small models.
        public var baseWidth: Int?

        enum CodingKeys: String, CodingKey {
            case arch, cfg, feature, hidden
            case batchNorm = "batch_norm"
            case baseWidth = "base_width"
        }

        /// Whether the backbone normalises by batch statistics when training:
        /// a ResNet always, a VGG when `batch_norm` is true.
        public var hasBatchNorm: Bool { arch.hasPrefix("resnet") || batchNorm == true }
    }

    public struct Decoder: Codable, Equatable, Sendable {
        public var embed: Int
        public var hidden: Int
        public var layers: Int
        public var maxLength: Int
        public var imageActivation: String?

        enum CodingKeys: String, CodingKey {
            case embed, hidden, layers
            case maxLength = "max_length"
            case imageActivation = "image_activation"
        }
    }

    public struct QuestionEncoder: Codable, Equatable, Sendable {
        public var embed: Int
        public var hidden: Int
        public var layers: Int
        public var maxLength: Int
        public var embedActivation: String?

        enum CodingKeys: String, CodingKey {
            case embed, hidden, layers
            case maxLength = "max_length"
            case embedActivation = "embed_activation"
        }
    }

    public struct Fusion: Codable, Equatable, Sendable {
        public var dim: Int
        public var hidden: Int?
    }

    public var format: String
    public var task: Task
    public var input: Input
    public var backbone: Backbone
    public var decoder: Decoder?
    public var questionEncoder: QuestionEncoder?
    public var fusion: Fusion?
    public var explainLayer: String?

    enum CodingKeys: String, CodingKey {
        case format, task, input, backbone, decoder, fusion
        case questionEncoder = "question_encoder"
        case explainLayer = "explain_layer"
    }

    public static let formatName = "gradcam-model/1"

    /// The longest caption a model decodes or explains. Explaining T words
    /// runs the decoder T times at batch T (quadratic work), so an unbounded
    /// length from a hostile config.json or `--max-length` would never finish.
    public static let maxCaptionLength = 1000
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
        guard ["stretch", "center-crop"].contains(input.resize) else {
            throw fail("\"input.resize\" is \"\(input.resize)\"; expected \"stretch\" or \"center-crop\"")
        }
        let known = ["vgg11", "vgg13", "vgg16", "vgg19", "vgg", "resnet18", "resnet34", "resnet50"]
        guard known.contains(backbone.arch) else {
            throw fail("unknown \"backbone.arch\" \"\(backbone.arch)\"; expected one of \(known.joined(separator: ", "))")
        }
        if backbone.arch == "vgg" && (backbone.cfg ?? []).isEmpty {
            throw fail("\"backbone.arch\" \"vgg\" needs a \"backbone.cfg\" list")
        }
        if backbone.arch.hasPrefix("resnet") && backbone.batchNorm == false {
            throw fail("ResNet always has batch norm; drop \"backbone.batch_norm\": false")
        }
        for case let .conv(width) in backbone.cfg ?? [] where width > 1 << 16 {
            throw fail("\"backbone.cfg\" widths must be at most 65536, got \(width)")
        }
        for (name, v) in [("backbone.hidden", backbone.hidden), ("backbone.base_width", backbone.baseWidth)] {
            if let v, v <= 0 || v > 65536 { throw fail("\"\(name)\" must be positive, got \(v)") }
        }
        if task != .classification {
            guard let feature = backbone.feature else {
                throw fail("missing field \"backbone.feature\" (avgpool, flatten or fc7) for task \(task.rawValue)")
            }
            guard FeatureKind(rawValue: feature) != nil else {
                throw fail("\"backbone.feature\" is \"\(feature)\"; expected avgpool, flatten or fc7")
            }
            if feature == "fc7" && !backbone.arch.hasPrefix("vgg") {
                throw fail("\"backbone.feature\" fc7 needs a VGG backbone, not \(backbone.arch)")
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
            guard ["relu", "none"].contains(d.imageActivation ?? "none") else {
                throw fail("\"decoder.image_activation\" must be \"relu\" or \"none\"")
            }
        case .vqa:
            guard let q = questionEncoder else { throw fail("missing field \"question_encoder\" for task vqa") }
            guard let f = fusion else { throw fail("missing field \"fusion\" for task vqa") }
            try checkSizes("question_encoder", [("embed", q.embed), ("hidden", q.hidden), ("layers", q.layers), ("max_length", q.maxLength)])
            try checkSizes("fusion", [("dim", f.dim)] + (f.hidden.map { [("hidden", $0)] } ?? []))
            guard ["tanh", "none"].contains(q.embedActivation ?? "tanh") else {
                throw fail("\"question_encoder.embed_activation\" must be \"tanh\" or \"none\"")
            }
        case .classification:
            break
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
            if path(ctx.codingPath) == "task" { return "unknown \"task\"; expected captioning, vqa or classification" }
            return "field \"\(path(ctx.codingPath))\": \(ctx.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
