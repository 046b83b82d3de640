import Explain
import Foundation
import Imaging
import Importers
import Models
import NN
import Tensor
import XCTest

/// `gradcam import` on checkpoints saved by the two codebases' own save calls
/// (Fixtures/make_import_fixtures.py), compared with the original code run in PyTorch.
final class ImportTests: XCTestCase {
    struct Values: Decodable {
        let shape: [Int]
        let data: [Float]
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("import-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private func fixture(_ path: String) -> String { Self.fixtures.appendingPathComponent(path).path }

    private func expected(_ family: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture(family + "/expected.json")))) as? [String: Any])
    }

    private func values(_ object: Any?) throws -> [Float] {
        let dict = try XCTUnwrap(object as? [String: Any])
        return try XCTUnwrap(dict["data"] as? [Double]).map(Float.init)
    }

    private func assertClose(_ actual: [Float], _ expected: [Float], absolute: Float = 0, relative: Float = 0, _ what: String) {
        XCTAssertEqual(actual.count, expected.count, what)
        let scale = expected.map(abs).max() ?? 0
        let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, max(absolute, relative * scale), "\(what): worst difference \(worst) (scale \(scale))")
    }

    /// sgrvinod's checkpoint, zip and legacy: the greedy caption (caption.py with k = 1),
    /// every word's log-probabilities and its Grad-CAM at the tutorial's module paths.
    func testShowAttendTellMatchesTheTutorial() throws {
        let e = try expected("sat")
        for checkpoint in ["BEST_checkpoint_fixture.pth.tar", "BEST_checkpoint_legacy.pth.tar"] {
            let out = folder.appendingPathComponent(checkpoint).path
            try ImportedModel.showAttendTell(checkpoint: fixture("sat/" + checkpoint), wordMap: fixture("sat/WORDMAP_fixture.json"))
                .write(to: out, force: false)
            let dir = try ModelDirectory(path: out)
            XCTAssertEqual(dir.config.backbone.arch, .resnet18)
            XCTAssertEqual(dir.config.backbone.adaptivePool, 14)
            XCTAssertEqual(dir.layerName("encoder.resnet.7"), "backbone.layer4")
            XCTAssertEqual(dir.originalName("backbone.layer4"), "encoder.resnet.7")
            XCTAssertEqual(dir.originalName("attention.encoder_att"), "decoder.attention.encoder_att")
            XCTAssertEqual(dir.layerName("decoder.attention.encoder_att"), "attention.encoder_att")
            let card = try String(contentsOfFile: out + "/MODEL_CARD.md", encoding: .utf8)
            XCTAssertTrue(card.contains("| `\(checkpoint)` | checkpoint | `"), card)

            let task = try CaptionTask(model: dir)
            let image = dir.input(for: try RGBImage(contentsOf: fixture("sat/image.png")))
            let greedy = try XCTUnwrap(e["greedy"] as? [Int])
            for (layer, key) in [("encoder.resnet.7", "raw:encoder.resnet.7"), ("encoder.adaptive_pool", "raw:encoder.adaptive_pool")] {
                let explained = try task.explain(image: image, caption: nil, beam: 1, nbest: 1, maxLength: nil, includeEnd: false,
                                                 score: .logprob, options: ExplainOptions(layer: dir.layerName(layer)))[0]
                XCTAssertEqual(explained.explanation.entries.map(\.id), greedy, "\(checkpoint): the greedy caption")
                assertClose(try XCTUnwrap(explained.explanation.raw).values, try values(e[key]), relative: 2e-3,
                            "\(checkpoint): per-word Grad-CAM at \(layer)")
            }
            // caption.py's beam search with k = 3 finds the same caption.
            let beam = try task.explain(image: image, caption: nil, beam: 3, nbest: 1, maxLength: nil, includeEnd: false,
                                        score: .logprob, options: ExplainOptions())[0]
            XCTAssertEqual(beam.explanation.entries.map(\.id), try XCTUnwrap(e["beam3"] as? [Int]), "\(checkpoint): beam 3")
            let end = try XCTUnwrap(task.vocabulary.endID)
            let logits = task.captioner.teacherForcedLogits(task.captioner.imageFeature(image, ForwardContext()),
                                                            words: greedy + [end], ForwardContext())
            assertClose(logits.logSoftmax(axis: 2).values, try values(e["logprobs"]), absolute: 2e-4, "\(checkpoint): log-probabilities")
        }
    }

    /// yunjey's tutorial: state_dicts in both layouts and a pickled Vocabulary; sample()'s
    /// caption, whose first token comes from the image step (here not `<start>`), each
    /// word's log-probabilities and Grad-CAM at encoder.resnet.7; BatchNorm1d folded.
    func testShowAndTellMatchesTheTutorial() throws {
        let e = try expected("show-and-tell")
        let out = folder.appendingPathComponent("show-and-tell").path
        try ImportedModel.showAndTell(encoder: fixture("show-and-tell/encoder-5-3000.pkl"), decoder: fixture("show-and-tell/decoder-5-3000.ckpt"),
                                      vocabulary: fixture("show-and-tell/vocab.pkl")).write(to: out, force: false)
        let dir = try ModelDirectory(path: out)
        XCTAssertEqual(dir.config.decoder?.imageStepPredicts, true)
        XCTAssertEqual(dir.config.decoder?.layers, 2)
        XCTAssertEqual(dir.layerName("encoder.resnet.7"), "backbone.layer4")
        XCTAssertEqual(dir.layerName("encoder.linear"), "image_proj")
        let task = try CaptionTask(model: dir)
        let image = dir.input(for: try RGBImage(contentsOf: fixture("show-and-tell/image.png")))
        let greedy = try XCTUnwrap(e["greedy"] as? [Int])
        let explained = try task.explain(image: image, caption: nil, beam: 1, nbest: 1, maxLength: nil, includeEnd: false,
                                         score: .logprob, options: ExplainOptions(layer: dir.layerName("encoder.resnet.7")))[0]
        XCTAssertEqual(explained.explanation.entries.map(\.id), greedy, "sample()'s caption")
        assertClose(try XCTUnwrap(explained.explanation.raw).values, try values(e["raw:encoder.resnet.7"]), relative: 2e-3,
                    "per-word Grad-CAM at encoder.resnet.7")
        let end = try XCTUnwrap(task.vocabulary.endID)
        let logits = task.captioner.teacherForcedLogits(task.captioner.imageFeature(image, ForwardContext()),
                                                        words: greedy + [end], ForwardContext())
        assertClose(logits.logSoftmax(axis: 2).values, try values(e["logprobs"]), absolute: 2e-4, "log-probabilities")
    }

    /// pytorch-vqa's checkpoints with the ResNet their features came from, in torchvision's
    /// layout and in the Caffe layout of the ported weights pytorch-vqa uses: the question's
    /// ids, the answer logits, the glimpses and the top three answers' Grad-CAM at backbone.layer4.
    func testPyTorchVQAMatchesTheOriginal() throws {
        for (folder, backbone, layout) in [("vqa", "resnet18-torchvision-fixture.pth", "torchvision"),
                                           ("vqa-caffe", "resnet50-caffe-fixture.pth", "caffe")] {
            let e = try expected(folder)
            let out = self.folder.appendingPathComponent(folder).path
            try ImportedModel.pytorchVQA(checkpoint: fixture(folder + "/2017-08-04_00.55.19.pth"), backbone: fixture(folder + "/" + backbone),
                                         layout: layout).write(to: out, force: false)
            let dir = try ModelDirectory(path: out)
            XCTAssertEqual(dir.config.backbone.layout?.rawValue, layout)
            let task = try VQATask(model: dir)
            let image = dir.input(for: try RGBImage(contentsOf: fixture(folder + "/image.png")))
            let question = try task.read(try XCTUnwrap(e["question"] as? String))
            XCTAssertEqual(question.tokens.map(\.id), try XCTUnwrap(e["ids"] as? [Int]))
            let ctx = ForwardContext()
            let feature = task.vqa.imageFeature(image, ctx), q = task.vqa.questionVectors([question.tokens.map(\.id)], ctx)
            assertClose(task.vqa.answerLogits(imageFeature: feature, question: q, ctx).values, try values(e["logits"]), absolute: 1e-4,
                        "\(layout): logits")
            assertClose(try XCTUnwrap(task.vqa.glimpses(imageFeature: feature, question: q, ctx)).values, try values(e["glimpses"]),
                        absolute: 1e-4, "\(layout): glimpses")
            let explained = try task.explain(image: image, question: question, answer: nil, top: 3, score: .logit,
                                             options: ExplainOptions(layer: "backbone.layer4"))
            XCTAssertEqual(explained.explanation.entries.map(\.id), try XCTUnwrap(e["top"] as? [Int]), layout)
            assertClose(try XCTUnwrap(explained.explanation.raw).values, try values(e["raw:backbone.layer4"]), relative: 2e-3,
                        "\(layout): top answers' Grad-CAM")
        }
    }

    /// tbmoon's basic_vqa: its checkpoint dict and vocabulary files; the question padded
    /// to 30 tokens as its data loader pads it, the answer logits and the top answers'
    /// Grad-CAM at its VGG's last ReLU (through the held-constant image norm).
    func testBasicVQAMatchesTheOriginal() throws {
        let e = try expected("basic-vqa")
        let out = folder.appendingPathComponent("basic-vqa").path
        try ImportedModel.basicVQA(checkpoint: fixture("basic-vqa/model-epoch-01.ckpt"), questions: fixture("basic-vqa/vocab_questions.txt"),
                                   answers: fixture("basic-vqa/vocab_answers.txt")).write(to: out, force: false)
        let dir = try ModelDirectory(path: out)
        XCTAssertEqual(dir.config.backbone.arch, .vgg)
        XCTAssertEqual(dir.config.questionEncoder?.padTo, 30)
        let layer = dir.layerName("img_encoder.model.features.35")
        XCTAssertEqual(layer, "backbone.features.35")
        let task = try VQATask(model: dir)
        let image = dir.input(for: try RGBImage(contentsOf: fixture("basic-vqa/image.png")))
        let question = try task.read(try XCTUnwrap(e["question"] as? String))
        XCTAssertEqual(question.tokens.map(\.id), try XCTUnwrap(e["ids"] as? [Int]))
        let ctx = ForwardContext()
        let logits = task.vqa.answerLogits(imageFeature: task.vqa.imageFeature(image, ctx),
                                           question: task.vqa.questionVectors([question.tokens.map(\.id)], ctx), ctx)
        assertClose(logits.values, try values(e["logits"]), absolute: 1e-4, "logits")
        let explained = try task.explain(image: image, question: question, answer: nil, top: 3, score: .logit,
                                         options: ExplainOptions(layer: layer))
        XCTAssertEqual(explained.explanation.entries.map(\.id), try XCTUnwrap(e["top"] as? [Int]))
        assertClose(try XCTUnwrap(explained.explanation.raw).values, try values(e["raw:img_encoder.model.features.35"]),
                    relative: 2e-3, "top answers' Grad-CAM")
    }

    /// Files of another family, a vocabulary of another size, a hostile pickle and a
    /// truncated checkpoint: each a message naming the file, and nothing written.
    func testBadInputWritesNothing() throws {
        let out = folder.appendingPathComponent("model").path
        func message(_ run: () throws -> ImportedModel) -> String {
            do {
                try run().write(to: out, force: false)
                XCTFail("imported")
            } catch { return "\(error)" }
            return ""
        }
        let sat = fixture("sat/BEST_checkpoint_fixture.pth.tar"), wordMap = fixture("sat/WORDMAP_fixture.json")
        let vqa = fixture("vqa/2017-08-04_00.55.19.pth"), resnet = fixture("vqa/resnet18-torchvision-fixture.pth")
        XCTAssertEqual(message { try .showAttendTell(checkpoint: vqa, wordMap: wordMap) },
                       "2017-08-04_00.55.19.pth: not a checkpoint of sgrvinod's Show, Attend and Tell tutorial (a dict whose 'encoder' "
                       + "and 'decoder' are pickled modules); it is a dict of 'name', 'tracker', 'config', 'weights', 'eval', 'vocab'")
        XCTAssertTrue(message { try .pytorchVQA(checkpoint: sat, backbone: resnet, layout: "torchvision") }
            .hasPrefix("BEST_checkpoint_fixture.pth.tar: not a checkpoint of pytorch-vqa"))
        XCTAssertTrue(message { try .pytorchVQA(checkpoint: vqa, backbone: sat, layout: "caffe") }
            .hasPrefix("BEST_checkpoint_fixture.pth.tar: not a torchvision ResNet's state_dict (no conv1.weight among its"))

        let smallMap = folder.appendingPathComponent("WORDMAP_small.json")
        try Data(#"{"<start>": 0, "<end>": 1, "<unk>": 2}"#.utf8).write(to: smallMap)
        XCTAssertEqual(message { try .showAttendTell(checkpoint: sat, wordMap: smallMap.path) },
                       "WORDMAP_small.json: the word map has 3 entries, but the model's embedding or output has 12 rows: a vocabulary of another model?")

        let hostile = folder.appendingPathComponent("BEST_checkpoint_hostile.pth.tar")
        try Data("cposix\nsystem\n(S'touch /tmp/owned'\ntR.".utf8).write(to: hostile)
        XCTAssertEqual(message { try .showAttendTell(checkpoint: hostile.path, wordMap: wordMap) },
                       "BEST_checkpoint_hostile.pth.tar: the pickle names posix.system at byte 0, a function that can run code or touch the system: refused (nothing from the file was executed)")

        let truncated = folder.appendingPathComponent("cut.pth.tar")
        try Data(contentsOf: URL(fileURLWithPath: sat)).prefix(100_000).write(to: truncated)
        XCTAssertTrue(message { try .showAttendTell(checkpoint: truncated.path, wordMap: wordMap) }.hasPrefix("cut.pth.tar: "))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing is written")
    }
}
