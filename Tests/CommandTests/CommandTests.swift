import Foundation
import XCTest

/// The built `gradcam` executable, run end to end on real files; what it
/// writes is read back (with numpy where Python has it).
final class CommandTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = repository.appendingPathComponent("Tests/ModelsTests/Fixtures")
    static let images = repository.appendingPathComponent("Tests/ImagingTests/Fixtures")
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("command-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: scratch) }

    /// The executable beside the test bundle.
    static var executable: URL {
        var dir = Bundle(for: CommandTests.self).bundleURL
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("gradcam").path) && dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("gradcam")
    }

    struct Run { let status: Int32; let stdout: String; let stderr: String }

    @discardableResult
    func gradcam(_ arguments: [String], environment: [String: String] = [:]) throws -> Run {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments
        process.currentDirectoryURL = scratch
        process.environment = commandEnvironment(in: scratch, adding: environment)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                   stderr: String(decoding: e, as: UTF8.self))
    }

    func model(_ name: String) -> String { Self.fixtures.appendingPathComponent(name).path }
    var image: String { Self.images.appendingPathComponent("rgb.jpg").path }

    func testCaptionExportIsComplete() throws {
        let out = scratch.appendingPathComponent("caption out").path  // a space in the name
        let run = try gradcam(["caption", image, "--model", model("captioner-vgg-fc7"), "--out", out, "--beam", "2"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("report: \(out)/report.html"), run.stdout)
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/manifest.json"))) as! [String: Any]
        XCTAssertEqual(manifest["format"] as? String, "gradcam-export/1")
        XCTAssertEqual(manifest["task"] as? String, "captioning")
        XCTAssertEqual(manifest["layer"] as? String, "backbone.features.4")
        XCTAssertEqual(manifest["score"] as? String, "logprob")
        XCTAssertEqual((manifest["beam"] as? [String: Any])?["size"] as? Int, 2)
        // The weights' digest is sha256sum's.
        let sum = Process(), printed = Pipe()
        sum.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        sum.arguments = [model("captioner-vgg-fc7") + "/weights.safetensors"]
        sum.standardOutput = printed
        try sum.run()
        sum.waitUntilExit()
        let digest = String(String(decoding: printed.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64))
        XCTAssertEqual((manifest["model"] as? [String: Any])?["sha256"] as? String, digest)
        let tokens = manifest["tokens"] as! [[String: Any]]
        for name in ["raw.npy", "cams.npy", "sheet.png", "report.html"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + name), name)
        }
        for t in tokens { XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + (t["overlay"] as! String))) }
        try checkWithNumpy(out + "/cams.npy", shape: [tokens.count, 32, 32])
        // The same command again refuses to overwrite, and --force replaces.
        let again = try gradcam(["caption", image, "--model", model("captioner-vgg-fc7"), "--out", out])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("exists"), again.stderr)
        XCTAssertEqual(try gradcam(["caption", image, "--model", model("captioner-vgg-fc7"), "--out", out, "--force"]).status, 0)
    }

    /// `--nbest` writes OUT/beam-0, OUT/beam-1 all at once: nothing else appears
    /// beside OUT, and an existing OUT is refused before anything is written.
    func testNBestHypothesesAreOneExportFolder() throws {
        let out = scratch.appendingPathComponent("beams").path
        let arguments = ["caption", image, "--model", model("captioner-vgg-fc7"), "--beam", "3", "--nbest", "2", "--out", out]
        let run = try gradcam(arguments)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).sorted(), ["beam-0", "beam-1"])
        for k in 0..<2 {
            XCTAssertTrue(run.stdout.contains("report: \(out)/beam-\(k)/report.html"), run.stdout)
            let manifest = try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: "\(out)/beam-\(k)/manifest.json"))) as! [String: Any]
            XCTAssertEqual((manifest["beam"] as? [String: Any])?["rank"] as? Int, k)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.path).filter { $0.contains("beams") }, ["beams"],
                       "a temporary folder was left beside OUT")
        let again = try gradcam(arguments)
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("exists"), again.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).sorted(), ["beam-0", "beam-1"])
    }

    func testGivenCaptionWithUnknownWordsWarnsAndJSONPrintsTheManifest() throws {
        let run = try gradcam(["caption", image, "--model", model("captioner-vgg-fc7"), "--caption", "A red Zebra", "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("zebra"), run.stderr)
        let manifest = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
        XCTAssertNil(manifest["beam"])
        XCTAssertEqual((manifest["tokens"] as! [[String: Any]]).map { $0["token"] as! String }, ["a", "red", "<unk>"])
    }

    /// `--whole`: the paper's whole-caption map as a last entry of the same export, its
    /// log-probability the words' sum; refused for a method without a layer map.
    func testWholeCaptionIsALastFlaggedEntry() throws {
        let out = scratch.appendingPathComponent("whole").path
        let run = try gradcam(["caption", image, "--model", model("sat-vgg"), "--caption", "a red circle", "--whole", "--out", out])
        XCTAssertEqual(run.status, 0, run.stderr)
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/manifest.json"))) as! [String: Any]
        let tokens = manifest["tokens"] as! [[String: Any]]
        XCTAssertEqual(tokens.map { $0["token"] as! String }, ["a", "red", "circle", "(whole caption)"])
        XCTAssertEqual(tokens.last?["whole_caption"] as? Bool, true)
        XCTAssertNil(tokens.first?["whole_caption"])
        let words = tokens.dropLast().map { $0["logprob"] as! Double }
        XCTAssertEqual(tokens.last?["logprob"] as! Double, words.reduce(0, +), accuracy: 1e-4)
        try checkWithNumpy(out + "/cams.npy", shape: [4, 32, 32])
        try checkWithNumpy(out + "/attention.npy", shape: [4, 10, 10])
        let guided = try gradcam(["caption", image, "--model", model("sat-vgg"), "--whole", "--method", "guided-backprop"])
        XCTAssertEqual(guided.status, 1)
        XCTAssertTrue(guided.stderr.contains("--whole explains the caption's log-probability at a layer; guided-backprop has no layer map"),
                      guided.stderr)
    }

    /// `--aug-smooth` and `--eigen-smooth` are recorded in the manifest and the report, and refused without a layer map.
    func testSmoothingIsRecorded() throws {
        let out = scratch.appendingPathComponent("smooth").path
        let run = try gradcam(["classify", image, "--model", model("classifier-vgg"), "--aug-smooth", "--eigen-smooth", "--out", out])
        XCTAssertEqual(run.status, 0, run.stderr)
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/manifest.json"))) as! [String: Any]
        XCTAssertEqual(manifest["aug_smooth"] as? Bool, true)
        XCTAssertEqual(manifest["eigen_smooth"] as? Bool, true)
        let report = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        XCTAssertTrue(report.contains("aug-smooth, eigen-smooth"), "the report names the smoothing")
        let plain = try gradcam(["classify", image, "--model", model("classifier-vgg"), "--json"])
        let plainManifest = try JSONSerialization.jsonObject(with: Data(plain.stdout.utf8)) as! [String: Any]
        XCTAssertNil(plainManifest["aug_smooth"], "an unsmoothed manifest is export-format's own")
        let guided = try gradcam(["classify", image, "--model", model("classifier-vgg"), "--method", "guided-backprop", "--eigen-smooth"])
        XCTAssertEqual(guided.status, 1)
        XCTAssertTrue(guided.stderr.contains("--eigen-smooth smooths a map at a layer; guided-backprop has none"), guided.stderr)
    }

    /// `--faithfulness`: each entry's deletion and insertion AUC and the random order's, and ROAD, printed and in the manifest.
    func testFaithfulnessIsPrintedAndRecorded() throws {
        let out = scratch.appendingPathComponent("faithful").path
        let run = try gradcam(["classify", image, "--model", model("classifier-vgg"), "--top", "2", "--faithfulness", "--out", out])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stdout.components(separatedBy: "deletion ").count - 1, 2, run.stdout)
        XCTAssertEqual(run.stdout.components(separatedBy: "ROAD ").count - 1, 2, run.stdout)
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/manifest.json"))) as! [String: Any]
        for token in manifest["tokens"] as! [[String: Any]] {
            let f = try XCTUnwrap(token["faithfulness"] as? [String: Double], "\(token)")
            XCTAssertEqual(Set(f.keys), ["deletion", "insertion", "deletion_random", "insertion_random", "road_morf", "road_lerf", "road"])
            XCTAssertTrue(f.values.allSatisfy(\.isFinite), "\(f)")
            XCTAssertEqual(f["road"]!, (f["road_lerf"]! - f["road_morf"]!) / 2, accuracy: 1e-5, "\(f)")
            XCTAssertNotEqual(f["road_morf"], 0, "\(f)")
        }
    }

    /// `sanity`: the cascade's table and verdicts; --strict fails for a gradient-free method; --out writes the sheet.
    func testSanityNamesAMethodThatIgnoresTheModel() throws {
        let out = scratch.appendingPathComponent("sanity").path
        let run = try gradcam(["sanity", model("sat-vgg"), image, "--caption", "a red circle", "--method", "gradcam,eigencam",
                               "--strict", "--out", out])
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertTrue(run.stdout.contains("cascading randomisation") && run.stdout.contains("independent randomisation"), run.stdout)
        XCTAssertTrue(run.stdout.contains("eigencam: FAILS (mean Spearman 1.000 once everything above backbone.features.7 is random"),
                      run.stdout)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/sanity.json"))) as! [String: Any]
        XCTAssertEqual((json["steps"] as! [Any]).count, 2 * 2 * 10, "two tests, two methods, ten groups")
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/cascade.png"))
        let nothingAbove = try gradcam(["sanity", model("classifier-resnet18"), image, "--layer", "fc"])
        XCTAssertEqual(nothingAbove.status, 1)
        XCTAssertTrue(nothingAbove.stderr.contains("nothing lies above fc to randomise"), nothingAbove.stderr)
    }

    func testVQAAndClassify() throws {
        let vqa = try gradcam(["vqa", image, "--model", model("vqa-hidden"), "--question", "What color is the circle?", "--top", "2",
                               "--out", scratch.appendingPathComponent("v").path])
        XCTAssertEqual(vqa.status, 0, vqa.stderr)
        XCTAssertTrue(vqa.stdout.contains("%"), vqa.stdout)
        let m = try JSONSerialization.jsonObject(with: Data(contentsOf: scratch.appendingPathComponent("v/manifest.json"))) as! [String: Any]
        XCTAssertEqual((m["tokens"] as! [[String: Any]]).count, 2)
        // The report records the command as it can be pasted back into a shell.
        let report = try String(contentsOf: scratch.appendingPathComponent("v/report.html"), encoding: .utf8)
        XCTAssertTrue(report.contains("--question &#39;What color is the circle?&#39; --top 2"), report)
        XCTAssertNotNil(m["question"])
        let unknown = try gradcam(["vqa", image, "--model", model("vqa-hidden"), "--question", "🙂 zzz qqq"])
        XCTAssertEqual(unknown.status, 0, unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("is in the model's vocabulary (all read as <unk>)")
                      && unknown.stderr.contains("a guess from the image alone"), unknown.stderr)
        let partly = try gradcam(["vqa", image, "--model", model("vqa-hidden"), "--question", "what colour is the circle?"])
        XCTAssertTrue(partly.stderr.contains("read as <unk>: colour (5 of 6 words known)"), partly.stderr)
        // A model that lists its question forms names a question of another form; `models --forms` lists them.
        let forms = scratch.appendingPathComponent("vqa-with-forms")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: model("vqa-hidden")), to: forms)
        try Data("what color is the {circle|square}?\n".utf8).write(to: forms.appendingPathComponent("question_forms.txt"))
        let offForm = try gradcam(["vqa", image, "--model", forms.path, "--question", "what is the color of the circle?"])
        XCTAssertEqual(offForm.status, 0, offForm.stderr)
        XCTAssertTrue(offForm.stderr.contains("\"what is the color of the circle?\" is none of the question forms the model was trained on"),
                      offForm.stderr)
        let inForm = try gradcam(["vqa", image, "--model", forms.path, "--question", "What color is the square"])
        XCTAssertFalse(inForm.stderr.contains("question forms"), inForm.stderr)
        let listed = try gradcam(["models", forms.path, "--forms"])
        XCTAssertTrue(listed.stdout.contains("question forms:\n    what color is the {circle|square}?"), listed.stdout)
        let wrong = try gradcam(["vqa", image, "--model", model("vqa-hidden"), "--question", "what?", "--answer", "bleu"])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stderr.contains("\"blue\""), wrong.stderr)
        // An attention model's export holds every answer's glimpses: two hops of three, over its 5×5 cells.
        let attention = try gradcam(["vqa", image, "--model", model("saaa-vgg-relations"), "--question", "what is left of the square?",
                                     "--top", "2", "--out", scratch.appendingPathComponent("a").path])
        XCTAssertEqual(attention.status, 0, attention.stderr)
        let data = try Data(contentsOf: scratch.appendingPathComponent("a/attention.npy"))
        XCTAssertTrue(String(decoding: data.prefix(128), as: UTF8.self).contains("'shape': (2, 6, 5, 5)"))
        let weights = data.dropFirst(10 + Int(data[8]) + Int(data[9]) << 8).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        for g in 0..<12 { XCTAssertEqual(weights[(g * 25)..<((g + 1) * 25)].reduce(0, +), 1, accuracy: 1e-4, "glimpse \(g % 6)") }
        let am = try JSONSerialization.jsonObject(with: Data(contentsOf: scratch.appendingPathComponent("a/manifest.json"))) as! [String: Any]
        XCTAssertEqual(am["glimpses"] as? Int, 6)
        let classify = try gradcam(["classify", image, "--model", model("classifier-resnet18"), "--top", "3", "--method", "gradcam++"])
        XCTAssertEqual(classify.status, 0, classify.stderr)
        XCTAssertEqual(classify.stdout.split(separator: "\n").filter { $0.contains("%") }.count, 3, classify.stdout)
    }

    /// Every user error: its exit code, a fragment of its message, and nothing written.
    func testBadInputs() throws {
        let out = scratch.appendingPathComponent("never").path
        let garbage = scratch.appendingPathComponent("garbage.jpg").path
        try Data("this is not an image".utf8).write(to: URL(fileURLWithPath: garbage))
        let cases: [([String], Int32, String)] = [
            (["caption", "/no/such.png", "--model", model("captioner-vgg-fc7"), "--out", out], 1, "/no/such.png"),
            (["caption", Self.images.path, "--model", model("captioner-vgg-fc7"), "--out", out], 1, "directory"),
            (["caption", garbage, "--model", model("captioner-vgg-fc7"), "--out", out], 1, "not a JPEG or PNG"),
            (["caption", image, "--model", model("vqa-flat"), "--out", out], 1, "vqa model"),
            (["caption", image, "--model", model("captioner-vgg-fc7"), "--beam", "0"], 64, "--beam"),
            (["caption", image, "--model", model("captioner-vgg-fc7"), "--method", "magic"], 64, "gradcam++"),
            (["caption", image, "--model", model("captioner-vgg-fc7"), "--layer", "backbone.features.44", "--out", out], 1, "backbone.features.4"),
            (["caption", image, "--model", model("captioner-vgg-fc7"), "--layer", "lstm", "--out", out], 1, "not computed from the image"),
            (["vqa", image, "--model", model("vqa-flat"), "--question", "what?", "--top", "0"], 64, "--top"),
            (["vqa", image, "--model", model("vqa-flat"), "--question", "... !!", "--out", out], 1, "no words"),
            (["classify", image, "--model", model("classifier-vgg"), "--class", "zebra"], 1, "class0"),
            (["export", "--model", model("classifier-vgg"), "--images", Self.images.path, "--out", out, "--shard", "3/2"], 64, "--shard"),
            (["caption", image, "--model", scratch.path], 1, "config.json"),
            (["caption", image, "--model", model("captioner-vgg-fc7"), "--alpha", "2"], 64, "--alpha"),
            // Outputs that cannot be created are refused before the data is read (it is no split here).
            (["shapes", "--out", garbage + "/split", "--count", "2"], 1, "garbage.jpg is not a folder"),
            (["train", "classifier", "--data", Self.images.path, "--out", garbage + "/model"], 1, "garbage.jpg is not a folder"),
            (["eval", model("classifier-vgg"), "--data", Self.images.path, "--chart", garbage + "/c.png"], 1, "garbage.jpg is not a folder"),
            (["eval", model("classifier-vgg"), "--data", Self.images.path, "--chart", "chart.svg"], 64, "--chart"),
            (["export", "--model", model("classifier-vgg"), "--images", Self.images.path, "--out", garbage, "--resume"], 1, "exists and is not a directory"),
        ]
        for (arguments, status, fragment) in cases {
            let run = try gradcam(arguments)
            XCTAssertEqual(run.status, status, "\(arguments): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains(fragment), "\(arguments): «\(run.stderr)» lacks «\(fragment)»")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(arguments) wrote \(out)")
        }
        // An --out that cannot be written is refused before the work: no caption is printed.
        let precious = scratch.appendingPathComponent("precious")
        try FileManager.default.createDirectory(at: precious, withIntermediateDirectories: false)
        try Data("keep".utf8).write(to: precious.appendingPathComponent("notes.txt"))
        let refused = try gradcam(["caption", image, "--model", model("captioner-vgg-fc7"), "--out", precious.path, "--force"])
        XCTAssertEqual(refused.status, 1, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("not a gradcam export"), refused.stderr)
        XCTAssertEqual(refused.stdout, "", "the caption was computed before --out was refused")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: precious.path), ["notes.txt"])
        // No temporary folders were left beside the output.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: scratch.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [])
    }

    func testBatchExportShardsAndResumes() throws {
        let images = scratch.appendingPathComponent("imgs")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        for name in ["rgb.jpg", "grey.jpg", "rgba.png", "palette.png"] {
            try FileManager.default.copyItem(at: Self.images.appendingPathComponent(name), to: images.appendingPathComponent(name))
        }
        let out = scratch.appendingPathComponent("batch").path
        let first = try gradcam(["export", "--model", model("classifier-vgg"), "--images", images.path, "--out", out, "--shard", "0/2"])
        XCTAssertEqual(first.status, 0, first.stderr)
        // Sorted by name, items 0 and 2 (grey.jpg, rgb.jpg) are shard 0 of 2.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).sorted(), ["grey", "index.html", "index.jsonl", "rgb"])
        let refused = try gradcam(["export", "--model", model("classifier-vgg"), "--images", images.path, "--out", out])
        XCTAssertEqual(refused.status, 1)
        let rest = try gradcam(["export", "--model", model("classifier-vgg"), "--images", images.path, "--out", out, "--resume"])
        XCTAssertEqual(rest.status, 0, rest.stderr)
        XCTAssertTrue(rest.stdout.contains("2 already complete"), rest.stdout)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).sorted(),
                       ["grey", "index.html", "index.jsonl", "palette", "rgb", "rgba"])
        // The index covers every shard's items.
        let index = try String(contentsOfFile: out + "/index.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(index.count, 4)
        let line = try JSONSerialization.jsonObject(with: Data(index[0].utf8)) as! [String: Any]
        XCTAssertEqual(line["item"] as? String, "grey")
        XCTAssertEqual(line["report"] as? String, "grey/report.html")
        XCTAssertNotNil(line["probability"] as? Double)
        XCTAssertNotNil(line["top"] as? String)
        let html = try String(contentsOfFile: out + "/index.html", encoding: .utf8)
        XCTAssertTrue(html.contains("href=\"palette/report.html\"") && html.contains("<img src=\"rgba/overlays/"), html)
    }

    /// What a user's trial lost (issue 22): images of one name in two folders are two items, the
    /// same in every run; --resume redoes items made with other settings and says so; a VQA model
    /// without --questions is refused before any folder is made; shards share one --out without
    /// --resume; --json prints JSON, and a manifest printed without --out names no file.
    func testBatchExportKeepsEveryItemAndTellsTheTruth() throws {
        for folder in ["cats", "dogs"] {
            let dir = scratch.appendingPathComponent(folder)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: Self.images.appendingPathComponent(folder == "cats" ? "rgb.jpg" : "grey.jpg"),
                                             to: dir.appendingPathComponent("001.jpg"))
        }
        let list = scratch.appendingPathComponent("list.txt")
        try "cats/001.jpg\ndogs/001.jpg\ncats/001.jpg\n".write(to: list, atomically: true, encoding: .utf8)
        let out = scratch.appendingPathComponent("batch").path
        let export = ["export", "--model", model("classifier-vgg"), "--images", list.path, "--out", out]
        let first = try gradcam(export + ["--json"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let report = try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as! [String: Any]
        let names = (report["exported"] as! [String]).sorted()
        XCTAssertEqual(names.count, 2, "each image once: \(names)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).sorted(), names + ["index.html", "index.jsonl"])
        XCTAssertTrue(names.allSatisfy { $0.hasPrefix("001-") && $0.count == 12 }, "\(names)")
        let images = try names.map { name -> String in
            let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/" + name + "/manifest.json"))) as! [String: Any]
            return (manifest["image"] as! [String: Any])["path"] as! String
        }
        // Paths in a list are relative to the list's folder.
        XCTAssertEqual(Set(images), [scratch.path + "/cats/001.jpg", scratch.path + "/dogs/001.jpg"])

        let same = try gradcam(export + ["--resume"])
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertTrue(same.stdout.contains("exported 0 items") && same.stdout.contains("2 already complete"), same.stdout)
        let other = try gradcam(export + ["--resume", "--method", "gradcam++"])
        XCTAssertEqual(other.status, 0, other.stderr)
        XCTAssertTrue(other.stdout.contains("redid 2 items made with other settings"), other.stdout)
        XCTAssertTrue(other.stdout.contains("method gradcam, now gradcam++"), other.stdout)
        for name in names {
            let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/" + name + "/manifest.json"))) as! [String: Any]
            XCTAssertEqual(manifest["method"] as? String, "gradcam++")
        }
        let smoothed = try gradcam(export + ["--resume", "--method", "gradcam++", "--aug-smooth"])
        XCTAssertTrue(smoothed.stdout.contains("redid 2 items made with other settings") && smoothed.stdout.contains("aug_smooth false, now true"),
                      smoothed.stdout)

        let vqaOut = scratch.appendingPathComponent("vqa-batch").path
        let noQuestions = try gradcam(["export", "--model", model("vqa-flat"), "--images", list.path, "--out", vqaOut])
        XCTAssertEqual(noQuestions.status, 1)
        XCTAssertTrue(noQuestions.stderr.contains("is a VQA model: give --questions"), noQuestions.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: vqaOut), "a refused run left its --out behind")

        let shards = scratch.appendingPathComponent("shards").path
        for shard in ["0/2", "1/2"] {
            let run = try gradcam(["export", "--model", model("classifier-vgg"), "--images", list.path, "--out", shards, "--shard", shard])
            XCTAssertEqual(run.status, 0, "shard \(shard): \(run.stderr)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: shards).sorted(), names + ["index.html", "index.jsonl"])

        // A grey image is explained, with a warning that the model saw colour; --quiet drops it.
        let grey = Self.images.appendingPathComponent("grey.jpg").path
        let warned = try gradcam(["classify", grey, "--model", model("classifier-vgg")])
        XCTAssertEqual(warned.status, 0, warned.stderr)
        XCTAssertTrue(warned.stderr.contains("grey.jpg: the image has no colour"), warned.stderr)
        XCTAssertEqual(try gradcam(["classify", grey, "--model", model("classifier-vgg"), "--quiet"]).stderr, "")

        // --shard auto: a Slurm array's task 2 of 2 (numbered from 1), a Kubernetes Indexed Job's index 0.
        let scheduled = scratch.appendingPathComponent("scheduled").path
        let auto = ["export", "--model", model("classifier-vgg"), "--images", list.path, "--out", scheduled, "--json"]
        let slurm = try gradcam(auto + ["--shard", "auto"],
                                environment: ["SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "2"])
        XCTAssertEqual(slurm.status, 0, slurm.stderr)
        let slurmReport = try JSONSerialization.jsonObject(with: Data(slurm.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(slurmReport["shard"] as? [Int], [1, 2])
        let kubernetes = try gradcam(auto + ["--shard", "auto/2"], environment: ["JOB_COMPLETION_INDEX": "0"])
        XCTAssertEqual(kubernetes.status, 0, kubernetes.stderr)
        XCTAssertEqual((try JSONSerialization.jsonObject(with: Data(kubernetes.stdout.utf8)) as! [String: Any])["shard"] as? [Int], [0, 2])
        XCTAssertEqual(try String(contentsOfFile: scheduled + "/index.jsonl", encoding: .utf8).split(separator: "\n").count, 2,
                       "the second shard's index covers both shards")
        let nowhere = try gradcam(auto + ["--shard", "auto"])
        XCTAssertEqual(nowhere.status, 64)
        XCTAssertTrue(nowhere.stderr.contains("neither SLURM_ARRAY_TASK_ID"), nowhere.stderr)

        let printed = try gradcam(["caption", image, "--model", model("captioner-vgg-fc7"), "--json"])
        XCTAssertEqual(printed.status, 0, printed.stderr)
        let manifest = try JSONSerialization.jsonObject(with: Data(printed.stdout.utf8)) as! [String: Any]
        XCTAssertNil(manifest["raw"])
        XCTAssertNil(manifest["cams"])
        XCTAssertFalse((manifest["tokens"] as! [[String: Any]]).contains { $0["overlay"] != nil })
    }

    /// The smaller things of issue 22's trial: a class index out of range is said as such, names
    /// match regardless of case, a mistyped command gets the nearest one, `#` lines of an image list
    /// are comments, "1 item", the peak says of which grid, a run without --out says where the maps
    /// are, and `layers` marks the default layer of a config without explain_layer.
    func testWhatAUserTrippedOver() throws {
        let classifier = model("classifier-vgg")
        let outOfRange = try gradcam(["classify", image, "--model", classifier, "--class", "7"])
        XCTAssertEqual(outOfRange.status, 1)
        XCTAssertTrue(outOfRange.stderr.contains("class index 7 is out of range: the model has 5 classes, 0 to 4"), outOfRange.stderr)
        let folded = try gradcam(["classify", image, "--model", classifier, "--class", "CLASS3"])
        XCTAssertEqual(folded.status, 0, folded.stderr)
        XCTAssertTrue(folded.stdout.contains("class3"), folded.stdout)
        XCTAssertTrue(folded.stdout.contains("(row, column) of features."), folded.stdout)
        XCTAssertTrue(folded.stdout.contains("add --out DIR"), folded.stdout)
        let layer = try gradcam(["caption", image, "--model", model("captioner-vgg-fc7"), "--layer", "lstmm"])
        XCTAssertEqual(layer.status, 1)
        XCTAssertTrue(layer.stderr.contains("backbone.") && !layer.stderr.contains("\"lstm\"") && !layer.stderr.contains(" lstm,"),
                      "suggests only layers that can have a map: \(layer.stderr)")
        let unknown = try gradcam(["clasify", image])
        XCTAssertEqual(unknown.status, 64)
        XCTAssertTrue(unknown.stderr.contains("did you mean \"classify\""), unknown.stderr)

        let list = scratch.appendingPathComponent("list.txt")
        try "# the one image\n\(image)\n".write(to: list, atomically: true, encoding: .utf8)
        let one = try gradcam(["export", "--model", classifier, "--images", list.path, "--out", scratch.appendingPathComponent("one").path])
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertTrue(one.stdout.contains("exported 1 item to"), one.stdout)

        let noDefault = scratch.appendingPathComponent("resnet")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: model("classifier-resnet18")), to: noDefault)
        let configURL = noDefault.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as! [String: Any]
        config.removeValue(forKey: "explain_layer")
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        let layers = try gradcam(["layers", noDefault.path])
        XCTAssertEqual(layers.status, 0, layers.stderr)
        XCTAssertTrue(layers.stdout.split(separator: "\n").contains { $0.hasPrefix("layer4 ") && $0.hasSuffix(" *") }, layers.stdout)
        XCTAssertTrue(layers.stdout.contains("[1, 5]  (no spatial map)"), layers.stdout)
    }

    /// `eval --json` of the shipped VQA model and captioner on a fresh split: each kind's counts add up
    /// to the overall count, its pointing games average to the overall one, and Grad-CAM beats the
    /// centre baseline.
    func testEvalReportsGroundingByKind() throws {
        let split = scratch.appendingPathComponent("split").path
        XCTAssertEqual(try gradcam(["shapes", "--out", split, "--count", "8", "--seed", "1234", "--split", "test", "--quiet"]).status, 0)
        let vqaKinds: Set = ["color", "shape", "count", "exists", "spatial", "spatial_other", "spatial_yes_no"]
        for (name, kinds) in [("shapes-vqa", vqaKinds), ("shapes-captioner", ["color", "shape"])] {
            let run = try gradcam(["eval", Self.repository.appendingPathComponent("Models/\(name)").path, "--data", split,
                                   "--method", "layercam,gradcam", "--json", "--quiet"])
            XCTAssertEqual(run.status, 0, run.stderr)
            let report = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
            let grounding = report["grounding"] as! [String: [String: Double]]
            let byKind = report["grounding_by_kind"] as! [String: [String: [String: Double]]]
            XCTAssertTrue(Set(byKind.keys).isSubset(of: kinds), "\(name): \(byKind.keys)")
            for method in ["layercam", "gradcam", "center-baseline", "random-baseline"] {
                let overall = grounding[method]!
                let parts = byKind.values.compactMap { $0[method] }
                XCTAssertEqual(parts.reduce(0) { $0 + $1["count"]! }, overall["count"]!, "\(name) \(method)")
                XCTAssertEqual(parts.reduce(0) { $0 + $1["count"]! * $1["pointing_game"]! } / overall["count"]!,
                               overall["pointing_game"]!, accuracy: 1e-9, "\(name) \(method)")
            }
            XCTAssertGreaterThan(grounding["layercam"]!["pointing_game"]!, grounding["center-baseline"]!["pointing_game"]! + 0.2, name)
            // --faithfulness measures the same tokens the grounding grades (one image here: it is slow in a debug build).
            let faithful = try gradcam(["eval", Self.repository.appendingPathComponent("Models/\(name)").path, "--data", split,
                                        "--method", "layercam", "--limit", "1", "--faithfulness", "--json", "--quiet"])
            XCTAssertEqual(faithful.status, 0, faithful.stderr)
            let measured = try JSONSerialization.jsonObject(with: Data(faithful.stdout.utf8)) as! [String: Any]
            let f = try XCTUnwrap((measured["faithfulness"] as? [String: [String: Double]])?["layercam"], name)
            let graded = (measured["grounding"] as! [String: [String: Double]])["layercam"]!["count"]!
            XCTAssertEqual(f["count"], graded, name)
            XCTAssertTrue(f.values.allSatisfy(\.isFinite) && (0...1).contains(f["deletion_beats_random"]!), "\(name): \(f)")
            let fByKind = measured["faithfulness_by_kind"] as! [String: [String: [String: Double]]]
            XCTAssertEqual(fByKind.values.reduce(0) { $0 + ($1["layercam"]?["count"] ?? 0) }, graded, name)
            let table = try gradcam(["eval", Self.repository.appendingPathComponent("Models/\(name)").path, "--data", split])
            XCTAssertTrue(table.stdout.contains("pointing game by kind"), table.stdout)
            // --quiet prints nothing but errors; --limit 0 is a usage error, not an accuracy of 0.
            let quiet = try gradcam(["eval", Self.repository.appendingPathComponent("Models/\(name)").path, "--data", split, "--quiet"])
            XCTAssertEqual(quiet.status, 0, quiet.stderr)
            XCTAssertEqual(quiet.stdout, "")
            XCTAssertEqual(try gradcam(["eval", Self.repository.appendingPathComponent("Models/\(name)").path, "--data", split,
                                        "--limit", "0"]).status, 64)
            // Another explained scalar: the same answers and captions, the same tokens, other maps.
            let rescored = try gradcam(["eval", Self.repository.appendingPathComponent("Models/\(name)").path, "--data", split,
                                     "--method", "layercam,gradcam", "--score", name == "shapes-vqa" ? "prob" : "logit", "--json", "--quiet"])
            let other = try JSONSerialization.jsonObject(with: Data(rescored.stdout.utf8)) as! [String: Any]
            XCTAssertEqual(other["scores"] as! [String: Double], report["scores"] as! [String: Double], name)
            let otherGrounding = other["grounding"] as! [String: [String: Double]]
            XCTAssertEqual(otherGrounding["gradcam"]!["count"], grounding["gradcam"]!["count"], name)
            XCTAssertNotEqual(otherGrounding["gradcam"]!["energy"], grounding["gradcam"]!["energy"], name)
            // Smoothed maps, as `caption --eigen-smooth` makes them: the same tokens, other maps, said in the report.
            let smoothed = try gradcam(["eval", Self.repository.appendingPathComponent("Models/\(name)").path, "--data", split,
                                        "--method", "layercam,gradcam", "--eigen-smooth", "--json", "--quiet"])
            XCTAssertEqual(smoothed.status, 0, smoothed.stderr)
            let eigen = try JSONSerialization.jsonObject(with: Data(smoothed.stdout.utf8)) as! [String: Any]
            XCTAssertEqual(eigen["smoothing"] as? [String], ["eigen-smooth"], name)
            XCTAssertNil(report["smoothing"], name)
            let eigenGrounding = eigen["grounding"] as! [String: [String: Double]]
            XCTAssertEqual(eigenGrounding["gradcam"]!["count"], grounding["gradcam"]!["count"], name)
            XCTAssertNotEqual(eigenGrounding["gradcam"]!["energy"], grounding["gradcam"]!["energy"], name)
        }
    }

    /// `eval --sanity` runs `gradcam sanity`'s cascading test on each image's explained targets: for
    /// a caption, the numbers the command gives for the same caption; for VQA, one answer an image.
    func testEvalSanityIsTheSanityCommandsCascade() throws {
        let split = scratch.appendingPathComponent("sanity-split").path
        XCTAssertEqual(try gradcam(["shapes", "--out", split, "--count", "1", "--seed", "99", "--split", "test", "--quiet"]).status, 0)
        let captioner = Self.repository.appendingPathComponent("Models/shapes-captioner").path
        let run = try gradcam(["eval", captioner, "--data", split, "--method", "gradcam", "--sanity", "--json", "--quiet"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let report = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
        let sanity = try XCTUnwrap((report["sanity"] as? [String: [String: Any]])?["gradcam"], run.stdout)
        let cascade = sanity["cascading"] as! [[String: Any]]

        let image = try split + "/images/" + XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: split + "/images").first)
        let caption = try gradcam(["caption", image, "--model", captioner, "--json", "--quiet"])
        let manifest = try JSONSerialization.jsonObject(with: Data(caption.stdout.utf8)) as! [String: Any]
        let out = scratch.appendingPathComponent("sanity-of-eval").path
        let check = try gradcam(["sanity", captioner, image, "--caption", manifest["text"] as! String, "--method", "gradcam", "--out", out])
        XCTAssertEqual(check.status, 0, check.stderr)
        let steps = (try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/sanity.json"))) as! [String: Any])["steps"]
            as! [[String: Any]]
        let cascading = steps.filter { $0["test"] as? String == "cascading" }
        XCTAssertEqual(cascade.map { $0["group"] as! String }, cascading.map { $0["group"] as! String })
        XCTAssertGreaterThan(cascade.count, 5)
        for (summed, step) in zip(cascade, cascading) {
            let spearman = step["spearman"] as! [Double]
            XCTAssertEqual(summed["spearman"] as! Double, spearman.reduce(0, +) / Double(spearman.count), accuracy: 1e-5,
                           "\(step["group"]!)")
        }
        let words = (manifest["tokens"] as! [Any]).count
        XCTAssertEqual(sanity["count"] as? Int, words)
        let decisive = sanity["decisive_spearman"] as! Double
        XCTAssertEqual(sanity["passes"] as? Bool, decisive <= 0.3)
        XCTAssertEqual(cascade.last { $0["above_layer"] as! Bool }?["spearman"] as? Double, decisive)

        let vqa = try gradcam(["eval", Self.repository.appendingPathComponent("Models/shapes-vqa").path, "--data", split,
                               "--method", "gradcam", "--sanity", "--json", "--quiet"])
        XCTAssertEqual(vqa.status, 0, vqa.stderr)
        let vqaSanity = try XCTUnwrap(((try JSONSerialization.jsonObject(with: Data(vqa.stdout.utf8)) as! [String: Any])["sanity"]
            as? [String: [String: Any]])?["gradcam"], vqa.stdout)
        XCTAssertEqual(vqaSanity["count"] as? Int, 1, "one answer of the image's first graded question")
    }

    /// The shipped captioner is sure of most words of the demo scene (log p ≈ −3e-7): the
    /// table marks them and says why their log-probability maps are faint, and what to do.
    func testConfidentWordsAreMarked() throws {
        let scene = Self.repository.appendingPathComponent("notebooks-cli/images/scene-1.png").path
        let run = try gradcam(["caption", scene])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("-0.000* "), run.stdout)
        XCTAssertTrue(run.stdout.contains("* log p > -0.0001") && run.stdout.contains("--score logit"), run.stdout)
        let logit = try gradcam(["caption", scene, "--score", "logit"])
        XCTAssertFalse(logit.stdout.contains("--score logit"), logit.stdout)
    }

    func testLayersAndModels() throws {
        let layers = try gradcam(["layers", model("captioner-resnet-2layer")])
        XCTAssertEqual(layers.status, 0, layers.stderr)
        XCTAssertTrue(layers.stdout.contains("backbone.layer4 "), layers.stdout)
        XCTAssertTrue(layers.stdout.contains("[1, 32, 2, 2] *"), layers.stdout)
        let models = try gradcam(["models", model("vqa-flat"), "--json"])
        XCTAssertEqual(models.status, 0, models.stderr)
        XCTAssertTrue(models.stdout.contains("\"task\": \"vqa\""), models.stdout)
        XCTAssertEqual(try gradcam(["--version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines), "0.1.0")
    }

    /// Help is read in 80 columns: an example command the help wraps mid-line
    /// cannot be pasted into a shell, so each must be short or continued with `\`;
    /// and the files an example names must be there to try it on.
    func testHelpExamplesCanBePasted() throws {
        // Every subcommand the root help lists (two-space indented names under SUBCOMMANDS:), and the root.
        let root = try gradcam(["--help"]).stdout.split(separator: "\n")
        let listed = root.drop { $0 != "SUBCOMMANDS:" }.dropFirst().compactMap { line -> String? in
            line.hasPrefix("  ") && !line.hasPrefix("   ") ? line.split(separator: " ").first.map(String.init) : nil
        }
        let commands = [""] + listed.filter { $0 != "See" }
        XCTAssertGreaterThanOrEqual(commands.count, 12, "\(commands)")
        var examples = 0
        for command in commands {
            let help = try gradcam(command.isEmpty ? ["--help"] : [command, "--help"])
            XCTAssertEqual(help.status, 0, "\(command): \(help.stderr)")
            XCTAssertTrue(help.stdout.contains("USAGE: gradcam \(command)"), "\(command) is not a subcommand")
            let lines = help.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            guard let start = lines.firstIndex(where: { $0.hasPrefix("Example") }) else { continue }
            for line in lines[(start + 1)...].prefix(while: { !$0.hasPrefix("USAGE:") }) where !line.isEmpty {
                XCTAssertTrue(line.hasPrefix("  "), "\(command) --help wraps an example: \(line)")
                for path in line.split(separator: " ") where path.hasPrefix("notebooks-cli/") || path.hasPrefix("Models/") {
                    XCTAssertTrue(FileManager.default.fileExists(atPath: Self.repository.appendingPathComponent(String(path)).path),
                                  "\(command) --help names \(path), which the repository does not have")
                }
                examples += 1
            }
        }
        XCTAssertGreaterThan(examples, 15)
    }

    /// numpy reads the file as it is: shape, dtype and finite values.
    /// An attention captioner end to end: its config's explain_method is the default method,
    /// `--method` overrides it, and attention.npy holds one distribution over the map's
    /// cells per word, listed in the manifest.
    func testAttentionCaptionerExportsItsAttention() throws {
        let copy = scratch.appendingPathComponent("sat")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: model("sat-vgg")), to: copy)
        let configURL = copy.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as! [String: Any]
        config["explain_method"] = "layercam"
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        let caption = "a red circle left of a blue square"
        for (flags, method) in [([String](), "layercam"), (["--method", "gradcam"], "gradcam")] {
            let out = scratch.appendingPathComponent("out-\(method)").path
            let run = try gradcam(["caption", image, "--model", copy.path, "--caption", caption, "--out", out] + flags)
            XCTAssertEqual(run.status, 0, run.stderr)
            let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/manifest.json"))) as! [String: Any]
            XCTAssertEqual(manifest["method"] as? String, method)
            XCTAssertEqual(manifest["attention"] as? String, "attention.npy")
            XCTAssertEqual(manifest["attention_size"] as? [Int], [10, 10])
            let data = try Data(contentsOf: URL(fileURLWithPath: out + "/attention.npy"))
            XCTAssertTrue(String(decoding: data.prefix(128), as: UTF8.self).contains("'shape': (8, 10, 10)"))
            let header = 10 + Int(data[8]) + Int(data[9]) << 8
            let weights = data.dropFirst(header).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            XCTAssertEqual(weights.count, 8 * 100)
            for t in 0..<8 {
                let map = weights[(t * 100)..<((t + 1) * 100)]
                XCTAssertEqual(map.reduce(0, +), 1, accuracy: 1e-4, "word \(t)")
                XCTAssertTrue(map.allSatisfy { $0 > 0 }, "word \(t)")
            }
        }
    }

    func checkWithNumpy(_ path: String, shape: [Int]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", """
            import sys
            try:
                import numpy
            except ImportError:
                sys.exit(3)
            a = numpy.load(sys.argv[1])
            assert a.dtype == numpy.float32 and list(a.shape) == \(shape), (a.dtype, a.shape)
            assert numpy.isfinite(a).all() and a.min() >= 0 and a.max() <= 1
            """, path]
        try p.run()
        p.waitUntilExit()
        if p.terminationStatus == 3 { print("skipped: numpy is not installed"); return }
        XCTAssertEqual(p.terminationStatus, 0, "numpy could not read \(path) as expected")
    }
}
