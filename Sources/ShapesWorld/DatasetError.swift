import AtomicOutput
import Foundation

/// Why a dataset could not be read or written. Every case names the file (or
/// folder) and the problem, so a user can fix the data without reading code.
public enum DatasetError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    case missingFile(String)
    case malformedJSON(file: String, detail: String)
    /// The split has nothing in it (no images, captions or questions).
    case emptySplit(file: String, detail: String)
    /// An annotation (`what`, e.g. "annotation 17") refers to an image id that
    /// the image list (in `imageList`, often the same file) does not have.
    case unknownImageID(file: String, what: String, imageID: Int, imageList: String)
    /// Image files listed in `file` are absent from `directory`: how many, of
    /// how many, and the first few names.
    case missingImages(file: String, directory: String, missing: Int, total: Int, examples: [String])
    /// Any other inconsistency inside a file (duplicate ids, an unknown label,
    /// a question without an answer, a segmentation that does not fit its image).
    case invalid(file: String, detail: String)
    case invalidArgument(String)
    case unwritable(path: String, reason: String)
    /// The split's folder cannot be written where it was asked for.
    case output(OutputError)
    /// Writing stopped because the caller asked (e.g. Ctrl-C); nothing was left behind.
    case cancelled

    public var description: String {
        switch self {
        case .missingFile(let file):
            return "\(file): file not found"
        case .malformedJSON(let file, let detail):
            return "\(file): malformed JSON: \(detail)"
        case .emptySplit(let file, let detail):
            return "\(file): empty split: \(detail)"
        case .unknownImageID(let file, let what, let imageID, let imageList):
            let list = imageList == file ? "the file's image list" : "the image list of \(imageList)"
            return "\(file): \(what) refers to image id \(imageID), which is not in \(list)"
        case .missingImages(let file, let directory, let missing, let total, let examples):
            let more = missing > examples.count ? ", …" : ""
            return "\(file): \(missing) of \(total) listed image files are missing from \(directory)"
                + " (\(examples.joined(separator: ", "))\(more))"
        case .invalid(let file, let detail):
            return "\(file): \(detail)"
        case .invalidArgument(let detail):
            return detail
        case .unwritable(let path, let reason):
            return "\(path): cannot write: \(reason)"
        case .output(let error):
            return "\(error)"
        case .cancelled:
            return "stopped before the split was complete; nothing was written"
        }
    }

    public var errorDescription: String? { description }
}
