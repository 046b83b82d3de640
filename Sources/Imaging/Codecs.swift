import CCodecs

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The two formats the toolkit reads and writes.
enum ImageFormat: String {
    case jpeg = "JPEG"
    case png = "PNG"

    /// Identifies the format by its magic bytes, never by a file name.
    init?(sniffing bytes: UnsafeBufferPointer<UInt8>) {
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF {
            self = .jpeg
        } else if bytes.count >= png.count, bytes.prefix(png.count).elementsEqual(png) {
            self = .png
        } else {
            return nil
        }
    }
}

extension RGBImage {
    /// The default pixel limit: 100 megapixels (a 10000×10000 image, 300 MB
    /// decoded). Headers are checked before any pixel memory is allocated,
    /// so a tiny file that declares a huge image cannot exhaust memory.
    public static let defaultMaxPixels = 100_000_000

    /// Decodes JPEG or PNG bytes (any contiguous byte collection: `[UInt8]`,
    /// `Data`, a slice). JPEG EXIF orientation is applied, so the result is
    /// upright as a viewer would show it.
    public static func decode(data: some Collection<UInt8>, maxPixels: Int = defaultMaxPixels) throws -> RGBImage {
        try decode(data, maxPixels: maxPixels, source: "image data")
    }

    /// Reads and decodes a JPEG or PNG file; errors name the file.
    public init(contentsOf path: String, maxPixels: Int = RGBImage.defaultMaxPixels) throws {
        self = try RGBImage.decode(readFile(path), maxPixels: maxPixels, source: path)
    }

    static func decode(_ data: some Collection<UInt8>, maxPixels: Int, source: String) throws -> RGBImage {
        if let image = try data.withContiguousStorageIfAvailable({
            try decode(buffer: $0, maxPixels: maxPixels, source: source)
        }) {
            return image
        }
        return try Array(data).withUnsafeBufferPointer {
            try decode(buffer: $0, maxPixels: maxPixels, source: source)
        }
    }

    private static func decode(buffer: UnsafeBufferPointer<UInt8>, maxPixels: Int, source: String) throws -> RGBImage {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { throw ImageError.emptyFile(source: source) }
        guard let format = ImageFormat(sniffing: buffer) else { throw ImageError.notAnImage(source: source) }

        var image = gc_image()
        let capacity = 512
        var message = [CChar](repeating: 0, count: capacity)
        let limit = max(maxPixels, 0)
        let status = format == .jpeg
            ? gc_jpeg_decode(base, buffer.count, limit, &image, &message, capacity)
            : gc_png_decode(base, buffer.count, limit, &image, &message, capacity)
        defer { gc_free(image.pixels) }

        switch status {
        case GC_OK:
            break
        case GC_ERR_TRUNCATED:
            throw ImageError.truncated(source: source, format: format.rawValue)
        case GC_ERR_TOO_LARGE:
            throw ImageError.tooLarge(source: source, width: image.width, height: image.height, limit: limit)
        case GC_ERR_NOMEM:
            throw ImageError.outOfMemory(source: source)
        default:
            throw ImageError.corrupt(source: source, format: format.rawValue, detail: string(message))
        }
        guard let pixels = image.pixels, image.width > 0, image.height > 0 else {
            throw ImageError.corrupt(source: source, format: format.rawValue, detail: "the image has no pixels")
        }
        let decoded = RGBImage(width: image.width, height: image.height,
                               pixels: Array(UnsafeBufferPointer(start: pixels, count: image.width * image.height * 3)))
        return decoded.applyingEXIFOrientation(Int(image.orientation))
    }

    /// Lossless 8-bit RGB PNG.
    public func encodePNG() throws -> [UInt8] {
        try RGBImage.encodePNG(pixels, width: width, height: height, channels: 3)
    }

    /// An 8-bit greyscale PNG of `width*height` bytes, for single-channel maps
    /// that other tools read back as numbers.
    public static func encodeGreyscalePNG(_ pixels: [UInt8], width: Int, height: Int) throws -> [UInt8] {
        precondition(width > 0 && height > 0 && pixels.count == width * height, "pixels must hold width*height bytes")
        return try encodePNG(pixels, width: width, height: height, channels: 1)
    }

