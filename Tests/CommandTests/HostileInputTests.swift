import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// One run of the built `gradcam`, its output captured in files (two pipes
/// read one after the other could dead-lock on a chatty process).
struct GradcamRun {
    /// The exit code, or the signal's number when `signaled`.
    let status: Int32
    /// True when a signal ended the process (re-raised after an atomic write, or SIGKILL).
    let signaled: Bool
    let stdout: String
    let stderr: String
    /// True when the process outlived its time limit and was killed.
    let timedOut: Bool
}

/// The environment every test run of `gradcam` gets: this one, with NO_COLOR,
/// no shipped models (GRADCAM_MODELS points at a missing folder), and `extra`.
func commandEnvironment(in directory: URL, adding extra: [String: String]) -> [String: String] {
    var env = ProcessInfo.processInfo.environment
    env["NO_COLOR"] = "1"
    env["GRADCAM_MODELS"] = directory.appendingPathComponent("no-models").path
    // A CI job running as a job array must not choose the tests' shards.
    for key in ["SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_COUNT", "JOB_COMPLETION_INDEX"] { env[key] = nil }
    for (k, v) in extra { env[k] = v }
    return env
}

/// A `gradcam` process started in `directory`, with NO_COLOR and no shipped models.
final class GradcamProcess {
    let process = Process()
    let stdoutURL: URL, stderrURL: URL

    init(_ arguments: [String], in directory: URL, environment: [String: String] = [:],
         executable: URL = CommandTests.executable) throws {
        let id = UUID().uuidString
        stdoutURL = FileManager.default.temporaryDirectory.appendingPathComponent("gradcam-\(id).out")
        stderrURL = FileManager.default.temporaryDirectory.appendingPathComponent("gradcam-\(id).err")
        FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = commandEnvironment(in: directory, adding: environment)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var stderrSoFar: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }
    var stdoutSoFar: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }

    /// Waits for the process to end; past `timeout` seconds it is killed and `timedOut` is set.
    func wait(timeout: TimeInterval = 60) -> GradcamRun {
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while process.isRunning {
            if Date() > deadline {
                timedOut = true
                kill(process.processIdentifier, SIGKILL)
                break
            }
            usleep(5_000)
        }
        process.waitUntilExit()
        defer {
            try? FileManager.default.removeItem(at: stdoutURL)
            try? FileManager.default.removeItem(at: stderrURL)
        }
        return GradcamRun(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
                          stdout: stdoutSoFar, stderr: stderrSoFar, timedOut: timedOut)
    }

    /// Polls `condition` every 10 ms until it holds (true) or `timeout` passes (false).
    static func waitUntil(timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }
}

