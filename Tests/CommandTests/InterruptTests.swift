import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// SIGINT and SIGTERM sent to the running executable: an export is either
/// complete or absent, a batch keeps only complete items and `--resume`
/// finishes it, and training keeps its last complete checkpoint, from which
/// `--resume` continues. Each test waits for a file-system sign that the
/// moment to interrupt has come (a temporary folder, a finished item, a saved
/// epoch) rather than for a fixed time.
final class InterruptTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("interrupt-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: scratch) }

    func model(_ name: String) -> String { CommandTests.fixtures.appendingPathComponent(name).path }
    func path(_ relative: String) -> String { scratch.appendingPathComponent(relative).path }

    func gradcam(_ arguments: [String], timeout: TimeInterval = 60) throws -> GradcamRun {
        try GradcamProcess(arguments, in: scratch).wait(timeout: timeout)
    }

    /// A ShapesWorld split in scratch/NAME (images NAME/images/000001.png, …).
    func shapes(_ name: String, count: Int, size: Int) throws {
        let run = try gradcam(["shapes", "--out", name, "--count", "\(count)", "--size", "\(size)", "--seed", "3", "--quiet"])
        XCTAssertEqual(run.status, 0, run.stderr)
    }

    /// Names in `relative` (a folder of scratch) that are temporary folders of atomic writes.
    func partials(in relative: String = "") -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path(relative))) ?? [])
            .filter { $0.hasPrefix(".") && $0.contains(".partial-") }
    }

    /// An export folder holds every file its manifest names.
    func assertCompleteExport(_ relative: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = path(relative)
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/manifest.json"))) as! [String: Any]
        let tokens = manifest["tokens"] as! [[String: Any]]
        XCTAssertFalse(tokens.isEmpty, file: file, line: line)
        for name in ["raw.npy", "cams.npy", "sheet.png", "report.html"] + tokens.map({ $0["overlay"] as! String }) {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/" + name), "\(relative) lacks \(name)", file: file, line: line)
        }
        let overlays = try FileManager.default.contentsOfDirectory(atPath: dir + "/overlays")
        XCTAssertEqual(overlays.count, tokens.count, file: file, line: line)
    }

    /// SIGINT while the export is being written is held until the folder is complete and
    /// renamed into place, then delivered: OUT is whole and no temporary folder is left.
    func testSIGINTWhileAnExportIsWrittenLeavesItWholeAndNoTemporaryFolder() throws {
        try shapes("data", count: 1, size: 256)  // 16 overlays of 256×256: about a second of writing
        let p = try GradcamProcess(["caption", "data/images/000001.png", "--model", model("captioner-vgg-fc7"),
                                    "--beam", "1", "--out", "out", "--quiet"], in: scratch)
        let writing = GradcamProcess.waitUntil(timeout: 60) { !partials().isEmpty || !p.process.isRunning }
        XCTAssertTrue(writing && p.process.isRunning, "the export finished before its temporary folder was seen")
        kill(p.pid, SIGINT)
        let run = p.wait(timeout: 60)
        XCTAssertTrue(run.signaled, "exit \(run.status): \(run.stderr)")
        XCTAssertEqual(run.status, SIGINT)
        try assertCompleteExport("out")
        XCTAssertEqual(partials(), [])
    }

    /// SIGINT before anything is written ends the run with no OUT at all.
    func testSIGINTBeforeTheExportLeavesNoOutput() throws {
        try shapes("data", count: 1, size: 64)
        // Explaining a 200-word caption (before any writing) takes seconds: T² decoder steps.
        let caption = Array(repeating: "red circle", count: 100).joined(separator: " ")
        let p = try GradcamProcess(["caption", "data/images/000001.png", "--model", model("captioner-vgg-fc7"),
                                    "--caption", caption, "--max-length", "200", "--out", "out"], in: scratch)
        usleep(300_000)
        XCTAssertTrue(p.process.isRunning && partials().isEmpty, "the run reached its writing before the signal")
        kill(p.pid, SIGINT)
        let run = p.wait(timeout: 60)
        XCTAssertTrue(run.signaled, "exit \(run.status): \(run.stderr)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out")))
        XCTAssertEqual(partials(), [])
    }

    /// SIGTERM during a batch keeps the complete items only; --resume does the rest.
    func testSIGTERMDuringABatchKeepsCompleteItemsAndResumeFinishes() throws {
        try shapes("data", count: 6, size: 256)
        let arguments = ["export", "--model", model("classifier-vgg"), "--images", "data/images", "--out", "batch", "--quiet"]
        let p = try GradcamProcess(arguments, in: scratch)
        let started = GradcamProcess.waitUntil(timeout: 60) {
            FileManager.default.fileExists(atPath: path("batch/000001/manifest.json")) || !p.process.isRunning
        }
        XCTAssertTrue(started && p.process.isRunning, "the batch ended before the signal: \(p.stderrSoFar)")
        kill(p.pid, SIGTERM)
        let run = p.wait(timeout: 60)
        XCTAssertTrue(run.signaled, "exit \(run.status): \(run.stderr)")
        XCTAssertEqual(run.status, SIGTERM)
        let kept = try FileManager.default.contentsOfDirectory(atPath: path("batch")).sorted()
        XCTAssertEqual(partials(in: "batch"), [])
        XCTAssertTrue((1..<6).contains(kept.count), "\(kept)")
        for item in kept { try assertCompleteExport("batch/" + item) }

        let rest = try gradcam(arguments + ["--resume"])
        XCTAssertEqual(rest.status, 0, rest.stderr)
        let all = try FileManager.default.contentsOfDirectory(atPath: path("batch")).sorted().filter { !$0.hasPrefix("index.") }
        XCTAssertEqual(all, (1...6).map { String(format: "%06d", $0) })
        for item in all { try assertCompleteExport("batch/" + item) }
    }

    /// SIGINT during training stops it at the next step with exit 130; the model folder
    /// holds the last complete epoch, loads, and --resume continues from that epoch.
    func testSIGINTDuringTrainingKeepsTheLastCheckpointAndResumeContinues() throws {
        try shapes("data", count: 16, size: 64)
        let train = ["train", "classifier", "--data", "data", "--out", "model", "--batch-size", "8", "--seed", "2"]
        let p = try GradcamProcess(train + ["--epochs", "100", "--quiet"], in: scratch)
        let saved = GradcamProcess.waitUntil(timeout: 60) {
            FileManager.default.fileExists(atPath: path("model/training-state.json")) || !p.process.isRunning
        }
        XCTAssertTrue(saved && p.process.isRunning, "training ended before its first checkpoint: \(p.stderrSoFar)")
        kill(p.pid, SIGINT)
        let run = p.wait(timeout: 60)
        XCTAssertFalse(run.signaled)
        XCTAssertEqual(run.status, 130, run.stderr)
        XCTAssertTrue(run.stderr.contains("interrupted by signal 2; the last complete output was kept"), run.stderr)
        XCTAssertEqual(partials(), [])

        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("model/training-state.json")))) as! [String: Any]
        let next = try XCTUnwrap(state["next_epoch"] as? Int)
        XCTAssertGreaterThanOrEqual(next, 1)
        let classify = try gradcam(["classify", "data/images/000001.png", "--model", "model"])
        XCTAssertEqual(classify.status, 0, classify.stderr)

        let resumed = try gradcam(train + ["--epochs", "\(next + 1)", "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("epoch \(next + 1)/\(next + 1)"), resumed.stdout)
        XCTAssertFalse(resumed.stdout.contains("epoch \(next)/"), "an epoch already done was trained again: \(resumed.stdout)")
        // A finished run keeps the optimiser's state: it can be resumed for more epochs, and
        // resuming it for no more epochs says so.
        let finished = try gradcam(train + ["--epochs", "\(next + 2)", "--resume"])
        XCTAssertEqual(finished.status, 0, finished.stderr)
        XCTAssertTrue(finished.stdout.contains("epoch \(next + 2)/\(next + 2)"), finished.stdout)
        let done = try gradcam(train + ["--epochs", "\(next + 2)", "--resume"])
        XCTAssertEqual(done.status, 1)
        XCTAssertTrue(done.stderr.contains("trained for \(next + 2) epochs already"), done.stderr)
        XCTAssertEqual(partials(), [])
    }
}
