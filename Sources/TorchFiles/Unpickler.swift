/// Reads Python's pickle format (protocols 0–5) into a `Pickle` without
/// executing anything.
///
/// `torch.load` runs whatever callable a pickle names — the reason PyTorch
/// added `weights_only`. This reader calls nothing: it rebuilds the few
/// things a checkpoint is made of (tensors through `_rebuild_tensor_v2` and
/// `_rebuild_parameter`, dicts, OrderedDicts, sets, `torch.Size`) and keeps
/// every other object as an inert `PickleObject` record. A pickle that names
/// a function that runs programs, evaluates code or opens files (`os.system`,
/// `builtins.eval`, `subprocess.Popen`, …) is refused outright, naming it and
/// its byte offset, so a hostile file is reported rather than loaded quietly.
struct Unpickler {
    /// Turns a persistent id (PyTorch's storage tuples) into a value.
    typealias PersistentLoad = (PickleValue, inout Pickle, Int) throws(PickleError) -> PickleValue

    private let bytes: UnsafeRawBufferPointer
    private var position: Int
    private var pickle = Pickle()
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private let persistentLoad: PersistentLoad?

    /// Reads one pickle starting at `offset`; returns it and the offset after its STOP.
    static func read(_ bytes: UnsafeRawBufferPointer, from offset: Int = 0, into pickle: Pickle = Pickle(),
                     persistentLoad: PersistentLoad? = nil) throws(PickleError) -> (Pickle, end: Int) {
        var reader = Unpickler(bytes: bytes, position: offset, pickle: pickle, persistentLoad: persistentLoad)
        let root = try reader.run()
        reader.pickle.root = root
        return (reader.pickle, reader.position)
    }

    private init(bytes: UnsafeRawBufferPointer, position: Int, pickle: Pickle, persistentLoad: PersistentLoad?) {
        self.bytes = bytes
        self.position = position
        self.pickle = pickle
        self.persistentLoad = persistentLoad
    }

    // MARK: reading bytes

