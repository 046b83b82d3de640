import Foundation

// Elementwise ops with NumPy broadcasting. Shapes are aligned from the right;
// a dimension of size 1 (or a missing one) is repeated without copying.

/// The broadcast of two shapes, or nil when they are incompatible.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
    let rank = max(a.count, b.count)
    var out = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        guard da == db || da == 1 || db == 1 else { return nil }
        out[i] = da == 1 ? db : da
    }
    return out
}

/// Walks an output shape in runs along its last (collapsed) dimension, giving
/// each run's offsets into the output and two broadcast operands.
struct BroadcastWalk {
    var dims: [Int]
    var stridesA: [Int]
    var stridesB: [Int]

    /// Strides of `shape` seen from `outShape`: 0 where `shape` is broadcast.
    static func strides(of shape: [Int], in outShape: [Int]) -> [Int] {
        let own = contiguousStrides(shape)
        let lead = outShape.count - shape.count
        return outShape.indices.map { i in
            i < lead || shape[i - lead] == 1 ? 0 : own[i - lead]
        }
    }

    init(outShape: [Int], a: [Int], b: [Int]) {
        let sa = Self.strides(of: a, in: outShape)
        let sb = Self.strides(of: b, in: outShape)
        // Drop size-1 dimensions, then merge neighbours that are contiguous in all three.
        var dims: [Int] = [], ta: [Int] = [], tb: [Int] = []
        for i in outShape.indices where outShape[i] != 1 {
            if let last = dims.last, ta.last! == sa[i] * outShape[i], tb.last! == sb[i] * outShape[i] {
                dims[dims.count - 1] = last * outShape[i]
                ta[ta.count - 1] = sa[i]
                tb[tb.count - 1] = sb[i]
            } else {
                dims.append(outShape[i]); ta.append(sa[i]); tb.append(sb[i])
            }
        }
        if dims.isEmpty { dims = [1]; ta = [0]; tb = [0] }
        self.dims = dims
        self.stridesA = ta
        self.stridesB = tb
    }

    var runLength: Int { dims.last! }
    var runStrideA: Int { stridesA.last! }
    var runStrideB: Int { stridesB.last! }

    /// Calls `body(outOffset, aOffset, bOffset)` once per run, in output order.
    @inline(__always)
    func forEachRun(_ body: (Int, Int, Int) -> Void) {
        let outer = dims.count - 1
        let runs = dims[..<outer].reduce(1, *)
        var index = [Int](repeating: 0, count: outer)
        var offA = 0, offB = 0
        for r in 0..<runs {
            body(r * runLength, offA, offB)
            var d = outer - 1
            while d >= 0 {
                index[d] += 1
                offA += stridesA[d]
                offB += stridesB[d]
                if index[d] < dims[d] { break }
                offA -= stridesA[d] * dims[d]
                offB -= stridesB[d] * dims[d]
                index[d] = 0
                d -= 1
            }
        }
    }
}

extension Tensor {
    /// Applies `f` elementwise over the broadcast of `a` and `b`, unrecorded.
    @inline(__always)
    static func zip(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float, op: String = "zip") -> Tensor {
        guard let shape = broadcastShape(a.shape, b.shape) else {
            preconditionFailure("\(op): shapes \(a.shape) and \(b.shape) cannot be broadcast together")
        }
        let walk = BroadcastWalk(outShape: shape, a: a.shape, b: b.shape)
        let n = walk.runLength, sa = walk.runStrideA, sb = walk.runStrideB
        let pa = a.storage.pointer, pb = b.storage.pointer
        return Tensor(shape: shape) { out in
            walk.forEachRun { o, ia, ib in
                let po = out + o, xa = pa + ia, xb = pb + ib
                switch (sa, sb) {
                case (1, 1): for i in 0..<n { po[i] = f(xa[i], xb[i]) }
                case (1, 0): let v = xb[0]; for i in 0..<n { po[i] = f(xa[i], v) }
                case (0, 1): let v = xa[0]; for i in 0..<n { po[i] = f(v, xb[i]) }
                default: for i in 0..<n { po[i] = f(xa[i * sa], xb[i * sb]) }
                }
            }
        }
    }

    /// Applies `f` to every element, unrecorded.
    @inline(__always)
    func map(_ f: (Float) -> Float) -> Tensor {
        let p = storage.pointer, n = count
        return Tensor(shape: shape) { out in for i in 0..<n { out[i] = f(p[i]) } }
    }

