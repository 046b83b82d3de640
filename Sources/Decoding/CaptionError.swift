import Foundation

/// Why a search or a teacher-forced scoring could not run. Arguments are checked up front
/// so a bad option is a message, never a crash deep in a tensor op.
public enum CaptionError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    case invalidBeamSize(Int)
    case invalidMaxLength(Int)
    /// The length-normalisation exponent must be finite and ≥ 0 (the stopping rule relies on it).
    case invalidAlpha(Float)
    /// Asked for `requested` hypotheses from a beam of `beamSize`.
    case invalidResultCount(requested: Int, beamSize: Int)
    /// A special token's id (named by `role`) lies outside the model's `vocabularySize` outputs.
    case tokenOutOfRange(role: String, id: Int, vocabularySize: Int)
    /// A step function returned the wrong number of rows or a row of the wrong length.
    case malformedStep(step: Int, expected: String, got: String)
    /// A step function returned NaN: the model is broken, and NaN would make the ranking arbitrary.
    case notANumber(step: Int, row: Int, token: Int)
    /// The image feature must be one row of the captioner's feature size.
    case featureShape(got: [Int], expected: [Int])
    /// Word `position` (0-based) of a caption is not a word the decoder can be fed.
    case invalidWord(position: Int, id: Int, reason: String)
    /// A model directory of another task was given where a captioner is needed.
    case notCaptioning(task: String)

    public var description: String {
        switch self {
        case .invalidBeamSize(let k):
            return "beam size must be at least 1 (1 is greedy decoding), got \(k)"
        case .invalidMaxLength(let n):
            return "maximum caption length must be at least 1 word, got \(n)"
        case .invalidAlpha(let a):
            return "length-normalisation exponent alpha must be finite and at least 0, got \(a)"
        case .invalidResultCount(let n, let k):
            return "can return between 1 and the beam size (\(k)) hypotheses, asked for \(n)"
        case .tokenOutOfRange(let role, let id, let v):
            return "\(role) token id \(id) is outside the model's \(v) outputs (vocabulary and model disagree)"
        case .malformedStep(let step, let expected, let got):
            return "decoding step \(step): expected \(expected), got \(got)"
        case .notANumber(let step, let row, let token):
            return "decoding step \(step): log-probability of token \(token) in row \(row) is NaN"
        case .featureShape(let got, let expected):
            return "image feature has shape \(got), expected \(expected)"
        case .invalidWord(let position, let id, let reason):
            return "caption word \(position) (id \(id)): \(reason)"
        case .notCaptioning(let task):
            return "the model is a \(task) model, not a captioning model"
        }
    }

    public var errorDescription: String? { description }
}
