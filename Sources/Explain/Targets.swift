import Models
import NN
import Tensor
import Text

/// Which scalar of the model is differentiated (export-format.md, `score`).
public enum ScoreKind: String, CaseIterable, Sendable {
    /// log p of the word (captioning's default).
    case logprob
    /// The pre-softmax score (the default for VQA and classification).
    case logit
    /// The softmax probability.
    case prob

    /// What is explained when nothing else is asked for (cli.md): a word's
    /// log-probability, an answer's or a class's logit. Decided here only.
    public static func defaultKind(for task: ModelConfig.Task) -> ScoreKind {
        task == .captioning ? .logprob : .logit
    }

    /// Above this log p (p > 0.9999) a word's log-probability gradient is (1 − p) ≤ 1e-4
    /// times its logit's: exact (log-softmax is computed for confident words) but faint
    /// beside other words' maps, blank-looking under `--normalize sequence` or `none`.
    public static let faintLogProb: Float = -1e-4

    /// For each log-probability (none without them), whether its map is faint for this
    /// score: only a confident word's log-probability is.
    public func faint(logProbs: [Float]?) -> [Bool] {
        (logProbs ?? []).map { self == .logprob && $0 > Self.faintLogProb }
    }

    /// What to tell a user about faint maps.
    public static let faintNote = "log p > -0.0001: the word is so confident that the gradient of its log-probability is "
        + "(1 − p) ≤ 1e-4 times its logit's, so its map is faint beside the others (blank-looking with --normalize "
        + "sequence or none); --score logit explains the same evidence unscaled"
}

/// The scalars to explain for one image: T targets, each a row of the
/// sequence a user sees (a caption's words, a question's answers, classes).
///
/// `scores` maps a batch of images to [B, T]: every target's score for every
/// image. With the explained layer repeated T times on the batch axis, the
/// diagonal of that matrix (`rowScores`) is what one batched backward differentiates.
public struct TargetSet {
    public struct Entry: Sendable {
        /// The text shown for the entry: a word, an answer or a class name.
        public let label: String
        /// The vocabulary, answer or class id.
        public let id: Int
    }

    public let entries: [Entry]
    public let kind: ScoreKind
    let scores: (_ images: Tensor, _ ctx: ForwardContext) -> Tensor
    /// Runs only the image path (the backbone), for a layer's activation when there are no targets.
    let image: (_ images: Tensor, _ ctx: ForwardContext) -> Void
    /// For a batch whose row j is explained for target `targets[j]`: those scores, [B].
    /// What one batched backward differentiates; a task may compute it more cheaply
    /// than the whole [B, T] matrix.
    let rowScores: (_ images: Tensor, _ ctx: ForwardContext, _ targets: [Int]) -> Tensor

    init(entries: [Entry], kind: ScoreKind, image: @escaping (Tensor, ForwardContext) -> Void,
         rowScores: ((Tensor, ForwardContext, [Int]) -> Tensor)? = nil,
         scores: @escaping (Tensor, ForwardContext) -> Tensor) {
        self.entries = entries
        self.kind = kind
        self.image = image
        self.scores = scores
        self.rowScores = rowScores ?? { images, ctx, targets in scores(images, ctx).pick(targets) }
    }

    public var count: Int { entries.count }

    /// Each word of a caption (teacher-forced): entry t is word t's score given
    /// the image and the words before it. `words` are ids; `<end>` may be last.
    /// `wholeCaption` appends one entry, explained in the same pass: the sum of the
    /// words' scores, a last `<end>` excluded — the single map of the paper's released code.
    public static func caption(_ model: Captioner, vocabulary: Vocabulary, words: [Int], kind: ScoreKind,
                               wholeCaption: Bool = false) -> TargetSet {
        let labels = words.map { vocabulary.token(at: $0) ?? "<unk>" }
        let summed = words.last == vocabulary.endID ? words.count - 1 : words.count
        let whole = wholeCaption && summed > 0
        let entries = zip(labels, words).map { Entry(label: $0, id: $1) } + (whole ? [Entry(label: wholeCaptionLabel, id: -1)] : [])
        let perRow: (Tensor, ForwardContext, [Int]) -> Tensor = { images, ctx, targets in
            wordScores(model, feature: model.imageFeature(images, ctx), words: words, targets: targets, kind: kind, ctx)
        }
        return TargetSet(entries: entries, kind: kind, image: { _ = model.imageFeature($0, $1) },
                         rowScores: whole ? nil : perRow) { images, ctx in
            // The batch is the feature's: T copies when the explained layer was repeated.
            let logits = model.teacherForcedLogits(model.imageFeature(images, ctx), words: words, ctx)
            let b = logits.shape[0], n = words.count
            let perWord = score(logits, kind: kind, axis: 2).reshaped([b * n, -1])
                .pick((0..<(b * n)).map { words[$0 % n] }).reshaped([b, n])
            guard whole else { return perWord }
            return Tensor.concat([perWord, perWord.slice(axis: 1, 0..<summed).sum(axis: 1, keepDims: true)], axis: 1)
        }
    }

