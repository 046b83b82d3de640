import ArgumentParser
import Explain
import Export
import Foundation
import Hummingbird
import Imaging
import Models
import MultipartKit
import ZIPFoundation

/// The models `gradcam serve` offers: the shipped ones and those of --models,
/// by directory name, each loaded once on first use and then shared read-only.
final class ModelRegistry: @unchecked Sendable {
    /// Name → directory path, in the order listed.
    let paths: [(name: String, path: String)]
    private let lock = NSLock()
    private var loaded: [String: ModelDirectory] = [:]
    private var described: [String: [String: Any]] = [:]

    init(extra: String?) throws {
        var found = ModelLocator.shippedModels()
        if let extra {
            let fm = FileManager.default
            if fm.fileExists(atPath: extra + "/config.json") {
                found.insert(URL(fileURLWithPath: extra).standardizedFileURL.path, at: 0)
            } else {
                guard let names = try? fm.contentsOfDirectory(atPath: extra) else {
                    throw CLIError("--models \(extra): no such folder")
                }
                let dirs = names.sorted().map { URL(fileURLWithPath: extra).appendingPathComponent($0).standardizedFileURL.path }
                    .filter { fm.fileExists(atPath: $0 + "/config.json") }
                guard !dirs.isEmpty else { throw CLIError("--models \(extra): no model directory (with config.json) in it") }
                found.insert(contentsOf: dirs, at: 0)
            }
        }
        var seen = Set<String>()
        paths = found.compactMap { path in
            let name = URL(fileURLWithPath: path).lastPathComponent
            return seen.insert(name).inserted ? (name, path) : nil
        }
    }

    /// `GET /api/models`'s row for the model called `name`, worked out once (its layers take a forward pass).
    func description(_ name: String) throws -> [String: Any]? {
        if let row = lock.withLock({ described[name] }) { return row }
        guard let dir = try model(name) else { return nil }
        var row: [String: Any] = ["name": name, "task": dir.config.task.rawValue, "method": dir.defaultMethod.rawValue,
                                  "layer": dir.originalName(dir.explainLayer),
                                  "layers": mapLayers(dir).map { dir.originalName($0.name) }]
        switch dir.model {
        case let .captioning(_, vocabulary): row["vocabulary_size"] = vocabulary.count
        case let .vqa(_, questions, answers):
            row["answers"] = (0..<answers.count).compactMap { answers.token(at: $0) }
            row["vocabulary_size"] = questions.count
            if let forms = dir.questionForms { row["question_forms"] = forms.lines }
        case let .classification(_, classes): row["classes"] = (0..<classes.count).compactMap { classes.token(at: $0) }
        }
        lock.withLock { described[name] = row }
        return row
    }

    /// The model called `name`, loaded the first time it is asked for; nil when none is.
    func model(_ name: String) throws -> ModelDirectory? {
        guard let path = paths.first(where: { $0.name == name })?.path else { return nil }
        return try lock.withLock {
            if let model = loaded[name] { return model }
            let model = try ModelDirectory(path: path)
            model.hashWeightsInBackground()
            loaded[name] = model
            return model
        }
    }
}

/// An error answered as `{"error": message}` with its status.
struct APIError: Error, HTTPResponseError {
    let status: HTTPResponse.Status
    let message: String

    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        jsonResponse(["error": message], status: status)
    }
}

func jsonResponse(_ value: Any, status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
             body: .init(byteBuffer: ByteBuffer(string: (value as? JSON ?? JSON(value)).rendered())))
}

/// At most `workers` explanations at once and `queue` waiting; beyond that, 503.
/// The work runs on `workers` threads of its own, off the server's event loops —
/// always the same threads, so the memory the allocator keeps per thread stays
/// bounded however many requests come.
final class WorkerPool: @unchecked Sendable {
    let workers: Int, queue: Int
    private let lock = NSLock()
    private var admitted = 0
    private var jobs: [@Sendable () -> Void] = []
    private let waiting = DispatchSemaphore(value: 0)

