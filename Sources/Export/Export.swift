import Explain
import Foundation
import Imaging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why an export could not be written. Nothing is left half-written when
/// one is thrown: the temporary directory is removed and `OUT` is untouched.
public enum ExportError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The document's parts disagree (a programming error in the caller).
    case invalidDocument(String)
    case invalidOutput(path: String, reason: String)
    case exists(path: String)
    /// `--force` replaces only exports, empty directories and symbolic links.
    case notReplaceable(path: String)
    case parentMissing(path: String, parent: String)
    case parentNotDirectory(path: String, parent: String)
    case unwritable(path: String, reason: String)
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidDocument(let reason):
            return "cannot export: \(reason)"
        case .invalidOutput(let path, let reason):
            return "cannot write \"\(path)\": \(reason)"
        case .exists(let path):
            return "\"\(path)\" already exists; pass --force to replace it, or choose another output directory"
        case .notReplaceable(let path):
            return "\"\(path)\" exists and is not a gradcam export (it has no manifest.json); "
                + "refusing to replace it even with --force: remove it yourself or choose another output directory"
        case .parentMissing(let path, let parent):
            return "cannot write \"\(path)\": the directory \"\(parent)\" does not exist"
        case .parentNotDirectory(let path, let parent):
            return "cannot write \"\(path)\": \"\(parent)\" is not a directory"
        case .unwritable(let path, let reason):
            return "cannot write \"\(path)\": \(reason)"
        case .unreadable(let path, let reason):
            return "cannot read \"\(path)\": \(reason)"
        }
    }
}

/// Writes the export directory of export-format.md at `out`.
///
/// Everything is written into `.NAME.partial-PID-RANDOM` beside `out` and
/// renamed into place when complete, so no reader ever sees half an export.
/// An existing `out` (a directory, a file or a symbolic link, even a dangling
/// one) is an error unless `force`; with `force` the old one is renamed aside,
/// the new one moved into place and only then the old one deleted, so one of
/// them is always on disk. A symbolic link at `out` is replaced, never written
/// through; symbolic links in the parent path are followed.
public func writeExport(_ doc: ExportDocument, to out: String, force: Bool = false) throws {
    try doc.validate()
    try install(out, force: force) { temporary in try writeContents(doc, into: temporary) }
}

/// Several explanations as one export folder, OUT/NAME for each (`caption
/// --nbest`: OUT/beam-0, OUT/beam-1, …), written and moved into place as
/// `writeExport` does, so OUT never holds only some of them.
public func writeExports(_ docs: [(name: String, doc: ExportDocument)], to out: String, force: Bool = false) throws {
    for (_, doc) in docs { try doc.validate() }
    try install(out, force: force) { temporary in
        for (name, doc) in docs {
            let dir = temporary + "/" + name
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
            try writeContents(doc, into: dir)
        }
    }
}

/// Checks `out` as `writeExport` will (a parent directory that exists and
/// can be written; nothing in the way unless `force`), so a command refuses
/// a bad `--out` before the work of explaining rather than after it.
public func checkExportDestination(_ out: String, force: Bool) throws {
    _ = try OutputTarget(out, force: force)
}

/// Fills a fresh temporary directory beside `out` with `write`, then moves it
/// into place (see `writeExport`); on any error the temporary one is removed.
private func install(_ out: String, force: Bool, _ write: (String) throws -> Void) throws {
    let target = try OutputTarget(out, force: force)
    let temporary = try target.makeTemporaryDirectory()
    do {
        try write(temporary)
        try target.install(temporary, force: force)
    } catch {
        try? FileManager.default.removeItem(atPath: temporary)
        throw error
    }
}

private func writeContents(_ doc: ExportDocument, into dir: String) throws {
    let e = doc.explanation
    try writeFile(dir + "/manifest.json", Array(manifest(doc).rendered().utf8))
    if doc.formats.contains(.npy) {
        if e.method.hasLayerMap, let raw = e.raw, let cams = e.cams {
            try writeFile(dir + "/raw.npy", NPY.encode(raw))
            try writeFile(dir + "/cams.npy", NPY.encode(cams))
        }
        if e.method.needsGuidedGradient, let guided = e.guided {
            try writeFile(dir + "/guided.npy", NPY.encode(guided))
        }
    }
    let png = doc.formats.contains(.png)
    guard png || doc.formats.contains(.html) else { return }
    let maps = displayMaps(doc), painter = Painter(doc)
    // The sheet, the largest image, starts first; the overlays run beside it.
    let sheet = png ? 1 : 0
    var overlays = try concurrentMap(sheet + maps.count) { k in
        try (k < sheet ? painter.contactSheet(maps: maps) : painter.overlay(maps[k - sheet])).encodePNG()
    }
    if png {
        try writeFile(dir + "/sheet.png", overlays.removeFirst())
        try makeDirectory(dir + "/overlays")
        for (name, bytes) in zip(overlayNames(doc), overlays) {
            try writeFile(dir + "/overlays/" + name, bytes)
        }
    }
    if doc.formats.contains(.html) {
        try writeFile(dir + "/report.html", Array(reportHTML(doc, overlays: overlays).utf8))
    }
}

