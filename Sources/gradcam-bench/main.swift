// gradcam-bench: the benchmark suite. Run in a release build (`make bench`;
// `gradcam-bench --help` lists the options).
// Every figure is reported beside a yardstick measured in the same run (the
// sgemm peak, and PyTorch when it is installed), because the machines are
// shared and noisy. Each scenario variant runs in its own process, so that
// its peak memory is its own; scripts/bench_pytorch.py runs the same
// scenarios in PyTorch on the same weights and inputs and checks the outputs.

import ArgumentParser
import CBLAS
import Foundation
import Tensor

struct Options {
    var quick = false
    var scenarios: [String] = []
    /// nil: use PyTorch when `python3 -c "import torch"` works.
    var pytorch: Bool?
    var models: String?
    var json: String?
    var markdown: String?
    var script: String?
    var threads = 2
    var fromJSON: String?
    var child: (scenario: String, variant: String)?
}

/// The command line, parsed by ArgumentParser into `Options`.
struct GradcamBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradcam-bench",
        abstract: "Time gradcam's scenarios beside the sgemm peak and PyTorch, measured in the same run.",
        discussion: """
            Run in a release build (`make bench`). Each scenario variant runs in its own process; \
            scripts/bench_pytorch.py runs the same scenarios in PyTorch on the same weights and \
            inputs and checks the outputs. See BENCHMARKS.md.
            """)

    @Flag(help: "Fewer repeats and conv shapes (about 2 minutes).") var quick = false
    @Option(help: ArgumentHelp("Run only these scenarios (comma-separated, repeatable; see --list).", valueName: "name")) var scenario: [String] = []
    @Flag(inversion: .prefixedNo, help: "Require PyTorch (scripts/bench_pytorch.py); default: use it when installed.")
    var pytorch: Bool?
    @Option(help: ArgumentHelp("Keep the model directories, inputs and outputs here (reused next time).", valueName: "dir")) var models: String?
    @Option(help: ArgumentHelp("Write every run's raw result to this file.", valueName: "file")) var json: String?
    @Option(help: ArgumentHelp("Write the result table as Markdown to this file.", valueName: "file")) var markdown: String?
    @Option(help: ArgumentHelp("The PyTorch side's script (default: scripts/bench_pytorch.py).", valueName: "file")) var script: String?
    @Option(help: ArgumentHelp("Threads of a large product here, torch.set_num_threads there.", valueName: "n")) var threads = 2
    @Option(help: ArgumentHelp("Print the report of an earlier --json file instead of running.", valueName: "file")) var fromJSON: String?
    @Option(parsing: .upToNextOption, help: ArgumentHelp("Internal: run one scenario's variant.", visibility: .private))
    var child: [String] = []
    @Flag(help: "List the scenarios.") var list = false

    func validate() throws {
        guard threads > 0 else { throw ValidationError("--threads needs a positive number") }
        guard child.isEmpty || child.count == 2 else { throw ValidationError("--child takes a scenario and a variant") }
        let known = Set(scenarios.map(\.name))
        for name in scenario.flatMap({ $0.split(separator: ",") }) where !known.contains(String(name)) {
            throw ValidationError("unknown scenario \(name); scenarios: \(scenarios.map(\.name).joined(separator: ", "))")
        }
    }

    func run() throws {
        if list {
            for s in scenarios { print(s.name.padding(toLength: 18, withPad: " ", startingAt: 0), s.title) }
            return
        }
        try runBench(Options(quick: quick, scenarios: scenario.flatMap { $0.split(separator: ",").map(String.init) },
                         pytorch: pytorch, models: models, json: json, markdown: markdown, script: script,
                         threads: threads, fromJSON: fromJSON, child: child.count == 2 ? (child[0], child[1]) : nil))
    }
}

/// Runs a command, echoing its stderr, and returns the RESULT lines of its stdout.
func runCollecting(_ executable: String, _ arguments: [String]) -> (results: [RunResult], status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.standardError
    do { try process.run() } catch {
        return ([], -1, "cannot run \(executable): \(error)")
    }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    let results = text.split(separator: "\n").compactMap(RunResult.parse)
    return (results, process.terminationStatus, text)
}

func which(_ name: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
        let p = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}

func pytorchScript(_ o: Options) -> String? {
    if let s = o.script { return s }
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    let candidates = [FileManager.default.currentDirectoryPath + "/scripts/bench_pytorch.py",
                      exe.deletingLastPathComponent().appendingPathComponent("../../scripts/bench_pytorch.py").standardized.path,
                      exe.deletingLastPathComponent().appendingPathComponent("../../../scripts/bench_pytorch.py").standardized.path]
    return candidates.first { FileManager.default.fileExists(atPath: $0) }
}

