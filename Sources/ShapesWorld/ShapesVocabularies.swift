import Foundation
import Text

/// The vocabularies of ShapesWorld models, derived from the grammar's word
/// lists (not from a sample of scenes), so they cover every word the
/// generator can produce. The same files live in `vocab/` of the repository.
public enum ShapesVocabularies {
    /// Captioning `vocab.txt`: `<pad>`, `<start>`, `<end>`, `<unk>`, then the words alphabetically.
    public static func captions() -> Vocabulary {
        Vocabulary.build(from: Array(Set(Grammar.captionWords)), minCount: 1,
                         specials: [Vocabulary.padToken] + Vocabulary.captioningSpecials, source: "shapes-captions.txt")
    }

    /// VQA `questions.txt`: `<unk>`, then the words alphabetically.
    public static func questions() -> Vocabulary {
        Vocabulary.build(from: Array(Set(Grammar.questionWords)), minCount: 1,
                         specials: Vocabulary.questionSpecials, source: "shapes-questions.txt")
    }

    /// VQA `answers.txt`: yes, no, zero…four, the colours, the shapes.
    public static var answers: [String] { Grammar.answers }

    /// Classifier `classes.txt`: the shapes in `Shape.allCases` order (labels.json's categories).
    public static var classes: [String] { Shape.allCases.map(\.rawValue) }

    /// The file names in `vocab/` and their contents.
    public static func files() throws(VocabularyError) -> [(name: String, vocabulary: Vocabulary)] {
        [
            ("shapes-captions.txt", captions()),
            ("shapes-questions.txt", questions()),
            ("shapes-answers.txt", try Vocabulary(tokens: answers, source: "shapes-answers.txt")),
            ("shapes-classes.txt", try Vocabulary(tokens: classes, source: "shapes-classes.txt")),
        ]
    }

    /// Writes the four files into `directory` (regenerates `vocab/`).
    public static func write(to directory: String) throws(VocabularyError) {
        for (name, vocabulary) in try files() {
            try vocabulary.write(to: URL(fileURLWithPath: directory).appendingPathComponent(name).path)
        }
    }
}