/// Where an export goes: a name inside an existing, writable parent directory.
private struct OutputTarget {
    let path: String
    let parent: String
    let name: String

    /// Checks everything that can be checked before any work is done.
    init(_ out: String, force: Bool) throws {
        var trimmed = Substring(out)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        path = String(trimmed)
        let slash = trimmed.lastIndex(of: "/")
        name = String(slash.map { trimmed[trimmed.index(after: $0)...] } ?? trimmed)
        parent = slash.map { $0 == trimmed.startIndex ? "/" : String(trimmed[..<$0]) } ?? "."
        guard !name.isEmpty, name != ".", name != ".." else {
            throw ExportError.invalidOutput(path: out, reason: "the output must name a new directory")
        }
        var info = stat()
        guard stat(parent, &info) == 0 else {
            if errno == ENOENT { throw ExportError.parentMissing(path: path, parent: parent) }
            if errno == ENOTDIR { throw ExportError.parentNotDirectory(path: path, parent: parent) }
            throw ExportError.unwritable(path: path, reason: errnoReason())
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw ExportError.parentNotDirectory(path: path, parent: parent) }
        guard access(parent, W_OK | X_OK) == 0 else {
            throw ExportError.unwritable(path: path, reason: "cannot create a directory in \"\(parent)\": \(errnoReason())")
        }
        try checkReplaceable(force: force)
    }

    /// Refuses an existing `out` without `force`; with it, refuses anything
    /// but a previous export, an empty directory or a symbolic link, so a
    /// mistyped `--out ~ --force` cannot delete a home directory.
    func checkReplaceable(force: Bool) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard force else { throw ExportError.exists(path: path) }
        switch info.st_mode & S_IFMT {
        case S_IFLNK:
            return
        case S_IFDIR:
            let contents = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? ["?"]
            guard contents.isEmpty || contents.contains("manifest.json") else { throw ExportError.notReplaceable(path: path) }
        default:
            throw ExportError.notReplaceable(path: path)
        }
    }

    func makeTemporaryDirectory() throws -> String {
        let temporary = sibling("partial")
        guard mkdir(temporary, 0o755) == 0 else {
            throw ExportError.unwritable(path: path, reason: "cannot create a directory in \"\(parent)\": \(errnoReason())")
        }
        return temporary
    }

    /// Renames the finished directory into place (see `writeExport`). Between the
    /// check and the rename another process could create an empty directory
    /// at `out`, which rename replaces; anything else there makes it fail.
    func install(_ temporary: String, force: Bool) throws {
        try checkReplaceable(force: force)
        var info = stat()
        guard lstat(path, &info) == 0 else {
            guard rename(temporary, path) == 0 else { throw ExportError.unwritable(path: path, reason: errnoReason()) }
            return
        }
        let aside = sibling("old")
        guard rename(path, aside) == 0 else {
            throw ExportError.unwritable(path: path, reason: "cannot move the old export aside: \(errnoReason())")
        }
        guard rename(temporary, path) == 0 else {
            let reason = errnoReason()
            guard rename(aside, path) == 0 else {
                throw ExportError.unwritable(path: path, reason: "\(reason); the old export is at \"\(aside)\"")
            }
            throw ExportError.unwritable(path: path, reason: reason)
        }
        // The new export is in place; failing to delete the old one loses nothing.
        try? FileManager.default.removeItem(atPath: aside)
    }

    /// `.NAME.KIND-PID-RANDOM` in the same parent, so renames stay on one file system.
    private func sibling(_ kind: String) -> String {
        let random = String(UInt32.random(in: .min ... .max), radix: 16)
        return parent + "/." + name + "." + kind + "-\(getpid())-" + random
    }
}

/// Writes one file of an export, exclusively by default (never through a link,
/// never over a file), with Imaging's POSIX writer.
func writeFile(_ path: String, _ bytes: [UInt8], exclusive: Bool = true) throws {
    do {
        try Imaging.writeFile(path, bytes, exclusive: exclusive)
    } catch let ImageError.unwritable(path, reason) {
        throw ExportError.unwritable(path: path, reason: reason)
    }
}

private func makeDirectory(_ path: String) throws {
    guard mkdir(path, 0o755) == 0 else { throw ExportError.unwritable(path: path, reason: errnoReason()) }
}

func errnoReason() -> String { String(cString: strerror(errno)) }
