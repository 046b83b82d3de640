/// One value of an unpickled object graph.
///
/// Containers live in `Pickle`'s arena and are named by their index there, so
/// no input can build a structure whose teardown recurses (a chain of 30 000
/// nested lists, cheap to write in a pickle, would overflow the stack), and a
/// list made to contain itself through the memo is just an index.
public enum PickleValue: Equatable, Sendable {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer beyond 64 bits: its little-endian two's-complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    /// Tuples, lists and sets: `Pickle.sequences[i]`.
    case sequence(Int)
    /// Dicts, OrderedDicts, defaultdicts: `Pickle.dicts[i]`.
    case dict(Int)
    /// Anything else that was built: `Pickle.objects[i]`, an inert record.
    case object(Int)
    /// A reference to a class or function, never resolved or called.
    case global(module: String, name: String)
    /// A tensor (`torch._utils._rebuild_tensor_v2`): `Pickle.tensors[i]`.
    case tensor(Int)
    /// A storage named by a persistent id: `Pickle.storages[i]`.
    case storage(Int)

    public var string: String? { if case let .string(s) = self { s } else { nil } }
    public var int: Int? {
        switch self {
        case let .int(i): i
        case let .bool(b): b ? 1 : 0
        default: nil
        }
    }
    public var float: Double? {
        switch self {
        case let .float(x): x
        case let .int(i): Double(i)
        default: nil
        }
    }
}

/// An object the reader does not rebuild: its class (or the function a
/// REDUCE named) and what the pickle said about it. A pickled `nn.Module`,
/// an optimiser or a `Vocabulary` becomes one of these; its attributes are
/// in `state` (usually a dict).
public struct PickleObject: Sendable {
    public var className: String
    public var arguments: [PickleValue]
    public var state: PickleValue = .none
    /// Items appended (APPEND/APPENDS) and set (SETITEM/SETITEMS) on the object.
    public var items: [PickleValue] = []
    public var entries: [(key: PickleValue, value: PickleValue)] = []
}

/// A tensor's view of a storage, as `_rebuild_tensor_v2` describes it; its
/// numbers are read by `TorchCheckpoint.tensor`.
public struct TensorView: Equatable, Sendable {
    public var storage: Int
    public var offset: Int
    public var shape: [Int]
    public var strides: [Int]
}

/// A storage a persistent id names: its key, element type and element count.
public struct StorageReference: Equatable, Sendable {
    public var key: String
    public var typeName: String
    public var count: Int
    /// Legacy files: a view of another storage (key, offset in elements, size).
    public var view: (key: String, offset: Int, count: Int)?

    public static func == (a: Self, b: Self) -> Bool {
        a.key == b.key && a.typeName == b.typeName && a.count == b.count
            && a.view?.key == b.view?.key && a.view?.offset == b.view?.offset && a.view?.count == b.view?.count
    }
}

/// An unpickled object graph: the root value and the arena its containers live in.
public struct Pickle: Sendable {
    public internal(set) var root: PickleValue = .none
    public internal(set) var sequences: [[PickleValue]] = []
    public internal(set) var dicts: [[(key: PickleValue, value: PickleValue)]] = []
    public internal(set) var objects: [PickleObject] = []
    public internal(set) var tensors: [TensorView] = []
    public internal(set) var storages: [StorageReference] = []

    public init() {}

    /// The value under `key` of a dict, or of an object's state (a pickled
    /// `nn.Module` keeps its children in `_modules`, its tensors in
    /// `_parameters` and `_buffers`; they are looked in too).
    public func member(_ key: String, of value: PickleValue) -> PickleValue? {
        switch value {
        case let .dict(i):
            return dicts[i].first { $0.key == .string(key) }?.value
        case let .object(i):
            let object = objects[i]
            if let found = object.entries.first(where: { $0.key == .string(key) }) { return found.value }
            var state = object.state
            // A state of (dict, slots) — `__getstate__` with __slots__.
            if case let .sequence(s) = state, sequences[s].count == 2 { state = sequences[s][0] }
            if case .dict = state, let direct = member(key, of: state) { return direct }
            for part in ["_modules", "_parameters", "_buffers"] {
                if let container = member(part, of: state), let found = member(key, of: container) { return found }
            }
            return nil
        case let .sequence(i):
            guard let index = Int(key), sequences[i].indices.contains(index) else { return nil }
            return sequences[i][index]
        default:
            return nil
        }
    }

    /// The value at a dotted path (`decoder.attention.encoder_att.weight`,
    /// `word2idx`). A dict key may itself hold dots (a state_dict's
    /// `resnet.0.weight`): the longest key that matches is taken.
    public func value(at path: String, in value: PickleValue? = nil) -> PickleValue? {
        let parts = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        return walk(parts[...], from: value ?? root)
    }

    private func walk(_ parts: ArraySlice<String>, from value: PickleValue) -> PickleValue? {
        guard !parts.isEmpty else { return value }
        for end in stride(from: parts.endIndex, to: parts.startIndex, by: -1) {
            let key = parts[parts.startIndex..<end].joined(separator: ".")
            if let next = member(key, of: value), let found = walk(parts[end...], from: next) { return found }
        }
        return nil
    }

    /// Every tensor under `value` by dotted name, as `state_dict()` would
    /// name them: a dict's keys, or a pickled module's parameters, buffers and
    /// children. Other objects (an optimiser) are not entered. Cycles and
    /// nesting deeper than 64 are cut off.
    public func tensorNames(under value: PickleValue) -> [(name: String, tensor: Int)] {
        var found: [(String, Int)] = []
        var visited = Set<String>()
        collect(value, prefix: "", depth: 0, visited: &visited, into: &found)
        return found
    }

    private func collect(_ value: PickleValue, prefix: String, depth: Int,
                         visited: inout Set<String>, into found: inout [(String, Int)]) {
        guard depth < 64 else { return }
        switch value {
        case let .tensor(t):
            found.append((String(prefix.dropLast()), t))
        case let .dict(d):
            guard visited.insert("d\(d)").inserted else { return }
            for (key, child) in dicts[d] {
                guard let name = key.string ?? key.int.map(String.init) else { continue }
                collect(child, prefix: prefix + name + ".", depth: depth + 1, visited: &visited, into: &found)
            }
        case let .object(o):
            guard visited.insert("o\(o)").inserted else { return }
            let state = objects[o].state
            guard member("_modules", of: state) != nil else {
                // An OrderedDict subclass built by SETITEMS.
                for (key, child) in objects[o].entries {
                    guard let name = key.string else { continue }
                    collect(child, prefix: prefix + name + ".", depth: depth + 1, visited: &visited, into: &found)
                }
                return
            }
            for part in ["_parameters", "_buffers", "_modules"] {
                if let container = member(part, of: state) {
                    collect(container, prefix: prefix, depth: depth + 1, visited: &visited, into: &found)
                }
            }
        default:
            return
        }
    }

    /// The class name of an object, a dict's `"dict"`, and so on: for messages.
    public func typeName(of value: PickleValue) -> String {
        switch value {
        case .none: "None"
        case .bool: "bool"
        case .int, .bigInt: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .sequence: "tuple or list"
        case .dict: "dict"
        case let .object(i): objects[i].className
        case let .global(module, name): "\(module).\(name)"
        case .tensor: "tensor"
        case .storage: "storage"
        }
    }
}
