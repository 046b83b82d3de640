// The measuring protocol shared with scripts/bench_pytorch.py: one warm-up,
// then the median of 5 runs (3 when one run takes over 2 s; --quick: 3 and 1);
// peak memory as the process's resident high-water mark (VmHWM), reset after
// the model is loaded; results as one JSON line per run.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct Protocol {
    let quick: Bool
    static let slowSeconds = 2.0

    let threads: Int

    /// Runs after the warm-up. With --quick a run over 2 s is timed once: its warm-up.
    func repeats(afterWarmUp seconds: Double) -> Int {
        seconds > Self.slowSeconds ? (quick ? 0 : 3) : (quick ? 3 : 5)
    }

    var description: String {
        (quick ? "--quick: median of 3 after one warm-up (a run over 2 s: the warm-up alone)"
            : "median of 5 after one warm-up (3 when a run takes over 2 s)") + ", \(threads) threads"
    }
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Run times in seconds: a warm-up (discarded), then the protocol's repeats.
func measure(_ p: Protocol, _ body: () throws -> Void) rethrows -> [Double] {
    Profiler.enable()
    defer { Profiler.disable() }
    let before = CPUUsage.now
    let warm = try seconds(body)
    let n = p.repeats(afterWarmUp: warm)
    let times = n == 0 ? [warm] : try (0..<n).map { _ in try seconds(body) }
    let after = CPUUsage.now
    CPUUsage.lastPerRunMs = (after.user + after.system - before.user - before.system) / Double(n + 1) * 1e3
    return times
}

/// With GRADCAM_BENCH_PERF_CTL=FIFO, the timed regions switch `perf record
/// --control=fifo:FIFO -D -1` on and off, so a profile holds only them.
enum Profiler {
    nonisolated(unsafe) static let control: UnsafeMutablePointer<FILE>? =
        getenv("GRADCAM_BENCH_PERF_CTL").flatMap { fopen(String(cString: $0), "w") }

    /// With GRADCAM_BENCH_PHASE=NAME, only the phase of that name (see `phase`) is profiled.
    static let onlyPhase: String? = getenv("GRADCAM_BENCH_PHASE").map { String(cString: $0) }
    nonisolated(unsafe) static var currentPhase: String?

    static func enable() {
        if let only = onlyPhase, only != currentPhase { return }
        send("enable\n")
    }
    static func disable() { send("disable\n") }

    private static func send(_ command: String) {
        guard let f = control else { return }
        fputs(command, f)
        fflush(f)
    }
}

/// CPU time and page faults of the calling process so far.
struct CPUUsage {
    let user: Double, system: Double, minorFaults: Int

    /// The CPU time (all threads, user + system) per run of the last `measure`, in ms:
    /// unlike wall time, it hardly changes when neighbours load the machine.
    nonisolated(unsafe) static var lastPerRunMs = 0.0

    static var now: CPUUsage {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return CPUUsage(user: s(u.ru_utime), system: s(u.ru_stime), minorFaults: u.ru_minflt)
    }

    /// The CPU time (s, user + system) of the waited-for child processes so far.
    static var children: Double {
        var u = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &u)
        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return s(u.ru_utime) + s(u.ru_stime)
    }

    /// Per-run figures between two readings around `runs` runs.
    static func metrics(from a: CPUUsage, to b: CPUUsage, runs: Int) -> [String: Double] {
        let n = Double(max(runs, 1))
        return ["cpu_user_ms_per_run": (b.user - a.user) / n * 1e3, "cpu_system_ms_per_run": (b.system - a.system) / n * 1e3,
                "page_faults_per_run": Double(b.minorFaults - a.minorFaults) / n]
    }
}

/// Two bodies timed alternately, so that both see the same load from neighbours.
func measureAlternately(_ p: Protocol, _ first: () -> Void, _ second: () -> Void) -> ([Double], [Double]) {
    let warm = seconds(first) + seconds(second)
    var a: [Double] = [], b: [Double] = []
    for _ in 0..<max(1, p.repeats(afterWarmUp: warm)) {
        a.append(seconds(first))
        b.append(seconds(second))
    }
    return (a, b)
}

@_silgen_name("malloc_trim") private func mallocTrim(_ pad: Int) -> Int32

enum Memory {
    /// Returns freed heap to the system and resets the resident high-water mark
    /// (Linux ≥ 4.0: writing 5 to /proc/self/clear_refs), so that the next
    /// `peakMB` covers what runs from here on.
    static func resetPeak() {
        _ = mallocTrim(0)
        if let f = fopen("/proc/self/clear_refs", "w") {
            fputs("5", f)
            fclose(f)
        }
    }

    /// The resident high-water mark in MB: VmHWM, else ru_maxrss.
    static func peakMB() -> Double {
        if let kb = statusField("VmHWM") { return kb / 1024 }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }

    static func residentMB() -> Double? { statusField("VmRSS").map { $0 / 1024 } }

    private static func statusField(_ name: String) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            return Double(line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces).split(separator: " ")[0])
        }
        return nil
    }
}

/// One timed run of one variant of one scenario, on either side. The same
/// keys come from scripts/bench_pytorch.py.
struct RunResult: Codable {
    var scenario: String
    var variant: String
    var side: String
    var median_ms: Double?
    var times_ms: [Double]?
    var peak_mb: Double?
    /// "ok …" or "FAIL …" when the outputs were compared with the other side's.
    var check: String?
    /// Named figures: GFLOP/s, phases, sub-timings (ms unless the name says otherwise).
    var metrics: [String: Double]?
    var error: String?

    init(scenario: String, variant: String, side: String = "ours", times: [Double]? = nil,
         peak: Double? = nil, metrics: [String: Double]? = nil) {
        self.scenario = scenario
        self.variant = variant
        self.side = side
        self.times_ms = times?.map { $0 * 1e3 }
        self.median_ms = times.map { median($0) * 1e3 }
        self.peak_mb = peak
        self.metrics = metrics
    }

    var line: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return "RESULT " + String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    static func parse(_ line: Substring) -> RunResult? {
        guard line.hasPrefix("RESULT ") else { return nil }
        return try? JSONDecoder().decode(RunResult.self, from: Data(line.dropFirst(7).utf8))
    }
}
