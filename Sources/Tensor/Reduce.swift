import Foundation

// Reductions and the softmax family along one axis. A shape is seen as
// (outer, n, inner) around the axis, so one loop serves every axis.

extension Tensor {
    /// The sum over `axis`.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
        let ax = normalizedAxis(axis, rank: rank, op: "sum")
        let (outer, n, inner) = splitAround(shape, axis: ax)
        var kept = shape
        kept[ax] = 1
        let px = storage.pointer
        let out = Tensor.zeros(kept)
        let po = out.storage.pointer
        for o in 0..<outer {
            let dst = po + o * inner
            for k in 0..<n {
                let src = px + (o * n + k) * inner
                for i in 0..<inner { dst[i] += src[i] }
            }
        }
        let inShape = shape
        let reduced = Tensor.result(kept, out.storage, op: .sum, inputs: [self]) { g, _ in
            [g.broadcastValues(to: inShape)]
        }
        return keepDims ? reduced : reduced.squeezed(axis: ax)
    }

    /// The sum over several axes.
    public func sum(axes: [Int], keepDims: Bool = false) -> Tensor {
        let sorted = Set(axes.map { normalizedAxis($0, rank: rank, op: "sum") }).sorted(by: >)
        var t = self
        for a in sorted { t = t.sum(axis: a, keepDims: true) }
        return keepDims ? t : t.reshaped(shape.indices.filter { !sorted.contains($0) }.map { shape[$0] })
    }

    /// The sum of all elements, as a scalar tensor.
    public func sum() -> Tensor { reshaped([count]).sum(axis: 0) }

    public func mean(axis: Int, keepDims: Bool = false) -> Tensor {
        sum(axis: axis, keepDims: keepDims) * (1 / Float(size(axis)))
    }

    public func mean(axes: [Int], keepDims: Bool = false) -> Tensor {
        let n = Set(axes.map { normalizedAxis($0, rank: rank) }).reduce(1) { $0 * shape[$1] }
        return sum(axes: axes, keepDims: keepDims) * (1 / Float(n))
    }

    public func mean() -> Tensor { sum() * (1 / Float(count)) }

    /// The maximum over `axis`; the gradient goes to the first maximum, as PyTorch's.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        let (values, indices) = maxWithIndices(axis: axis)
        let ax = normalizedAxis(axis, rank: rank)
        let inShape = shape
        let (outer, n, inner) = splitAround(shape, axis: ax)
        let reduced = Tensor.result(values.shape, values.storage, op: .max, inputs: [self]) { g, _ in
            let r = Tensor.zeros(inShape)
            let pr = r.storage.pointer, pg = g.storage.pointer
            for o in 0..<outer {
                for i in 0..<inner {
                    pr[(o * n + indices[o * inner + i]) * inner + i] = pg[o * inner + i]
                }
            }
            return [r]
        }
        return keepDims ? reduced : reduced.squeezed(axis: ax)
    }

    /// Maximum values (keeping `axis` as size 1) and their first positions along `axis`.
    public func maxWithIndices(axis: Int) -> (values: Tensor, indices: [Int]) {
        let ax = normalizedAxis(axis, rank: rank, op: "max")
        let (outer, n, inner) = splitAround(shape, axis: ax)
        precondition(n > 0, "max: axis \(axis) of shape \(shape) is empty")
        var kept = shape
        kept[ax] = 1
        var indices = [Int](repeating: 0, count: outer * inner)
        let px = storage.pointer
        let values = Tensor(shape: kept) { po in
            for o in 0..<outer {
                for i in 0..<inner {
                    var best = px[o * n * inner + i], at = 0
                    for k in 1..<Swift.max(n, 1) {
                        let v = px[(o * n + k) * inner + i]
                        if v > best || (v.isNaN && !best.isNaN) { best = v; at = k }
                    }
                    po[o * inner + i] = best
                    indices[o * inner + i] = at
                }
            }
        }
        return (values, indices)
    }

    /// The index of the largest value of each row along `axis` (first on ties).
    public func argmax(axis: Int) -> [Int] { maxWithIndices(axis: axis).indices }

    /// log softmax along `axis`, computed stably as (x − max) − log Σ exp(x − max).
    public func logSoftmax(axis: Int = -1) -> Tensor {
        let ax = normalizedAxis(axis, rank: rank, op: "logSoftmax")
        let (outer, n, inner) = splitAround(shape, axis: ax)
        let px = storage.pointer
        // Exact for a confident entry (p → 1, log p ≈ −1e-7), where a caption's
        // words mostly are: log Σ exp is log1p of the sum without the largest
        // term, and the gradient's 1 − p is −expm1(log p). Computed as
        // log(s) and g − p·Σg, both would be rounding noise in float32 — and so
        // would every Grad-CAM map of such a word.
        let out = Tensor(shape: shape) { po in
            Tensor.forEachLine(outer: outer, n: n, inner: inner) { base in
                var m = -Float.infinity, top = 0
                for k in 0..<n where px[base + k * inner] > m { m = px[base + k * inner]; top = k }
                var rest: Float = 0
                for k in 0..<n where k != top { rest += expf(px[base + k * inner] - m) }
                let logSum = log1pf(rest)
                for k in 0..<n { po[base + k * inner] = (px[base + k * inner] - m) - logSum }
            }
        }
        return Tensor.result(shape, out.storage, op: .logSoftmax, inputs: [self]) { g, _ in
            // dx = g − p·Σg, as −g·expm1(log p) − p·(Σg − g) where g ≠ 0.
            let pg = g.storage.pointer, py = out.storage.pointer
            return [Tensor(shape: out.shape) { pr in
                Tensor.forEachLine(outer: outer, n: n, inner: inner) { base in
                    var s: Float = 0
                    for k in 0..<n { s += pg[base + k * inner] }
                    for k in 0..<n {
                        let j = base + k * inner
                        pr[j] = pg[j] == 0 ? -expf(py[j]) * s : -pg[j] * expm1f(py[j]) - expf(py[j]) * (s - pg[j])
                    }
                }
            }]
        }
    }

    /// softmax along `axis`, computed stably.
    public func softmax(axis: Int = -1) -> Tensor {
        let ax = normalizedAxis(axis, rank: rank, op: "softmax")
        let (outer, n, inner) = splitAround(shape, axis: ax)
        let px = storage.pointer
        let out = Tensor(shape: shape) { po in
            Tensor.forEachLine(outer: outer, n: n, inner: inner) { base in
                var m = -Float.infinity
                for k in 0..<n { m = Swift.max(m, px[base + k * inner]) }
                var s: Float = 0
                for k in 0..<n {
                    let e = expf(px[base + k * inner] - m)
                    po[base + k * inner] = e
                    s += e
                }
                for k in 0..<n { po[base + k * inner] /= s }
            }
        }
        return Tensor.result(shape, out.storage, op: .softmax, inputs: [self]) { g, _ in
            // dx = y ⊙ (g − Σ g ⊙ y)
            let pg = g.storage.pointer, py = out.storage.pointer
            return [Tensor(shape: out.shape) { pr in
                Tensor.forEachLine(outer: outer, n: n, inner: inner) { base in
                    var s: Float = 0
                    for k in 0..<n { s += pg[base + k * inner] * py[base + k * inner] }
                    for k in 0..<n {
                        let j = base + k * inner
                        pr[j] = py[j] * (pg[j] - s)
                    }
                }
            }]
        }
    }

    /// Calls `body(base)` for each line along the reduced axis; element k of
    /// the line is at base + k·inner.
    @inline(__always)
    static func forEachLine(outer: Int, n: Int, inner: Int, _ body: (Int) -> Void) {
        for o in 0..<outer {
            for i in 0..<inner { body(o * n * inner + i) }
        }
    }
}
