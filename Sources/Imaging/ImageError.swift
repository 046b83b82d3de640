/// Why an image could not be read, decoded or written.
///
/// `source` is the file path when decoding a file and "image data" when
/// decoding bytes from memory, so every message says which input failed.
public enum ImageError: Error, CustomStringConvertible, Equatable, Sendable {
    case emptyFile(source: String)
    /// The first bytes are neither JPEG's FF D8 FF nor PNG's signature.
    case notAnImage(source: String)
    /// The data ends before the image does (a cut-off download or upload).
    case truncated(source: String, format: String)
    /// The codec rejected the data; `detail` is libjpeg's or libpng's message.
    case corrupt(source: String, format: String, detail: String)
    /// The header declares more pixels than the caller allows; nothing was allocated.
    case tooLarge(source: String, width: Int, height: Int, limit: Int)
    /// The image fits the pixel limit but the machine could not allocate it.
    case outOfMemory(source: String)
    case unreadable(path: String, reason: String)
    case isDirectory(path: String)
    case unwritable(path: String, reason: String)
    /// `write(to:)` chooses the format by extension and knows only these.
    case unsupportedExtension(path: String)
    case encodingFailed(format: String, detail: String)
    /// A preprocessing description that cannot be applied (e.g. a zero std).
    case invalidPreprocessing(reason: String)

    public var description: String {
        switch self {
        case .emptyFile(let source):
            return "\(source) is empty"
        case .notAnImage(let source):
            return "\(source) is not a JPEG or PNG image"
        case .truncated(let source, let format):
            return "\(source) is truncated: the \(format) data ends before the image does"
        case .corrupt(let source, let format, let detail):
            return "\(source) is not a valid \(format) image: \(detail)"
        case .tooLarge(let source, let width, let height, let limit):
            return "\(source) is too large: it declares \(width)x\(height) = \(width * height) pixels, "
                + "more than the limit of \(limit) pixels"
        case .outOfMemory(let source):
            return "not enough memory to decode \(source)"
        case .unreadable(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .isDirectory(let path):
            return "\(path) is a directory, not an image file"
        case .unwritable(let path, let reason):
            return "cannot write \(path): \(reason)"
        case .unsupportedExtension(let path):
            return "cannot write \(path): the name must end in .png, .jpg or .jpeg"
        case .encodingFailed(let format, let detail):
            return "cannot encode \(format): \(detail)"
        case .invalidPreprocessing(let reason):
            return "invalid preprocessing: \(reason)"
        }
    }
}
