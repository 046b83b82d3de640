import XCTest
import Imaging
@testable import ShapesWorld
import Text

final class DatasetTests: XCTestCase {
    let files = ["captions.json", "instances.json", "questions.json", "answers.json", "labels.json"]

    /// Every question the generator asks is one of the forms a split (and a model trained on
    /// it) lists; near misses are not.
    func testGeneratedQuestionsMatchTheListedForms() throws {
        let forms = try QuestionForms(parsing: Grammar.questionForms, source: "forms")
        let generator = try SceneGenerator(seed: 12)
        var kinds = Set<String>()
        for index in 0..<300 {
            for q in generator.scene(index: index).questions {
                XCTAssertTrue(forms.matches(Tokenizer.words(in: q.text)), q.text)
                kinds.insert("\(q.type)")
            }
        }
        XCTAssertEqual(kinds.count, 5, "every type of question was asked: \(kinds)")
        for offForm in ["how many objects are there?", "is there a orange square?", "what color is the red circle?",
                        "is the red circle left the blue square?", "what is left of the square?"] {
            XCTAssertFalse(forms.matches(Tokenizer.words(in: offForm)), offForm)
        }
    }

    func testWrittenSplitReadsBack() throws {
        let folder = try temporaryFolder(self).appendingPathComponent("train")
        var reported: [(Int, Int)] = []
        try writeDataset(to: folder.path, count: 10, seed: 11, progress: { reported.append(($0, $1)); return true })
        XCTAssertEqual(reported.map(\.0), Array(1...10))
        XCTAssertEqual(try String(contentsOf: folder.appendingPathComponent(QuestionForms.fileName), encoding: .utf8), Grammar.questionForms)
        // Stopping from the progress callback removes the partial split.
        let stopped = folder.deletingLastPathComponent().appendingPathComponent("stopped")
        XCTAssertThrowsError(try writeDataset(to: stopped.path, count: 10, seed: 11, progress: { done, _ in done < 4 })) {
            XCTAssertEqual($0 as? DatasetError, .cancelled)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.deletingLastPathComponent().path), ["train"],
                       "no temporary folder is left behind")
        let generator = try SceneGenerator(seed: 11)
        let scenes = (0..<10).map(generator.scene(index:))

        let captions = try CaptionDataset(directory: folder.path)
        XCTAssertEqual(captions.entries.count, 10)
        XCTAssertEqual(captions.images.map(\.fileName), (1...10).map { String(format: "%06d.png", $0) })
        for (entry, scene) in zip(captions.entries, scenes) {
            XCTAssertEqual(entry.captions.map(\.text), scene.captions.map(\.text))
            XCTAssertEqual(entry.captions.map(\.form), scene.captions.map(\.form))
            XCTAssertEqual(try RGBImage(contentsOf: entry.image.path), scene.image)
            XCTAssertEqual(entry.image.cornerMark, nil)
        }

        let vqa = try VQADataset(directory: folder.path)
        XCTAssertEqual(vqa.items.count, scenes.map(\.questions.count).reduce(0, +))
        let masks = try InstanceMasks(directory: folder.path)
        XCTAssertEqual(masks.instances.count, scenes.map(\.objects.count).reduce(0, +))
        for item in vqa.items {
            let scene = scenes[item.image.id - 1]
            let question = try XCTUnwrap(scene.questions.first { $0.text == item.question })
            XCTAssertEqual(item.answer, question.answer)
            XCTAssertEqual(item.answers, Array(repeating: question.answer, count: 10))
            XCTAssertEqual(item.questionType, question.type.rawValue)
            // object_ids are instance annotation ids whose masks are the referred objects' masks.
            let referred = try XCTUnwrap(item.objectIDs).map { try XCTUnwrap(masks.instance(id: $0)) }
            XCTAssertEqual(try referred.map { try masks.mask(of: $0) }, question.objectIDs.map { scene.objects[$0].mask })
        }
        for scene in scenes {
            let instances = masks.instances(ofImage: scene.index + 1)
            XCTAssertEqual(instances.map(\.category), scene.objects.map(\.shape.rawValue))
            XCTAssertEqual(instances.map { $0.attributes["color"] }, scene.objects.map(\.color.rawValue))
            XCTAssertEqual(instances.map(\.area), scene.objects.map { Double($0.area) })
            XCTAssertEqual(instances.map(\.bbox), scene.objects.map { [$0.box.x, $0.box.y, $0.box.width, $0.box.height].map(Double.init) })
        }

