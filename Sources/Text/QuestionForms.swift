/// The forms of the questions a VQA model was trained on (`question_forms.txt`
/// of a model directory or a dataset): one form per line, words and
/// alternatives in braces, `{a|b|c}`, each alternative one or more words;
/// `#` starts a comment line. "what color is the {circle|square}?"
///
/// A model answers any question, and confidently: a question of a form it never
/// saw ("how many objects are there?" for one trained on "how many shapes are
/// there?") gets a sure answer that means nothing. Matching the words against
/// the forms lets a command say so. Punctuation is not compared.
public struct QuestionForms: Sendable {
    /// The file's name in a model directory and in a ShapesWorld split.
    public static let fileName = "question_forms.txt"

    /// The forms as written, for listing.
    public let lines: [String]
    private let forms: [[[[String]]]]

    /// - Throws: `TextError.invalidForm` naming `source` and the line of an unbalanced brace or empty alternative.
    public init(parsing text: String, source: String) throws(TextError) {
        var lines: [String] = [], forms: [[[[String]]]] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingWhitespace
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            guard let form = Self.parse(line) else { throw .invalidForm(file: source, line: number + 1) }
            lines.append(line)
            forms.append(form)
        }
        self.lines = lines
        self.forms = forms
    }

    /// Whether `words` (a tokenizer's words) are one of the forms.
    public func matches(_ words: [String]) -> Bool {
        let words = words.filter(Self.isWord)
        return forms.contains { Self.match($0[...], words[...]) }
    }

    /// A form: a sequence of slots, each a set of alternatives, each a sequence of words.
    private static func parse(_ line: String) -> [[[String]]]? {
        var slots: [[[String]]] = []
        var rest = Substring(line)
        while let open = rest.firstIndex(where: { $0 == "{" || $0 == "}" }) {
            guard rest[open] == "{", let close = rest[open...].firstIndex(of: "}") else { return nil }
            slots += words(rest[..<open]).map { [[$0]] }
            let alternatives = rest[rest.index(after: open)..<close].split(separator: "|", omittingEmptySubsequences: false).map(words)
            guard !alternatives.isEmpty, alternatives.allSatisfy({ !$0.isEmpty }) else { return nil }
            slots.append(alternatives)
            rest = rest[rest.index(after: close)...]
        }
        slots += words(rest).map { [[$0]] }
        return slots.isEmpty ? nil : slots
    }

    private static func words(_ text: Substring) -> [String] {
        Tokenizer.words(in: String(text)).filter(isWord)
    }

    /// A word has a letter or a digit; "?" and other punctuation are not compared.
    private static func isWord(_ token: String) -> Bool {
        token.unicodeScalars.contains { $0.properties.isAlphabetic || $0.properties.numericType != nil }
    }

    private static func match(_ slots: ArraySlice<[[String]]>, _ words: ArraySlice<String>) -> Bool {
        guard let slot = slots.first else { return words.isEmpty }
        return slot.contains { alternative in
            words.starts(with: alternative) && match(slots.dropFirst(), words.dropFirst(alternative.count))
        }
    }
}

private extension Substring {
    var trimmingWhitespace: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
