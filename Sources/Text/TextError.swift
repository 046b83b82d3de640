import Foundation

/// Errors of the text pipeline that are not about a vocabulary file.
public enum TextError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// The bytes are not valid UTF-8; `offset` is the 0-based index of the first byte of the
    /// offending sequence, so a user can find it with `xxd` or `cmp`.
    case invalidUTF8(offset: Int)
    /// A tokenizer's maximum length must allow at least one token; zero or less is a
    /// configuration mistake that would silently feed the model empty questions.
    case invalidMaxLength(Int)
    /// A line of question_forms.txt with an unbalanced brace, an empty alternative or no word.
    case invalidForm(file: String, line: Int)

    public var description: String {
        switch self {
        case .invalidUTF8(let offset):
            return "invalid UTF-8 at byte offset \(offset)"
        case .invalidMaxLength(let length):
            return "maximum token count must be at least 1, got \(length)"
        case let .invalidForm(file, line):
            return "\(file): line \(line) is not a question form (words, and alternatives as {a|b}; no empty alternative)"
        }
    }

    public var errorDescription: String? { description }
}