    private mutating func byte(_ at: Int) throws(PickleError) -> UInt8 {
        guard position < bytes.count else { throw .truncated(offset: at) }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func take(_ count: Int, _ at: Int) throws(PickleError) -> UnsafeRawBufferPointer {
        guard count >= 0, count <= bytes.count - position else { throw .truncated(offset: at) }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
    }

    private mutating func unsigned(_ width: Int, _ at: Int) throws(PickleError) -> UInt64 {
        let raw = try take(width, at)
        var value: UInt64 = 0
        for i in (0..<width).reversed() { value = value << 8 | UInt64(raw[i]) }
        return value
    }

    /// A length read from the file: it must fit in what is left of the file.
    private mutating func length(_ width: Int, _ at: Int) throws(PickleError) -> Int {
        let n = try unsigned(width, at)
        guard n <= UInt64(bytes.count - position) else { throw .truncated(offset: at) }
        return Int(n)
    }

    private mutating func line(_ at: Int) throws(PickleError) -> String {
        var end = position
        while end < bytes.count, bytes[end] != 0x0A { end += 1 }
        guard end < bytes.count else { throw .truncated(offset: at) }
        defer { position = end + 1 }
        var text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position..<end]), as: UTF8.self)
        if text.hasSuffix("\r") { text.removeLast() }
        return text
    }

    // MARK: the stack

    private mutating func pop(_ at: Int) throws(PickleError) -> PickleValue {
        guard stack.count > (marks.last ?? 0), let top = stack.popLast() else { throw .malformed(offset: at, reason: "the stack is empty") }
        return top
    }

    private mutating func popToMark(_ at: Int) throws(PickleError) -> [PickleValue] {
        guard let mark = marks.popLast() else { throw .malformed(offset: at, reason: "no MARK before this opcode") }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
    }

    private mutating func top(_ at: Int) throws(PickleError) -> PickleValue {
        guard let top = stack.last, stack.count > (marks.last ?? 0) else { throw .malformed(offset: at, reason: "the stack is empty") }
        return top
    }

    private mutating func sequence(_ items: [PickleValue]) -> PickleValue {
        pickle.sequences.append(items)
        return .sequence(pickle.sequences.count - 1)
    }

    private mutating func dict(_ entries: [(key: PickleValue, value: PickleValue)]) -> PickleValue {
        pickle.dicts.append(entries)
        return .dict(pickle.dicts.count - 1)
    }

    private mutating func object(_ className: String, _ arguments: [PickleValue]) -> PickleValue {
        pickle.objects.append(PickleObject(className: className, arguments: arguments))
        return .object(pickle.objects.count - 1)
    }

    private func items(of value: PickleValue, _ at: Int) throws(PickleError) -> [PickleValue] {
        guard case let .sequence(i) = value else { throw .malformed(offset: at, reason: "expected a tuple, found \(pickle.typeName(of: value))") }
        return pickle.sequences[i]
    }

    // MARK: the machine

    private mutating func run() throws(PickleError) -> PickleValue {
        while true {
            let at = position
            let op = try byte(at)
            switch op {
            case 0x80: // PROTO
                let version = try byte(at)
                guard version <= 5 else { throw .malformed(offset: at, reason: "pickle protocol \(version) (this reader knows 0–5)") }
            case 0x95: // FRAME: frames only group opcodes for buffering.
                _ = try unsigned(8, at)
            case 0x2E: // STOP
                let root = try pop(at)
                return root
            case 0x28: marks.append(stack.count) // MARK
            case 0x30: _ = try pop(at) // POP
            case 0x31: _ = try popToMark(at) // POP_MARK
            case 0x32: stack.append(try top(at)) // DUP
            case 0x4E: stack.append(.none)
            case 0x88: stack.append(.bool(true))
            case 0x89: stack.append(.bool(false))
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try unsigned(4, at))))) // BININT
            case 0x4B: stack.append(.int(Int(try byte(at)))) // BININT1
            case 0x4D: stack.append(.int(Int(try unsigned(2, at)))) // BININT2
            case 0x8A: stack.append(integer(Array(try take(try length(1, at), at)))) // LONG1
            case 0x8B: // LONG4
                let n = Int(Int32(truncatingIfNeeded: try unsigned(4, at)))
                stack.append(integer(Array(try take(n, at))))
            case 0x49: // INT (protocol 0; also I01/I00 for booleans)
                let text = try line(at)
                if text == "01" || text == "00" { stack.append(.bool(text == "01")); break }
                guard let value = Int(text) else { throw .malformed(offset: at, reason: "INT \"\(text.prefix(40))\" is not an integer") }
                stack.append(.int(value))
            case 0x4C: // LONG (protocol 0)
                var text = try line(at)
                if text.hasSuffix("L") { text.removeLast() }
                guard let value = Int(text) else { throw .malformed(offset: at, reason: "LONG \"\(text.prefix(40))\" does not fit in 64 bits") }
                stack.append(.int(value))
            case 0x46: // FLOAT (protocol 0)
                let text = try line(at)
                guard let value = Double(text) else { throw .malformed(offset: at, reason: "FLOAT \"\(text.prefix(40))\" is not a number") }
                stack.append(.float(value))
            case 0x47: // BINFLOAT: big-endian
                let raw = try take(8, at)
                stack.append(.float(Double(bitPattern: raw.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })))
            case 0x53: // STRING (protocol 0: a quoted repr)
                var text = try line(at)
                if text.count >= 2, let q = text.first, q == "'" || q == "\"", text.last == q { text = String(text.dropFirst().dropLast()) }
                stack.append(.string(text))
            case 0x54: stack.append(.string(string(try take(try length(4, at), at)))) // BINSTRING
            case 0x55: stack.append(.string(string(try take(try length(1, at), at)))) // SHORT_BINSTRING
            case 0x56: stack.append(.string(try line(at))) // UNICODE (raw-unicode-escape, taken as is)
            case 0x58: stack.append(.string(string(try take(try length(4, at), at)))) // BINUNICODE
            case 0x8C: stack.append(.string(string(try take(try length(1, at), at)))) // SHORT_BINUNICODE
            case 0x8D: stack.append(.string(string(try take(try length(8, at), at)))) // BINUNICODE8
            case 0x42: stack.append(.bytes(Array(try take(try length(4, at), at)))) // BINBYTES
            case 0x43: stack.append(.bytes(Array(try take(try length(1, at), at)))) // SHORT_BINBYTES
            case 0x8E, 0x96: stack.append(.bytes(Array(try take(try length(8, at), at)))) // BINBYTES8, BYTEARRAY8
            case 0x5D: stack.append(sequence([])) // EMPTY_LIST
            case 0x29: stack.append(sequence([])) // EMPTY_TUPLE
            case 0x8F: stack.append(sequence([])) // EMPTY_SET
            case 0x7D: stack.append(dict([])) // EMPTY_DICT
            case 0x6C, 0x74, 0x91: stack.append(sequence(try popToMark(at))) // LIST, TUPLE, FROZENSET
            case 0x85: let a = try pop(at); stack.append(sequence([a])) // TUPLE1
            case 0x86: let b = try pop(at), a = try pop(at); stack.append(sequence([a, b])) // TUPLE2
            case 0x87: let c = try pop(at), b = try pop(at), a = try pop(at); stack.append(sequence([a, b, c])) // TUPLE3
            case 0x64: // DICT
                let flat = try popToMark(at)
                guard flat.count % 2 == 0 else { throw .malformed(offset: at, reason: "DICT with an odd number of items") }
                stack.append(dict(stride(from: 0, to: flat.count, by: 2).map { (flat[$0], flat[$0 + 1]) }))
            case 0x61: // APPEND
                let item = try pop(at)
                try append([item], to: try top(at), at)
            case 0x65, 0x90: // APPENDS, ADDITEMS
                let added = try popToMark(at)
                try append(added, to: try top(at), at)
            case 0x73: // SETITEM
                let value = try pop(at), key = try pop(at)
                try set([(key, value)], in: try top(at), at)
            case 0x75: // SETITEMS
                let flat = try popToMark(at)
                guard flat.count % 2 == 0 else { throw .malformed(offset: at, reason: "SETITEMS with an odd number of items") }
                try set(stride(from: 0, to: flat.count, by: 2).map { (flat[$0], flat[$0 + 1]) }, in: try top(at), at)
            case 0x63: // GLOBAL
                let module = try line(at), name = try line(at)
                stack.append(try global(module, name, at))
            case 0x93: // STACK_GLOBAL
                let name = try pop(at), module = try pop(at)
                guard let m = module.string, let n = name.string else { throw .malformed(offset: at, reason: "STACK_GLOBAL needs two strings") }
                stack.append(try global(m, n, at))
            case 0x52: // REDUCE
                let arguments = try items(of: try pop(at), at)
                let callable = try pop(at)
                stack.append(try reduce(callable, arguments, at))
            case 0x81: // NEWOBJ
                let arguments = try items(of: try pop(at), at)
                let cls = try pop(at)
                stack.append(object(pickle.typeName(of: cls), arguments))
            case 0x92: // NEWOBJ_EX
                _ = try pop(at)
                let arguments = try items(of: try pop(at), at)
                let cls = try pop(at)
                stack.append(object(pickle.typeName(of: cls), arguments))
            case 0x6F: // OBJ
                var parts = try popToMark(at)
                guard !parts.isEmpty else { throw .malformed(offset: at, reason: "OBJ without a class") }
                let cls = parts.removeFirst()
                stack.append(object(pickle.typeName(of: cls), parts))
            case 0x69: // INST
                let module = try line(at), name = try line(at)
                _ = try global(module, name, at)
                stack.append(object("\(module).\(name)", try popToMark(at)))
            case 0x62: // BUILD
                let state = try pop(at)
                try build(try top(at), state, at)
            case 0x70: try put(Int(try line(at)), at) // PUT
            case 0x71: try put(Int(try byte(at)), at) // BINPUT
            case 0x72: try put(Int(try unsigned(4, at)), at) // LONG_BINPUT
            case 0x94: try put(memo.count, at) // MEMOIZE
            case 0x67: try get(Int(try line(at)), at) // GET
            case 0x68: try get(Int(try byte(at)), at) // BINGET
            case 0x6A: try get(Int(try unsigned(4, at)), at) // LONG_BINGET
            case 0x50: try persistent(.string(try line(at)), at) // PERSID
            case 0x51: try persistent(try pop(at), at) // BINPERSID
            default:
                throw .unsupportedOpcode(op, offset: at)
            }
        }
    }

    private func string(_ raw: UnsafeRawBufferPointer) -> String { String(decoding: raw, as: UTF8.self) }

    /// LONG1/LONG4: little-endian two's complement.
    private func integer(_ raw: [UInt8]) -> PickleValue {
        if raw.isEmpty { return .int(0) }
        guard raw.count <= 8 else { return .bigInt(raw) }
        var value: UInt64 = raw.last! & 0x80 != 0 ? ~0 : 0
        for byte in raw.reversed() { value = value << 8 | UInt64(byte) }
        return .int(Int(Int64(bitPattern: value)))
    }

    private mutating func put(_ index: Int?, _ at: Int) throws(PickleError) {
        guard let index, index >= 0 else { throw .malformed(offset: at, reason: "a memo index that is not a number") }
        memo[index] = try top(at)
    }

    private mutating func get(_ index: Int?, _ at: Int) throws(PickleError) {
        guard let index, let value = memo[index] else { throw .malformed(offset: at, reason: "a memo entry that was never stored") }
        stack.append(value)
    }

    private mutating func persistent(_ id: PickleValue, _ at: Int) throws(PickleError) {
        guard let persistentLoad else { throw .malformed(offset: at, reason: "a persistent id (PERSID) in a pickle that should have none") }
        stack.append(try persistentLoad(id, &pickle, at))
    }

    private mutating func append(_ added: [PickleValue], to target: PickleValue, _ at: Int) throws(PickleError) {
        switch target {
        case let .sequence(i): pickle.sequences[i].append(contentsOf: added)
        case let .object(i): pickle.objects[i].items.append(contentsOf: added)
        default: throw .malformed(offset: at, reason: "APPEND to a \(pickle.typeName(of: target))")
        }
    }

    private mutating func set(_ entries: [(PickleValue, PickleValue)], in target: PickleValue, _ at: Int) throws(PickleError) {
        switch target {
        case let .dict(i): pickle.dicts[i].append(contentsOf: entries.map { (key: $0.0, value: $0.1) })
        case let .object(i): pickle.objects[i].entries.append(contentsOf: entries.map { (key: $0.0, value: $0.1) })
        default: throw .malformed(offset: at, reason: "SETITEM on a \(pickle.typeName(of: target))")
        }
    }

    private mutating func build(_ target: PickleValue, _ state: PickleValue, _ at: Int) throws(PickleError) {
        switch target {
        case let .object(i): pickle.objects[i].state = state
        // A tensor's or a dict's state (a Parameter's, an OrderedDict's) carries nothing read here.
        case .tensor, .dict, .sequence: break
        default: throw .malformed(offset: at, reason: "BUILD on a \(pickle.typeName(of: target))")
        }
    }

    // MARK: globals and calls

    /// Modules whose functions run programs, evaluate code, open files or
    /// sockets, or call other callables: a checkpoint has no reason to name them.
    private static let refusedModules: Set<String> = [
        "os", "posix", "nt", "posixpath", "ntpath", "subprocess", "sys", "shutil", "socket", "importlib", "runpy",
        "pickle", "_pickle", "marshal", "ctypes", "code", "codeop", "pty", "webbrowser", "multiprocessing", "signal",
        "io", "_io", "functools", "operator", "types", "timeit", "pdb", "bdb", "trace", "asyncio", "threading",
        "_thread", "urllib", "http", "ftplib", "smtplib", "tempfile", "glob", "pathlib", "zipimport", "pkgutil",
        "imp", "inspect", "ast", "gc", "ssl", "select", "fcntl", "resource", "platform", "sqlite3", "shelve",
    ]

    /// Functions of any module that evaluate code or run programs (numpy's
    /// `runstring`, torch's own `load`) or reach attributes by name.
    private static let refusedNames: Set<String> = [
        "eval", "exec", "execfile", "compile", "__import__", "getattr", "setattr", "delattr", "system", "popen",
        "runstring", "spawn", "check_output", "check_call", "load", "loads",
    ]

    /// The builtins a checkpoint may name: containers and plain types.
    private static let allowedBuiltins: Set<String> = [
        "set", "frozenset", "dict", "list", "tuple", "bytearray", "bytes", "object", "int", "float", "str",
        "complex", "slice", "bool", "range",
    ]

    private func global(_ module: String, _ name: String, _ at: Int) throws(PickleError) -> PickleValue {
        let root = String(module.split(separator: ".").first ?? "")
        if Self.refusedModules.contains(root) || Self.refusedNames.contains(name)
            || ((module == "builtins" || module == "__builtin__") && !Self.allowedBuiltins.contains(name)) {
            throw .refusedGlobal("\(module).\(name)", offset: at)
        }
        return .global(module: module, name: name)
    }

    /// A call the pickle asks for. The ones that build a checkpoint's data
    /// are rebuilt here; any other becomes an inert record of the call.
    private mutating func reduce(_ callable: PickleValue, _ arguments: [PickleValue], _ at: Int) throws(PickleError) -> PickleValue {
        guard case let .global(module, name) = callable else {
            return object(pickle.typeName(of: callable), arguments)
        }
        switch (module, name) {
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            return try rebuildTensor(arguments, at)
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            guard let data = arguments.first, case .tensor = data else {
                throw .malformed(offset: at, reason: "_rebuild_parameter without a tensor")
            }
            return data
        case ("collections", "OrderedDict"), ("collections", "defaultdict"), ("builtins", "dict"), ("__builtin__", "dict"):
            if let first = arguments.first, case let .sequence(pairs) = first, module != "collections" || name == "OrderedDict" {
                var entries: [(key: PickleValue, value: PickleValue)] = []
                for pair in pickle.sequences[pairs] {
                    let kv = try items(of: pair, at)
                    guard kv.count == 2 else { throw .malformed(offset: at, reason: "a dict item that is not a pair") }
                    entries.append((kv[0], kv[1]))
                }
                return dict(entries)
            }
            return dict([])
        case ("builtins", "set"), ("__builtin__", "set"), ("builtins", "frozenset"), ("__builtin__", "frozenset"),
             ("builtins", "list"), ("__builtin__", "list"), ("builtins", "tuple"), ("__builtin__", "tuple"),
             ("torch", "Size"):
            guard let first = arguments.first else { return sequence([]) }
            return sequence(try items(of: first, at))
        case ("_codecs", "encode"):
            // Protocol 2's bytes: _codecs.encode(text, "latin1").
            guard let text = arguments.first?.string else { throw .malformed(offset: at, reason: "_codecs.encode without a string") }
            return .bytes(text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })
        case ("torch", "device"):
            return .string(arguments.compactMap { $0.string ?? $0.int.map(String.init) }.joined(separator: ":"))
        case ("copyreg", "_reconstructor"), ("copy_reg", "_reconstructor"):
            return object(arguments.first.map { pickle.typeName(of: $0) } ?? "object", Array(arguments.dropFirst()))
        default:
            return object("\(module).\(name)", arguments)
        }
    }

    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`.
    private mutating func rebuildTensor(_ arguments: [PickleValue], _ at: Int) throws(PickleError) -> PickleValue {
        guard arguments.count >= 4, case let .storage(storage) = arguments[0], let offset = arguments[1].int,
              case .sequence = arguments[2], case .sequence = arguments[3] else {
            throw .malformed(offset: at, reason: "_rebuild_tensor_v2 without (storage, offset, size, stride)")
        }
        let shape = try items(of: arguments[2], at).map { $0.int ?? -1 }
        let strides = try items(of: arguments[3], at).map { $0.int ?? -1 }
        guard shape.count == strides.count, shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }), offset >= 0 else {
            throw .malformed(offset: at, reason: "a tensor's size \(shape) and stride \(strides) do not describe a view")
        }
        pickle.tensors.append(TensorView(storage: storage, offset: offset, shape: shape, strides: strides))
        return .tensor(pickle.tensors.count - 1)
    }
}

/// Why a pickle could not be read; the offset is the opcode's byte offset.
public enum PickleError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated(offset: Int)
    case malformed(offset: Int, reason: String)
    case unsupportedOpcode(UInt8, offset: Int)
    case refusedGlobal(String, offset: Int)

    public var description: String {
        switch self {
        case let .truncated(offset): "the pickle ends in the middle of the opcode at byte \(offset): truncated?"
        case let .malformed(offset, reason): "not a valid pickle at byte \(offset): \(reason)"
        case let .unsupportedOpcode(op, offset):
            "pickle opcode 0x\(String(op, radix: 16, uppercase: true)) at byte \(offset) is not one this reader knows (extension registry or out-of-band buffers)"
        case let .refusedGlobal(name, offset):
            "the pickle names \(name) at byte \(offset), a function that can run code or touch the system: refused (nothing from the file was executed)"
        }
    }
}