        let labels = try LabelDataset(directory: folder.path)
        XCTAssertEqual(labels.categories, ShapesVocabularies.classes)
        XCTAssertEqual(labels.entries.map(\.label), scenes.map(\.largestObject.shape.rawValue))
        XCTAssertEqual(labels.entries.map(\.classIndex), labels.entries.map { labels.categories.firstIndex(of: $0.label) })
    }

    func testWritingIsDeterministic() throws {
        let root = try temporaryFolder(self)
        let a = root.appendingPathComponent("a"), b = root.appendingPathComponent("b"), c = root.appendingPathComponent("c")
        try writeDataset(to: a.path, count: 3, seed: 12, split: .heldout, bias: .markAtRandom)
        try writeDataset(to: b.path, count: 3, seed: 12, split: .heldout, bias: .markAtRandom)
        try writeDataset(to: c.path, count: 3, seed: 13, split: .heldout, bias: .markAtRandom)
        for name in files + ["images/000001.png", "images/000003.png"] {
            let first = try Data(contentsOf: a.appendingPathComponent(name))
            XCTAssertEqual(first, try Data(contentsOf: b.appendingPathComponent(name)), name)
            XCTAssertNotEqual(first, try Data(contentsOf: c.appendingPathComponent(name)), name)
        }
        XCTAssertNotNil(try CaptionDataset(directory: a.path).images.first?.cornerMark)
    }

    func testRefusesToOverwriteAndRejectsBadArguments() throws {
        let root = try temporaryFolder(self)
        let existing = root.appendingPathComponent("existing")
        try FileManager.default.createDirectory(at: existing, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: existing.appendingPathComponent("notes.txt"))
        XCTAssertThrowsError(try writeDataset(to: existing.path, count: 1, seed: 1)) { error in
            XCTAssert("\(error)".contains("already exists"), "\(error)")
        }
        XCTAssertEqual(try String(contentsOf: existing.appendingPathComponent("notes.txt"), encoding: .utf8), "keep")
        XCTAssertThrowsError(try writeDataset(to: root.appendingPathComponent("none").path, count: 0, seed: 1))
        // An empty folder is fine: it is replaced.
        let empty = root.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try writeDataset(to: empty.path, count: 1, seed: 1)
        XCTAssertEqual(try LabelDataset(directory: empty.path).entries.count, 1)
    }

    // MARK: Errors

    /// A written 3-image split whose files a test then breaks.
    private func split() throws -> URL {
        let folder = try temporaryFolder(self).appendingPathComponent("split")
        try writeDataset(to: folder.path, count: 3, seed: 14)
        return folder
    }

    private func edit(_ folder: URL, _ name: String, _ change: (inout [String: Any]) -> Void) throws {
        let url = folder.appendingPathComponent(name)
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        change(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: url)
    }

    private func assertError(_ expression: @autoclosure () throws -> Any, mentions parts: [String],
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            XCTAssert(error is DatasetError, "\(error)", file: file, line: line)
            for part in parts {
                XCTAssert("\(error)".contains(part), "\"\(error)\" does not mention \(part)", file: file, line: line)
            }
        }
    }

    func testMissingImageFilesAreCountedAndNamed() throws {
        let folder = try split()
        for name in ["000001.png", "000003.png"] {
            try FileManager.default.removeItem(at: folder.appendingPathComponent("images/\(name)"))
        }
        for reader in [{ try CaptionDataset(directory: folder.path) as Any }, { try InstanceMasks(directory: folder.path) },
                       { try LabelDataset(directory: folder.path) }, { try VQADataset(directory: folder.path) }] {
            assertError(try reader(), mentions: ["2 of 3", "000001.png", "000003.png", "images"])
        }
    }

    func testUnknownImageIDNamesTheFileAndTheAnnotation() throws {
        let folder = try split()
        try edit(folder, "captions.json") { json in
            var annotations = json["annotations"] as? [[String: Any]] ?? []
            annotations[0]["image_id"] = 99
            json["annotations"] = annotations
        }
        assertError(try CaptionDataset(directory: folder.path), mentions: ["captions.json", "caption 10", "image id 99"])
        try edit(folder, "questions.json") { json in
            var questions = json["questions"] as? [[String: Any]] ?? []
            questions[1]["image_id"] = 42
            json["questions"] = questions
        }
        assertError(try VQADataset(directory: folder.path), mentions: ["questions.json", "question 11", "image id 42", "image list of", "captions.json"])
        try edit(folder, "instances.json") { json in
            var annotations = json["annotations"] as? [[String: Any]] ?? []
            annotations[0]["image_id"] = 7
            json["annotations"] = annotations
        }
        assertError(try InstanceMasks(directory: folder.path), mentions: ["instances.json", "annotation 10", "image id 7"])
    }

    func testEmptySplitIsReported() throws {
        let folder = try split()
        try edit(folder, "captions.json") { $0["images"] = [Any]() }
        assertError(try CaptionDataset(directory: folder.path), mentions: ["captions.json", "empty split", "image list"])
        try edit(folder, "labels.json") { $0["images"] = [Any]() }
        assertError(try LabelDataset(directory: folder.path), mentions: ["labels.json", "empty split"])
        try edit(folder, "questions.json") { $0["questions"] = [Any]() }
        try edit(folder, "answers.json") { $0["annotations"] = [Any]() }
        assertError(try VQADataset(questionsFile: folder.appendingPathComponent("questions.json").path,
                                   answersFile: folder.appendingPathComponent("answers.json").path,
                                   imagesFile: folder.appendingPathComponent("instances.json").path,
                                   imagesDirectory: folder.appendingPathComponent("images").path),
                    mentions: ["questions.json", "no questions"])
    }

    func testMalformedAndMissingFilesAreNamed() throws {
        let folder = try split()
        try Data(#"{"images": [ {"id": 1,"#.utf8).write(to: folder.appendingPathComponent("captions.json"))
        assertError(try CaptionDataset(directory: folder.path), mentions: ["captions.json", "malformed JSON", "end of file"])
        try edit(folder, "labels.json") { json in
            var images = json["images"] as? [[String: Any]] ?? []
            images[2]["file_name"] = nil
            json["images"] = images
        }
        assertError(try LabelDataset(directory: folder.path),
                    mentions: ["labels.json", "missing key \"file_name\"", "images[2]"])
        try FileManager.default.removeItem(at: folder.appendingPathComponent("answers.json"))
        assertError(try VQADataset(directory: folder.path), mentions: ["answers.json", "not found"])
    }

    func testInconsistentFilesAreReported() throws {
        let folder = try split()
        try edit(folder, "labels.json") { json in
            var images = json["images"] as? [[String: Any]] ?? []
            images[0]["label"] = "hexagon"
            json["images"] = images
        }
        assertError(try LabelDataset(directory: folder.path), mentions: ["labels.json", "image 1", "hexagon"])
        try edit(folder, "answers.json") { json in
            var annotations = json["annotations"] as? [[String: Any]] ?? []
            annotations.removeFirst()
            json["annotations"] = annotations
        }
        assertError(try VQADataset(directory: folder.path), mentions: ["answers.json", "no answer", "question 10"])
        try edit(folder, "instances.json") { json in
            var annotations = json["annotations"] as? [[String: Any]] ?? []
            annotations[0]["segmentation"] = ["size": [64, 64], "counts": [5, 3]]
            json["annotations"] = annotations
        }
        let masks = try InstanceMasks(directory: folder.path)
        assertError(try masks.mask(of: masks.instances[0]), mentions: ["instances.json", "annotation 10", "64×64"])
    }
}
