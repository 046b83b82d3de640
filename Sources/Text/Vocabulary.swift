import Foundation

/// A list of tokens where line i (0-based) of the file is token id i — the format of
/// `vocab.txt`, `questions.txt` and `answers.txt` (spec/model-format.md). Tokens are taken
/// verbatim (an answer may contain spaces), so a vocabulary used by `Tokenizer` should hold
/// normalised words, as `build(from:minCount:tokenizer:specials:source:)` produces.
///
/// Loading is strict because a model's ids are positions: a stray empty line or a
/// duplicate would silently shift or alias every id after it.
public struct Vocabulary: Sendable {
    public static let padToken = "<pad>"
    public static let startToken = "<start>"
    public static let endToken = "<end>"
    public static let unknownToken = "<unk>"
    /// What a captioning `vocab.txt` must contain.
    public static let captioningSpecials = [startToken, endToken, unknownToken]
    /// What a VQA `questions.txt` must contain.
    public static let questionSpecials = [unknownToken]

    /// The file the tokens came from (or the name given for in-memory tokens); errors name it.
    public let source: String
    /// The tokens in id order.
    public let tokens: [String]
    private let ids: [String: Int]

    /// Wraps tokens already known to be non-empty, unique and free of line breaks.
    private init(checked tokens: [String], ids: [String: Int], source: String) {
        self.tokens = tokens
        self.ids = ids
        self.source = source
    }

    /// Checks and wraps in-memory tokens: token i gets id i; `source` names them in errors,
    /// where entry i is "line" i + 1.
    ///
    /// - Throws: `VocabularyError` `.empty`, `.emptyLine`, `.lineBreak` or `.duplicateToken`.
    public init(tokens: [String], source: String = "<tokens>") throws(VocabularyError) {
        if tokens.isEmpty { throw .empty(file: source) }
        var ids: [String: Int] = [:]
        ids.reserveCapacity(tokens.count)
        for (index, token) in tokens.enumerated() {
            if token.isEmpty { throw .emptyLine(file: source, line: index + 1) }
            if !Self.isOneLine(token) { throw .lineBreak(file: source, line: index + 1) }
            if let first = ids[token] {
                throw .duplicateToken(file: source, token: token, firstLine: first + 1, line: index + 1)
            }
            ids[token] = index
        }
        self.init(checked: tokens, ids: ids, source: source)
    }

    /// Parses file contents: one token per line, LF or CRLF line ends, an optional newline
    /// after the last token, and an optional UTF-8 byte-order mark before the first.
    ///
    /// - Throws: as `init(tokens:source:)`, with 1-based line numbers.
    public init(parsing text: String, source: String) throws(VocabularyError) {
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        var tokens: [String] = []
        tokens.reserveCapacity(lines.count)
        for (index, line) in lines.enumerated() {
            var scalars = line
            if scalars.last == "\r" { scalars.removeLast() }
            if index == 0, scalars.first == "\u{FEFF}" { scalars.removeFirst() }
            tokens.append(String(scalars))
        }
        try self.init(tokens: tokens, source: source)
    }

    /// Loads a vocabulary file (`vocab.txt`, `questions.txt`, `answers.txt`); errors name `path`.
    ///
    /// - Throws: `VocabularyError` `.unreadable`, `.invalidUTF8` (with line and byte offset),
    ///   or any error of `init(parsing:source:)`.
    public init(contentsOfFile path: String) throws(VocabularyError) {
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw .unreadable(file: path, reason: error.localizedDescription)
        }
        if let offset = Normalizer.firstInvalidUTF8Offset(bytes) {
            let line = 1 + bytes[..<offset].lazy.filter { $0 == 0x0A }.count
            throw .invalidUTF8(file: path, line: line, offset: offset)
        }
        try self.init(parsing: String(decoding: bytes, as: UTF8.self), source: path)
    }

    public var count: Int { tokens.count }

    /// The id of `token`, or nil when it is not in the vocabulary.
    public func id(of token: String) -> Int? { ids[token] }

    /// The token with id `id`, or nil when `id` is out of range (ids can come from a model's
    /// output or a user's file, so this never traps).
    public func token(at id: Int) -> String? {
        tokens.indices.contains(id) ? tokens[id] : nil
    }

    public var unkID: Int? { ids[Self.unknownToken] }
    public var startID: Int? { ids[Self.startToken] }
    public var endID: Int? { ids[Self.endToken] }
    public var padID: Int? { ids[Self.padToken] }

    /// Checks that the special tokens a model needs are present, so a model fails to load
    /// with a clear message rather than mis-encoding later (e.g. `captioningSpecials`).
    ///
    /// - Throws: `VocabularyError.missingSpecialTokens` listing every missing token.
    public func require(_ specials: [String]) throws(VocabularyError) {
        let missing = specials.filter { ids[$0] == nil }
        if !missing.isEmpty { throw .missingSpecialTokens(file: source, tokens: missing) }
    }

    /// Builds a vocabulary from training texts as neuraltalk2 does: count the tokens the
    /// `tokenizer` produces, keep those seen at least `minCount` times, and let the rare
    /// ones become `<unk>` when encoded. Deterministic: `specials` first in the order given
    /// (e.g. `<pad>`, `<start>`, `<end>`, `<unk>`), then the kept tokens by descending count,
    /// ties in Swift string order (Unicode scalar order of the NFC form). Duplicates, empty
    /// tokens and tokens containing a line break (which could not be written one per line)
    /// are skipped.
    ///
    /// For answers, pass a tokenizer that returns the whole normalised answer as one token.
    public static func build(
        from corpus: [String],
        minCount: Int,
        tokenizer: (String) -> [String] = Tokenizer.words(in:),
        specials: [String] = captioningSpecials,
        source: String = "<built>"
    ) -> Vocabulary {
        var counts: [String: Int] = [:]
        for text in corpus {
            for word in tokenizer(text) where !word.isEmpty && isOneLine(word) {
                counts[word, default: 0] += 1
            }
        }
        var tokens: [String] = []
        var ids: [String: Int] = [:]
        func add(_ token: String) {
            guard !token.isEmpty, isOneLine(token), ids[token] == nil else { return }
            ids[token] = tokens.count
            tokens.append(token)
        }
        specials.forEach(add)
        counts.filter { $0.value >= minCount }
            .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .forEach { add($0.key) }
        return Vocabulary(checked: tokens, ids: ids, source: source)
    }

    /// Writes one token per line, each line ending with a newline, replacing the file
    /// atomically; `init(contentsOfFile:)` reads a non-empty vocabulary back to the same ids.
    ///
    /// - Throws: `VocabularyError.unwritable`.
    public func write(to path: String) throws(VocabularyError) {
        var text = tokens.joined(separator: "\n")
        if !tokens.isEmpty { text += "\n" }
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .unwritable(file: path, reason: error.localizedDescription)
        }
    }

    private static func isOneLine(_ token: String) -> Bool {
        !token.unicodeScalars.contains { $0 == "\n" || $0 == "\r" }
    }
}
