import AtomicOutput
import Foundation
import Tensor

/// Errors reading safetensors; each names the file and, where one is at
/// fault, the tensor. (Writing throws `OutputError`.)
public enum SafetensorsError: Error, CustomStringConvertible, Equatable {
    case unreadable(file: String, reason: String)
    case malformed(file: String, reason: String)
    case badTensor(file: String, tensor: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason): return "\(file): cannot read: \(reason)"
        case let .malformed(file, reason): return "\(file): not a valid safetensors file: \(reason)"
        case let .badTensor(file, tensor, reason): return "\(file): tensor \"\(tensor)\": \(reason)"
        }
    }
}

/// The safetensors format (Hugging Face): an 8-byte little-endian header length,
/// a JSON header naming each tensor's dtype, shape and byte range, then the data.
/// F32, F16, BF16 and F64 are read (converted to Float32, as PyTorch's
/// `load_state_dict` converts), and I64/I32 for integer buffers such as batch
/// norm's num_batches_tracked; F32 is written.
public enum Safetensors {
    /// A header larger than this is refused before it is read (safetensors' own limit).
    public static let maxHeaderBytes = 100_000_000

    /// Reads every tensor of a file, by name; F32 tensors stay in the file's
    /// mapping (`MappedFile`) rather than being copied.
    public static func read(path: String) throws -> [String: Tensor] {
        try read(MappedFile(path: path))
    }

    /// The tensors of a mapped file; aligned F32 tensors point into the
    /// mapping, which they keep alive.
    public static func read(_ file: MappedFile) throws -> [String: Tensor] {
        try parse(file.bytes, file: (file.path as NSString).lastPathComponent, owner: file)
    }

    /// Parses the bytes of a safetensors file; `file` names it in errors.
    public static func parse(_ data: Data, file: String) throws -> [String: Tensor] {
        try data.withUnsafeBytes { try parse($0, file: file, owner: nil) }
    }

    /// Parses `raw`; with an `owner` that keeps `raw` alive, 4-byte-aligned F32
    /// tensors borrow their bytes, and everything else is copied.
    private static func parse(_ raw: UnsafeRawBufferPointer, file: String, owner: AnyObject?) throws -> [String: Tensor] {
        guard raw.count >= 8 else {
            throw SafetensorsError.malformed(file: file, reason: "\(raw.count) bytes, shorter than the 8-byte header length")
        }
        let headerLength = raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
        guard headerLength <= UInt64(maxHeaderBytes) else {
            throw SafetensorsError.malformed(file: file, reason: "header length \(headerLength) exceeds the limit of \(maxHeaderBytes) bytes")
        }
        guard headerLength <= UInt64(raw.count - 8) else {
            throw SafetensorsError.malformed(file: file, reason: "header length \(headerLength) is larger than the file (\(raw.count) bytes): truncated?")
        }
        let dataStart = 8 + Int(headerLength)
        let headerBytes = Data(raw[8..<dataStart])
        guard let json = try? JSONSerialization.jsonObject(with: headerBytes),
              let header = json as? [String: Any] else {
            throw SafetensorsError.malformed(file: file, reason: "the header is not a JSON object")
        }
        let dataSize = raw.count - dataStart
        var entries: [(name: String, dtype: DType, shape: [Int], begin: Int, end: Int)] = []
        // In name order, so that of several bad tensors the same one is named every run.
        for (key, value) in header.sorted(by: { $0.key < $1.key }) where key != "__metadata__" {
            guard let info = value as? [String: Any] else {
                throw SafetensorsError.badTensor(file: file, tensor: key, reason: "its header entry is not an object")
            }
            guard let dtypeName = info["dtype"] as? String else {
                throw SafetensorsError.badTensor(file: file, tensor: key, reason: "no dtype")
            }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw SafetensorsError.badTensor(file: file, tensor: key,
                                                 reason: "dtype \(dtypeName) is not supported (F32, F16, BF16, F64, or I64/I32 for counters)")
            }
            guard let shape = intArray(info["shape"]), shape.allSatisfy({ $0 >= 0 && $0 < 1 << 40 }) else {
                throw SafetensorsError.badTensor(file: file, tensor: key, reason: "shape is missing or not a list of sizes")
            }
            guard let offsets = intArray(info["data_offsets"]), offsets.count == 2 else {
                throw SafetensorsError.badTensor(file: file, tensor: key, reason: "data_offsets must be [begin, end]")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw SafetensorsError.badTensor(file: file, tensor: key,
                                                 reason: "data_offsets [\(begin), \(end)] lie outside the \(dataSize) data bytes")
            }
            let (elements, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            guard !overflow, elements.multipliedReportingOverflow(by: dtype.size).partialValue == end - begin,
                  !elements.multipliedReportingOverflow(by: dtype.size).overflow else {
                throw SafetensorsError.badTensor(file: file, tensor: key,
                                                 reason: "shape \(shape) of \(dtypeName) needs a different byte count than data_offsets [\(begin), \(end)] give")
            }
            entries.append((key, dtype, shape, begin, end))
        }
        // No two tensors may share bytes.
        let sorted = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.begin < a.end {
            throw SafetensorsError.badTensor(file: file, tensor: b.name,
                                             reason: "its bytes overlap those of \"\(a.name)\"")
        }
        var tensors: [String: Tensor] = [:]
        for e in entries {
            let bytes = UnsafeRawBufferPointer(rebasing: raw[(dataStart + e.begin)..<(dataStart + e.end)])
            if let owner, e.dtype == .f32, let start = bytes.baseAddress,
               Int(bitPattern: start) % MemoryLayout<Float>.alignment == 0 {
                let floats = UnsafeMutableRawPointer(mutating: start).assumingMemoryBound(to: Float.self)
                tensors[e.name] = Tensor(shape: e.shape, borrowing: floats, owner: owner)
            } else {
                tensors[e.name] = Tensor(shape: e.shape) { dst in e.dtype.widen(bytes, into: dst) }
            }
        }
        return tensors
    }