    init(workers: Int, queue: Int) {
        self.workers = workers
        self.queue = queue
        for k in 0..<workers {
            let thread = Thread { [self] in
                while true {
                    waiting.wait()
                    let job = lock.withLock { jobs.removeFirst() }
                    job()
                }
            }
            thread.name = "gradcam-explain-\(k)"
            thread.stackSize = 16 << 20
            thread.start()
        }
    }

    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        let accepted = lock.withLock { () -> Bool in
            guard admitted < workers + queue else { return false }
            admitted += 1
            return true
        }
        guard accepted else {
            throw APIError(.serviceUnavailable, "busy: \(workers) explanations running and \(queue) waiting; try again shortly")
        }
        defer { lock.withLock { admitted -= 1 } }
        return try await withCheckedThrowingContinuation { continuation in
            lock.withLock { jobs.append { continuation.resume(with: Result { try work() }) } }
            waiting.signal()
        }
    }
}

/// One explanation's export folder (export-format.md), held in memory. Its
/// manifest is ready at once; its files — npy arrays, overlays, sheet, report —
/// are written by `writeExport`, as the CLI writes them, the first time one is
/// asked for, so answering `POST /api/explain` costs the explanation alone.
final class ExportFiles: @unchecked Sendable {
    let manifest: JSON
    private let document: ExportDocument
    private let lock = NSLock()
    private var written: [String: [UInt8]]?

    init(_ document: ExportDocument) throws {
        self.document = document
        manifest = try manifestValue(document)
    }

    /// The folder's files by relative path.
    func files() throws -> [String: [UInt8]] {
        try lock.withLock {
            if let written { return written }
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("gradcam-serve-" + UUID().uuidString).path
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            try writeExport(document, to: scratch)
            let files = try readTree(scratch)
            written = files
            return files
        }
    }

    /// The folder as a zip, named NAME/… inside.
    func zip(named name: String) throws -> Data {
        let archive = try Archive(accessMode: .create)
        for (path, bytes) in try files().sorted(by: { $0.key < $1.key }) {
            let data = Data(bytes)
            try archive.addEntry(with: name + "/" + path, type: .file, uncompressedSize: Int64(data.count),
                                 compressionMethod: path.hasSuffix(".png") || path.hasSuffix(".jpg") ? .none : .deflate) { position, size in
                data.subdata(in: Int(position)..<(Int(position) + size))
            }
        }
        return archive.data ?? Data()
    }
}

/// The last `capacity` results by id; the oldest goes first.
final class ResultCache: @unchecked Sendable {
    let capacity: Int
    private let lock = NSLock()
    private var order: [String] = []
    private var results: [String: ExportFiles] = [:]

    init(capacity: Int) { self.capacity = capacity }

    func insert(_ files: ExportFiles) -> String {
        var random = SystemRandomNumberGenerator()
        let id = (0..<4).map { _ in String(format: "%04x", Int.random(in: 0..<65536, using: &random)) }.joined()
        lock.withLock {
            results[id] = files
            order.append(id)
            while order.count > capacity { results[order.removeFirst()] = nil }
        }
        return id
    }

    subscript(id: String) -> ExportFiles? { lock.withLock { results[id] } }
}

/// What the page and the API do: answers requests with explanations made by
/// the same code and options as the CLI's, so an explanation's files are the
/// CLI's byte for byte.
struct ExplainService: Sendable {
    let registry: ModelRegistry
    let pool: WorkerPool
    let cache: ResultCache
    let maxUpload: Int
    let uploadTimeout: Double

    init(registry: ModelRegistry, workers: Int, queue: Int, cacheSize: Int, maxUpload: Int, uploadTimeout: Double) {
        self.registry = registry
        pool = WorkerPool(workers: workers, queue: queue)
        cache = ResultCache(capacity: cacheSize)
        self.maxUpload = maxUpload
        self.uploadTimeout = uploadTimeout
    }

