import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why an output could not be written. Nothing is left half-written when one
/// is thrown: the temporary copy is removed and the output path is untouched.
public enum OutputError: Error, CustomStringConvertible, Equatable, Sendable {
    case invalidOutput(path: String, reason: String)
    /// Something is in the way that the output may not replace; `remedy` says what to do.
    case exists(path: String, remedy: String)
    /// A directory is in the way that is not an earlier output of this `kind`.
    case notReplaceable(path: String, kind: String, marker: String)
    case parentMissing(path: String, parent: String)
    case parentNotDirectory(path: String, parent: String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidOutput(let path, let reason):
            return "cannot write \"\(path)\": \(reason)"
        case .exists(let path, let remedy):
            return "\"\(path)\" already exists; \(remedy)"
        case .notReplaceable(let path, let kind, let marker):
            return "\"\(path)\" exists and is not a \(kind) (it has no \(marker)); "
                + "refusing to replace it: remove it yourself or choose another output"
        case .parentMissing(let path, let parent):
            return "cannot write \"\(path)\": the directory \"\(parent)\" does not exist"
        case .parentNotDirectory(let path, let parent):
            return "cannot write \"\(path)\": \"\(parent)\" is not a directory"
        case .unwritable(let path, let reason):
            return "cannot write \"\(path)\": \(reason)"
        }
    }
}

/// What an output may replace at its path.
public enum Replaceable: Sendable {
    /// Nothing: whatever is there is refused, with `remedy` said.
    case nothing(remedy: String)
    /// An empty directory only (nothing else is lost by replacing it).
    case emptyDirectory(remedy: String)
    /// An earlier output of the same `kind` — a directory holding `marker` —,
    /// an empty directory or a symbolic link (replaced, never written through);
    /// anything else is refused, so a mistyped path cannot delete a home directory.
    case earlier(kind: String, marker: String)
    /// A file or a symbolic link (replaced, never written through); not a directory.
    case file
}

/// Where an output goes: a name inside an existing, writable parent directory.
///
/// Everything is written into `.NAME.partial-PID-RANDOM` beside the path and
/// renamed into place when complete, so no reader ever sees half an output
/// and an interrupted run leaves the old one. Anything being replaced is first
/// renamed aside, the new output moved into place, and only then the old one
/// deleted, so one of them is always on disk.
public struct OutputPath: Sendable {
    public let path: String
    public let parent: String
    public let name: String
    public let replacing: Replaceable

    /// Checks everything that can be checked before any work is done.
    public init(_ path: String, replacing: Replaceable) throws(OutputError) {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        self.path = String(trimmed)
        self.replacing = replacing
        let slash = trimmed.lastIndex(of: "/")
        name = String(slash.map { trimmed[trimmed.index(after: $0)...] } ?? trimmed)
        parent = slash.map { $0 == trimmed.startIndex ? "/" : String(trimmed[..<$0]) } ?? "."
        guard !name.isEmpty, name != ".", name != ".." else {
            let what: String
            if case .file = replacing { what = "file" } else { what = "directory" }
            throw .invalidOutput(path: path, reason: "the output must name a new \(what)")
        }
        var info = stat()
        guard stat(parent, &info) == 0 else {
            if errno == ENOENT { throw .parentMissing(path: self.path, parent: parent) }
            if errno == ENOTDIR { throw .parentNotDirectory(path: self.path, parent: parent) }
            throw .unwritable(path: self.path, reason: errnoReason())
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw .parentNotDirectory(path: self.path, parent: parent) }
        guard access(parent, W_OK | X_OK) == 0 else {
            throw .unwritable(path: self.path, reason: "cannot create anything in \"\(parent)\": \(errnoReason())")
        }
        try checkReplaceable()
    }

