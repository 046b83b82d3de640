import NN
import Tensor

/// A file written by `torch.save` (or by `pickle.dump`), read without Python
/// and without executing anything from it.
///
/// Three layouts are told apart by their first bytes: the zip archive of
/// PyTorch ≥ 1.6 (`*/data.pkl`, `*/data/N`, `*/byteorder`), the legacy
/// stream (a magic number, the protocol, system info, the pickled object,
/// the storage keys, then each storage's element count and bytes), and a
/// plain pickle (a pickled vocabulary). The object graph is a `Pickle`;
/// tensors are read from their storages on request, F32 ones in place in the
/// file's mapping.
public final class TorchCheckpoint: @unchecked Sendable {
    /// The file's name, for messages.
    public let file: String
    public let pickle: Pickle
    /// The file's bytes, and what keeps them alive (tensors borrow from them).
    private let bytes: UnsafeRawBufferPointer
    private let owner: AnyObject
    /// Each storage key's bytes in the mapping.
    private let storageBytes: [String: Range<Int>]

    /// The storage classes a persistent id may name, with their element sizes;
    /// the floating ones (and the integer ones, for counters) become F32.
    static let storageTypes: [String: (size: Int, dtype: Safetensors.DType?)] = [
        "FloatStorage": (4, .f32), "HalfStorage": (2, .f16), "BFloat16Storage": (2, .bf16),
        "DoubleStorage": (8, .f64), "LongStorage": (8, .i64), "IntStorage": (4, .i32),
        "ShortStorage": (2, nil), "CharStorage": (1, nil), "ByteStorage": (1, nil), "BoolStorage": (1, nil),
        "ComplexFloatStorage": (8, nil), "ComplexDoubleStorage": (16, nil),
    ]

    /// PyTorch's legacy files begin with this number, pickled (0x1950a86a20f9469cfc6c).
    static let legacyMagic = PickleValue.bigInt([0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19])

    public convenience init(path: String) throws(CheckpointError) {
        let name = String(path.split(separator: "/").last ?? Substring(path))
        let mapping: MappedFile
        do { mapping = try MappedFile(path: path) } catch {
            throw CheckpointError(file: name, reason: "cannot read it: \(String(describing: error).components(separatedBy: ": ").last ?? "")")
        }
        try self.init(mapping: mapping, file: name)
    }

    /// Reads the bytes of a mapped file; `file` names it in errors.
    public convenience init(mapping: MappedFile, file: String) throws(CheckpointError) {
        try self.init(bytes: mapping.bytes, owner: mapping, file: file)
    }

    /// Reads a copy of `data` (the fuzz harness's way in); `file` names it in errors.
    public convenience init(data: [UInt8], file: String) throws(CheckpointError) {
        let copy = OwnedBytes(data)
        try self.init(bytes: UnsafeRawBufferPointer(rebasing: copy.bytes[0..<data.count]), owner: copy, file: file)
    }

    private init(bytes: UnsafeRawBufferPointer, owner: AnyObject, file: String) throws(CheckpointError) {
        self.file = file
        self.bytes = bytes
        self.owner = owner
        do {
            if bytes.count >= 4, bytes.loadUnaligned(as: UInt32.self).littleEndian == 0x0403_4B50 {
                (pickle, storageBytes) = try Self.readZip(bytes)
            } else if bytes.count > 262, Array(bytes[257..<262]) == Array("ustar".utf8) {
                throw CheckpointError(file: file, reason: "a tar checkpoint of PyTorch before 0.4: load it there and save it again")
            } else {
                (pickle, storageBytes) = try Self.readStream(bytes)
            }
        } catch let error as PickleError {
            throw CheckpointError(file: file, reason: error.description)
        } catch let error as ZipError {
            throw CheckpointError(file: file, reason: "not a valid PyTorch zip checkpoint: \(error.reason)")
        } catch let error as CheckpointError {
            throw CheckpointError(file: file, reason: error.reason)
        } catch {
            throw CheckpointError(file: file, reason: "\(error)")
        }
    }