    /// The form fields `POST /api/explain` takes besides `image` and `model`: the
    /// CLI's options by their long names; booleans as true/false.
    static let valueFields = ["caption", "question", "answer", "class", "top", "beam", "nbest", "max-length", "method",
                              "layer", "score", "normalize", "colormap", "alpha"]
    static let flagFields = ["counterfactual", "include-end", "whole", "aug-smooth", "eigen-smooth"]

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: servePage)))
        }
        router.get("/api/models") { _, _ in try await jsonResponse(pool.run { try models() }.value) }
        router.get("/api/examples") { _, _ in jsonResponse(Self.examples().map { ["name": $0.lastPathComponent, "url": "/api/examples/" + $0.lastPathComponent] }) }
        router.get("/api/examples/:name") { _, context in
            let name = context.parameters.get("name") ?? ""
            guard let url = Self.examples().first(where: { $0.lastPathComponent == name }), let data = FileManager.default.contents(atPath: url.path) else {
                throw APIError(.notFound, "no example image named \"\(name)\"")
            }
            return Response(status: .ok, headers: [.contentType: contentType(name)], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.post("/api/explain") { request, _ in
            do {
                return try await explain(request)
            } catch let error as APIError {
                throw error
            } catch {
                throw APIError(.internalServerError, "\(error)")
            }
        }
        router.get("/api/results/:id/**") { _, context in
            let id = context.parameters.get("id") ?? ""
            guard let result = cache[id] else { throw APIError(.notFound, "no result \"\(id)\" (the last \(cache.capacity) explanations are kept; explain again)") }
            let path = context.parameters.getCatchAll().joined(separator: "/")
            if path == "export.zip" {
                let zip = try await pool.run { try result.zip(named: "gradcam-" + id) }
                return Response(status: .ok, headers: [.contentType: "application/zip", .contentDisposition: "attachment; filename=\"gradcam-\(id).zip\""],
                                body: .init(byteBuffer: ByteBuffer(bytes: zip)))
            }
            // Files are looked up by name among the export's own: no path reaches the file system.
            guard let bytes = try await pool.run({ try result.files() })[path] else {
                throw APIError(.notFound, "result \(id) has no file \"\(path)\"")
            }
            return Response(status: .ok, headers: [.contentType: contentType(path)], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        return router
    }

    /// `GET /api/models`: each model's name, task, explainable layers and answers, classes or vocabulary size.
    func models() throws -> Shared<[[String: Any]]> {
        Shared(try registry.paths.compactMap { try registry.description($0.name) })
    }

    /// The example images offered on the page: the repository's notebooks-cli/images.
    static func examples() -> [URL] {
        for dir in ModelLocator.searchDirectories() {
            let images = dir.deletingLastPathComponent().appendingPathComponent("notebooks-cli/images")
            if let names = try? FileManager.default.contentsOfDirectory(atPath: images.path) {
                let found = names.filter { $0.hasSuffix(".png") || $0.hasSuffix(".jpg") }.sorted().map { images.appendingPathComponent($0) }
                if !found.isEmpty { return found }
            }
        }
        return []
    }

    /// The request's body, refused when over `maxUpload` (413) or when it has not
    /// all arrived after `uploadTimeout` seconds (408: a client that stalls holds no worker).
    func upload(_ body: RequestBody) async throws -> ByteBuffer {
        let limit = maxUpload, timeout = uploadTimeout
        return try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask {
                do {
                    return try await body.collect(upTo: limit)
                } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
                    throw APIError(.contentTooLarge, "the upload is over the limit of \(limit / 1_000_000) MB (gradcam serve --max-upload)")
                }
            }
            group.addTask {
                try await Task.sleep(nanoseconds: UInt64(timeout * 1e9))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let buffer = first else {
                throw APIError(.requestTimeout, "the upload did not arrive within \(Int(timeout)) s")
            }
            return buffer
        }
    }

    /// `POST /api/explain`.
    func explain(_ request: Request) async throws -> Response {
        guard let type = request.headers[.contentType], type.lowercased().hasPrefix("multipart/form-data"),
              let boundary = type.components(separatedBy: "boundary=").dropFirst().first?
                  .split(separator: ";").first.map({ $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")) }),
              !boundary.isEmpty
        else { throw APIError(.badRequest, "send multipart/form-data: the image as \"image\", the options as fields") }
        let body = try await upload(request.body)
        let form = try Form(body, boundary: boundary)
        guard let name = form.fields["model"] else { throw APIError(.badRequest, "give \"model\": one of the names GET /api/models lists") }
        guard registry.paths.contains(where: { $0.name == name }) else {
            throw APIError(.notFound, "no model named \"\(name)\"; GET /api/models lists them")
        }
        guard let upload = form.image else { throw APIError(.badRequest, "give \"image\": a JPEG or PNG file") }
        // Loading a model (the first request for it) is work too: off the event loop.
        let outcome = try await pool.run { [registry] in
            try ExplainJob(model: Shared(registry.model(name)!), name: name, image: upload, fields: form.fields).run()
        }
        let results: [JSON] = outcome.exports.map { name, files in
            let id = cache.insert(files), base = "/api/results/\(id)/"
            return .object([("id", .string(id)), ("name", .string(name)), ("files", .string(base)),
                            ("report", .string(base + "report.html")), ("zip", .string(base + "export.zip")),
                            ("manifest", withURLs(files.manifest, base: base))])
        }
        return jsonResponse(JSON.object([("results", .array(results)), ("warnings", .array(outcome.warnings.map { .string($0) }))]))
    }
}

/// The manifest with, beside each file it names (`raw`, `cams`, `attention`, each
/// token's `overlay`), that file's URL (`raw_url`, …, `overlay_url`).
private func withURLs(_ manifest: JSON, base: String) -> JSON {
    guard case let .object(fields) = manifest else { return manifest }
    return .object(fields.flatMap { key, value -> [(String, JSON)] in
        switch (key, value) {
        case ("raw", .string(let file)), ("cams", .string(let file)), ("attention", .string(let file)):
            return [(key, value), (key + "_url", .string(base + file))]
        case ("tokens", .array(let tokens)):
            return [(key, .array(tokens.map { token in
                guard case let .object(record) = token else { return token }
                return .object(record.flatMap { k, v -> [(String, JSON)] in
                    if k == "overlay", case let .string(file) = v { return [(k, v), ("overlay_url", .string(base + file))] }
                    return [(k, v)]
                })
            }))]
        default:
            return [(key, value)]
        }
    })
}

/// A value shared with the worker threads, read-only there.
struct Shared<Value>: @unchecked Sendable { let value: Value; init(_ value: Value) { self.value = value } }

/// A multipart/form-data body: its text fields and the uploaded image.
struct Form {
    var fields: [String: String] = [:]
    var image: (name: String, bytes: [UInt8])?

    init(_ body: ByteBuffer, boundary: String) throws {
        let parser = MultipartParser(boundary: boundary)
        var parts: [MultipartPart] = [], headers = HTTPHeaders(), data = ByteBuffer()
        parser.onHeader = { headers.add(name: $0, value: $1) }
        parser.onBody = { data.writeBuffer(&$0) }
        parser.onPartComplete = {
            parts.append(MultipartPart(headers: headers, body: data))
            headers = HTTPHeaders()
            data = ByteBuffer()
        }
        do { try parser.execute(body) } catch { throw APIError(.badRequest, "the multipart body does not parse: \(error)") }
        let known = Set(["image", "model"] + ExplainService.valueFields + ExplainService.flagFields)
        for part in parts {
            guard let name = part.name else { throw APIError(.badRequest, "a part of the form has no name") }
            guard known.contains(name) else {
                throw APIError(.badRequest, "unknown field \"\(name)\"; the fields are image, model and the CLI's options: "
                               + (ExplainService.valueFields + ExplainService.flagFields).joined(separator: ", "))
            }
            if name == "image" {
                let disposition = part.headers.first(name: "Content-Disposition") ?? ""
                let filename = disposition.components(separatedBy: "filename=\"").dropFirst().first?.split(separator: "\"").first
                image = (filename.map(String.init) ?? "upload", Array(part.body.readableBytesView))
            } else {
                fields[name] = String(buffer: part.body)
            }
        }
    }
}

/// One explanation request, checked as the CLI checks its arguments.
struct ExplainJob: Sendable {
    let model: Shared<ModelDirectory>
    let name: String
    let image: (name: String, bytes: [UInt8])
    /// The CLI arguments the fields stand for, after the image.
    let arguments: [String]

    init(model: Shared<ModelDirectory>, name: String, image: (name: String, bytes: [UInt8]), fields: [String: String]) throws {
        self.model = model
        self.name = name
        self.image = image
        var arguments = ["--model", model.value.path]
        for field in ExplainService.valueFields { if let value = fields[field] { arguments += ["--" + field, value] } }
        for field in ExplainService.flagFields {
            switch fields[field]?.lowercased() {
            case nil, "", "false", "off", "0": break
            case "true", "on", "1": arguments.append("--" + field)
            case let other?: throw APIError(.badRequest, "\"\(field)\" is true or false, not \"\(other)\"")
            }
        }
        self.arguments = arguments
        _ = try command()  // a bad option is a 400 before any work
    }

    /// The command the fields make, parsed and validated by ArgumentParser.
    func command() throws -> any ParsableCommand {
        let type: any ParsableCommand.Type = switch model.value.config.task {
        case .captioning: Caption.self
        case .vqa: VQA.self
        case .classification: Classify.self
        }
        do {
            return try type.parse([image.name] + arguments)
        } catch {
            throw APIError(.badRequest, type.message(for: error).replacingOccurrences(of: "--", with: ""))
        }
    }

    /// The explanations, as the CLI would write them with --out, and the warnings it would print.
    func run() throws -> (exports: [(name: String, files: ExportFiles)], warnings: [String]) {
        let dir = model.value
        let decoded: RGBImage
        do { decoded = try RGBImage.decode(data: image.bytes) } catch { throw APIError(.badRequest, "\(image.name): \(error)") }
        let loaded = LoadedImage(path: image.name, image: decoded, input: dir.input(for: decoded))
        var warnings = dir.preprocessing.concerns(about: decoded).map { "\(image.name): \($0)" }
        let documents: [(String, ExportDocument)]
        do {
            documents = try explainedDocuments(try command(), dir: dir, image: loaded, warnings: &warnings)
        } catch let error as APIError {
            throw error
        } catch let error as TaskError {
            throw APIError(.badRequest, "\(error)")
        } catch let error as ExplainError {
            throw APIError(.badRequest, "\(error)")
        }
        return (try documents.map { name, doc in
            var doc = doc
            doc.reportSettings = [("request", "POST /api/explain model=\(self.name) " + arguments.dropFirst(2).map(shellQuoted).joined(separator: " "))]
            return (name, try ExportFiles(doc))
        }, warnings)
    }
}

/// The export documents the CLI's command would write, named as `caption --nbest` names them.
private func explainedDocuments(_ command: any ParsableCommand, dir: ModelDirectory, image: LoadedImage,
                                warnings: inout [String]) throws -> [(String, ExportDocument)] {
    switch command {
    case let c as Caption:
        let score = c.flags.score(for: .captioning)
        var notes: [String] = []
        let sequences = try CaptionTask(model: dir).explain(
            image: image.input, caption: c.caption, beam: c.beam, nbest: c.nbest, maxLength: c.maxLength,
            includeEnd: c.includeEnd, whole: c.whole, score: score, options: c.flags.options(for: dir)) { unknown, truncated in
            if !unknown.isEmpty { notes.append("not in the vocabulary, read as <unk>: \(unknown.joined(separator: ", "))") }
            if truncated { notes.append("the caption is longer than the model's \(dir.config.decoder!.maxLength) words; truncated") }
        }
        warnings += notes
        return try sequences.enumerated().map { k, s in
            ("beam-\(k)", try exportDocument(s, task: .captioning, image: image, model: dir, flags: c.flags, score: score))
        }
    case let v as VQA:
        let task = try VQATask(model: dir)
        let read = try task.read(v.question)
        warnings += read.warnings(maxLength: dir.config.questionEncoder!.maxLength)
        warnings += task.layerWarnings(layer: v.flags.layer.map(dir.layerName), method: v.flags.method(for: dir))
        let score = v.flags.score(for: .vqa)
        let s = try task.explain(image: image.input, question: read, answer: v.answer, top: v.top, score: score,
                                 options: v.flags.options(for: dir))
        return [("answer", try exportDocument(s, task: .vqa, image: image, model: dir, flags: v.flags, score: score, question: read))]
    case let c as Classify:
        let score = c.flags.score(for: .classification)
        let s = try ClassifyTask(model: dir).explain(image: image.input, className: c.className, top: c.top, score: score,
                                                     options: c.flags.options(for: dir))
        return [("class", try exportDocument(s, task: .classification, image: image, model: dir, flags: c.flags, score: score))]
    default:
        preconditionFailure("not an explaining command: \(type(of: command))")
    }
}

/// Every file under `root`, by path relative to it.
private func readTree(_ root: String) throws -> [String: [UInt8]] {
    var files: [String: [UInt8]] = [:]
    guard let walker = FileManager.default.enumerator(atPath: root) else { return files }
    for case let path as String in walker {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isDirectory), !isDirectory.boolValue {
            files[path] = Array(try Data(contentsOf: URL(fileURLWithPath: root + "/" + path)))
        }
    }
    return files
}

private func contentType(_ path: String) -> String {
    switch URL(fileURLWithPath: path).pathExtension.lowercased() {
    case "html": return "text/html; charset=utf-8"
    case "json", "jsonl": return "application/json; charset=utf-8"
    case "png": return "image/png"
    case "jpg", "jpeg": return "image/jpeg"
    default: return "application/octet-stream"
    }
}
