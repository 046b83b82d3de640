import XCTest
import Text
@testable import ShapesWorld

final class VocabularyTests: XCTestCase {
    /// The repository's vocab/ folder.
    private let vocabFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("vocab")

    /// The committed files must equal what the grammar gives, so they never
    /// drift. After changing the grammar, regenerate them with
    /// `GRADCAM_WRITE_SHAPES_VOCAB=1 swift test --filter ShapesWorldTests.VocabularyTests`.
    func testVocabularyFilesMatchTheGrammar() throws {
        if ProcessInfo.processInfo.environment["GRADCAM_WRITE_SHAPES_VOCAB"] == "1" {
            try ShapesVocabularies.write(to: vocabFolder.path)
        }
        for (name, vocabulary) in try ShapesVocabularies.files() {
            let file = try Vocabulary(contentsOfFile: vocabFolder.appendingPathComponent(name).path)
            XCTAssertEqual(file.tokens, vocabulary.tokens, "vocab/\(name) differs from the grammar")
        }
        try ShapesVocabularies.captions().require([Vocabulary.padToken] + Vocabulary.captioningSpecials)
        try ShapesVocabularies.questions().require(Vocabulary.questionSpecials)
    }

    /// Every word and answer the generator produces is in the vocabularies, and
    /// every vocabulary word is produced (no dead entries).
    func testVocabulariesCoverExactlyTheGeneratedText() throws {
        var captionWords = Set<String>(), questionWords = Set<String>(), answers = Set<String>()
        for split in Split.allCases {
            let generator = try SceneGenerator(size: 32, seed: 15, split: split)
            for index in 0..<150 {
                let scene = generator.scene(index: index)
                scene.captions.forEach { captionWords.formUnion(Tokenizer.words(in: $0.text)) }
                scene.questions.forEach { questionWords.formUnion(Tokenizer.words(in: $0.text)) }
                answers.formUnion(scene.questions.map(\.answer))
            }
        }
        let specials: Set = ["<pad>", "<start>", "<end>", "<unk>"]
        XCTAssertEqual(captionWords, Set(ShapesVocabularies.captions().tokens).subtracting(specials))
        XCTAssertEqual(questionWords, Set(ShapesVocabularies.questions().tokens).subtracting(specials))
        XCTAssertEqual(answers.subtracting(["four"]), Set(ShapesVocabularies.answers).subtracting(["four"]))
        XCTAssertLessThanOrEqual(captionWords.union(questionWords).count, 50)
    }
}