    /// Sums a broadcast gradient back to `shape`: the backward of broadcasting.
    public func sum(toShape target: [Int]) -> Tensor {
        if target == shape { return self }
        precondition(broadcastShape(target, shape) == shape,
                     "sum(toShape:): \(target) does not broadcast to \(shape)")
        let walk = BroadcastWalk(outShape: shape, a: shape, b: target)
        let n = walk.runLength, sb = walk.runStrideB
        let pg = storage.pointer
        let result = Tensor.zeros(target)
        let po = result.storage.pointer
        walk.forEachRun { o, _, ib in
            let g = pg + o, t = po + ib
            if sb == 0 {
                var s: Float = 0
                for i in 0..<n { s += g[i] }
                t[0] += s
            } else {
                for i in 0..<n { t[i * sb] += g[i] }
            }
        }
        return result
    }

    /// Elementwise op on two tensors with broadcasting, recorded with its
    /// gradient with respect to each operand (before summing back to shape).
    private static func binary(_ op: Op, _ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float,
                               grads: @escaping (_ g: Tensor, _ out: Tensor) -> (Tensor?, Tensor?)) -> Tensor {
        let out = zip(a, b, f, op: op.name)
        return result(out.shape, out.storage, op: op, inputs: [a, b]) { g, needs in
            let (ga, gb) = grads(g, out)
            return [needs[0] ? ga?.sum(toShape: a.shape) : nil, needs[1] ? gb?.sum(toShape: b.shape) : nil]
        }
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor {
        binary(.add, a, b, +) { g, _ in (g, g) }
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        binary(.sub, a, b, -) { g, _ in (g, g.map { -$0 }) }
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        binary(.mul, a, b, *) { g, _ in (zip(g, b, *), zip(g, a, *)) }
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        binary(.div, a, b, /) { g, out in (zip(g, b, /), zip(zip(g, out, *), b) { -$0 / $1 }) }
    }

    public static func + (a: Tensor, s: Float) -> Tensor { a + Tensor(scalar: s) }
    public static func - (a: Tensor, s: Float) -> Tensor { a + Tensor(scalar: -s) }
    public static func * (a: Tensor, s: Float) -> Tensor { a * Tensor(scalar: s) }
    public static func / (a: Tensor, s: Float) -> Tensor { a * Tensor(scalar: 1 / s) }
    public static func + (s: Float, a: Tensor) -> Tensor { Tensor(scalar: s) + a }
    public static func - (s: Float, a: Tensor) -> Tensor { Tensor(scalar: s) - a }
    public static func * (s: Float, a: Tensor) -> Tensor { Tensor(scalar: s) * a }

    public static prefix func - (a: Tensor) -> Tensor {
        let out = a.map { -$0 }
        return result(out.shape, out.storage, op: .neg, inputs: [a]) { g, _ in [g.map { -$0 }] }
    }

    /// A unary op whose derivative is written in terms of its input x and output y.
    private func unary(_ op: Op, _ f: (Float) -> Float,
                       derivative: @escaping (_ x: Float, _ y: Float) -> Float) -> Tensor {
        let out = map(f)
        let x = self
        return Tensor.result(shape, out.storage, op: op, inputs: [self]) { g, _ in
            let px = x.storage.pointer, py = out.storage.pointer, pg = g.storage.pointer
            return [Tensor(shape: x.shape) { r in
                for i in 0..<x.count { r[i] = pg[i] * derivative(px[i], py[i]) }
            }]
        }
    }

    public func relu() -> Tensor {
        let out = map { Swift.max($0, 0) }
        let x = self
        return Tensor.result(shape, out.storage, op: .relu, inputs: [self]) { g, _ in
            [Tensor.zip(x, g) { v, d in v > 0 ? d : 0 }]
        }
    }
    public func sigmoid() -> Tensor { unary(.sigmoid, { 1 / (1 + expf(-$0)) }) { _, y in y * (1 - y) } }
    public func tanh() -> Tensor { unary(.tanh, { tanhf($0) }) { _, y in 1 - y * y } }
    public func exp() -> Tensor { unary(.exp, { expf($0) }) { _, y in y } }
    public func log() -> Tensor { unary(.log, { logf($0) }) { x, _ in 1 / x } }
    public func sqrt() -> Tensor { unary(.sqrt, { sqrtf($0) }) { _, y in 0.5 / y } }
    public func squared() -> Tensor { unary(.square, { $0 * $0 }) { x, _ in 2 * x } }
    /// max(x, m); the gradient passes where x ≥ m, as PyTorch's clamp_min.
    public func clamped(min m: Float) -> Tensor { unary(.clampMin, { Swift.max($0, m) }) { x, _ in x >= m ? 1 : 0 } }
}