/// Everything under `root` (links not followed): relative path → kind and size or
/// link target. Two equal snapshots mean nothing was written, renamed or deleted.
func snapshot(of root: URL) -> [String: String] {
    var result: [String: String] = [:]
    func walk(_ dir: String, _ prefix: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        for name in names {
            let path = dir + "/" + name, key = prefix + name
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFLNK:
                result[key] = "link → " + ((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?")
            case S_IFDIR:
                result[key] = "dir"
                walk(path, key + "/")
            default:
                result[key] = "file \(info.st_size) bytes, modified \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
            }
        }
    }
    walk(root.path, "")
    return result
}

/// The hostile-input suite: one table of inputs that must each give the expected
/// exit code and message and write nothing, plus the hostile inputs that must
/// succeed (file names with quotes and non-ASCII letters, huge texts).
final class HostileInputTests: XCTestCase {
    static var fixtures: URL { CommandTests.fixtures }
    static var images: URL { CommandTests.images }
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: scratch) }

    func gradcam(_ arguments: [String], timeout: TimeInterval = 60) throws -> GradcamRun {
        try GradcamProcess(arguments, in: scratch).wait(timeout: timeout)
    }

    func model(_ name: String) -> String { Self.fixtures.appendingPathComponent(name).path }
    var image: String { Self.images.appendingPathComponent("rgb.jpg").path }

    func path(_ relative: String) -> String { scratch.appendingPathComponent(relative).path }

    func write(_ relative: String, _ bytes: [UInt8]) throws {
        let url = scratch.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    func write(_ relative: String, _ text: String) throws { try write(relative, Array(text.utf8)) }

    func fixtureBytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: Self.images.appendingPathComponent(name)))
    }

    /// A copy of a fixture model in scratch/models/NAME, changed by `change` (given its folder).
    @discardableResult
    func modelCopy(_ fixture: String, as name: String, _ change: (URL) throws -> Void) throws -> String {
        let dir = scratch.appendingPathComponent("models/\(name)")
        try FileManager.default.createDirectory(at: dir.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent(fixture), to: dir)
        try change(dir)
        return dir.path
    }

    /// config.json of a model copy, edited as a JSON object.
    func editConfig(_ dir: URL, _ edit: (inout [String: Any]) -> Void) throws {
        let url = dir.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: url)
    }

    /// A safetensors file: the 8-byte little-endian header length, the header, the data.
    static func safetensors(header: String, data: [UInt8] = []) -> [UInt8] {
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian, Array.init) + Array(header.utf8) + data
    }

    /// `rgb.jpg` with its frame header declaring `width`×`height` (the file stays 721 bytes).
    func jpegDeclaring(width: Int, height: Int) throws -> [UInt8] {
        var bytes = try fixtureBytes("rgb.jpg")
        var i = 2
        while i + 9 < bytes.count {
            let marker = bytes[i + 1], length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            if marker == 0xC0 || marker == 0xC2 {
                bytes[i + 5] = UInt8(height >> 8); bytes[i + 6] = UInt8(height & 0xFF)
                bytes[i + 7] = UInt8(width >> 8); bytes[i + 8] = UInt8(width & 0xFF)
                return bytes
            }
            i += 2 + length
        }
        throw XCTSkip("rgb.jpg has no frame header")
    }

    struct Case {
        let name: String
        let arguments: [String]
        let status: Int32
        /// Part of the message on standard error.
        let message: String
    }

    /// Inputs that must fail: each with its exit code and a fragment of its message, and
    /// nothing in the scratch folder may change (no output, no temporary folder left).
    func testEveryHostileInputFailsClearlyAndWritesNothing() throws {
        let captioner = model("captioner-vgg-fc7"), out = "never"
        let weird = #"it's a "quoted" ñandú 🙂.jpg"#

        // Images.
        try write("garbage.jpg", "this is not an image")
        try write("empty.png", [])
        try write("truncated.jpg", Array(try fixtureBytes("rgb.jpg").prefix(400)))
        try write("png-magic-only.png", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var badCRC = try fixtureBytes("pattern.png")
        badCRC[30] ^= 0xFF  // IHDR's CRC (bytes 29–32): the header no longer checks
        try write("bad-crc.png", badCRC)
        var badData = try fixtureBytes("pattern.png")
        badData[60] ^= 0xFF  // inside IDAT's compressed data
        try write("bad-deflate.png", badData)
        // Decompression bombs: under 1 KB, declaring 65500×65500 (JPEG) and 100000×100000 (PNG) pixels.
        try write("bomb.jpg", try jpegDeclaring(width: 65500, height: 65500))
        let hugePNG = Self.images.appendingPathComponent("huge.png").path
        // Models.
        let hugeHeader = try modelCopy("captioner-vgg-fc7", as: "header-2^64") { dir in
            // A header claiming 2⁶⁴ − 1 bytes: refused before anything is allocated.
            try Data(withUnsafeBytes(of: UInt64.max.littleEndian, Array.init) + Array("{}".utf8))
                .write(to: dir.appendingPathComponent("weights.safetensors"))
        }
        let cutWeights = try modelCopy("captioner-vgg-fc7", as: "cut-weights") { dir in
            let url = dir.appendingPathComponent("weights.safetensors")
            try Data(contentsOf: url).prefix(5000).write(to: url)
        }
        let outsideOffsets = try modelCopy("captioner-vgg-fc7", as: "outside-offsets") { dir in
            try Data(Self.safetensors(header: #"{"head.bias":{"dtype":"F32","shape":[2],"data_offsets":[0,1099511627776]}}"#, data: [0, 0, 0, 0]))
                .write(to: dir.appendingPathComponent("weights.safetensors"))
        }
        let wrongTensors = try modelCopy("captioner-vgg-fc7", as: "wrong-tensors") { dir in
            try Data(Self.safetensors(header: #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 128, 63]))
                .write(to: dir.appendingPathComponent("weights.safetensors"))
        }
        let wrongDType = try modelCopy("captioner-vgg-fc7", as: "wrong-dtype") { dir in
            try Data(Self.safetensors(header: #"{"head.bias":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)))
                .write(to: dir.appendingPathComponent("weights.safetensors"))
        }
        let headerNotJSON = try modelCopy("captioner-vgg-fc7", as: "header-not-json") { dir in
            try Data(Self.safetensors(header: "{\"head.bias\": [", data: []))
                .write(to: dir.appendingPathComponent("weights.safetensors"))
        }
        let notJSON = try modelCopy("captioner-vgg-fc7", as: "not-json") { dir in
            try Data("{\"format\": ".utf8).write(to: dir.appendingPathComponent("config.json"))
        }
        let futureFormat = try modelCopy("captioner-vgg-fc7", as: "format-2") { dir in
            try self.editConfig(dir) { $0["format"] = "gradcam-model/2" }
        }
        let longCaptions = try modelCopy("captioner-vgg-fc7", as: "max-length") { dir in
            try self.editConfig(dir) { c in
                var d = c["decoder"] as! [String: Any]
                d["max_length"] = 60000
                c["decoder"] = d
            }
        }
        // Vocabulary files have fixed names inside the model folder (model-format.md): config.json
        // has no field that names a vocabulary path, so "a config that points its vocabulary at
        // /etc/passwd or ../../" is not possible by construction (an unknown "vocab" key is
        // ignored: see testConfigCannotNameAVocabularyPath). What remains is a vocab.txt that is
        // a symbolic link leading out of the folder; it is read like any file the owner of the
        // folder put there, and a file that is not a vocabulary is refused for lacking the
        // special tokens, without showing its contents.
        let passwdVocabulary = try modelCopy("captioner-vgg-fc7", as: "vocab-passwd") { dir in
            try FileManager.default.removeItem(at: dir.appendingPathComponent("vocab.txt"))
            try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("vocab.txt").path,
                                                       withDestinationPath: "/etc/passwd")
        }
        let duplicateWord = try modelCopy("captioner-vgg-fc7", as: "vocab-duplicate") { dir in
            try Data("<start>\n<end>\n<unk>\nred\nred\n".utf8).write(to: dir.appendingPathComponent("vocab.txt"))
        }
        let invalidUTF8 = try modelCopy("captioner-vgg-fc7", as: "vocab-utf8") { dir in
            try Data([0x3C, 0x75, 0x6E, 0x6B, 0x3E, 0x0A, 0xC0, 0xAF, 0x0A]).write(to: dir.appendingPathComponent("vocab.txt"))
        }
        let missingVocabulary = try modelCopy("captioner-vgg-fc7", as: "vocab-missing") { dir in
            try FileManager.default.removeItem(at: dir.appendingPathComponent("vocab.txt"))
        }
        // Output paths.
        try write("victim/keep.txt", "keep")
        try FileManager.default.createSymbolicLink(atPath: path("link-to-dir"), withDestinationPath: "victim")
        try FileManager.default.createSymbolicLink(atPath: path("dangling"), withDestinationPath: "/nonexistent/gradcam")
        try FileManager.default.createSymbolicLink(atPath: path("loop-a"), withDestinationPath: "loop-b")
        try FileManager.default.createSymbolicLink(atPath: path("loop-b"), withDestinationPath: "loop-a")
        try write("a-file", "x")
        // Batch inputs.
        try write("list-invalid.txt", [0x2F, 0x61, 0xFF, 0xFE, 0x0A])
        try write("list-empty.txt", "\n  \n")
        try write("questions-object.json", #"{"image": "a.jpg", "question": "what?"}"#)
        try write("questions-partial.json", #"[{"image": "a.jpg"}]"#)

        let cases: [Case] = [
            // The earlier issues' bad inputs (CommandTests.testBadInputs), kept here in the one table.
            Case(name: "missing image", arguments: ["caption", "/no/such.png", "--model", captioner, "--out", out], status: 1, message: "/no/such.png"),
            Case(name: "directory as image", arguments: ["caption", Self.images.path, "--model", captioner, "--out", out], status: 1, message: "is a directory"),
            Case(name: "text as image", arguments: ["caption", "garbage.jpg", "--model", captioner, "--out", out], status: 1, message: "not a JPEG or PNG"),
            Case(name: "wrong task", arguments: ["caption", image, "--model", model("vqa-flat"), "--out", out], status: 1, message: "vqa model"),
            Case(name: "beam 0", arguments: ["caption", image, "--model", captioner, "--beam", "0", "--out", out], status: 64, message: "--beam"),
            Case(name: "unknown method", arguments: ["caption", image, "--model", captioner, "--method", "magic", "--out", out], status: 64, message: "gradcam++"),
            Case(name: "unknown layer", arguments: ["caption", image, "--model", captioner, "--layer", "backbone.features.44", "--out", out], status: 1, message: "backbone.features.4"),
            Case(name: "layer off the image path", arguments: ["caption", image, "--model", captioner, "--layer", "lstm", "--out", out], status: 1, message: "not computed from the image"),
            Case(name: "empty layer", arguments: ["caption", image, "--model", captioner, "--layer", "", "--out", out], status: 1, message: "no layer named \"\""),
            Case(name: "top 0", arguments: ["vqa", image, "--model", model("vqa-flat"), "--question", "what?", "--top", "0", "--out", out], status: 64, message: "--top"),
            Case(name: "question of punctuation", arguments: ["vqa", image, "--model", model("vqa-flat"), "--question", "... !!", "--out", out], status: 1, message: "no words"),
            Case(name: "empty question", arguments: ["vqa", image, "--model", model("vqa-flat"), "--question", "", "--out", out], status: 1, message: "no words"),
            Case(name: "unknown class", arguments: ["classify", image, "--model", model("classifier-vgg"), "--class", "zebra", "--out", out], status: 1, message: "class0"),
            Case(name: "shard 3/2", arguments: ["export", "--model", model("classifier-vgg"), "--images", Self.images.path, "--out", out, "--shard", "3/2"], status: 64, message: "--shard"),
            Case(name: "shard a/b", arguments: ["export", "--model", model("classifier-vgg"), "--images", Self.images.path, "--out", out, "--shard", "a/b"], status: 64, message: "--shard"),
            Case(name: "folder without config.json", arguments: ["caption", image, "--model", scratch.path, "--out", out], status: 1, message: "config.json"),
            Case(name: "alpha 2", arguments: ["caption", image, "--model", captioner, "--alpha", "2", "--out", out], status: 64, message: "--alpha"),
            Case(name: "unknown format", arguments: ["caption", image, "--model", captioner, "--format", "npy,gif", "--out", out], status: 64, message: "unknown --format \"gif\""),
            // Images.
            Case(name: "empty file", arguments: ["caption", "empty.png", "--model", captioner, "--out", out], status: 1, message: "empty.png is empty"),
            Case(name: "truncated JPEG", arguments: ["caption", "truncated.jpg", "--model", captioner, "--out", out], status: 1, message: "truncated.jpg is truncated"),
            Case(name: "PNG signature only", arguments: ["caption", "png-magic-only.png", "--model", captioner, "--out", out], status: 1, message: "png-magic-only.png is truncated"),
            Case(name: "PNG with a bad CRC", arguments: ["caption", "bad-crc.png", "--model", captioner, "--out", out], status: 1, message: "bad-crc.png is not a valid PNG image: IHDR: CRC error"),
            Case(name: "PNG with corrupt pixel data", arguments: ["caption", "bad-deflate.png", "--model", captioner, "--out", out], status: 1, message: "bad-deflate.png is not a valid PNG image: IDAT"),
            Case(name: "JPEG bomb 65500×65500", arguments: ["caption", "bomb.jpg", "--model", captioner, "--out", out], status: 1, message: "declares 65500x65500 = 4290250000 pixels"),
            Case(name: "PNG bomb 100000×100000", arguments: ["classify", hugePNG, "--model", model("classifier-vgg"), "--out", out], status: 1, message: "declares 100000x100000"),
            Case(name: "missing image with quotes and non-ASCII", arguments: ["caption", weird, "--model", captioner, "--out", out], status: 1, message: weird),
            // Models.
            Case(name: "safetensors header of 2^64 bytes", arguments: ["caption", image, "--model", hugeHeader, "--out", out], status: 1, message: "header length 18446744073709551615 exceeds the limit"),
            Case(name: "safetensors cut short", arguments: ["caption", image, "--model", cutWeights, "--out", out], status: 1, message: "lie outside the"),
            Case(name: "safetensors offsets outside the file", arguments: ["caption", image, "--model", outsideOffsets, "--out", out], status: 1, message: "lie outside the 4 data bytes"),
            Case(name: "safetensors with the wrong tensors", arguments: ["caption", image, "--model", wrongTensors, "--out", out], status: 1, message: "missing tensor"),
            Case(name: "safetensors of an unsupported dtype", arguments: ["caption", image, "--model", wrongDType, "--out", out], status: 1, message: "tensor \"head.bias\": dtype U8 is not supported"),
            Case(name: "safetensors header not JSON", arguments: ["caption", image, "--model", headerNotJSON, "--out", out], status: 1, message: "the header is not a JSON object"),
            Case(name: "config.json cut short", arguments: ["caption", image, "--model", notJSON, "--out", out], status: 1, message: "not valid JSON"),
            Case(name: "config.json of a later format", arguments: ["caption", image, "--model", futureFormat, "--out", out], status: 1, message: "this version reads \"gradcam-model/1\""),
            Case(name: "config.json max_length 60000", arguments: ["caption", image, "--model", longCaptions, "--out", out], status: 1, message: "\"decoder.max_length\" must be at most 1000"),
            Case(name: "vocab.txt linked to /etc/passwd", arguments: ["caption", image, "--model", passwdVocabulary, "--out", out], status: 1, message: "missing required special tokens"),
            Case(name: "vocab.txt with a duplicate", arguments: ["caption", image, "--model", duplicateWord, "--out", out], status: 1, message: "vocab.txt:5: duplicate token \"red\""),
            Case(name: "vocab.txt not UTF-8", arguments: ["caption", image, "--model", invalidUTF8, "--out", out], status: 1, message: "vocab.txt:2: invalid UTF-8 at byte offset 6"),
            Case(name: "vocab.txt missing", arguments: ["caption", image, "--model", missingVocabulary, "--out", out], status: 1, message: "cannot read vocabulary"),
            // Output paths.
            Case(name: "--out a link to a folder", arguments: ["caption", image, "--model", captioner, "--out", "link-to-dir"], status: 1, message: "\"link-to-dir\" already exists"),
            Case(name: "--out a dangling link", arguments: ["caption", image, "--model", captioner, "--out", "dangling"], status: 1, message: "\"dangling\" already exists"),
            Case(name: "--out through a link loop", arguments: ["caption", image, "--model", captioner, "--out", "loop-a/x"], status: 1, message: "Too many levels of symbolic links"),
            Case(name: "--out inside a file", arguments: ["caption", image, "--model", captioner, "--out", "a-file/x"], status: 1, message: "\"a-file\" is not a directory"),
            Case(name: "--out in a missing folder", arguments: ["caption", image, "--model", captioner, "--out", "no/such/x"], status: 1, message: "the directory \"no/such\" does not exist"),
            Case(name: "--out .", arguments: ["caption", image, "--model", captioner, "--out", "."], status: 1, message: "must name a new directory"),
            Case(name: "--force over a folder that is no export", arguments: ["caption", image, "--model", captioner, "--out", "victim", "--force"], status: 1, message: "is not a gradcam export"),
            // Texts.
            Case(name: "--max-length 100000", arguments: ["caption", image, "--model", captioner, "--max-length", "100000", "--out", out], status: 64, message: "--max-length must be between 1 and 1000"),
            // Batch export.
            Case(name: "image list not UTF-8", arguments: ["export", "--model", model("classifier-vgg"), "--images", "list-invalid.txt", "--out", out], status: 1, message: "cannot read the list of images"),
            Case(name: "image list without images", arguments: ["export", "--model", model("classifier-vgg"), "--images", "list-empty.txt", "--out", out], status: 1, message: "no images"),
            Case(name: "image folder missing", arguments: ["export", "--model", model("classifier-vgg"), "--images", "no-such-folder", "--out", out], status: 1, message: "no such folder or file"),
            Case(name: "questions not an array", arguments: ["export", "--model", model("vqa-flat"), "--questions", "questions-object.json", "--out", out], status: 1, message: "expected a JSON array"),
            Case(name: "question missing", arguments: ["export", "--model", model("vqa-flat"), "--questions", "questions-partial.json", "--out", out], status: 1, message: "item 0 needs \"image\" and \"question\""),
        ]
        let before = snapshot(of: scratch)
        for c in cases {
            let run = try gradcam(c.arguments, timeout: 30)
            XCTAssertFalse(run.timedOut, "\(c.name): did not finish in 30 s")
            XCTAssertEqual(run.status, c.status, "\(c.name): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains(c.message), "\(c.name): «\(run.stderr)» lacks «\(c.message)»")
            XCTAssertFalse(run.stderr.contains("Fatal error") || run.stderr.contains("Stack dump"), "\(c.name) crashed: \(run.stderr)")
            let after = snapshot(of: scratch)
            if after != before {
                let changes = Set(after.map { "\($0.key): \($0.value)" }).symmetricDifference(before.map { "\($0.key): \($0.value)" })
                XCTFail("\(c.name) changed the scratch folder: \(changes.sorted().prefix(5))")
            }
        }
        XCTAssertEqual(try String(contentsOfFile: path("victim/keep.txt"), encoding: .utf8), "keep")
    }

    /// Without --model and with no shipped model anywhere the command looks, the error says
    /// where it looked. The binary is copied out of the repository first: ModelLocator also
    /// looks beside the executable, and the repository's Models/ may hold shipped models.
    func testNoShippedModelSaysWhereItLooked() throws {
        let copy = scratch.appendingPathComponent("bin/gradcam")
        try FileManager.default.createDirectory(at: copy.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: CommandTests.executable, to: copy)
        let run = try GradcamProcess(["caption", image, "--out", "never"], in: scratch, executable: copy).wait()
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertTrue(run.stderr.contains("the shipped model shapes-captioner was not found"), run.stderr)
        XCTAssertTrue(run.stderr.contains(scratch.appendingPathComponent("no-models").path), run.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("never")))
    }

    /// config.json cannot name a vocabulary file: an extra key that tries is ignored, and the
    /// model reads its own vocab.txt (model-format.md fixes the names inside the folder).
    func testConfigCannotNameAVocabularyPath() throws {
        let dir = try modelCopy("captioner-vgg-fc7", as: "vocab-key") { dir in
            try self.editConfig(dir) { c in
                c["vocab"] = "/etc/passwd"
                c["vocabulary"] = "../../../../etc/passwd"
            }
        }
        let run = try gradcam(["caption", image, "--model", dir, "--caption", "a red circle", "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let manifest = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
        XCTAssertEqual((manifest["tokens"] as! [[String: Any]]).map { $0["id"] as! Int }, [4, 5, 7])

        // Documented, not refused: a vocab.txt that is a symbolic link is followed, wherever it
        // leads, like any file the folder's owner put there (a link to a real vocabulary loads;
        // one to /etc/passwd fails for lacking <start>, <end> and <unk>, in the table above).
        let linked = try modelCopy("captioner-vgg-fc7", as: "vocab-link") { dir in
            try FileManager.default.removeItem(at: dir.appendingPathComponent("vocab.txt"))
            try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("vocab.txt").path,
                                                       withDestinationPath: self.model("captioner-vgg-fc7") + "/vocab.txt")
        }
        XCTAssertEqual(try gradcam(["caption", image, "--model", linked, "--caption", "a red circle"]).status, 0)
    }

    /// A link at --out is replaced by the export with --force, never written through: the
    /// folder it pointed at is untouched.
    func testForceReplacesALinkInsteadOfWritingThroughIt() throws {
        try write("victim/manifest.json", "{}")  // the link's target even looks like an export
        try FileManager.default.createSymbolicLink(atPath: path("out"), withDestinationPath: "victim")
        let run = try gradcam(["classify", image, "--model", model("classifier-vgg"), "--out", "out", "--force"])
        XCTAssertEqual(run.status, 0, run.stderr)
        var info = stat()
        XCTAssertEqual(lstat(path("out"), &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFDIR, "--out is now a real folder")
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("out/cams.npy")))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("victim")), ["manifest.json"])
        XCTAssertEqual(try String(contentsOfFile: path("victim/manifest.json"), encoding: .utf8), "{}")
    }

    /// Hostile inputs that are valid: they must work, and say what they did.
    func testQuotesNonASCIIAndHugeTextsWork() throws {
        // File names with spaces, quotes, markup and non-ASCII letters, in and out.
        let name = #"it's a "quoted" <b>ñandú & 🙂.jpg"#
        try FileManager.default.copyItem(atPath: image, toPath: path(name))
        let out = #"out "q" ñ 🙂"#
        let run = try gradcam(["caption", name, "--model", model("captioner-vgg-fc7"), "--beam", "1", "--out", out])
        XCTAssertEqual(run.status, 0, run.stderr)
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path(out + "/manifest.json")))) as! [String: Any]
        XCTAssertEqual((manifest["image"] as! [String: Any])["path"] as? String, name)
        let report = try String(contentsOfFile: path(out + "/report.html"), encoding: .utf8)
        XCTAssertFalse(report.contains("<b>ñandú"), "the file name reaches report.html unescaped")
        XCTAssertTrue(report.contains("&lt;b&gt;ñandú &amp; 🙂.jpg"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.path).filter { $0.hasPrefix(".") }, [])

        // A 10 000-word caption is cut to the model's 16 words, with a warning.
        let caption = Array(repeating: "red", count: 10_000).joined(separator: " ")
        let long = try gradcam(["caption", image, "--model", model("captioner-vgg-fc7"), "--caption", caption, "--json"], timeout: 30)
        XCTAssertEqual(long.status, 0, long.stderr)
        XCTAssertTrue(long.stderr.contains("truncated"), long.stderr)
        let tokens = (try JSONSerialization.jsonObject(with: Data(long.stdout.utf8)) as! [String: Any])["tokens"] as! [[String: Any]]
        XCTAssertEqual(tokens.count, 16)

        // A question of 100 KB on the command line (Linux caps one argument at 128 KB)…
        let question = String(repeating: "what color is the circle ", count: 4_000)
        let vqa = try gradcam(["vqa", image, "--model", model("vqa-flat"), "--question", question], timeout: 30)
        XCTAssertEqual(vqa.status, 0, vqa.stderr)
        XCTAssertTrue(vqa.stderr.contains("longer than the model's 26 words: only its first 26 were read"), vqa.stderr)
        // …and of 1 MB through a batch's questions file.
        let big = String(repeating: "what color ", count: 100_000)
        try JSONSerialization.data(withJSONObject: [["image": image, "question": big]]).write(to: URL(fileURLWithPath: path("qs.json")))
        XCTAssertGreaterThan(try Data(contentsOf: URL(fileURLWithPath: path("qs.json"))).count, 1_000_000)
        let batch = try gradcam(["export", "--model", model("vqa-flat"), "--questions", "qs.json", "--out", "batch", "--format", "npy"], timeout: 30)
        XCTAssertEqual(batch.status, 0, batch.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("batch")).sorted(), ["index.html", "index.jsonl", "rgb-q0"])
        let q = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("batch/rgb-q0/manifest.json")))) as! [String: Any]
        XCTAssertNotNil(q["question"])
    }
}