    // MARK: layouts

    private static func readZip(_ bytes: UnsafeRawBufferPointer) throws -> (Pickle, [String: Range<Int>]) {
        let archive = try ZipArchive(bytes)
        guard let dataName = archive.names.first(where: { $0.hasSuffix("/data.pkl") || $0 == "data.pkl" }),
              let data = archive.entries[dataName] else {
            throw CheckpointError(file: "", reason: "a zip archive without data.pkl: not a torch.save checkpoint")
        }
        let prefix = String(dataName.dropLast("data.pkl".count))
        if let order = archive.entries[prefix + "byteorder"] {
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[order]), as: UTF8.self)
            guard text == "little" else {
                throw CheckpointError(file: "", reason: "saved with byte order \"\(text.prefix(16))\"; only little-endian checkpoints are read")
            }
        }
        var keys: [String: Int] = [:]
        let (pickle, _) = try Unpickler.read(UnsafeRawBufferPointer(rebasing: bytes[data])) { id, pickle, at throws(PickleError) in
            try storage(id, in: &pickle, keys: &keys, at: at)
        }
        var ranges: [String: Range<Int>] = [:]
        for reference in pickle.storages {
            guard let range = archive.entries[prefix + "data/" + reference.key] else {
                throw CheckpointError(file: "", reason: "storage \(reference.key) is named in data.pkl but \(prefix)data/\(reference.key) is missing")
            }
            let size = storageTypes[reference.typeName]!.size
            guard reference.count.multipliedReportingOverflow(by: size) == (range.count, false) else {
                throw CheckpointError(file: "", reason: "storage \(reference.key) should hold \(reference.count) × \(size) bytes but its entry has \(range.count)")
            }
            ranges[reference.key] = range
        }
        return (pickle, ranges)
    }

    /// A plain pickle, or the legacy stream of several.
    private static func readStream(_ bytes: UnsafeRawBufferPointer) throws -> (Pickle, [String: Range<Int>]) {
        let first: Pickle, afterMagic: Int
        do { (first, afterMagic) = try Unpickler.read(bytes) } catch {
            if case .refusedGlobal = error { throw error }
            throw CheckpointError(file: "", reason: "neither a PyTorch checkpoint (zip or legacy) nor a pickle: \(error)")
        }
        guard first.root == legacyMagic else { return (first, [:]) }
        let (version, afterVersion) = try Unpickler.read(bytes, from: afterMagic)
        guard version.root == .int(1001) else {
            throw CheckpointError(file: "", reason: "legacy checkpoint protocol \(version.root.int.map(String.init) ?? "?") (this reader knows 1001)")
        }
        let (info, afterInfo) = try Unpickler.read(bytes, from: afterVersion)
        if let little = info.value(at: "little_endian"), little == .bool(false) {
            throw CheckpointError(file: "", reason: "saved on a big-endian machine; only little-endian checkpoints are read")
        }
        var keys: [String: Int] = [:]
        let (pickle, afterObject) = try Unpickler.read(bytes, from: afterInfo) { id, pickle, at throws(PickleError) in
            try storage(id, in: &pickle, keys: &keys, at: at)
        }
        let (order, afterKeys) = try Unpickler.read(bytes, from: afterObject)
        guard case let .sequence(list) = order.root else {
            throw CheckpointError(file: "", reason: "the legacy storage key list is missing after the pickled object")
        }
        var ranges: [String: Range<Int>] = [:]
        var at = afterKeys
        for keyValue in order.sequences[list] {
            guard let key = keyValue.string ?? keyValue.int.map(String.init),
                  let reference = pickle.storages.first(where: { $0.key == key }) else {
                throw CheckpointError(file: "", reason: "legacy storage key \(keyValue) is not named by any tensor")
            }
            let size = storageTypes[reference.typeName]!.size
            guard at <= bytes.count - 8 else { throw CheckpointError(file: "", reason: "storage \(key) is cut off at byte \(at): truncated?") }
            let count = Int(Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: Int64.self)))
            at += 8
            guard count == reference.count else {
                throw CheckpointError(file: "", reason: "storage \(key) at byte \(at - 8) holds \(count) elements, but its tensors were saved with \(reference.count)")
            }
            let (length, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow, length <= bytes.count - at else {
                throw CheckpointError(file: "", reason: "storage \(key) (\(count) × \(size) bytes from byte \(at)) runs past the end of the file: truncated?")
            }
            ranges[key] = at..<(at + length)
            at += length
        }
        for reference in pickle.storages where ranges[reference.key] == nil {
            throw CheckpointError(file: "", reason: "storage \(reference.key) is named by a tensor but missing from the legacy key list")
        }
        return (pickle, ranges)
    }

    /// PyTorch's persistent ids: ("storage", storage class, key, location, numel[, view]).
    private static func storage(_ id: PickleValue, in pickle: inout Pickle, keys: inout [String: Int],
                                at: Int) throws(PickleError) -> PickleValue {
        guard case let .sequence(s) = id, let kind = pickle.sequences[s].first?.string else {
            throw .malformed(offset: at, reason: "a persistent id that is not PyTorch's (\"storage\", …) tuple")
        }
        let parts = pickle.sequences[s]
        // A pickled module's class: ("module", class, source file, source); the source is ignored.
        if kind == "module", parts.count >= 2 { return parts[1] }
        guard kind == "storage", parts.count >= 5, case let .global(_, typeName) = parts[1],
              let key = parts[2].string ?? parts[2].int.map(String.init), let count = parts[4].int, count >= 0 else {
            throw .malformed(offset: at, reason: "a persistent id that is not PyTorch's (\"storage\", type, key, location, size) tuple")
        }
        guard storageTypes[typeName] != nil else {
            throw .malformed(offset: at, reason: "storage class \(typeName) is not one PyTorch writes")
        }
        var view: (key: String, offset: Int, count: Int)?
        if parts.count >= 6, case let .sequence(v) = parts[5] {
            let fields = pickle.sequences[v]
            guard fields.count == 3, let viewKey = fields[0].string, let offset = fields[1].int, let size = fields[2].int,
                  offset >= 0, size >= 0, offset <= count, size <= count - offset else {
                throw .malformed(offset: at, reason: "storage \(key)'s view lies outside it")
            }
            view = (viewKey, offset, size)
        }
        let name = view?.key ?? key
        if let known = keys[name] {
            guard pickle.storages[known].typeName == typeName else {
                throw .malformed(offset: at, reason: "storage \(key) is named as both \(pickle.storages[known].typeName) and \(typeName)")
            }
            return .storage(known)
        }
        pickle.storages.append(StorageReference(key: key, typeName: typeName, count: count, view: view))
        keys[name] = pickle.storages.count - 1
        return .storage(pickle.storages.count - 1)
    }

    // MARK: tensors

    /// The tensor at a dotted path (`decoder.attention.encoder_att.weight`), as Float32.
    public func tensor(at path: String, in value: PickleValue? = nil) throws(CheckpointError) -> Tensor {
        guard let found = pickle.value(at: path, in: value) else {
            throw CheckpointError(file: file, reason: "no \(path) in the checkpoint")
        }
        guard case let .tensor(index) = found else {
            throw CheckpointError(file: file, reason: "\(path) is a \(pickle.typeName(of: found)), not a tensor")
        }
        return try tensor(index, name: path)
    }

    /// Every tensor under a value by `state_dict()` name (`Pickle.tensorNames`), as Float32.
    public func stateDict(of value: PickleValue) throws(CheckpointError) -> [String: Tensor] {
        var tensors: [String: Tensor] = [:]
        for (name, index) in pickle.tensorNames(under: value) { tensors[name] = try tensor(index, name: name) }
        return tensors
    }

    /// Tensor `index` of the pickle, read from its storage; `name` is for messages.
    public func tensor(_ index: Int, name: String) throws(CheckpointError) -> Tensor {
        let view = pickle.tensors[index]
        let reference = pickle.storages[view.storage]
        guard let dtype = Self.storageTypes[reference.typeName]!.dtype else {
            throw CheckpointError(file: file, reason: "tensor \(name) is a \(reference.typeName); only floating tensors (and integer counters) are read")
        }
        guard let range = storageBytes[reference.key] else {
            throw CheckpointError(file: file, reason: "tensor \(name)'s storage \(reference.key) has no data")
        }
        let base = reference.view?.offset ?? 0, available = reference.view?.count ?? reference.count
        // The largest element the view reaches must lie inside the storage.
        // Any partial product that overflows is refused, even when a later size is 0.
        var count = 1
        for n in view.shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: n)
            count = overflow || n > 1 << 40 ? Int.max : product
            if count == Int.max { break }
        }
        var last = view.offset
        for (n, s) in zip(view.shape, view.strides) where n > 0 {
            let (step, o1) = (n - 1).multipliedReportingOverflow(by: s)
            let (sum, o2) = last.addingReportingOverflow(step)
            last = o1 || o2 ? Int.max : sum
        }
        guard count != Int.max, count == 0 || last < available else {
            throw CheckpointError(file: file, reason: "tensor \(name) of size \(view.shape), stride \(view.strides) and offset \(view.offset) reaches beyond its storage \(reference.key) of \(available) elements")
        }
        // A view may repeat elements (stride 0), but not into more memory than the file could hold.
        guard count <= max(available, 1 << 24) else {
            throw CheckpointError(file: file, reason: "tensor \(name) of size \(view.shape) repeats its storage's \(available) elements \(count / max(available, 1))-fold: not read")
        }
        let size = dtype.size
        let start = range.lowerBound + (base + view.offset) * size
        let rowMajor = Self.rowMajorStrides(view.shape)
        let contiguous = zip(zip(view.shape, view.strides), rowMajor).allSatisfy { $0.0.0 <= 1 || $0.0.1 == $0.1 }
        if contiguous, count > 0 {
            let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + count * size)])
            if dtype == .f32, let pointer = raw.baseAddress, Int(bitPattern: pointer) % MemoryLayout<Float>.alignment == 0 {
                let floats = UnsafeMutableRawPointer(mutating: pointer).assumingMemoryBound(to: Float.self)
                return Tensor(shape: view.shape, borrowing: floats, owner: owner)
            }
            return Tensor(shape: view.shape) { dtype.widen(raw, into: $0) }
        }
        return Tensor(shape: view.shape) { destination in
            guard count > 0 else { return }
            var index = [Int](repeating: 0, count: view.shape.count)
            for i in 0..<count {
                var element = view.offset + base
                for d in index.indices { element += index[d] * view.strides[d] }
                let at = range.lowerBound + element * size
                dtype.widen(UnsafeRawBufferPointer(rebasing: bytes[at..<(at + size)]), into: destination + i)
                var d = index.count - 1
                while d >= 0 {
                    index[d] += 1
                    if index[d] < view.shape[d] { break }
                    index[d] = 0
                    d -= 1
                }
            }
        }
    }

    private static func rowMajorStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        for d in stride(from: shape.count - 2, through: 0, by: -1) { strides[d] = strides[d + 1] &* max(shape[d + 1], 1) }
        return strides
    }
}

/// Bytes this process allocated, for a checkpoint read from memory.
private final class OwnedBytes {
    let bytes: UnsafeMutableRawBufferPointer

    init(_ data: [UInt8]) {
        bytes = .allocate(byteCount: max(data.count, 1), alignment: 64)
        bytes.copyBytes(from: data)
        if data.isEmpty { bytes[0] = 0 }
    }

    deinit { bytes.deallocate() }
}

/// Why a checkpoint could not be read or used, naming the file.
public struct CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var reason: String

    public init(file: String, reason: String) {
        self.file = file
        self.reason = reason
    }

    public var description: String { file.isEmpty ? reason : "\(file): \(reason)" }
}
