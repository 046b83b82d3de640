import Foundation
import XCTest

/// `gradcam import` run as a user runs it, on checkpoints saved by sgrvinod's tutorial's
/// and pytorch-vqa's own save calls (Tests/ImportersTests/Fixtures); the model it writes
/// is then used by `layers`, `caption --layer ORIGINAL_NAME` and `vqa`.
extension CommandTests {
    private func importFixture(_ name: String) -> String {
        Self.repository.appendingPathComponent("Tests/ImportersTests/Fixtures").appendingPathComponent(name).path
    }

    func testImportedCaptionerExplainsByOriginalLayerNames() throws {
        let out = scratch.appendingPathComponent("sat").path
        let run = try gradcam(["import", "show-attend-tell", "--checkpoint", importFixture("sat/BEST_checkpoint_legacy.pth.tar"),
                                        "--word-map", importFixture("sat/WORDMAP_fixture.json"), "--out", out])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("encoder: resnet18 (first stage 4 wide), AdaptiveAvgPool2d(14)"), run.stdout)
        let layers = try gradcam(["layers", out])
        XCTAssertTrue(layers.stdout.contains("encoder.resnet.7 "), layers.stdout)
        XCTAssertTrue(layers.stdout.contains("encoder.adaptive_pool "), layers.stdout)
        XCTAssertTrue(layers.stdout.contains("decoder.attention.encoder_att "), layers.stdout)
        XCTAssertFalse(layers.stdout.contains("backbone."), layers.stdout)
        let explained = scratch.appendingPathComponent("explained").path
        let caption = try gradcam(["caption", importFixture("sat/image.png"), "--model", out, "--layer", "encoder.resnet.7",
                                            "--beam", "3", "--out", explained])
        XCTAssertEqual(caption.status, 0, caption.stderr)
        // caption.py's beam search with k = 3 on the same checkpoint (expected.json's beam3).
        XCTAssertTrue(caption.stdout.hasPrefix("circle square circle a\n"), caption.stdout)
        XCTAssertTrue(caption.stdout.contains("(row, column) of encoder.resnet.7's 8×8 map"), caption.stdout)
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: explained + "/manifest.json"))) as! [String: Any]
        XCTAssertEqual(manifest["layer"] as? String, "backbone.layer4")
        // Again without --force: refused, the model kept.
        let again = try gradcam(["import", "show-attend-tell", "--checkpoint", importFixture("sat/BEST_checkpoint_fixture.pth.tar"),
                                          "--word-map", importFixture("sat/WORDMAP_fixture.json"), "--out", out])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("exists"), again.stderr)
    }

    func testImportedVQAModelAnswers() throws {
        let out = scratch.appendingPathComponent("vqa").path
        let run = try gradcam(["import", "pytorch-vqa", "--checkpoint", importFixture("vqa/2017-08-04_00.55.19.pth"),
                                        "--backbone", importFixture("vqa/resnet18-torchvision-fixture.pth"), "--backbone-layout", "torchvision", "--out", out])
        XCTAssertEqual(run.status, 0, run.stderr)
        let card = try String(contentsOfFile: out + "/MODEL_CARD.md", encoding: .utf8)
        XCTAssertTrue(card.contains("| `resnet18-torchvision-fixture.pth` | backbone | `"), card)
        let answer = try gradcam(["vqa", importFixture("vqa/image.png"), "--model", out,
                                           "--question", "what color is the circle left of the square?", "--top", "3"])
        XCTAssertEqual(answer.status, 0, answer.stderr)
        // The original's top answers (expected.json: yes, red, green), most probable first.
        let labels = answer.stdout.split(separator: "\n").filter { $0.contains("%") }.prefix(3).map { $0.split(separator: " ")[1] }
        XCTAssertEqual(labels, ["yes", "red", "green"], answer.stdout)
    }

    func testHostileCheckpointIsRefusedAndNothingWritten() throws {
        let hostile = scratch.appendingPathComponent("BEST_checkpoint_x.pth.tar")
        try Data([0x80, 0x02] + Array("cbuiltins\nexec\nX".utf8) + [5, 0, 0, 0] + Array("pass!".utf8) + [0x85] + Array("R.".utf8))
            .write(to: hostile)
        let out = scratch.appendingPathComponent("never").path
        let run = try gradcam(["import", "show-attend-tell", "--checkpoint", hostile.path,
                                        "--word-map", importFixture("sat/WORDMAP_fixture.json"), "--out", out])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stderr.contains("names builtins.exec at byte"), run.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}
