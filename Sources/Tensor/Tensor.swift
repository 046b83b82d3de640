#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Float32 tensors: row-major, contiguous, of any rank.
///
/// A tensor is immutable once made: every op returns a new tensor, so a
/// recorded forward can be differentiated as often as wanted and read from
/// several threads at once. A tensor remembers the op that made it (its
/// `node`) only when one of that op's inputs `requiresGrad`; a forward that
/// nobody will differentiate records nothing.
public final class Tensor: @unchecked Sendable {
    public let shape: [Int]
    public let count: Int
    let storage: Storage
    let node: Node?
    /// True for leaves made with `tracked()` and for every tensor computed from one.
    public let requiresGrad: Bool

    init(shape: [Int], storage: Storage, node: Node? = nil, requiresGrad: Bool = false) {
        let n = shape.reduce(1, *)
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in shape \(shape)")
        precondition(storage.count >= n, "Tensor: storage of \(storage.count) floats is too small for shape \(shape)")
        self.shape = shape
        self.count = n
        self.storage = storage
        self.node = node
        self.requiresGrad = requiresGrad || node != nil
    }

    /// A tensor of the given shape whose values are written by `fill`, given a
    /// pointer to `count` uninitialised floats.
    public convenience init(shape: [Int], fill: (UnsafeMutablePointer<Float>) -> Void) {
        let storage = Storage(count: shape.reduce(1, *))
        fill(storage.pointer)
        self.init(shape: shape, storage: storage)
    }

    /// A tensor over `count` floats at `pointer` that `owner` keeps alive, not
    /// copied: a checkpoint's weights stay in its mapped file. Writes through
    /// `withUnsafeMutableBufferPointer` (an optimiser's) go to that memory.
    public convenience init(shape: [Int], borrowing pointer: UnsafeMutablePointer<Float>, owner: AnyObject) {
        self.init(shape: shape, storage: Storage(borrowing: pointer, count: shape.reduce(1, *), owner: owner))
    }

    public convenience init(shape: [Int], values: [Float]) {
        precondition(values.count == shape.reduce(1, *),
                     "Tensor(shape:values:): \(values.count) values for shape \(shape)")
        self.init(shape: shape) { p in
            values.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: $0.count) }
        }
    }

    /// A tensor of `shape` that holds no values: address space only, which
    /// faults if read — for a parameter a checkpoint is about to replace, so
    /// loading a 100 MB model neither allocates nor zeroes 100 MB first.
    public static func placeholder(_ shape: [Int]) -> Tensor {
        let reserved = ReservedMemory(floats: shape.reduce(1, *))
        return Tensor(shape: shape, borrowing: reserved.pointer, owner: reserved)
    }

    public convenience init(scalar: Float) {
        self.init(shape: [], values: [scalar])
    }

    public static func zeros(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape) { $0.initialize(repeating: 0, count: shape.reduce(1, *)) }
    }

    public static func full(_ shape: [Int], _ value: Float) -> Tensor {
        Tensor(shape: shape) { $0.initialize(repeating: value, count: shape.reduce(1, *)) }
    }

    public static func ones(_ shape: [Int]) -> Tensor { full(shape, 1) }

    public var rank: Int { shape.count }

    /// The values in row-major order.
    public var values: [Float] {
        Array(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    /// The single value of a tensor with one element.
    public var scalar: Float {
        precondition(count == 1, "Tensor.scalar: tensor of shape \(shape) has \(count) elements")
        return storage.pointer[0]
    }

    /// Read access to the values without copying them.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    /// Writes into this tensor's storage in place. Only for tensors nobody
    /// has read yet or for parameters an optimiser owns: tensors are otherwise
    /// treated as immutable.
    public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
    }

    /// The same values as a new leaf of the graph that records the ops applied
    /// to it, so gradients can be asked with respect to it. Shares storage.
    public func tracked() -> Tensor {
        Tensor(shape: shape, storage: storage, requiresGrad: true)
    }

    /// The same values cut off from the graph. Shares storage.
    public func detached() -> Tensor {
        Tensor(shape: shape, storage: storage)
    }

    /// The size along `axis`; negative axes count from the end.
    public func size(_ axis: Int) -> Int { shape[normalizedAxis(axis, rank: rank)] }

    /// Makes an op's result, recording `backward` only when an input requires a gradient.
    static func result(_ shape: [Int], _ storage: Storage, op: Op, inputs: [Tensor],
                       backward: @escaping Backward) -> Tensor {
        guard inputs.contains(where: { $0.requiresGrad }) else {
            return Tensor(shape: shape, storage: storage)
        }
        return Tensor(shape: shape, storage: storage, node: Node(op: op, inputs: inputs, backward: backward))
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = values.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(\(shape): [\(shown)\(count > 8 ? ", …" : "")])"
    }
}

/// A block of floats owned by one or more tensors (views share it): memory of
/// its own, or memory that another object keeps alive (a mapped weights file).
final class Storage: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    /// What keeps borrowed memory alive; nil when the storage allocated it.
    private let owner: AnyObject?

    init(count: Int) {
        self.count = count
        // 64-byte alignment suits the vector units and BLAS packing.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride,
                                                   alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        owner = nil
    }

    init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        self.pointer = pointer
        self.count = count
        self.owner = owner
    }

    deinit { if owner == nil { UnsafeMutableRawPointer(pointer).deallocate() } }
}

/// Address space for `floats` values, neither readable nor writable.
private final class ReservedMemory {
    let pointer: UnsafeMutablePointer<Float>
    let bytes: Int

    init(floats: Int) {
        bytes = Swift.max(floats, 1) * MemoryLayout<Float>.stride
        guard let base = mmap(nil, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              base != MAP_FAILED else {
            fatalError("Tensor.placeholder: cannot reserve \(bytes) bytes of address space")
        }
        pointer = base.bindMemory(to: Float.self, capacity: Swift.max(floats, 1))
    }

    deinit { munmap(pointer, bytes) }
}

func normalizedAxis(_ axis: Int, rank: Int, op: String = "axis") -> Int {
    let a = axis < 0 ? axis + rank : axis
    precondition(a >= 0 && a < max(rank, 1), "\(op): axis \(axis) out of range for rank \(rank)")
    return a
}

/// Row-major strides of a shape.
func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[i] = s
        s *= shape[i]
    }
    return strides
}

/// Splits a shape around `axis` into (outer, n, inner) element counts.
func splitAround(_ shape: [Int], axis: Int) -> (outer: Int, n: Int, inner: Int) {
    (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
}
