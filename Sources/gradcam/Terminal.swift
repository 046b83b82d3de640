import Foundation

/// What the terminal can show: colours only on a terminal and never with NO_COLOR;
/// a live progress bar on a terminal, plain periodic lines elsewhere.
enum Terminal {
    static let isTTY = isatty(STDOUT_FILENO) != 0
    static let errIsTTY = isatty(STDERR_FILENO) != 0
    static let colors = isTTY && ProcessInfo.processInfo.environment["NO_COLOR"] == nil

    static func bold(_ s: String) -> String { colors ? "\u{1B}[1m\(s)\u{1B}[0m" : s }
    static func dim(_ s: String) -> String { colors ? "\u{1B}[2m\(s)\u{1B}[0m" : s }
    static func green(_ s: String) -> String { colors ? "\u{1B}[32m\(s)\u{1B}[0m" : s }
    static func yellow(_ s: String) -> String { colors ? "\u{1B}[33m\(s)\u{1B}[0m" : s }

    /// A warning on standard error.
    static func warn(_ message: String) {
        let text = (errIsTTY && ProcessInfo.processInfo.environment["NO_COLOR"] == nil)
            ? "\u{1B}[33mwarning:\u{1B}[0m \(message)\n" : "warning: \(message)\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// "1 item", "2 items".
    static func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--:--" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
            : String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// A progress bar with rate and ETA on standard error; quiet mode shows nothing.
/// Shown only once the work has taken over a second.
final class ProgressBar {
    let label: String
    let total: Int
    let quiet: Bool
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var shown = false

    init(_ label: String, total: Int, quiet: Bool) {
        self.label = label
        self.total = max(total, 1)
        self.quiet = quiet
    }

    func update(_ done: Int, detail: String = "") {
        guard !quiet else { return }
        let now = Date()
        let elapsed = now.timeIntervalSince(start)
        let interval = Terminal.errIsTTY ? 0.1 : 5
        guard elapsed > 1, now.timeIntervalSince(lastDraw) >= interval || done == total else { return }
        lastDraw = now
        shown = true
        let rate = Double(done) / max(elapsed, 1e-9)
        let eta = rate > 0 ? Double(total - done) / rate : .infinity
        let fraction = Double(done) / Double(total)
        let stats = String(format: "%3.0f%% %d/%d %.1f/s ETA %@", fraction * 100, done, total, rate,
                           Terminal.duration(eta)) + (detail.isEmpty ? "" : " " + detail)
        if Terminal.errIsTTY {
            let width = 24, filled = Int(fraction * Double(width))
            let bar = String(repeating: "=", count: filled) + (filled < width ? ">" : "")
                + String(repeating: " ", count: max(0, width - filled - 1))
            FileHandle.standardError.write(Data("\r\u{1B}[K\(label) [\(bar)] \(stats)".utf8))
        } else {
            FileHandle.standardError.write(Data("\(label): \(stats)\n".utf8))
        }
    }

    func finish() {
        if shown && Terminal.errIsTTY && !quiet { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
