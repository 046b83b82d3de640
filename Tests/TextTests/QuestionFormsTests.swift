import Text
import XCTest

final class QuestionFormsTests: XCTestCase {
    func testFormsMatchWordsNotPunctuationOrCase() throws {
        let forms = try QuestionForms(parsing: """
            # comment
            what color is the {circle|square}?

            what is {left of|above} the {red|blue} {circle|square}?
            """, source: "forms.txt")
        XCTAssertEqual(forms.lines.count, 2)
        let table: [(String, Bool)] = [
            ("what color is the circle?", true), ("What colour is the circle?", false), ("WHAT COLOR IS THE SQUARE", true),
            ("what color is the star?", false), ("what color is the circle", true), ("what color is circle?", false),
            ("what is left of the red square?", true), ("what is left the red square?", false),
            ("what is above the blue circle ?", true), ("what is above of the blue circle?", false),
            ("what color is the circle? what color is the circle?", false), ("", false),
        ]
        for (question, expected) in table {
            XCTAssertEqual(forms.matches(Tokenizer.words(in: question)), expected, question)
        }
    }

    func testMalformedLinesAreNamed() {
        for (text, line) in [("what {a|b", 1), ("ok\nwhat {a||b}?", 2), ("what }a{", 1), ("?", 1)] {
            XCTAssertThrowsError(try QuestionForms(parsing: text, source: "q.txt"), text) {
                XCTAssertEqual($0 as? TextError, .invalidForm(file: "q.txt", line: line))
            }
        }
    }
}