    /// The label of a caption's whole-caption entry (`caption --whole`; its id is -1).
    public static let wholeCaptionLabel = "(whole caption)"

    /// Row j's score of word targets[j] of `words` (teacher-forced) for image
    /// features [B, …]: [B]. The 10 000-word head and its softmax run on those B
    /// rows, not on all B × n positions; when the targets ascend (every word in
    /// order) each row's decoder stops at its word, so the batch shrinks as it
    /// goes. A batch of one image (no repeated layer) serves every target from
    /// its single row.
    public static func wordScores(_ model: Captioner, feature: Tensor, words: [Int], targets: [Int], kind: ScoreKind,
                                  _ ctx: ForwardContext) -> Tensor {
        let b = feature.shape[0], n = words.count
        let needed = targets.map { $0 + 1 }
        let ascending = b > 1 && b == targets.count && zip(needed, needed.dropFirst()).allSatisfy { $0 <= $1 }
        let hidden = model.teacherForced(feature, rows: Array(repeating: words, count: b),
                                         needed: ascending ? needed : nil, ctx).hidden
        let rows = hidden.reshaped([b * n, hidden.shape[2]])
            .indexSelect(targets.enumerated().map { j, t in (b == 1 ? 0 : j) * n + t })
        return score(model.head(rows, ctx), kind: kind, axis: 1).pick(targets.map { words[$0] })
    }

    /// Answers of a VQA model to one question, by answer id.
    public static func answers(_ model: VQAModel, answers: Vocabulary, question: [Int], ids: [Int],
                               kind: ScoreKind) -> TargetSet {
        let entries = ids.map { Entry(label: answers.token(at: $0) ?? "?", id: $0) }
        return TargetSet(entries: entries, kind: kind, image: { _ = model.imageFeature($0, $1) }) { images, ctx in
            let q = model.questionVector(question, ctx)
            let logits = model.answerLogits(imageFeature: model.imageFeature(images, ctx), question: q, ctx)
            return columns(score(logits, kind: kind, axis: 1), ids)
        }
    }

    /// Classes of a classifier, by class index.
    public static func classes(_ model: Classifier, names: Vocabulary, ids: [Int], kind: ScoreKind) -> TargetSet {
        let entries = ids.map { Entry(label: names.token(at: $0) ?? "\($0)", id: $0) }
        return TargetSet(entries: entries, kind: kind, image: { _ = model.logits($0, $1) }) { images, ctx in
            columns(score(model.logits(images, ctx), kind: kind, axis: 1), ids)
        }
    }

    private static func score(_ logits: Tensor, kind: ScoreKind, axis: Int) -> Tensor {
        switch kind {
        case .logit: return logits
        case .logprob: return logits.logSoftmax(axis: axis)
        case .prob: return logits.softmax(axis: axis)
        }
    }

    /// Columns `ids` of [B, N]: [B, ids.count].
    private static func columns(_ x: Tensor, _ ids: [Int]) -> Tensor {
        x.transposed(0, 1).indexSelect(ids).transposed(0, 1)
    }
}

extension TargetSet {
    /// Only the entries at `indices`, in that order: one target at a time, or a
    /// caption's words without its `<end>`.
    public func selecting(_ indices: [Int]) -> TargetSet {
        TargetSet(entries: indices.map { entries[$0] }, kind: kind, image: image,
                  rowScores: { images, ctx, targets in self.rowScores(images, ctx, targets.map { indices[$0] }) }) { images, ctx in
            self.scores(images, ctx).transposed(0, 1).indexSelect(indices).transposed(0, 1)
        }
    }

    /// The id of a named answer or class, or an error naming the closest ones
    /// (never a silent fallback to the predicted one, as the paper's code did).
    /// Names are matched as written, else regardless of case (questions are
    /// case-folded, so "Blue" means "blue"); a class may also be given by its
    /// index.
    public static func resolve(_ name: String, in vocabulary: Vocabulary, kind: String) throws -> Int {
        if let id = vocabulary.id(of: name) { return id }
        let folded = vocabulary.tokens.indices.filter { vocabulary.tokens[$0].lowercased() == name.lowercased() }
        if folded.count == 1 { return folded[0] }
        if kind == "class", let id = Int(name) {
            guard id >= 0, id < vocabulary.count else { throw ExplainError.indexOutOfRange(id, count: vocabulary.count) }
            return id
        }
        throw ExplainError.unknownTarget(name, kind: kind, suggestions: closest(to: name, in: vocabulary.tokens, count: 5))
    }

    /// The `k` highest-scoring ids of a [1, N] score row, best first (ties: lower id first).
    public static func top(_ k: Int, of scores: Tensor) -> [Int] {
        let v = scores.values
        return v.indices.sorted { v[$0] != v[$1] ? v[$0] > v[$1] : $0 < $1 }.prefix(k).map { $0 }
    }
}
