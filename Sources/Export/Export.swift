import AtomicOutput
import Explain
import Foundation
import Imaging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why an export could not be written (where its path is at fault,
/// `OutputError`). Nothing is left half-written when one is thrown.
public enum ExportError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The document's parts disagree (a programming error in the caller).
    case invalidDocument(String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidDocument(let reason): return "cannot export: \(reason)"
        case .unwritable(let path, let reason): return "cannot write \"\(path)\": \(reason)"
        }
    }
}

/// Writes the export directory of export-format.md at `out`, atomically
/// (`OutputPath`). An existing `out` (a directory, a file or a symbolic link,
/// even a dangling one) is an error unless `force`; with `force` only an
/// earlier export, an empty directory or a link is replaced.
public func writeExport(_ doc: ExportDocument, to out: String, force: Bool = false) throws {
    try doc.validate()
    try exportPath(out, force: force).writeDirectory { temporary in try writeContents(doc, into: temporary) }
}

/// Several explanations as one export folder, OUT/NAME for each (`caption
/// --nbest`: OUT/beam-0, OUT/beam-1, …), written and moved into place as
/// `writeExport` does, so OUT never holds only some of them.
public func writeExports(_ docs: [(name: String, doc: ExportDocument)], to out: String, force: Bool = false) throws {
    for (_, doc) in docs { try doc.validate() }
    try exportPath(out, force: force).writeDirectory { temporary in
        for (name, doc) in docs {
            let dir = temporary + "/" + name
            try makeDirectory(dir)
            try writeContents(doc, into: dir)
        }
    }
}

/// Checks `out` as `writeExport` will (a parent directory that exists and
/// can be written; nothing in the way unless `force`), so a command refuses
/// a bad `--out` before the work of explaining rather than after it.
public func checkExportDestination(_ out: String, force: Bool) throws {
    _ = try exportPath(out, force: force)
}

private func exportPath(_ out: String, force: Bool) throws(OutputError) -> OutputPath {
    try OutputPath(out, replacing: force ? .earlier(kind: "gradcam export", marker: "manifest.json")
                                         : .nothing(remedy: "pass --force to replace it, or choose another output directory"))
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
        if let attention = doc.attention {
            try writeFile(dir + "/attention.npy", NPY.encode(attention))
        }
    }
    let png = doc.formats.contains(.png)
    guard png || doc.formats.contains(.html) else { return }
    let shown = displays(doc), attention = attentionMaps(doc), painter = Painter(doc)
    // The sheet, the largest image, starts first; the overlays run beside it.
    let sheet = png ? 1 : 0
    var images = try concurrentMap(sheet + (png ? shown.count : 0)) { k in
        try (k < sheet ? painter.contactSheet(shown, attention: attention) : painter.overlay(shown[k - sheet])).encodePNG()
    }
    if png {
        try writeFile(dir + "/sheet.png", images.removeFirst())
        try makeDirectory(dir + "/overlays")
        for (name, bytes) in zip(overlayNames(doc), images) {
            try writeFile(dir + "/overlays/" + name, bytes)
        }
    }
    if doc.formats.contains(.html) {
        try writeFile(dir + "/report.html", Array(reportHTML(doc, pictures: try ReportPictures(doc, shown, attention: attention, painter)).utf8))
    }
}

/// The longest side of the image in report.html.
let reportSide = 640

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
