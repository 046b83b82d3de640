import Foundation

/// Why a vocabulary could not be loaded, checked or written. Every case names the file (or
/// the `source` given for in-memory tokens), and the 1-based line where there is one, in
/// the `file:line: message` form editors jump to.
public enum VocabularyError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    case unreadable(file: String, reason: String)
    case unwritable(file: String, reason: String)
    /// `offset` is the 0-based byte offset in the file of the first invalid sequence.
    case invalidUTF8(file: String, line: Int, offset: Int)
    /// The file holds no tokens at all.
    case empty(file: String)
    /// An empty line anywhere except after the final newline: it would shift every id after it.
    case emptyLine(file: String, line: Int)
    /// A token holding a line feed or carriage return cannot be one line of a vocabulary file.
    case lineBreak(file: String, line: Int)
    /// Two lines hold the same token (compared as Swift strings, so a composed and a
    /// decomposed "é" are the same token), which would give a word two ids.
    case duplicateToken(file: String, token: String, firstLine: Int, line: Int)
    /// Special tokens the model needs (e.g. `<start>`, `<end>`, `<unk>` for captioning) are absent.
    case missingSpecialTokens(file: String, tokens: [String])

    public var description: String {
        switch self {
        case .unreadable(let file, let reason):
            return "\(file): cannot read vocabulary: \(reason)"
        case .unwritable(let file, let reason):
            return "\(file): cannot write vocabulary: \(reason)"
        case .invalidUTF8(let file, let line, let offset):
            return "\(file):\(line): invalid UTF-8 at byte offset \(offset)"
        case .empty(let file):
            return "\(file): vocabulary is empty (expected one token per line)"
        case .emptyLine(let file, let line):
            return "\(file):\(line): empty line (every line is a token; only the last line may end with a newline)"
        case .lineBreak(let file, let line):
            return "\(file):\(line): token contains a line break"
        case .duplicateToken(let file, let token, let firstLine, let line):
            return "\(file):\(line): duplicate token \"\(token)\" (first on line \(firstLine))"
        case .missingSpecialTokens(let file, let tokens):
            let list = tokens.joined(separator: ", ")
            return "\(file): missing required special token\(tokens.count == 1 ? "" : "s") \(list) (add each on a line of its own)"
        }
    }

    public var errorDescription: String? { description }
}
