import XCTest
import Text

final class PreTokenizerTests: XCTestCase {
    func testSplitTable() {
        let cases: [(name: String, input: String, kept: Set<Unicode.Scalar>, expected: [String])] = [
            ("question mark dropped", "whats the colour?", [], ["whats", "the", "colour"]),
            ("question mark kept", "whats the colour?", ["?"], ["whats", "the", "colour", "?"]),
            ("straight apostrophe joins", "what's", [], ["whats"]),
            ("curly apostrophe joins", "don\u{2019}t", [], ["dont"]),
            ("modifier-letter apostrophe joins", "don\u{2BC}t", [], ["dont"]),
            ("apostrophe never a token", "dogs' 'toys'", ["'"], ["dogs", "toys"]),
            ("hyphen splits", "left-of", [], ["left", "of"]),
            ("hyphen kept when asked", "left-of", ["-"], ["left", "-", "of"]),
            ("en dash splits", "a\u{2013}b", [], ["a", "b"]),
            ("underscore splits", "snake_case", [], ["snake", "case"]),
            ("decimal point splits digits", "3.5", [], ["3", "5"]),
            ("digits are word characters", "r2d2 has 2 cats", [], ["r2d2", "has", "2", "cats"]),
            ("emoji separate from words", "cat🙂dog", [], ["cat", "🙂", "dog"]),
            ("each emoji its own token", "🙂🙂", [], ["🙂", "🙂"]),
            ("emoji keeps its variation selector", "❤\u{FE0F}cat", [], ["❤\u{FE0F}", "cat"]),
            ("skin tone is a symbol of its own", "👍\u{1F3FD}", [], ["👍", "\u{1F3FD}"]),
            ("math and currency symbols", "a+b $5", [], ["a", "+", "b", "$", "5"]),
            ("private use is a symbol", "a\u{E000}b", [], ["a", "\u{E000}", "b"]),
            ("lone combining mark is a word", "\u{301}", [], ["\u{301}"]),
            ("mark after space starts a word", "a \u{301}b", [], ["a", "\u{301}b"]),
            ("mark after punctuation starts a word", "?\u{301}", ["?"], ["?", "\u{301}"]),
            ("Arabic words", "ما لون الدائرة", [], ["ما", "لون", "الدائرة"]),
            ("Hebrew words with punctuation", "מה הצבע?", ["?"], ["מה", "הצבע", "?"]),
            ("Devanagari spacing marks stay in the word", "हिन्दी", [], ["हिन्दी"]),
            ("repeated punctuation kept one by one", "??", ["?"], ["?", "?"]),
            ("only punctuation", "...!?,;:", [], []),
            ("white space of all kinds", " a\tb\u{2003}c\u{2028}d ", [], ["a", "b", "c", "d"]),
            ("controls separate on raw input", "a\u{0}b", [], ["a", "b"]),
            ("empty", "", [], []),
        ]
        for (name, input, kept, expected) in cases {
            let words = PreTokenizer(keeping: kept).split(input)
            XCTAssertEqual(words.map(scalars), expected.map(scalars), name)
        }
    }
}
