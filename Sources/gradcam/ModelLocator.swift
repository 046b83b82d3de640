import Foundation

/// Finds the shipped models without flags: from $GRADCAM_MODELS, from the
/// current directory's `Models/`, next to an installed binary
/// (PREFIX/share/gradcam/Models), or in the repository the binary was built in.
enum ModelLocator {
    static let shipped = ["captioning": "shapes-captioner", "vqa": "shapes-vqa", "classification": "shapes-classifier"]

    static func searchDirectories() -> [URL] {
        var dirs: [URL] = []
        if let env = ProcessInfo.processInfo.environment["GRADCAM_MODELS"] { dirs.append(URL(fileURLWithPath: env)) }
        dirs.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("Models"))
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = executable.deletingLastPathComponent()
        dirs.append(dir.deletingLastPathComponent().appendingPathComponent("share/gradcam/Models"))
        for _ in 0..<6 {
            dirs.append(dir.appendingPathComponent("Models"))
            dir = dir.deletingLastPathComponent()
        }
        return dirs
    }

    /// The shipped model directory for a task, or an error saying where it looked.
    static func defaultModel(task: String) throws -> String {
        let name = shipped[task]!
        let candidates = searchDirectories().map { $0.appendingPathComponent(name) }
        for c in candidates where FileManager.default.fileExists(atPath: c.appendingPathComponent("config.json").path) {
            return c.path
        }
        throw CLIError("no --model given and the shipped model \(name) was not found; looked in:\n  "
            + candidates.map(\.path).joined(separator: "\n  ") + "\nset GRADCAM_MODELS or pass --model DIR")
    }

    /// Every model directory found in the search directories.
    static func shippedModels() -> [String] {
        var seen = Set<String>(), found: [String] = []
        for dir in searchDirectories() {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { continue }
            for n in names.sorted() {
                let path = dir.appendingPathComponent(n).standardizedFileURL.path
                if FileManager.default.fileExists(atPath: path + "/config.json"), seen.insert(n).inserted { found.append(path) }
            }
        }
        return found
    }
}
