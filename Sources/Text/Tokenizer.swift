/// The result of encoding one text: what the model reads and what the user should be told.
public struct Encoding: Equatable, Sendable {
    /// Token ids, `<unk>`'s id for words outside the vocabulary.
    public var ids: [Int]
    /// The normalised words the ids stand for (the word itself, not `<unk>`, for unknown ones).
    public var tokens: [String]
    /// The kept words that became `<unk>`, in order, repeats included — so a caller can warn
    /// "unknown words: …" instead of explaining a silently different question.
    public var unknown: [String]
    /// True when the text had more than `maxLength` tokens and only the first were kept.
    public var truncated: Bool

    public init(ids: [Int] = [], tokens: [String] = [], unknown: [String] = [], truncated: Bool = false) {
        self.ids = ids
        self.tokens = tokens
        self.unknown = unknown
        self.truncated = truncated
    }
}

/// Stage 3: turns text into vocabulary ids — `Normalizer`, then `PreTokenizer` (keeping the
/// punctuation the vocabulary contains, e.g. "?"), then one look-up per word, unknown words
/// becoming `<unk>`. Linear in the length of the text.
public struct Tokenizer: Sendable {
    public let vocabulary: Vocabulary
    /// At most this many tokens are kept (the first ones), as a model's `max_length`;
    /// nil keeps all.
    public let maxLength: Int?
    private let unkID: Int
    private let preTokenizer: PreTokenizer
    private let normalizer = Normalizer()

    /// - Throws: `VocabularyError.missingSpecialTokens` when the vocabulary has no `<unk>`
    ///   (unknown words need an id), `TextError.invalidMaxLength` when `maxLength` < 1.
    public init(vocabulary: Vocabulary, maxLength: Int? = nil) throws {
        guard let unkID = vocabulary.unkID else {
            throw VocabularyError.missingSpecialTokens(file: vocabulary.source, tokens: [Vocabulary.unknownToken])
        }
        if let maxLength, maxLength < 1 { throw TextError.invalidMaxLength(maxLength) }
        self.vocabulary = vocabulary
        self.maxLength = maxLength
        self.unkID = unkID
        var kept = Set<Unicode.Scalar>()
        for token in vocabulary.tokens {
            var scalars = token.unicodeScalars.makeIterator()
            if let scalar = scalars.next(), scalars.next() == nil, case .punctuation = CharacterClass(scalar) {
                kept.insert(scalar)
            }
        }
        self.preTokenizer = PreTokenizer(keeping: kept)
    }

    /// Encodes `text`. Empty text, or text with no words (only spaces, controls or dropped
    /// punctuation), gives an empty encoding; the caller decides whether that is an error.
    /// With `maxLength` set, only the first `maxLength` tokens are kept, `truncated` says so,
    /// and `unknown` lists only unknown words among the kept tokens.
    public func encode(_ text: String) -> Encoding {
        var words = preTokenizer.split(normalizer.normalize(text))
        var truncated = false
        if let maxLength, words.count > maxLength {
            words.removeSubrange(maxLength...)
            truncated = true
        }
        var encoding = Encoding(tokens: words, truncated: truncated)
        encoding.ids.reserveCapacity(words.count)
        for word in words {
            if let id = vocabulary.id(of: word) {
                encoding.ids.append(id)
            } else {
                encoding.ids.append(unkID)
                encoding.unknown.append(word)
            }
        }
        return encoding
    }

    /// Renders ids as text for display: tokens joined by single spaces, stopping at the first
    /// `<end>` and skipping `<start>` and `<pad>`. An id outside the vocabulary (a model with
    /// a larger head than its vocab file, a corrupt file) is rendered as `<unk>` rather than
    /// trapping or throwing, since decoding is for people to read.
    public func decode(_ ids: [Int]) -> String {
        var words: [String] = []
        for id in ids {
            let token = vocabulary.token(at: id) ?? Vocabulary.unknownToken
            if token == Vocabulary.endToken { break }
            if token == Vocabulary.startToken || token == Vocabulary.padToken { continue }
            words.append(token)
        }
        return words.joined(separator: " ")
    }

    /// The words of `text` with no vocabulary at hand: normalised and pre-tokenised, all
    /// punctuation dropped. The default tokenizer of `Vocabulary.build`.
    public static func words(in text: String) -> [String] {
        PreTokenizer().split(Normalizer().normalize(text))
    }
}