    private static func encodePNG(_ pixels: [UInt8], width: Int, height: Int, channels: Int32) throws -> [UInt8] {
        try encode(format: "PNG") { out, count, message, capacity in
            gc_png_encode(pixels, width, height, channels, out, count, message, capacity)
        }
    }

    /// Baseline JPEG with 4:2:0 chroma; `quality` is libjpeg's 1...100 scale.
    public func encodeJPEG(quality: Int = 90) throws -> [UInt8] {
        guard (1...100).contains(quality) else {
            throw ImageError.encodingFailed(format: "JPEG", detail: "quality \(quality) is outside 1...100")
        }
        return try RGBImage.encode(format: "JPEG") { out, count, message, capacity in
            gc_jpeg_encode(pixels, width, height, Int32(quality), out, count, message, capacity)
        }
    }

    private static func encode(
        format: String,
        _ body: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, UnsafeMutablePointer<Int>,
                 UnsafeMutablePointer<CChar>, Int) -> gc_status
    ) throws -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>? = nil
        var count = 0
        var message = [CChar](repeating: 0, count: 512)
        let status = message.withUnsafeMutableBufferPointer { buffer -> gc_status in
            guard let base = buffer.baseAddress else { return GC_ERR_ARGUMENT }
            return body(&out, &count, base, buffer.count)
        }
        defer { gc_free(out) }
        guard status == GC_OK, let bytes = out else {
            throw ImageError.encodingFailed(format: format, detail: string(message))
        }
        return Array(UnsafeBufferPointer(start: bytes, count: count))
    }

    /// Writes PNG for `.png` and JPEG for `.jpg`/`.jpeg` (any letter case);
    /// `quality` applies to JPEG only.
    public func write(to path: String, quality: Int = 90) throws {
        let lower = path.lowercased()
        let bytes: [UInt8]
        if lower.hasSuffix(".png") {
            bytes = try encodePNG()
        } else if lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg") {
            bytes = try encodeJPEG(quality: quality)
        } else {
            throw ImageError.unsupportedExtension(path: path)
        }
        try writeFile(path, bytes)
    }
}

private func string(_ message: [CChar]) -> String {
    String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

private func errnoReason() -> String {
    String(cString: strerror(errno))
}

/// Reads a whole file with POSIX calls, so a directory or a missing file is
/// reported as such rather than as an unhelpful Foundation error.
func readFile(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw ImageError.unreadable(path: path, reason: errnoReason()) }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw ImageError.unreadable(path: path, reason: errnoReason()) }
    if (info.st_mode & S_IFMT) == S_IFDIR { throw ImageError.isDirectory(path: path) }

    var bytes = [UInt8]()
    bytes.reserveCapacity(max(Int(info.st_size), 0))
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n == 0 { break }
        if n < 0 {
            if errno == EINTR { continue }
            throw ImageError.unreadable(path: path, reason: errnoReason())
        }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return bytes
}

/// Writes `bytes` to `path` with plain POSIX calls (retrying on EINTR).
/// `exclusive` creates the file and fails rather than follow a link or replace
/// a file (for the files of a new export); otherwise an existing file is replaced.
public func writeFile(_ path: String, _ bytes: [UInt8], exclusive: Bool = false) throws(ImageError) {
    let flags = O_WRONLY | O_CREAT | (exclusive ? O_EXCL | O_NOFOLLOW : O_TRUNC)
    let fd = open(path, flags, 0o644)
    guard fd >= 0 else { throw ImageError.unwritable(path: path, reason: errnoReason()) }
    var rest = bytes[...]
    while !rest.isEmpty {
        let n = rest.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            let reason = errnoReason()
            close(fd)
            throw ImageError.unwritable(path: path, reason: reason)
        }
        rest = rest.dropFirst(n)
    }
    guard close(fd) == 0 else { throw ImageError.unwritable(path: path, reason: errnoReason()) }
}