    /// Whether something is at the path (a dangling link counts).
    public var exists: Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Refuses what is at the path unless `replacing` allows it.
    func checkReplaceable() throws(OutputError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        let type = info.st_mode & S_IFMT
        switch replacing {
        case .nothing(let remedy):
            throw .exists(path: path, remedy: remedy)
        case .emptyDirectory(let remedy):
            guard type == S_IFDIR, (try? FileManager.default.contentsOfDirectory(atPath: path))?.isEmpty == true else {
                throw .exists(path: path, remedy: remedy)
            }
        case .earlier(let kind, let marker):
            guard type == S_IFLNK || type == S_IFDIR else { throw .notReplaceable(path: path, kind: kind, marker: marker) }
            if type == S_IFDIR {
                let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? ["?"]
                guard entries.isEmpty || entries.contains(marker) else {
                    throw .notReplaceable(path: path, kind: kind, marker: marker)
                }
            }
        case .file:
            guard type != S_IFDIR else { throw .exists(path: path, remedy: "it is a directory") }
        }
    }

    /// Writes a directory: `fill` writes into a fresh temporary directory,
    /// which then replaces the path. On any error the temporary one is removed.
    public func writeDirectory(_ fill: (String) throws -> Void) throws {
        let temporary = sibling("partial")
        guard mkdir(temporary, 0o755) == 0 else {
            throw OutputError.unwritable(path: path, reason: "cannot create a directory in \"\(parent)\": \(errnoReason())")
        }
        do {
            try fill(temporary)
            try install(temporary)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }

    /// Writes a file: the bytes go to a temporary file, which then replaces the path.
    public func writeFile(_ bytes: UnsafeRawBufferPointer) throws(OutputError) {
        let temporary = sibling("partial")
        do throws(OutputError) {
            try writeAll(temporary, bytes)
            try install(temporary)
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Renames the finished temporary into place. Between the check and the
    /// rename another process could create an empty directory at the path,
    /// which rename replaces; anything else there makes it fail.
    private func install(_ temporary: String) throws(OutputError) {
        try checkReplaceable()
        var info = stat()
        let file: Bool
        if case .file = replacing { file = true } else { file = false }
        guard lstat(path, &info) == 0, !file || info.st_mode & S_IFMT == S_IFDIR else {
            // Nothing there, or a file over a file or link: rename replaces it at once.
            guard rename(temporary, path) == 0 else { throw .unwritable(path: path, reason: errnoReason()) }
            return
        }
        let aside = sibling("old")
        guard rename(path, aside) == 0 else {
            throw .unwritable(path: path, reason: "cannot move the old one aside: \(errnoReason())")
        }
        guard rename(temporary, path) == 0 else {
            let reason = errnoReason()
            guard rename(aside, path) == 0 else {
                throw .unwritable(path: path, reason: "\(reason); the old one is at \"\(aside)\"")
            }
            throw .unwritable(path: path, reason: reason)
        }
        // The new output is in place; failing to delete the old one loses nothing.
        try? FileManager.default.removeItem(atPath: aside)
    }

    /// `.NAME.KIND-PID-RANDOM` in the same parent, so renames stay on one file system.
    private func sibling(_ kind: String) -> String {
        let random = String(UInt32.random(in: .min ... .max), radix: 16)
        return parent + "/." + name + "." + kind + "-\(getpid())-" + random
    }
}

/// Writes `bytes` to a new file at `path`, never through a link or over a file.
private func writeAll(_ path: String, _ bytes: UnsafeRawBufferPointer) throws(OutputError) {
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644)
    guard fd >= 0 else { throw .unwritable(path: path, reason: errnoReason()) }
    var offset = 0
    while offset < bytes.count {
        let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if n < 0 {
            if errno == EINTR { continue }
            let reason = errnoReason()
            close(fd)
            throw .unwritable(path: path, reason: reason)
        }
        offset += n
    }
    guard close(fd) == 0 else { throw .unwritable(path: path, reason: errnoReason()) }
}

func errnoReason() -> String { String(cString: strerror(errno)) }
