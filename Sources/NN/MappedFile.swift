#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file's bytes mapped into memory, privately and copy-on-write: a
/// checkpoint's tensors point into the mapping instead of being copied, and an
/// optimiser's in-place updates of them stay in this process.
///
/// A file renamed over the path while the mapping lives (as `train` saves its
/// checkpoints) does not change it: the mapping keeps the old file. A file
/// truncated in place does — reading past its new end stops the process with
/// SIGBUS, as any program mapping it would (README, "Bring your own model").
public final class MappedFile: @unchecked Sendable {
    public let path: String
    /// The file's bytes; valid while this object lives.
    public let bytes: UnsafeRawBufferPointer

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw SafetensorsError.unreadable(file: path, reason: Self.reason()) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SafetensorsError.unreadable(file: path, reason: Self.reason()) }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw SafetensorsError.unreadable(file: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let base = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
        guard let base, base != MAP_FAILED else { throw SafetensorsError.unreadable(file: path, reason: Self.reason()) }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }

    private static func reason() -> String { String(cString: strerror(errno)) }
}