func runBench(_ o: Options) throws {
    let p = Protocol(quick: o.quick, threads: o.threads)

    if let (name, variant) = o.child {
        guard let s = scenarios.first(where: { $0.name == name }) else { throw BenchError("unknown scenario \(name)") }
        guard let dir = o.models else { throw BenchError("--child needs --models") }
        setBLASThreads(o.threads)
        var result: RunResult
        do {
            result = try s.run(Bench(ws: Workspace(dir: dir), p: p), variant)
        } catch {
            result = RunResult(scenario: name, variant: variant)
            result.error = "\(error)"
        }
        print(result.line)
        return
    }

    if let path = o.fromJSON {
        let results = try JSONDecoder().decode([RunResult].self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        let report = Report(results: results, protocol: p, pytorch: results.contains { $0.side == "pytorch" }, elapsed: 0)
        print(report.text())
        if let md = o.markdown { try report.markdown().write(toFile: md, atomically: true, encoding: .utf8) }
        return
    }

    let selected = o.scenarios.isEmpty ? scenarios : scenarios.filter { o.scenarios.contains($0.name) }
    let temporary = o.models == nil
    let dir = o.models ?? NSTemporaryDirectory() + "gradcam-bench-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { if temporary { try? FileManager.default.removeItem(atPath: dir) } }
    let ws = Workspace(dir: dir)

    // PyTorch: by default when it imports; required with --pytorch.
    var python: String?, script: String?
    if o.pytorch != false, selected.contains(where: \.pytorch) {
        let py = which("python3")
        let works = py.map { runCollecting($0, ["-c", "import torch, safetensors"]).status == 0 } ?? false
        script = pytorchScript(o)
        if works, script != nil {
            python = py
        } else if o.pytorch == true {
            throw BenchError(works ? "scripts/bench_pytorch.py not found (run from the repository root or pass --script)"
                                   : "--pytorch: python3 cannot import torch and safetensors")
        } else {
            log("PyTorch not available: our side only")
        }
    }

    log("working directory \(dir)\(temporary ? " (temporary)" : "")")
    try ws.prepareInputs()
    for spec in ModelSpec.allCases where selected.contains(where: { $0.models.contains(spec) }) {
        try ws.prepare(spec)
    }

    let loadBefore = loadAverage()
    let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
    var all: [RunResult] = []
    let start = Date()
    for s in selected {
        func runOurs() {
            for v in s.variants {
                log("\(s.name) / \(v) …")
                let run = runCollecting(me, ["--child", s.name, v, "--models", dir, "--threads", "\(o.threads)"] + (o.quick ? ["--quick"] : []))
                if run.results.isEmpty {
                    var r = RunResult(scenario: s.name, variant: v)
                    r.error = "the child process exited with status \(run.status) and no result"
                    all.append(r)
                }
                all += run.results
            }
        }
        func runPyTorch() {
            if s.pytorch, let python, let script {
                log("\(s.name) / PyTorch …")
                let run = runCollecting(python, [script, "--models", dir, "--scenario", s.name, "--threads", "\(o.threads)"] + (o.quick ? ["--quick"] : []))
                if run.results.isEmpty {
                    var r = RunResult(scenario: s.name, variant: "?", side: "pytorch")
                    r.error = "bench_pytorch.py exited with status \(run.status) and no result"
                    all.append(r)
                }
                all += run.results
            }
        }
        if s.pytorchFirst { runPyTorch(); runOurs() } else { runOurs(); runPyTorch() }
        for r in all where r.scenario == s.name {
            if let e = r.error { log("\(s.name) / \(r.side) \(r.variant): ERROR \(e)") }
            if let c = r.check, c.hasPrefix("FAIL") { log("\(s.name) / \(r.side) \(r.variant): \(c)") }
        }
    }
    var report = Report(results: all, protocol: p, pytorch: python != nil, elapsed: Date().timeIntervalSince(start))
    report.machine = machine(python: python) + ["load average (1, 5, 15 min) at the start: \(loadBefore); at the end: \(loadAverage())"]
    print(report.text())
    if let path = o.json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(all).write(to: URL(fileURLWithPath: path))
    }
    if let path = o.markdown { try report.markdown().write(toFile: path, atomically: true, encoding: .utf8) }
}

func loadAverage() -> String {
    ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
}

/// What the figures were measured on.
func machine(python: String?) -> [String] {
    var lines: [String] = []
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":").last
        .map { $0.trimmingCharacters(in: .whitespaces) } ?? "?"
    lines.append("CPU: \(model), \(ProcessInfo.processInfo.activeProcessorCount) cores")
    lines.append("OpenBLAS: " + String(cString: openblas_get_config()) + " (core \(String(cString: openblas_get_corename())))")
    if let python {
        let r = runCollecting(python, ["-c", "import torch; print('RESULT', torch.__version__, torch.backends.mkldnn.is_available())"])
        if let line = r.output.split(separator: "\n").first(where: { $0.hasPrefix("RESULT ") }) {
            lines.append("PyTorch: " + line.dropFirst(7) + " (torch version, oneDNN available), OMP_WAIT_POLICY=PASSIVE")
        }
    }
    return lines
}

startBLAS()
GradcamBench.main()
