import XCTest
import Text

final class TokenizerTests: XCTestCase {
    private static let words = [
        "<pad>", "<start>", "<end>", "<unk>", "a", "red", "circle", "whats", "the", "colour",
        "is", "left", "of", "\u{E9}cole", "final", "full", "strasse", "dont", "cat",
        "مرحبا", "الدائرة", "שלום", "2",
    ]

    private func tokenizer(with extra: [String] = [], maxLength: Int? = nil) throws -> Tokenizer {
        try Tokenizer(vocabulary: Vocabulary(tokens: Self.words + extra, source: "vocab.txt"), maxLength: maxLength)
    }

    func testEncodeTable() throws {
        let plain = try tokenizer()
        let withQuestionMark = try tokenizer(with: ["?"])
        let unk = 3
        let cases: [(name: String, tokenizer: Tokenizer, input: String, tokens: [String], ids: [Int], unknown: [String])] = [
            ("apostrophe, no ? in vocabulary", plain, "What's the colour?",
             ["whats", "the", "colour"], [7, 8, 9], []),
            ("apostrophe, ? in vocabulary", withQuestionMark, "What's the colour?",
             ["whats", "the", "colour", "?"], [7, 8, 9, 23], []),
            ("curly apostrophe", plain, "Don\u{2019}t", ["dont"], [17], []),
            ("design example", plain, "ﬁnal Ｆｕｌｌ ÉCOLE", ["final", "full", "\u{E9}cole"], [14, 15, 13], []),
            ("decomposed accent matches composed", plain, "E\u{301}cole", ["\u{E9}cole"], [13], []),
            ("ß case-folds to ss", plain, "Straße", ["strasse"], [16], []),
            ("Turkish İ keeps a combining dot", plain, "İ", ["i\u{307}"], [unk], ["i\u{307}"]),
            ("emoji is its own unknown token", plain, "a 🙂cat", ["a", "🙂", "cat"], [4, unk, 18], ["🙂"]),
            ("ZWJ emoji sequence", plain, "👩\u{200D}💻", ["👩", "💻"], [unk, unk], ["👩", "💻"]),
            ("zero-width joiner inside a word", plain, "c\u{200D}at", ["cat"], [18], []),
            ("combining mark alone", plain, "a \u{301}", ["a", "\u{301}"], [4, unk], ["\u{301}"]),
            ("Arabic words", plain, "مرحبا الدائرة", ["مرحبا", "الدائرة"], [19, 20], []),
            ("Hebrew word in RLM marks", plain, "\u{200F}שלום\u{200F}?", ["שלום"], [21], []),
            ("hyphen splits", plain, "Left-of the red circle", ["left", "of", "the", "red", "circle"],
             [11, 12, 8, 5, 6], []),
            ("rare words become <unk>", plain, "the blue cat", ["the", "blue", "cat"], [8, unk, 18], ["blue"]),
            ("digits", plain, "2 cats", ["2", "cats"], [22, unk], ["cats"]),
            ("empty", plain, "", [], [], []),
            ("only white space", plain, " \t\n", [], [], []),
            ("only punctuation", plain, "?!...", [], [], []),
            ("only punctuation, ? kept", withQuestionMark, "?!...", ["?"], [23], []),
        ]
        for (name, tokenizer, input, tokens, ids, unknown) in cases {
            let encoding = tokenizer.encode(input)
            XCTAssertEqual(encoding.tokens.map(scalars), tokens.map(scalars), name)
            XCTAssertEqual(encoding.ids, ids, name)
            XCTAssertEqual(encoding.unknown.map(scalars), unknown.map(scalars), name)
            XCTAssertFalse(encoding.truncated, name)
        }
    }

    func testTruncation() throws {
        let tokenizer = try tokenizer(maxLength: 3)
        XCTAssertEqual(tokenizer.encode("a red blue circle is"),
                       Encoding(ids: [4, 5, 3], tokens: ["a", "red", "blue"], unknown: ["blue"], truncated: true))
        XCTAssertEqual(tokenizer.encode("a red circle"),
                       Encoding(ids: [4, 5, 6], tokens: ["a", "red", "circle"], unknown: [], truncated: false))
        XCTAssertEqual(tokenizer.encode("a red circle, sky"),
                       Encoding(ids: [4, 5, 6], tokens: ["a", "red", "circle"], unknown: [], truncated: true))
        XCTAssertThrowsError(try self.tokenizer(maxLength: 0)) { error in
            XCTAssertEqual(error as? TextError, .invalidMaxLength(0))
        }
    }

    func testVocabularyWithoutUnknownIsRejected() throws {
        let answers = try Vocabulary(tokens: ["yes", "no"], source: "answers.txt")
        XCTAssertThrowsError(try Tokenizer(vocabulary: answers)) { error in
            XCTAssertEqual(error as? VocabularyError, .missingSpecialTokens(file: "answers.txt", tokens: ["<unk>"]))
        }
    }

    func testDecode() throws {
        let tokenizer = try tokenizer()
        XCTAssertEqual(tokenizer.decode([1, 4, 5, 6, 2, 8, 9]), "a red circle")
        XCTAssertEqual(tokenizer.decode([0, 1, 4, 0, 18]), "a cat")
        XCTAssertEqual(tokenizer.decode([4, -1, 999, 3]), "a <unk> <unk> <unk>")
        XCTAssertEqual(tokenizer.decode([2, 4]), "")
        XCTAssertEqual(tokenizer.decode([]), "")
        XCTAssertEqual(tokenizer.decode(tokenizer.encode("Left-of the red circle").ids), "left of the red circle")
    }

    func testLongInputs() throws {
        let tokenizer = try tokenizer()
        // 100 000 characters, 50 000 words.
        let hundredThousand = String(repeating: "a ", count: 50_000)
        XCTAssertEqual(hundredThousand.count, 100_000)
        var start = Date()
        let encoding = tokenizer.encode(hundredThousand)
        let shortTime = Date().timeIntervalSince(start)
        XCTAssertEqual(encoding.ids.count, 50_000)
        XCTAssertEqual(Set(encoding.ids), [4])

        // A 1 MB question with mixed scripts, emoji and punctuation.
        let chunk = "What's the red circle, left-of 🙂 école? "
        let megabyte = String(repeating: chunk, count: 1_048_576 / chunk.utf8.count + 1)
        XCTAssertGreaterThan(megabyte.utf8.count, 1_048_576)
        start = Date()
        let long = tokenizer.encode(megabyte)
        let longTime = Date().timeIntervalSince(start)
        let repeats = megabyte.utf8.count / chunk.utf8.count
        XCTAssertEqual(long.ids.count, 8 * repeats)
        XCTAssertEqual(long.unknown.count, repeats)
        XCTAssertEqual(Array(long.tokens.prefix(8)), ["whats", "the", "red", "circle", "left", "of", "🙂", "\u{E9}cole"])
        // Loose bound (debug build, shared machine): only catches quadratic behaviour.
        XCTAssertLessThan(shortTime + longTime, 20, "tokenising took \(shortTime) s and \(longTime) s")
        print("tokenised 100 000 characters in \(shortTime) s, 1 MB in \(longTime) s")
    }

    func testWordsWithoutVocabulary() {
        XCTAssertEqual(Tokenizer.words(in: "What's the colour? Left-of 🙂!"),
                       ["whats", "the", "colour", "left", "of", "🙂"])
    }
}
