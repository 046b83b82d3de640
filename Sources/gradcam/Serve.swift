import ArgumentParser
import Foundation
import Hummingbird
import Models

/// `gradcam serve`: the paper's interactive demo as a local web app, and the
/// JSON API its page uses (docs/serve.md).
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explain in the browser: a local web page and JSON API over the loaded models.",
        discussion: """
            Serves a page where you pick a model and an image (or an example), then click any word of \
            the caption, any answer or class for its map; method, layer, score and normalisation are \
            re-explained in place, and the explanation downloads as the export folder (zip). The \
            models stay loaded, so every explanation after the first takes the time of the \
            explanation alone. The first line printed is "listening on http://HOST:PORT" (with \
            --port 0, the port the system chose); SIGINT or SIGTERM stops the server. The API is \
            documented in docs/serve.md.

            Examples:
              gradcam serve
              gradcam serve --port 9000 --models my-models
              curl -F image=@scene.png -F model=shapes-vqa \\
                  -F question="what color is the circle?" http://127.0.0.1:8080/api/explain
            """)

    @Option(help: "The address to bind: the loopback address unless you mean to serve other machines.")
    var host = "127.0.0.1"
    @Option(help: "The port; 0 lets the system choose one (printed in the first line).") var port = 8080
    @Option(help: ArgumentHelp("A folder of model directories (or one model directory) offered beside the shipped models.",
                               valueName: "dir"))
    var models: String?
    @Option(help: "The largest upload accepted, in MB.") var maxUpload = 20
    @Option(help: "Seconds an upload may take to arrive before it is refused (408).") var uploadTimeout = 30.0
    @Option(help: "Explanations computed at once.") var workers = 2
    @Option(help: "Requests waiting for a worker before the server answers 503 (busy).") var queue = 8
    @Option(help: "Finished explanations kept in memory for their files and zip.") var cache = 32

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535, got \(port)") }
        guard maxUpload >= 1 else { throw ValidationError("--max-upload must be at least 1 (MB), got \(maxUpload)") }
        guard uploadTimeout > 0 else { throw ValidationError("--upload-timeout must be positive, got \(uploadTimeout)") }
        guard workers >= 1, queue >= 0, cache >= 1 else {
            throw ValidationError("--workers and --cache must be at least 1 and --queue at least 0")
        }
    }

    func run() throws {
        let registry = try ModelRegistry(extra: models)
        let service = ExplainService(registry: registry, workers: workers, queue: queue, cacheSize: cache,
                                     maxUpload: maxUpload * 1_000_000, uploadTimeout: uploadTimeout)
        let app = Application(router: service.router(),
                              configuration: .init(address: .hostname(host, port: port), serverName: "gradcam"),
                              onServerRunning: { channel in
                                  let bound = channel.localAddress?.port ?? port
                                  // Unbuffered: a script waits for this line.
                                  FileHandle.standardOutput.write(Data("listening on http://\(host):\(bound)\n".utf8))
                              })
        try runUntilInterrupted { try await app.run() }
        print("stopped")
    }
}

/// Runs `serve` until it ends or SIGINT/SIGTERM arrives (polled, so an export
/// being written finishes first), then cancels it and waits for it to stop.
private func runUntilInterrupted(_ serve: @escaping @Sendable () async throws -> Void) throws {
    let outcome = Outcome()
    let done = DispatchSemaphore(value: 0)
    withInterruptsPolled {
        Task.detached {
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await serve() }
                    group.addTask {
                        while interruptRequested() == nil { try await Task.sleep(nanoseconds: 50_000_000) }
                    }
                    try await group.next()
                    group.cancelAll()
                }
            } catch is CancellationError {
            } catch {
                outcome.set(error)
            }
            done.signal()
        }
        done.wait()
    }
    if let error = outcome.error { throw CLIError("the server stopped: \(error)") }
}

/// The error a detached task ended with, read after it signalled.
private final class Outcome: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: (any Error)?
    var error: (any Error)? { lock.withLock { stored } }
    func set(_ error: any Error) { lock.withLock { stored = error } }
}
