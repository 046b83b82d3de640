import Explain
import Imaging
import Tensor

/// Everything one export directory records (export-format.md): the
/// explanation plus what the command knows around it — the task, the files
/// it came from, the settings and the per-entry values only the task has.
///
/// The command-line layer fills it; `writeExport(_:to:force:)` checks that its
/// parts agree (one extra value per entry, tensor shapes matching the
/// entries) before anything is written.
public struct ExportDocument {
    public enum Task: String, CaseIterable, Sendable {
        case captioning, vqa, classification
    }

    /// The optional outputs (`--format`); `manifest.json` is always written.
    /// `png` is the overlays and the contact sheet, `npy` the arrays.
    public enum Format: String, CaseIterable, Sendable {
        case npy, png, html
    }

    /// The question of a VQA export as the model read it.
    public struct Question: Sendable {
        public struct Token: Sendable {
            public var token: String
            public var id: Int
            /// True when the word was not in the vocabulary and became `<unk>`.
            public var unknown: Bool

            public init(token: String, id: Int, unknown: Bool) {
                self.token = token
                self.id = id
                self.unknown = unknown
            }
        }

        public var text: String
        public var tokens: [Token]

        public init(text: String, tokens: [Token]) {
            self.text = text
            self.tokens = tokens
        }
    }

    /// Where a caption stands among the beam search's hypotheses.
    public struct Beam: Sendable {
        public var size: Int
        /// 0 for the best hypothesis.
        public var rank: Int
        /// The hypothesis's total log-probability.
        public var logprob: Float

        public init(size: Int, rank: Int, logprob: Float) {
            self.size = size
            self.rank = rank
            self.logprob = logprob
        }
    }

    public var task: Task
    /// The image path as the user gave it (recorded, never opened here).
    public var imagePath: String
    /// The decoded original image: overlays are drawn over it at its own size.
    public var image: RGBImage
    public var modelPath: String
    /// Hex SHA-256 of the model's weights (see `sha256Hex(ofFile:)`).
    public var weightsSHA256: String
    public var explanation: Explanation
    public var score: ScoreKind
    public var counterfactual: Bool
    public var normalize: Normalization
    public var colormap: Colormap
    /// Overlay opacity in [0, 1].
    public var alpha: Float
    public var formats: Set<Format>
    /// The caption explained, or the question for VQA; nil when there is none.
    public var text: String?
    /// Captioning: each entry's log p of its word, one per entry.
    public var logprobs: [Float]?
    /// VQA and classification: each entry's softmax probability, one per entry.
    public var probabilities: [Float]?
    public var question: Question?
    /// Only for captions that came from beam search.
    public var beam: Beam?
    /// Attention captioners: each entry's weights over the decoder's map [T, h, w];
    /// attention VQA models: each entry's glimpses [T, G, h, w]
    /// (export-format extension: attention.npy).
    public var attention: Tensor?
    /// Each entry's deletion and insertion AUC beside a random order's (`--faithfulness`).
    public var faithfulness: [EntryFaithfulness]?
    /// Extra rows for the report's settings table (e.g. the command line), in order.
    public var reportSettings: [(name: String, value: String)]

    /// The attention maps of each entry: one for a captioner, G glimpses for VQA.
    var attentionMapsPerEntry: Int { attention.map { $0.rank == 4 ? $0.shape[1] : 1 } ?? 0 }

    public init(task: Task, imagePath: String, image: RGBImage, modelPath: String, weightsSHA256: String,
                explanation: Explanation, score: ScoreKind, counterfactual: Bool = false,
                normalize: Normalization = .token, colormap: Colormap = .jet, alpha: Float = 0.5,
                formats: Set<Format> = Set(Format.allCases), text: String? = nil,
                logprobs: [Float]? = nil, probabilities: [Float]? = nil, question: Question? = nil,
                beam: Beam? = nil, reportSettings: [(name: String, value: String)] = []) {
        self.task = task
        self.imagePath = imagePath
        self.image = image
        self.modelPath = modelPath
        self.weightsSHA256 = weightsSHA256
        self.explanation = explanation
        self.score = score
        self.counterfactual = counterfactual
        self.normalize = normalize
        self.colormap = colormap
        self.alpha = alpha
        self.formats = formats
        self.text = text
        self.logprobs = logprobs
        self.probabilities = probabilities
        self.question = question
        self.beam = beam
        self.reportSettings = reportSettings
    }

    /// The number of entries, T.
    var count: Int { explanation.entries.count }

    /// Checks that the parts agree, so a bad document fails before any file exists.
    func validate() throws {
        func fail(_ reason: String) -> ExportError { .invalidDocument(reason) }
        let e = explanation, t = count
        let (H, W) = e.inputSize
        guard H > 0, W > 0 else { throw fail("input size \(H)x\(W) is empty") }
        guard alpha.isFinite, (0...1).contains(alpha) else { throw fail("alpha \(alpha) is outside [0, 1]") }
        if let logprobs, logprobs.count != t {
            throw fail("\(logprobs.count) log-probabilities for \(t) entries")
        }
        if let probabilities, probabilities.count != t {
            throw fail("\(probabilities.count) probabilities for \(t) entries")
        }
        if let faithfulness, faithfulness.count != t {
            throw fail("\(faithfulness.count) faithfulness scores for \(t) entries")
        }
        if e.method.hasLayerMap {
            guard let raw = e.raw, let cams = e.cams, let size = e.layerSize else {
                throw fail("method \(e.method.rawValue) needs raw and cams maps and a layer size")
            }
            guard raw.shape == [t, size.height, size.width] else {
                throw fail("raw has shape \(raw.shape), expected [\(t), \(size.height), \(size.width)]")
            }
            guard cams.shape == [t, H, W] else { throw fail("cams has shape \(cams.shape), expected [\(t), \(H), \(W)]") }
            guard e.entries.allSatisfy({ $0.peak.count == 2 }) else { throw fail("every entry needs a [row, column] peak") }
        }
        if let attention, !(3...4).contains(attention.rank) || attention.shape[0] != t {
            throw fail("attention has shape \(attention.shape), expected [\(t), h, w] or [\(t), glimpses, h, w]")
        }
        if e.method.needsGuidedGradient {
            guard let guided = e.guided, guided.shape == [t, 3, H, W] else {
                throw fail("method \(e.method.rawValue) needs a guided gradient of shape [\(t), 3, \(H), \(W)]")
            }
        }
    }
}