    /// Writes tensors as F32 (`encode`) to a temporary file renamed into
    /// place (`OutputPath`), so a reader never sees half a file and a model
    /// mapped from the old one keeps it.
    public static func write(_ tensors: [String: Tensor], to path: String, metadata: [String: String] = [:]) throws {
        let bytes = try encode(tensors, metadata: metadata)
        try bytes.withUnsafeBytes { try OutputPath(path, replacing: .file).writeFile($0) }
    }

    /// The bytes of a safetensors file holding `tensors` as F32, names sorted,
    /// the header padded to 8 bytes so that every tensor is aligned.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.count]] as [String: Any]
            offset += 4 * t.count
        }
        var headerData = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while headerData.count % 8 != 0 { headerData.append(0x20) }
        var out = Data(capacity: 8 + headerData.count + offset)
        withUnsafeBytes(of: UInt64(headerData.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(headerData)
        for name in names {
            tensors[name]!.withUnsafeBufferPointer { buf in
                buf.withMemoryRebound(to: UInt8.self) { out.append(contentsOf: $0) }
            }
        }
        return out
    }

    /// An element type of a tensor file (also PyTorch's storages, read by TorchFiles).
    public enum DType: String, Sendable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64"
        /// Integer tensors of a state_dict, such as batch norm's num_batches_tracked.
        case i64 = "I64", i32 = "I32"

        public var size: Int {
            switch self {
            case .f32, .i32: return 4
            case .f16, .bf16: return 2
            case .i64, .f64: return 8
            }
        }

        /// Converts the whole elements in `bytes` (little-endian) to Float32.
        public func widen(_ bytes: UnsafeRawBufferPointer, into dst: UnsafeMutablePointer<Float>) {
            let n = bytes.count / size
            switch self {
            case .f32:
                // A bulk copy: the data need not be aligned in the file.
                UnsafeMutableRawPointer(dst).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            case .f16:
                for i in 0..<n {
                    let bits = bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian
                    dst[i] = Float(Float16(bitPattern: bits))
                }
            case .bf16:
                for i in 0..<n {
                    let bits = bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian
                    dst[i] = Float(bitPattern: UInt32(bits) << 16)
                }
            case .f64:
                for i in 0..<n { dst[i] = Float(Double(bitPattern: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self).littleEndian)) }
            case .i64:
                for i in 0..<n { dst[i] = Float(Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
            case .i32:
                for i in 0..<n { dst[i] = Float(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
            }
        }
    }

    /// A JSON array of non-negative integers, or nil.
    private static func intArray(_ value: Any?) -> [Int]? {
        guard let list = value as? [Any] else { return nil }
        var out: [Int] = []
        for item in list {
            guard let n = item as? Int, n >= 0 else { return nil }
            out.append(n)
        }
        return out
    }
}

extension Module {
    /// The module's tensors by dotted name, as PyTorch's `state_dict()`.
    public func stateDict() -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: namedParameters().map { ($0.name, $0.parameter.value) })
    }

    /// Throws when some of the module's tensors are missing from `tensors` or
    /// some of `tensors` are not the module's, naming them — what `load` says
    /// first, for a module whose shapes are not to be trusted.
    public func checkNames(_ tensors: [String: Tensor], file: String) throws {
        let tensors = Self.withoutDataParallelPrefix(tensors)
        let params = namedParameters()
        let required = Set(params.filter { !$0.parameter.isOptional }.map(\.name))
        let known = Set(params.map(\.name)), found = Set(tensors.keys)
        try Self.report(required.subtracting(found).sorted().map { "missing tensor \"\($0)\"" }
                        + found.subtracting(known).sorted().map { "unexpected tensor \"\($0)\"" }, file: file)
    }

    /// One error naming the first eight problems, if there are any.
    private static func report(_ problems: [String], file: String) throws {
        guard problems.isEmpty else {
            let shown = problems.prefix(8).joined(separator: "; ")
            let more = problems.count > 8 ? "; and \(problems.count - 8) more" : ""
            throw SafetensorsError.malformed(file: file, reason: shown + more)
        }
    }

    /// `tensors` without the `module.` prefix that PyTorch's `nn.DataParallel`
    /// puts before every name, when every name has it (as PyTorch's
    /// `consume_prefix_in_state_dict_if_present` removes it).
    static func withoutDataParallelPrefix(_ tensors: [String: Tensor]) -> [String: Tensor] {
        let prefix = "module."
        guard !tensors.isEmpty, tensors.keys.allSatisfy({ $0.hasPrefix(prefix) }) else { return tensors }
        return Dictionary(uniqueKeysWithValues: tensors.map { (String($0.key.dropFirst(prefix.count)), $0.value) })
    }

    /// Loads tensors by dotted name, as PyTorch's `load_state_dict(strict=True)`
    /// does: every tensor must be present with the right shape (but for
    /// optional ones, which are then zero) and no unexpected one may remain; a
    /// `module.` prefix on every name is dropped. On any error nothing is
    /// changed, so a model never half-loads.
    public func load(_ tensors: [String: Tensor], file: String) throws {
        let tensors = Self.withoutDataParallelPrefix(tensors)
        let params = namedParameters()
        var problems: [String] = []
        for (name, p) in params {
            guard let t = tensors[name] else {
                if !p.isOptional { problems.append("missing tensor \"\(name)\" (expected shape \(p.value.shape))") }
                continue
            }
            // PyTorch stores num_batches_tracked as a 0-d int64; accept any scalar shape for it.
            if t.shape != p.value.shape && !(name.hasSuffix("num_batches_tracked") && t.count == 1) {
                problems.append("tensor \"\(name)\" has shape \(t.shape), expected \(p.value.shape)")
            }
        }
        let known = Set(params.map(\.name))
        for name in tensors.keys.sorted() where !known.contains(name) {
            problems.append("unexpected tensor \"\(name)\" (shape \(tensors[name]!.shape))")
        }
        try Self.report(problems, file: file)
        for (_, p) in params where p.isOptional { p.value = .zeros(p.value.shape) }
        for (name, p) in params {
            guard let t = tensors[name] else { continue }
            p.value = t.shape == p.value.shape ? t : t.reshaped(p.value.shape)
        }
    }
}
