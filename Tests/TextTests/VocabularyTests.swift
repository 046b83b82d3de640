import Foundation
import XCTest
import Text

final class VocabularyTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("TextTests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func testParsingTable() throws {
        let cases: [(name: String, text: String, expected: [String])] = [
            ("trailing newline", "a\nb\nc\n", ["a", "b", "c"]),
            ("no trailing newline", "a\nb\nc", ["a", "b", "c"]),
            ("CRLF line ends", "a\r\nb\r\n", ["a", "b"]),
            ("CRLF without final newline", "a\r\nb", ["a", "b"]),
            ("byte-order mark before the first token", "\u{FEFF}<unk>\nb\n", ["<unk>", "b"]),
            ("answers keep their spaces", "yes\nred circle\n2\n", ["yes", "red circle", "2"]),
            ("one token", "<unk>", ["<unk>"]),
        ]
        for (name, text, expected) in cases {
            let vocabulary = try Vocabulary(parsing: text, source: "vocab.txt")
            XCTAssertEqual(vocabulary.tokens, expected, name)
            for (id, token) in expected.enumerated() {
                XCTAssertEqual(vocabulary.id(of: token), id, name)
                XCTAssertEqual(vocabulary.token(at: id), token, name)
            }
        }
    }

    func testParsingErrorsNameFileAndLine() {
        let cases: [(name: String, text: String, error: VocabularyError, message: String)] = [
            ("empty line in the middle", "a\n\nb\n", .emptyLine(file: "vocab.txt", line: 2),
             "vocab.txt:2: empty line (every line is a token; only the last line may end with a newline)"),
            ("two newlines at the end", "a\nb\n\n", .emptyLine(file: "vocab.txt", line: 3),
             "vocab.txt:3: empty line (every line is a token; only the last line may end with a newline)"),
            ("CRLF empty line", "a\r\n\r\nb", .emptyLine(file: "vocab.txt", line: 2),
             "vocab.txt:2: empty line (every line is a token; only the last line may end with a newline)"),
            ("only a newline", "\n", .emptyLine(file: "vocab.txt", line: 1),
             "vocab.txt:1: empty line (every line is a token; only the last line may end with a newline)"),
            ("empty file", "", .empty(file: "vocab.txt"),
             "vocab.txt: vocabulary is empty (expected one token per line)"),
            ("duplicate", "<unk>\nred\nblue\nred\n",
             .duplicateToken(file: "vocab.txt", token: "red", firstLine: 2, line: 4),
             "vocab.txt:4: duplicate token \"red\" (first on line 2)"),
            ("composed and decomposed é are one token", "\u{E9}\ne\u{301}\n",
             .duplicateToken(file: "vocab.txt", token: "e\u{301}", firstLine: 1, line: 2),
             "vocab.txt:2: duplicate token \"e\u{301}\" (first on line 1)"),
            ("carriage return inside a line", "a\rb\n", .lineBreak(file: "vocab.txt", line: 1),
             "vocab.txt:1: token contains a line break"),
        ]
        for (name, text, expected, message) in cases {
            XCTAssertThrowsError(try Vocabulary(parsing: text, source: "vocab.txt"), name) { error in
                XCTAssertEqual(error as? VocabularyError, expected, name)
                XCTAssertEqual("\(error)", message, name)
                XCTAssertEqual(error.localizedDescription, message, name)
            }
        }
    }

    func testInMemoryTokensAreChecked() {
        XCTAssertThrowsError(try Vocabulary(tokens: ["a", "b\nc"], source: "answers")) { error in
            XCTAssertEqual(error as? VocabularyError, .lineBreak(file: "answers", line: 2))
        }
        XCTAssertThrowsError(try Vocabulary(tokens: [])) { error in
            XCTAssertEqual(error as? VocabularyError, .empty(file: "<tokens>"))
        }
    }

    func testSpecialIDsAndRequire() throws {
        let vocabulary = try Vocabulary(parsing: "<pad>\n<start>\n<end>\n<unk>\na\n", source: "vocab.txt")
        XCTAssertEqual(vocabulary.count, 5)
        XCTAssertEqual(vocabulary.padID, 0)
        XCTAssertEqual(vocabulary.startID, 1)
        XCTAssertEqual(vocabulary.endID, 2)
        XCTAssertEqual(vocabulary.unkID, 3)
        XCTAssertNoThrow(try vocabulary.require(Vocabulary.captioningSpecials))
        XCTAssertNil(vocabulary.token(at: -1))
        XCTAssertNil(vocabulary.token(at: 5))
        XCTAssertNil(vocabulary.id(of: "b"))

        let questions = try Vocabulary(parsing: "what\n<unk>\n", source: "questions.txt")
        XCTAssertNil(questions.padID)
        XCTAssertNil(questions.startID)
        XCTAssertNoThrow(try questions.require(Vocabulary.questionSpecials))
        XCTAssertThrowsError(try questions.require(Vocabulary.captioningSpecials)) { error in
            XCTAssertEqual(error as? VocabularyError,
                           .missingSpecialTokens(file: "questions.txt", tokens: ["<start>", "<end>"]))
            XCTAssertEqual("\(error)",
                           "questions.txt: missing required special tokens <start>, <end> (add each on a line of its own)")
        }
        let answers = try Vocabulary(parsing: "yes\nno\n", source: "answers.txt")
        XCTAssertThrowsError(try answers.require(Vocabulary.questionSpecials)) { error in
            XCTAssertEqual("\(error)",
                           "answers.txt: missing required special token <unk> (add each on a line of its own)")
        }
    }

    func testFileLoading() throws {
        let file = path("vocab.txt")
        try Data("<start>\r\n<end>\r\n<unk>\r\nred circle\r\n".utf8).write(to: URL(fileURLWithPath: file))
        let vocabulary = try Vocabulary(contentsOfFile: file)
        XCTAssertEqual(vocabulary.tokens, ["<start>", "<end>", "<unk>", "red circle"])
        XCTAssertEqual(vocabulary.source, file)

        let duplicate = path("dup.txt")
        try Data("a\nb\na\n".utf8).write(to: URL(fileURLWithPath: duplicate))
        XCTAssertThrowsError(try Vocabulary(contentsOfFile: duplicate)) { error in
            XCTAssertEqual("\(error)", "\(duplicate):3: duplicate token \"a\" (first on line 1)")
        }
    }

    func testFileErrors() throws {
        let invalid = path("invalid.txt")
        try Data([0x61, 0x0A, 0x62, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: invalid))
        XCTAssertThrowsError(try Vocabulary(contentsOfFile: invalid)) { error in
            XCTAssertEqual(error as? VocabularyError, .invalidUTF8(file: invalid, line: 2, offset: 3))
            XCTAssertEqual("\(error)", "\(invalid):2: invalid UTF-8 at byte offset 3")
        }
        let missing = path("missing.txt")
        XCTAssertThrowsError(try Vocabulary(contentsOfFile: missing)) { error in
            guard case .unreadable(let file, let reason)? = error as? VocabularyError else {
                return XCTFail("expected unreadable, got \(error)")
            }
            XCTAssertEqual(file, missing)
            XCTAssertFalse(reason.isEmpty)
            XCTAssertTrue("\(error)".hasPrefix("\(missing): cannot read vocabulary: "))
        }
        let vocabulary = try Vocabulary(tokens: ["<unk>"])
        let unwritable = path("no-such-directory/vocab.txt")
        XCTAssertThrowsError(try vocabulary.write(to: unwritable)) { error in
            guard case .unwritable(let file, _)? = error as? VocabularyError else {
                return XCTFail("expected unwritable, got \(error)")
            }
            XCTAssertEqual(file, unwritable)
        }
    }

    func testBuildKeepsFrequentWordsDeterministically() {
        let corpus = [
            "A red circle.",
            "a blue square",
            "A red square!",
            "The green triangle, left-of a square",
        ]
        let frequent = Vocabulary.build(from: corpus, minCount: 2)
        XCTAssertEqual(frequent.tokens, ["<start>", "<end>", "<unk>", "a", "square", "red"])

        let all = Vocabulary.build(from: corpus, minCount: 1,
                                   specials: [Vocabulary.padToken] + Vocabulary.captioningSpecials)
        XCTAssertEqual(all.tokens, ["<pad>", "<start>", "<end>", "<unk>", "a", "square", "red",
                                    "blue", "circle", "green", "left", "of", "the", "triangle"])
        XCTAssertEqual(all.padID, 0)
        XCTAssertEqual(Vocabulary.build(from: corpus.reversed(), minCount: 1,
                                        specials: [Vocabulary.padToken] + Vocabulary.captioningSpecials).tokens,
                       all.tokens)
    }

    func testBuildSkipsDuplicateAndUnwritableTokens() {
        let built = Vocabulary.build(from: ["<unk> x", "x\ny"], minCount: 1,
                                     tokenizer: { $0.split(separator: " ").map(String.init) + [""] },
                                     specials: ["<unk>", "<unk>", ""])
        XCTAssertEqual(built.tokens, ["<unk>", "x"])
    }

    func testBuildAnswersAsWholeLines() {
        let normalizer = Normalizer()
        let answers = Vocabulary.build(from: ["Red circle", "yes", "red circle", "no", "yes", "YES"],
                                       minCount: 1, tokenizer: { [normalizer.normalize($0)] }, specials: [])
        XCTAssertEqual(answers.tokens, ["yes", "red circle", "no"])
        XCTAssertEqual(answers.id(of: "red circle"), 1)
    }

    func testWriteRoundTrip() throws {
        let file = path("built.txt")
        let vocabulary = Vocabulary.build(from: ["école rouge", "Ｆｕｌｌ 🙂"], minCount: 1)
        try vocabulary.write(to: file)
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8),
                       "<start>\n<end>\n<unk>\nfull\nrouge\n\u{E9}cole\n🙂\n")
        XCTAssertEqual(try Vocabulary(contentsOfFile: file).tokens, vocabulary.tokens)
    }
}
