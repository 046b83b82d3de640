import Foundation

/// A runtime failure with a message for the user (exit code 1).
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }

    /// What failed, with the system's reason: Foundation's file errors read
    /// "The operation could not be completed", the POSIX error beneath says why.
    init(_ what: String, _ error: Error) {
        let ns = error as NSError
        let posix = (ns.userInfo[NSUnderlyingErrorKey] as? Error).map { $0 as NSError }.flatMap {
            $0.domain == NSPOSIXErrorDomain ? $0 : nil
        }
        self.init("\(what): " + (posix.map { String(cString: strerror(Int32($0.code))) } ?? ns.localizedDescription))
    }
}

/// Refuses, before any work, an output that cannot be created: its nearest
/// existing ancestor must be a folder in which a folder can be made (tried,
/// so a read-only file system is caught too; the folders between are
/// created later, as `shapes`, `train` and `eval --chart` do).
func checkCanCreate(_ path: String) throws {
    var folder = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: folder.path) { folder.deleteLastPathComponent() }
    var isDirectory: ObjCBool = false
    _ = FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory)
    guard isDirectory.boolValue else { throw CLIError("cannot create \(path): \(folder.path) is not a folder") }
    let probe = folder.appendingPathComponent(".gradcam-probe-\(getpid())").path
    guard mkdir(probe, 0o700) == 0 else {
        throw CLIError("cannot create \(path): cannot write in \(folder.path): \(String(cString: strerror(errno)))")
    }
    rmdir(probe)
}
