import Models
import NN
import Tensor
import Text

/// The token ids that decoding treats specially.
public struct SpecialTokens: Equatable, Sendable {
    /// Ends a hypothesis; always allowed as a next word.
    public var end: Int
    /// Never proposed as a next word: `<start>` and `<pad>` are inputs, not words of a caption.
    public var masked: Set<Int>
    /// `<unk>`: proposed unless the search disallows it (neuraltalk2 allowed it).
    public var unknown: Int?

    public init(end: Int, masked: Set<Int>, unknown: Int?) {
        self.end = end
        self.masked = masked
        self.unknown = unknown
    }

    /// `<end>`, `<start>`, `<pad>` and `<unk>` of a captioning vocabulary.
    ///
    /// - Throws: `VocabularyError.missingSpecialTokens` when it has no `<end>`.
    public init(vocabulary: Vocabulary) throws(VocabularyError) {
        guard let end = vocabulary.endID else {
            throw .missingSpecialTokens(file: vocabulary.source, tokens: [Vocabulary.endToken])
        }
        self.init(end: end, masked: Set([vocabulary.startID, vocabulary.padID].compactMap { $0 }),
                  unknown: vocabulary.unkID)
    }

    /// Checks every id against the model's output size, so a vocabulary that does not match
    /// the model is a message rather than an index trap.
    func validate(vocabularySize v: Int) throws(CaptionError) {
        var roles = [("<end>", end)] + masked.sorted().map { ("masked", $0) }
        if let unknown { roles.append(("<unk>", unknown)) }
        for (role, id) in roles where !(0..<v).contains(id) {
            throw .tokenOutOfRange(role: role, id: id, vocabularySize: v)
        }
    }
}

/// A caption decoder seen one step at a time. Search is written against this, not against
/// a network, so it can be tested on hand-made tables; and `step` takes every hypothesis at
/// once, so a network runs all beams as one batch.
public protocol CaptionStepper {
    /// The decoder's memory for a batch of hypotheses (one row each).
    associatedtype State

    var specialTokens: SpecialTokens { get }

    /// Reads the image and `<start>`: log-probabilities of the first word (one value per
    /// vocabulary entry) and a state of one row.
    func start() -> (logProbs: [Float], state: State)

    /// One batched step. Row r of the result continues the hypothesis held in row
    /// `parents[r]` of `state` by the word `words[r]`: one row of log-probabilities of the
    /// next word per r, and the new state whose row r belongs to that hypothesis.
    /// Parents may repeat (two beams sharing a prefix) or be dropped (pruned beams).
    func step(words: [Int], parents: [Int], state: State) -> (logProbs: [[Float]], state: State)
}

/// A `Captioner` on one image: the decoder state is reordered to the surviving beams with
/// `DecoderState.selecting(rows:)`, and each step is one batched decoder call.
public struct CaptionerStepper: CaptionStepper {
    public let captioner: Captioner
    /// The image feature [1, …], cut from any graph: decoding records nothing.
    public let feature: Tensor
    public let specialTokens: SpecialTokens

    /// - Throws: `CaptionError.featureShape` unless `feature` is one image's feature for this captioner.
    public init(captioner: Captioner, feature: Tensor, specialTokens: SpecialTokens) throws(CaptionError) {
        try checkFeature(feature, captioner)
        self.captioner = captioner
        self.feature = feature.detached()
        self.specialTokens = specialTokens
    }

    /// The special tokens of the captioner's vocabulary (`<start>`, `<pad>` masked;
    /// `<start>` proposed when the captioner predicts the first token from the image).
    public init(captioner: Captioner, vocabulary: Vocabulary, feature: Tensor) throws {
        var special = try SpecialTokens(vocabulary: vocabulary)
        if captioner.imageStepPredicts, let start = vocabulary.startID { special.masked.remove(start) }
        try self.init(captioner: captioner, feature: feature, specialTokens: special)
    }

    public func start() -> (logProbs: [Float], state: DecoderState) {
        let (logProbs, state) = captioner.start(feature, ForwardContext())
        return (logProbs.values, state)
    }

    public func step(words: [Int], parents: [Int], state: DecoderState) -> (logProbs: [[Float]], state: DecoderState) {
        let (logProbs, next) = captioner.step(words, state.selecting(rows: parents), ForwardContext())
        let v = logProbs.shape[1], values = logProbs.values
        return ((0..<logProbs.shape[0]).map { Array(values[($0 * v)..<($0 * v + v)]) }, next)
    }
}

/// The captioner's feature shape for one image ([1, F] or [1, C, h, w]), checked before any
/// tensor op can trap on it.
func checkFeature(_ feature: Tensor, _ captioner: Captioner) throws(CaptionError) {
    let expected = [1] + captioner.featureShape
    guard feature.shape == expected else { throw .featureShape(got: feature.shape, expected: expected) }
}
