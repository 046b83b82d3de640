import Models
import NN
import Tensor
import Text

/// Scores a given caption — generated ids or a user's text — under a captioner: the
/// log-probability of every word given the image and the words before it, all in one
/// teacher-forced pass. This is what a caption's explanation targets.
public struct TeacherForcing {
    /// One caption's scores.
    public struct Scores {
        /// The ids scored, without `<start>` and `<end>` (after truncation).
        public let words: [Int]
        /// The words those ids stand for (for text, the normalised words, not `<unk>`).
        public let tokens: [String]
        /// log p(word_t | words before it, image), one per word.
        public let logProbs: [Float]
        /// log p(`<end>` | all the words, image), when asked for.
        public let endLogProb: Float?
        /// The logits [n, V] of each scored position (one more row when `<end>` is scored),
        /// when asked for.
        public let logits: Tensor?
        /// The words of a text that became `<unk>`, so a caller can warn instead of
        /// explaining a silently different caption.
        public let unknown: [String]
        /// True when the caption had more words than the decoder's maximum length and only
        /// the first were scored.
        public let truncated: Bool

        /// The caption's log-probability: the sum of `logProbs` and `endLogProb`.
        public var logProb: Float { logProbs.reduce(0, +) + (endLogProb ?? 0) }
    }

    public let captioner: Captioner
    public let vocabulary: Vocabulary
    /// The decoder's `max_length`: longer captions are cut, as the model never saw longer ones.
    public let maxLength: Int
    let tokenizer: Tokenizer
    let specials: SpecialTokens

    /// - Throws: `CaptionError.invalidMaxLength` below 1, `VocabularyError` when the
    ///   vocabulary lacks `<end>` or `<unk>`.
    public init(captioner: Captioner, vocabulary: Vocabulary, maxLength: Int) throws {
        guard maxLength >= 1 else { throw CaptionError.invalidMaxLength(maxLength) }
        self.captioner = captioner
        self.vocabulary = vocabulary
        self.maxLength = maxLength
        tokenizer = try Tokenizer(vocabulary: vocabulary, maxLength: maxLength)
        specials = try SpecialTokens(vocabulary: vocabulary)
    }

    /// The captioner of a model directory, with its vocabulary and `decoder.max_length`.
    ///
    /// - Throws: `CaptionError.notCaptioning` for a VQA or classification model.
    public init(model: ModelDirectory) throws {
        guard case let .captioning(captioner, vocabulary) = model.model, let decoder = model.config.decoder else {
            throw CaptionError.notCaptioning(task: model.config.task.rawValue)
        }
        try self.init(captioner: captioner, vocabulary: vocabulary, maxLength: decoder.maxLength)
    }

    /// Scores caption ids (e.g. a search's `Hypothesis.words`) for the image vector
    /// `feature` [1, F]. An empty caption gives empty scores.
    ///
    /// - Parameters:
    ///   - includeEnd: also score `<end>` after the last word.
    ///   - keepLogits: also return the logits, e.g. to explain `--score logit`.
    /// - Throws: `CaptionError` for a feature of the wrong shape, or an id outside the
    ///   vocabulary or one of `<start>`, `<end>`, `<pad>` (pass `includeEnd` instead).
    public func score(words: [Int], feature: Tensor, includeEnd: Bool = false,
                      keepLogits: Bool = false) throws(CaptionError) -> Scores {
        for (position, id) in words.enumerated() {
            guard let token = vocabulary.token(at: id) else {
                throw .invalidWord(position: position, id: id, reason: "outside the vocabulary of \(vocabulary.count) tokens")
            }
            if id == specials.end || specials.masked.contains(id) {
                throw .invalidWord(position: position, id: id,
                                   reason: "\(token) is not a caption word (captions are given without <start> and <end>)")
            }
        }
        let kept = Array(words.prefix(maxLength))
        return try score(kept, tokens: kept.map { vocabulary.tokens[$0] }, unknown: [],
                         truncated: kept.count < words.count, feature: feature,
                         includeEnd: includeEnd, keepLogits: keepLogits)
    }

    /// Scores a user's caption: tokenised as the vocabulary was built, unknown words become
    /// `<unk>` (listed in `unknown`), and only the first `maxLength` words are kept. Text
    /// with no words gives empty scores.
    ///
    /// - Throws: `CaptionError.featureShape` for a feature other than [1, F].
    public func score(text: String, feature: Tensor, includeEnd: Bool = false,
                      keepLogits: Bool = false) throws(CaptionError) -> Scores {
        let encoding = tokenizer.encode(text)
        return try score(encoding.ids, tokens: encoding.tokens, unknown: encoding.unknown,
                         truncated: encoding.truncated, feature: feature,
                         includeEnd: includeEnd, keepLogits: keepLogits)
    }

    private func score(_ words: [Int], tokens: [String], unknown: [String], truncated: Bool, feature: Tensor,
                       includeEnd: Bool, keepLogits: Bool) throws(CaptionError) -> Scores {
        try checkFeature(feature, captioner)
        let scored = words + (includeEnd ? [specials.end] : [])
        let v = captioner.head.weight.value.shape[0]
        let logits = captioner.teacherForcedLogits(feature, words: scored, ForwardContext())
            .reshaped([scored.count, v])
        let logProbs = scored.isEmpty ? [] : logits.logSoftmax(axis: 1).pick(scored).values
        return Scores(words: words, tokens: tokens, logProbs: Array(logProbs.prefix(words.count)),
                      endLogProb: includeEnd ? logProbs.last : nil, logits: keepLogits ? logits : nil,
                      unknown: unknown, truncated: truncated)
    }
}
