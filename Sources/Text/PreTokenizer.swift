/// Stage 2 of tokenisation: splits normalised text into words, one rule per character class,
/// so the same question always yields the same words at training and at explanation time.
///
/// Rules, applied to each Unicode scalar by its general category (utf8proc's tables):
/// - white space (Z*) and any remaining control or format character ends the current word;
/// - apostrophes — U+0027 ('), U+2019 (’) and U+02BC (ʼ) — are dropped and the word is kept
///   whole: "what's" → "whats", "don't" → "dont", "dogs'" → "dogs" (the normalisation of
///   VQA_LSTM_CNN and neuraltalk2, which delete punctuation); an apostrophe is never a token;
/// - other punctuation (P*, hyphens and dashes included) ends the word and is dropped,
///   unless it is in `keptPunctuation`, where it becomes a token of its own:
///   "left-of" → "left", "of"; "colour?" → "colour" or "colour", "?";
/// - symbols (S*: emoji, math, currency, modifier symbols), private-use and unassigned
///   code points each form a token of their own, so "cat🙂" → "cat", "🙂" and an unknown
///   symbol becomes one `<unk>` rather than spoiling the word beside it;
/// - combining marks (M*) stay with the character before them (a variation selector with its
///   emoji, an accent the normaliser could not compose with its letter); a mark with nothing
///   before it starts a word;
/// - letters and digits (L*, N*) are word characters: "2 cats", "r2d2".
///
/// The input is expected to be `Normalizer` output; on raw text the rules still apply to
/// each scalar, but case and compatibility forms are left as they are.
public struct PreTokenizer: Sendable {
    /// Punctuation characters (one scalar each) that are kept as tokens; usually the
    /// punctuation the vocabulary contains, such as "?".
    public var keptPunctuation: Set<Unicode.Scalar>

    public init(keeping keptPunctuation: Set<Unicode.Scalar> = []) {
        self.keptPunctuation = keptPunctuation
    }

    /// Splits `text` into words in one pass (linear in its length).
    public func split(_ text: String) -> [String] {
        var words: [String] = []
        var current = String.UnicodeScalarView()
        var currentIsSymbol = false

        func flush() {
            if !current.isEmpty {
                words.append(String(current))
                current = String.UnicodeScalarView()
            }
            currentIsSymbol = false
        }

        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x27, 0x2019, 0x2BC: continue  // apostrophes: deleted, the word kept whole
            default: break
            }
            switch CharacterClass(scalar) {
            case .separator, .control, .format:
                flush()
            case .punctuation:
                flush()
                if keptPunctuation.contains(scalar) { words.append(String(scalar)) }
            case .symbol:
                flush()
                current.append(scalar)
                currentIsSymbol = true
            case .mark:
                current.append(scalar)
            case .word:
                if currentIsSymbol { flush() }
                current.append(scalar)
            }
        }
        flush()
        return words
    }
}
