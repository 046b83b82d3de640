import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// `gradcam serve`, started as the README says and driven over loopback: every
/// status code of the API, the CLI's files byte for byte, hostile requests, a
/// clean stop, and the page in a real browser (docs/serve.md).
final class ServeTests: XCTestCase {
    var scratch: URL!
    var server: GradcamProcess?
    var base = ""

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        if let server, server.process.isRunning { kill(server.pid, SIGKILL) }
        try? FileManager.default.removeItem(at: scratch)
    }

    static let models = CommandTests.repository.appendingPathComponent("Models").path
    static let scene = CommandTests.repository.appendingPathComponent("notebooks-cli/images/scene-1.png")

    /// Starts the server on a port the system chooses and waits for its first line.
    func start(_ options: [String] = []) throws {
        let server = try GradcamProcess(["serve", "--port", "0", "--models", Self.models] + options, in: scratch)
        self.server = server
        XCTAssertTrue(GradcamProcess.waitUntil(timeout: 60) { server.stdoutSoFar.contains("\n") }, server.stderrSoFar)
        let first = server.stdoutSoFar.split(separator: "\n").first.map(String.init) ?? ""
        XCTAssertTrue(first.hasPrefix("listening on http://127.0.0.1:"), first)
        base = String(first.dropFirst("listening on ".count))
    }

    struct Reply {
        let status: Int
        let body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        var error: String { json["error"] as? String ?? "(no error field: \(String(decoding: body.prefix(200), as: UTF8.self)))" }
    }

    func request(_ path: String, method: String = "GET", body: Data? = nil, contentType: String? = nil) throws -> Reply {
        var request = URLRequest(url: URL(string: base + path)!, timeoutInterval: 120)
        request.httpMethod = method
        request.httpBody = body
        if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var reply: Reply?
        nonisolated(unsafe) var failure: (any Error)?
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error { failure = error } else {
                reply = Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data ?? Data())
            }
            done.signal()
        }.resume()
        done.wait()
        if let failure { throw failure }
        return reply!
    }

    static let boundary = "gradcam-test-boundary"

    /// A multipart/form-data body of `fields` and, when given, an image file part.
    static func form(_ fields: [(String, String)], image: Data? = nil, filename: String = "scene.png") -> Data {
        var body = Data()
        for (name, value) in fields {
            body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        if let image {
            body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"image\"; filename=\"\(filename)\"\r\nContent-Type: image/png\r\n\r\n".utf8)
            body += image + Data("\r\n".utf8)
        }
        return body + Data("--\(boundary)--\r\n".utf8)
    }

    func explain(_ fields: [(String, String)], image: Data? = nil) throws -> Reply {
        try request("/api/explain", method: "POST", body: Self.form(fields, image: image ?? (try Data(contentsOf: Self.scene))),
                    contentType: "multipart/form-data; boundary=\(Self.boundary)")
    }

    func testTheAPIAnswersWithTheCLIsFilesAndEveryError() throws {
        try start(["--max-upload", "1", "--upload-timeout", "2"])
        // GET /api/models: the shipped models, each with its layers.
        let models = try request("/api/models")
        XCTAssertEqual(models.status, 200)
        let list = try XCTUnwrap(try JSONSerialization.jsonObject(with: models.body) as? [[String: Any]])
        let captioner = try XCTUnwrap(list.first { $0["name"] as? String == "shapes-captioner" })
        XCTAssertEqual(captioner["task"] as? String, "captioning")
        XCTAssertTrue((captioner["layers"] as? [String])?.contains(captioner["layer"] as! String) == true, "\(captioner)")
        XCTAssertEqual((list.first { $0["name"] as? String == "shapes-vqa" }?["answers"] as? [String])?.contains("red"), true)

        // 200: the files are those `gradcam vqa` writes, byte for byte.
        let fields = [("model", "shapes-vqa"), ("question", "what color is the circle?"), ("top", "3"), ("method", "gradcam")]
        let answered = try explain(fields)
        XCTAssertEqual(answered.status, 200, answered.error)
        let result = try XCTUnwrap((answered.json["results"] as? [[String: Any]])?.first)
        let manifest = try XCTUnwrap(result["manifest"] as? [String: Any])
        XCTAssertEqual((manifest["tokens"] as? [[String: Any]])?.count, 3)
        XCTAssertEqual(manifest["method"] as? String, "gradcam")
        let files = try XCTUnwrap(result["files"] as? String)
        let cli = scratch.appendingPathComponent("cli").path
        let run = try GradcamProcess(["vqa", Self.scene.path, "--model", Self.models + "/shapes-vqa", "--question", "what color is the circle?",
                                      "--top", "3", "--method", "gradcam", "--out", cli], in: scratch).wait()
        XCTAssertEqual(run.status, 0, run.stderr)
        for name in ["raw.npy", "cams.npy", "attention.npy", "manifest.json"] {
            let served = try request(files + name)
            XCTAssertEqual(served.status, 200, name)
            let written = try Data(contentsOf: URL(fileURLWithPath: cli + "/" + name))
            if name == "manifest.json" {
                // The image's path differs (the upload's name); everything else is the same.
                XCTAssertEqual(served.body.count - "scene.png".utf8.count, written.count - Self.scene.path.utf8.count)
            } else {
                XCTAssertEqual(served.body, written, "\(name) differs from the CLI's")
            }
        }
        // Beside each file the manifest names, its URL.
        let overlay = try XCTUnwrap((manifest["tokens"] as? [[String: Any]])?.first?["overlay_url"] as? String)
        XCTAssertEqual(overlay, files + ((manifest["tokens"] as! [[String: Any]])[0]["overlay"] as! String))
        XCTAssertEqual(try request(overlay).body.prefix(4), Data([0x89, 0x50, 0x4E, 0x47]), "a PNG")
        XCTAssertEqual(manifest["raw_url"] as? String, files + "raw.npy")
        let zip = try request(result["zip"] as! String)
        XCTAssertEqual(zip.status, 200)
        XCTAssertEqual(Array(zip.body.prefix(2)), Array("PK".utf8))

        // 400: the CLI's own messages.
        let badField = try explain([("model", "shapes-vqa"), ("question", "what?"), ("colour", "red")])
        XCTAssertEqual(badField.status, 400)
        XCTAssertTrue(badField.error.contains("unknown field \"colour\""), badField.error)
        let noQuestion = try explain([("model", "shapes-vqa")])
        XCTAssertEqual(noQuestion.status, 400)
        XCTAssertTrue(noQuestion.error.contains("question"), noQuestion.error)
        let wrongTask = try explain([("model", "shapes-captioner"), ("question", "what?")])
        XCTAssertEqual(wrongTask.status, 400, wrongTask.error)
        let badLayer = try explain([("model", "shapes-captioner"), ("layer", "backbone.nope")])
        XCTAssertEqual(badLayer.status, 400)
        XCTAssertTrue(badLayer.error.contains("no layer named \"backbone.nope\""), badLayer.error)
        let badFlag = try explain([("model", "shapes-captioner"), ("counterfactual", "maybe")])
        XCTAssertEqual(badFlag.status, 400)
        for (what, bytes) in [("text", Data("not an image at all".utf8)), ("nothing", Data())] {
            let bad = try explain([("model", "shapes-captioner")], image: bytes)
            XCTAssertEqual(bad.status, 400, "\(what): \(bad.error)")
            XCTAssertTrue(bad.error.hasPrefix("scene.png: "), bad.error)
        }
        // A decompression bomb: a tiny PNG that claims 100 000 × 100 000 pixels.
        let bomb = try Data(contentsOf: CommandTests.images.appendingPathComponent("huge.png"))
        let bombReply = try explain([("model", "shapes-captioner")], image: bomb)
        XCTAssertEqual(bombReply.status, 400, bombReply.error)
        let malformed = try request("/api/explain", method: "POST", body: Data("--\(Self.boundary)\r\nnonsense".utf8),
                                    contentType: "multipart/form-data; boundary=\(Self.boundary)")
        XCTAssertEqual(malformed.status, 400, malformed.error)
        let notMultipart = try request("/api/explain", method: "POST", body: Data("{}".utf8), contentType: "application/json")
        XCTAssertEqual(notMultipart.status, 400)

        // 404: unknown models, results and files; no path leaves the cache.
        for name in ["no-such-model", "../Models/shapes-vqa", "/etc"] {
            let unknown = try explain([("model", name)])
            XCTAssertEqual(unknown.status, 404, name)
            XCTAssertTrue(unknown.error.contains("no model named"), unknown.error)
        }
        XCTAssertEqual(try request("/api/results/0000/raw.npy").status, 404)
        for path in [files + "..%2F..%2F..%2Fetc%2Fpasswd", files + "%2E%2E/%2E%2E/etc/passwd", files + "sheet.png%00"] {
            let hostile = try request(path)
            XCTAssertEqual(hostile.status, 404, path)
            XCTAssertFalse(String(decoding: hostile.body, as: UTF8.self).contains("root:"), path)
        }

        // 413: over --max-upload (1 MB).
        let large = try explain([("model", "shapes-captioner")], image: Data(repeating: 7, count: 1_500_000))
        XCTAssertEqual(large.status, 413)
        XCTAssertTrue(large.error.contains("over the limit of 1 MB"), large.error)

        // 408: a client that never finishes its upload is cut off, and the server goes on.
        if let curl = ["/usr/bin/curl", "/bin/curl"].first(where: FileManager.default.isExecutableFile) {
            let slow = Process()
            slow.executableURL = URL(fileURLWithPath: curl)
            let image = scratch.appendingPathComponent("large.bin")
            try Data(repeating: 1, count: 200_000).write(to: image)
            slow.arguments = ["-s", "--limit-rate", "2000", "-F", "model=shapes-captioner", "-F", "image=@" + image.path,
                              "-w", "\n%{http_code}", base + "/api/explain"]
            let out = Pipe()
            slow.standardOutput = out
            try slow.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            slow.waitUntilExit()
            XCTAssertTrue(text.hasSuffix("\n408"), text)
            XCTAssertTrue(text.contains("did not arrive within 2 s"), text)
        }
        XCTAssertEqual(try explain([("model", "shapes-classifier")]).status, 200, "the server still answers")

        // SIGTERM: a clean stop.
        kill(server!.pid, SIGTERM)
        let stopped = server!.wait(timeout: 30)
        XCTAssertEqual(stopped.status, 0, stopped.stderr)
        XCTAssertTrue(stopped.stdout.hasSuffix("stopped\n"), stopped.stdout)
    }

    /// 503 when every worker is busy and the queue is full, at once rather than after a wait.
    func testABusyServerSaysSo() throws {
        try start(["--workers", "1", "--queue", "0"])
        let slowDone = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var slowStatus = 0
        let slowBody = Self.form([("model", "shapes-captioner"), ("method", "scorecam"), ("beam", "5")], image: try Data(contentsOf: Self.scene))
        var slowRequest = URLRequest(url: URL(string: base + "/api/explain")!, timeoutInterval: 300)
        slowRequest.httpMethod = "POST"
        slowRequest.httpBody = slowBody
        slowRequest.setValue("multipart/form-data; boundary=\(Self.boundary)", forHTTPHeaderField: "Content-Type")
        URLSession.shared.dataTask(with: slowRequest) { _, response, _ in
            slowStatus = (response as? HTTPURLResponse)?.statusCode ?? 0
            slowDone.signal()
        }.resume()
        usleep(500_000)
        let busy = try explain([("model", "shapes-classifier")])
        XCTAssertEqual(busy.status, 503, busy.error)
        XCTAssertTrue(busy.error.hasPrefix("busy:"), busy.error)
        slowDone.wait()
        XCTAssertEqual(slowStatus, 200)
        XCTAssertEqual(try explain([("model", "shapes-classifier")]).status, 200, "free again")
    }

    /// The page in headless Chromium: `/?selftest` picks an example, explains it as the Explain
    /// button does, clicks the third word of the report and checks that its map is shown, then asks
    /// the VQA model the page's question.
    func testThePageInABrowser() throws {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        guard let browser = ["chromium", "chromium-browser"].flatMap({ name in path.map { "\($0)/\(name)" } })
            .first(where: FileManager.default.isExecutableFile) else {
            print("skipped: no chromium or chromium-browser on PATH, so the page is not tested in a browser")
            throw XCTSkip("no chromium on PATH")
        }
        try start()
        let page = try GradcamProcess([
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--user-data-dir=" + scratch.path + "/profile", "--virtual-time-budget=120000",
            "--dump-dom", base + "/?selftest",
        ], in: scratch, executable: URL(fileURLWithPath: browser)).wait(timeout: 300)
        XCTAssertEqual(page.status, 0, page.stderr)
        XCTAssertFalse(page.timedOut)
        let dom = page.stdout
        let verdict = dom.range(of: "<pre id=\"selftest\">").map { dom[$0.upperBound...].prefix { $0 != "<" } } ?? "no verdict in the DOM"
        XCTAssertTrue(verdict.hasPrefix("SELFTEST PASS clicked") && verdict.contains("\" answered "), String(verdict))
    }
}
