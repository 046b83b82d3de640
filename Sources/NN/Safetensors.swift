import Foundation
import Tensor

/// Errors reading or writing safetensors; each names the file and, where one
/// is at fault, the tensor.
public enum SafetensorsError: Error, CustomStringConvertible, Equatable {
    case unreadable(file: String, reason: String)
    case malformed(file: String, reason: String)
    case badTensor(file: String, tensor: String, reason: String)
    case unwritable(file: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason): return "\(file): cannot read: \(reason)"
        case let .malformed(file, reason): return "\(file): not a valid safetensors file: \(reason)"
        case let .badTensor(file, tensor, reason): return "\(file): tensor \"\(tensor)\": \(reason)"
        case let .unwritable(file, reason): return "\(file): cannot write: \(reason)"
        }
    }
}

/// The safetensors format (Hugging Face): an 8-byte little-endian header length,
/// a JSON header naming each tensor's dtype, shape and byte range, then the data.
/// F32, F16 and BF16 are read (the latter two widened to Float32), and I64/I32
/// for integer buffers such as batch norm's num_batches_tracked; F32 is written.
public enum Safetensors {
    /// A header larger than this is refused before it is read (safetensors' own limit).
    public static let maxHeaderBytes = 100_000_000

    /// Reads every tensor of a file, by name.
    public static func read(path: String) throws -> [String: Tensor] {
        let name = (path as NSString).lastPathComponent
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw SafetensorsError.unreadable(file: path, reason: (error as NSError).localizedDescription)
        }
        return try parse(data, file: name)
    }

    /// Parses the bytes of a safetensors file; `file` names it in errors.
    public static func parse(_ data: Data, file: String) throws -> [String: Tensor] {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [String: Tensor] in
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
                                                     reason: "dtype \(dtypeName) is not supported (F32, F16, BF16, or I64/I32 for counters)")
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
                tensors[e.name] = Tensor(shape: e.shape) { dst in e.dtype.widen(bytes, into: dst) }
            }
            return tensors
        }
    }

    /// Writes tensors as F32, names sorted, the header padded to 8 bytes, written
    /// to a temporary file and renamed into place so a reader never sees half a file.
    public static func write(_ tensors: [String: Tensor], to path: String, metadata: [String: String] = [:]) throws {
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
        let temporary = path + ".partial-\(getpid())"
        do {
            try out.write(to: URL(fileURLWithPath: temporary))
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw SafetensorsError.unwritable(file: path, reason: (error as NSError).localizedDescription)
        }
    }

    enum DType: String {
        case f32 = "F32", f16 = "F16", bf16 = "BF16"
        /// Integer tensors of a state_dict, such as batch norm's num_batches_tracked.
        case i64 = "I64", i32 = "I32"

        var size: Int {
            switch self {
            case .f32, .i32: return 4
            case .f16, .bf16: return 2
            case .i64: return 8
            }
        }

        func widen(_ bytes: UnsafeRawBufferPointer, into dst: UnsafeMutablePointer<Float>) {
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
        let expected = Set(namedParameters().map(\.name)), found = Set(tensors.keys)
        try Self.report(expected.subtracting(found).sorted().map { "missing tensor \"\($0)\"" }
                        + found.subtracting(expected).sorted().map { "unexpected tensor \"\($0)\"" }, file: file)
    }

    /// One error naming the first eight problems, if there are any.
    private static func report(_ problems: [String], file: String) throws {
        guard problems.isEmpty else {
            let shown = problems.prefix(8).joined(separator: "; ")
            let more = problems.count > 8 ? "; and \(problems.count - 8) more" : ""
            throw SafetensorsError.malformed(file: file, reason: shown + more)
        }
    }

    /// Loads tensors by dotted name. Every tensor must be present with the
    /// right shape and no unexpected one may remain; on any error nothing is
    /// changed, so a model never half-loads.
    public func load(_ tensors: [String: Tensor], file: String) throws {
        let params = namedParameters()
        var problems: [String] = []
        for (name, p) in params {
            guard let t = tensors[name] else { problems.append("missing tensor \"\(name)\" (expected shape \(p.value.shape))"); continue }
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
        for (name, p) in params {
            let t = tensors[name]!
            p.value = t.shape == p.value.shape ? t : t.reshaped(p.value.shape)
        }
    }
}
