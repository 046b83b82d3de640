// Ops that move values without arithmetic: reshape, permute, concat, slice,
// index-select, expand.

extension Tensor {
    /// The same values in a new shape; one dimension may be −1 (inferred). Shares storage.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var dims = newShape
        if let hole = dims.firstIndex(of: -1) {
            let known = dims.enumerated().filter { $0.offset != hole }.reduce(1) { $0 * $1.element }
            precondition(known > 0 && count % known == 0, "reshape: cannot reshape \(shape) to \(newShape)")
            dims[hole] = count / known
        }
        precondition(dims.allSatisfy { $0 >= 0 } && dims.reduce(1, *) == count,
                     "reshape: cannot reshape \(shape) (\(count) elements) to \(newShape)")
        let inShape = shape
        return Tensor.result(dims, storage, op: .reshape, inputs: [self]) { g, _ in
            [Tensor(shape: inShape, storage: g.storage)]
        }
    }

    public func flattened(from axis: Int = 1) -> Tensor {
        let a = normalizedAxis(axis, rank: rank, op: "flatten")
        return reshaped(Array(shape[..<a]) + [shape[a...].reduce(1, *)])
    }

    public func squeezed(axis: Int) -> Tensor {
        let a = normalizedAxis(axis, rank: rank, op: "squeeze")
        precondition(shape[a] == 1, "squeeze: axis \(axis) of shape \(shape) is not 1")
        var s = shape
        s.remove(at: a)
        return reshaped(s)
    }

    public func unsqueezed(axis: Int) -> Tensor {
        let a = axis < 0 ? axis + rank + 1 : axis
        precondition(a >= 0 && a <= rank, "unsqueeze: axis \(axis) out of range for rank \(rank)")
        var s = shape
        s.insert(1, at: a)
        return reshaped(s)
    }

    /// The dimensions reordered: result dimension i is input dimension `order[i]`.
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(order.sorted() == Array(0..<rank), "permute: \(order) is not a permutation of 0..<\(rank)")
        let out = permuteValues(order)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, o) in order.enumerated() { inverse[o] = i }
        return Tensor.result(out.shape, out.storage, op: .permute, inputs: [self]) { g, _ in
            [g.permuteValues(inverse)]
        }
    }

    /// Swaps two dimensions.
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        var order = Array(0..<rank)
        order.swapAt(normalizedAxis(a, rank: rank), normalizedAxis(b, rank: rank))
        return permuted(order)
    }

    private func permuteValues(_ order: [Int]) -> Tensor {
        let newShape = order.map { shape[$0] }
        let srcStrides = contiguousStrides(shape)
        let walk = BroadcastWalk(dims: newShape, strides: order.map { srcStrides[$0] })
        let n = walk.runLength, s = walk.runStrideA, px = storage.pointer
        return Tensor(shape: newShape) { po in
            walk.forEachRun { o, i, _ in
                let dst = po + o, src = px + i
                if s == 1 { dst.update(from: src, count: n) } else { for k in 0..<n { dst[k] = src[k * s] } }
            }
        }
    }

    /// The tensors joined along `axis`; all other dimensions must agree.
    public static func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concat: no tensors")
        let first = tensors[0]
        let ax = normalizedAxis(axis, rank: first.rank, op: "concat")
        for t in tensors {
            precondition(t.rank == first.rank && t.shape.enumerated().allSatisfy { $0.offset == ax || $0.element == first.shape[$0.offset] },
                         "concat: shapes \(tensors.map(\.shape)) differ outside axis \(axis)")
        }
        var shape = first.shape
        shape[ax] = tensors.reduce(0) { $0 + $1.shape[ax] }
        let outer = shape[..<ax].reduce(1, *), inner = shape[(ax + 1)...].reduce(1, *)
        let total = shape[ax] * inner
        let out = Tensor(shape: shape) { po in
            var start = 0
            for t in tensors {
                let w = t.shape[ax] * inner
                for o in 0..<outer { (po + o * total + start).update(from: t.storage.pointer + o * w, count: w) }
                start += w
            }
        }
        let sizes = tensors.map { $0.shape[ax] }
        return result(shape, out.storage, op: .concat, inputs: tensors) { g, needs in
            var start = 0
            return Swift.zip(sizes, needs).map { size, need in
                defer { start += size }
                return need ? g.sliceValues(axis: ax, start..<(start + size)) : nil
            }
        }
    }

    /// Stacks same-shaped tensors along a new axis.
    public static func stack(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        concat(tensors.map { $0.unsqueezed(axis: axis) }, axis: axis)
    }

    /// The elements whose index along `axis` lies in `range`.
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let ax = normalizedAxis(axis, rank: rank, op: "slice")
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[ax],
                     "slice: range \(range) out of bounds for axis \(axis) of shape \(shape)")
        let out = sliceValues(axis: ax, range)
        let inShape = shape
        return Tensor.result(out.shape, out.storage, op: .slice, inputs: [self]) { g, _ in
            let r = Tensor.zeros(inShape)
            let (outer, n, inner) = splitAround(inShape, axis: ax)
            let w = range.count * inner
            for o in 0..<outer {
                (r.storage.pointer + (o * n + range.lowerBound) * inner).update(from: g.storage.pointer + o * w, count: w)
            }
            return [r]
        }
    }

    func sliceValues(axis ax: Int, _ range: Range<Int>) -> Tensor {
        let (outer, n, inner) = splitAround(shape, axis: ax)
        var newShape = shape
        newShape[ax] = range.count
        let w = range.count * inner, px = storage.pointer
        return Tensor(shape: newShape) { po in
            for o in 0..<outer { (po + o * w).update(from: px + (o * n + range.lowerBound) * inner, count: w) }
        }
    }

    /// Rows `indices` of `axis` 0, in order (repeats allowed): an embedding lookup.
    public func indexSelect(_ indices: [Int]) -> Tensor {
        precondition(rank >= 1, "indexSelect: needs rank ≥ 1, got shape \(shape)")
        let rows = shape[0], inner = count / Swift.max(rows, 1)
        for i in indices {
            precondition(i >= 0 && i < rows, "indexSelect: index \(i) out of range for \(rows) rows (shape \(shape))")
        }
        var outShape = shape
        outShape[0] = indices.count
        let px = storage.pointer
        let out = Tensor(shape: outShape) { po in
            for (k, i) in indices.enumerated() { (po + k * inner).update(from: px + i * inner, count: inner) }
        }
        let inShape = shape
        return Tensor.result(outShape, out.storage, op: .indexSelect, inputs: [self]) { g, _ in
            let r = Tensor.zeros(inShape)
            let pr = r.storage.pointer, pg = g.storage.pointer
            for (k, i) in indices.enumerated() {
                let dst = pr + i * inner, src = pg + k * inner
                for j in 0..<inner { dst[j] += src[j] }
            }
            return [r]
        }
    }

    /// Element `indices[r]` of each row r of a [rows, n] tensor, as [rows]:
    /// picks each target's score (cross-entropy, explanation targets).
    public func pick(_ indices: [Int]) -> Tensor {
        precondition(rank == 2 && indices.count == shape[0], "pick: needs [rows, n] and one index per row; got shape \(shape) and \(indices.count) indices")
        let n = shape[1]
        for i in indices { precondition(i >= 0 && i < n, "pick: index \(i) out of range for \(n) columns") }
        let px = storage.pointer
        let out = Tensor(shape: [indices.count]) { po in
            for (r, i) in indices.enumerated() { po[r] = px[r * n + i] }
        }
        let inShape = shape
        return Tensor.result(out.shape, out.storage, op: .pick, inputs: [self]) { g, _ in
            let r = Tensor.zeros(inShape)
            for (row, i) in indices.enumerated() { r.storage.pointer[row * n + i] = g.storage.pointer[row] }
            return [r]
        }
    }

    /// The tensor repeated along its size-1 (or missing leading) dimensions to `newShape`.
    /// The copy is memory traffic only; the backward sums the copies.
    public func expanded(to newShape: [Int]) -> Tensor {
        precondition(broadcastShape(shape, newShape) == newShape, "expand: cannot expand \(shape) to \(newShape)")
        let out = broadcastValues(to: newShape)
        let inShape = shape
        return Tensor.result(newShape, out.storage, op: .expand, inputs: [self]) { g, _ in
            [g.sum(toShape: inShape)]
        }
    }

    /// The values broadcast to `newShape`, unrecorded.
    func broadcastValues(to newShape: [Int]) -> Tensor {
        let walk = BroadcastWalk(outShape: newShape, a: shape, b: shape)
        let n = walk.runLength, s = walk.runStrideA, px = storage.pointer
        return Tensor(shape: newShape) { po in
            walk.forEachRun { o, i, _ in
                let dst = po + o, src = px + i
                if s == 1 { dst.update(from: src, count: n) } else { dst.update(repeating: src[0], count: n) }
            }
        }
    }
}

extension BroadcastWalk {
    /// A walk over `dims` reading one operand with arbitrary `strides` (permutations).
    init(dims shape: [Int], strides: [Int]) {
        var dims: [Int] = [], st: [Int] = []
        for i in shape.indices where shape[i] != 1 {
            if let last = dims.last, st.last! == strides[i] * shape[i] {
                dims[dims.count - 1] = last * shape[i]
                st[st.count - 1] = strides[i]
            } else {
                dims.append(shape[i]); st.append(strides[i])
            }
        }
        if dims.isEmpty { dims = [1]; st = [0] }
        self.dims = dims
        self.stridesA = st
        self.stridesB = [Int](repeating: 0, count: st.count)
    }
}
