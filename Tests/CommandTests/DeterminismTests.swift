import Foundation
import XCTest

/// The same command on the same input writes byte-identical .npy files, run
/// after run and whatever the number of threads (OPENBLAS_NUM_THREADS: a large
/// product is split into bands of its output, never a sum, so each value is
/// computed in the same order; see Tests/ExplainTests/ConcurrencyTests.swift).
/// The PNG overlays are painted on several threads too, each image by one
/// thread, so they are byte-identical as well.
final class DeterminismTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("determinism-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: scratch) }

    func run(_ arguments: [String], threads: String? = nil) throws {
        let env = threads.map { ["OPENBLAS_NUM_THREADS": $0] } ?? [:]
        let run = try GradcamProcess(arguments, in: scratch, environment: env).wait(timeout: 60)
        XCTAssertEqual(run.status, 0, run.stderr)
    }

    func bytes(_ relative: String) throws -> Data {
        try Data(contentsOf: scratch.appendingPathComponent(relative))
    }

    func testSameCommandWritesIdenticalFiles() throws {
        let image = CommandTests.images.appendingPathComponent("rgb.jpg").path
        let captioner = CommandTests.fixtures.appendingPathComponent("captioner-resnet-2layer").path
        let vqa = CommandTests.fixtures.appendingPathComponent("vqa-hidden").path
        for (k, threads) in [nil, nil, "1"].enumerated() {
            try run(["caption", image, "--model", captioner, "--out", "caption-\(k)", "--method", "guided-gradcam", "--quiet"], threads: threads)
            try run(["vqa", image, "--model", vqa, "--question", "what color is the circle?", "--top", "3",
                     "--out", "vqa-\(k)", "--quiet"], threads: threads)
        }
        for name in ["raw.npy", "cams.npy", "guided.npy", "sheet.png"] {
            let first = try bytes("caption-0/" + name)
            XCTAssertGreaterThan(first.count, 128, name)
            XCTAssertEqual(try bytes("caption-1/" + name), first, "caption \(name) differs between two runs")
            XCTAssertEqual(try bytes("caption-2/" + name), first, "caption \(name) differs with OPENBLAS_NUM_THREADS=1")
        }
        for name in ["raw.npy", "cams.npy"] {
            let first = try bytes("vqa-0/" + name)
            XCTAssertEqual(try bytes("vqa-1/" + name), first, "vqa \(name) differs between two runs")
            XCTAssertEqual(try bytes("vqa-2/" + name), first, "vqa \(name) differs with OPENBLAS_NUM_THREADS=1")
        }
    }

    /// Data-parallel training writes the same weights run after run. With VQA's default batches
    /// (32 questions, about 8 images) a thread's share is too small for batch norm, and `train` says so.
    func testTrainingOnTwoThreadsIsRepeatableAndWarnsOfSmallShares() throws {
        try run(["shapes", "--out", "data", "--count", "12", "--size", "64", "--seed", "3", "--quiet"])
        func train(_ out: String, _ extra: [String] = []) throws -> GradcamRun {
            let arguments = ["train", "vqa", "--data", "data", "--out", out, "--epochs", "1", "--threads", "2", "--quiet"]
            let run = try GradcamProcess(arguments + extra, in: scratch).wait(timeout: 120)
            XCTAssertEqual(run.status, 0, run.stderr)
            return run
        }
        for k in 0..<2 {
            let run = try train("vqa-\(k)")
            XCTAssertTrue(run.stderr.contains("each thread's share of a batch holds 3.0 images"), run.stderr)
        }
        XCTAssertEqual(try bytes("vqa-1/weights.safetensors"), try bytes("vqa-0/weights.safetensors"))
        // One batch of all 12 images: 6 a share, enough.
        XCTAssertFalse(try train("vqa-big", ["--batch-size", "64"]).stderr.contains("share"))
    }
}
