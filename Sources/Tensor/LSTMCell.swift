import Foundation

extension Tensor {
    /// One LSTM cell update from pre-activation gates [B, 4H] (PyTorch's order
    /// i, f, g, o) and the previous cell state [B, H]:
    /// c′ = σ(f)·c + σ(i)·tanh(g), h′ = σ(o)·tanh(c′). Returns [B, 2H] = [h′, c′].
    /// Fused, because a decoder runs it at every step of every caption.
    public static func lstmCell(gates: Tensor, cell: Tensor) -> Tensor {
        precondition(gates.rank == 2 && cell.rank == 2 && gates.shape[0] == cell.shape[0]
                     && gates.shape[1] == 4 * cell.shape[1],
                     "lstmCell: gates \(gates.shape) must be [B, 4H] for cell \(cell.shape) [B, H]")
        let b = cell.shape[0], h = cell.shape[1]
        // Activated gates, kept for the backward: [B, 4H] = σ(i), σ(f), tanh(g), σ(o).
        let act = Tensor(shape: gates.shape) { pa in
            let pg = gates.storage.pointer
            for r in 0..<b {
                let src = pg + r * 4 * h, dst = pa + r * 4 * h
                for j in 0..<(4 * h) {
                    dst[j] = j >= 2 * h && j < 3 * h ? tanhf(src[j]) : 1 / (1 + expf(-src[j]))
                }
            }
        }
        let out = Tensor(shape: [b, 2 * h]) { po in
            let pa = act.storage.pointer, pc = cell.storage.pointer
            for r in 0..<b {
                let a = pa + r * 4 * h, c = pc + r * h, o = po + r * 2 * h
                for j in 0..<h {
                    let cNew = a[h + j] * c[j] + a[j] * a[2 * h + j]
                    o[h + j] = cNew
                    o[j] = a[3 * h + j] * tanhf(cNew)
                }
            }
        }
        return result(out.shape, out.storage, op: .lstmCell, inputs: [gates, cell]) { grad, needs in
            let pa = act.storage.pointer, pc = cell.storage.pointer, po = out.storage.pointer
            let pg = grad.storage.pointer
            let dGates = Tensor.zeros(gates.shape), dCell = Tensor.zeros(cell.shape)
            let dg = dGates.storage.pointer, dc = dCell.storage.pointer
            for r in 0..<b {
                let a = pa + r * 4 * h, c = pc + r * h, o = po + r * 2 * h, g = pg + r * 2 * h
                let dgr = dg + r * 4 * h
                for j in 0..<h {
                    let i = a[j], f = a[h + j], gg = a[2 * h + j], og = a[3 * h + j]
                    let tc = tanhf(o[h + j])
                    let dC = g[h + j] + g[j] * og * (1 - tc * tc)
                    dgr[j] = dC * gg * i * (1 - i)
                    dgr[h + j] = dC * c[j] * f * (1 - f)
                    dgr[2 * h + j] = dC * i * (1 - gg * gg)
                    dgr[3 * h + j] = g[j] * tc * og * (1 - og)
                    dc[r * h + j] = dC * f
                }
            }
            return [needs[0] ? dGates : nil, needs[1] ? dCell : nil]
        }
    }
}

extension Tensor {
    /// A whole LSTM layer over T steps from the zero state, as one op:
    /// `projected` [B, T, 4H] holds every step's input projection (x·W_ihᵀ + b_ih,
    /// one product for all steps); each step adds h·W_hhᵀ + b_hh and runs the
    /// cell (gate order i, f, g, o). Returns [B, T, 2H]: h_t and c_t of every step.
    ///
    /// Why one op: step by step, each step's slice of `projected` and of the
    /// cell's output costs the backward pass a whole-size zero gradient, which
    /// grows as T². Here the backward is one loop back through time (BPTT)
    /// writing each step's gate gradients into one buffer.
    ///
    /// `lengths` (non-decreasing, each ≤ T) lets row r stop after its first
    /// lengths[r] steps: its later outputs are zero and cost nothing. Per-word
    /// explanations need this — the copy explaining word j reads step j + 1 at
    /// most, so the batch shrinks as the caption goes on.
    public static func lstmLayer(projected: Tensor, weightHH: Tensor, biasHH: Tensor, lengths: [Int]? = nil) -> Tensor {
        precondition(projected.rank == 3 && weightHH.rank == 2 && weightHH.shape[0] == 4 * weightHH.shape[1]
                     && projected.shape[2] == weightHH.shape[0] && biasHH.shape == [weightHH.shape[0]],
                     "lstmLayer: projected \(projected.shape), weight_hh \(weightHH.shape) and bias_hh \(biasHH.shape) do not match")
        let (b, steps, h) = (projected.shape[0], projected.shape[1], weightHH.shape[1])
        let g4 = 4 * h, pStride = steps * g4, oStride = steps * 2 * h
        if let lengths {
            precondition(lengths.count == b && Swift.zip(lengths, lengths.dropFirst()).allSatisfy { $0 <= $1 }
                         && lengths.allSatisfy { (0...steps).contains($0) },
                         "lstmLayer: lengths \(lengths) must be non-decreasing, one per row, each at most \(steps)")
        }
        // Rows [first[t], b) are still running at step t (a suffix, as lengths do not decrease).
        let first = (0..<steps).map { t in lengths?.firstIndex { $0 > t } ?? (lengths == nil ? 0 : b) }
        // Activated gates of every step, kept for the backward: σ(i), σ(f), tanh(g), σ(o).
        let act = Tensor.zeros([b, steps, g4])
        let out = Tensor.zeros([b, steps, 2 * h])
        do {
            let po = out.storage.pointer
            let gates = UnsafeMutablePointer<Float>.allocate(capacity: b * g4)
            defer { gates.deallocate() }
            let pp = projected.storage.pointer, pb = biasHH.storage.pointer, pa = act.storage.pointer
            for t in 0..<steps {
                let r0 = first[t]
                for r in r0..<b {
                    let src = pp + r * pStride + t * g4, dst = gates + r * g4
                    for j in 0..<g4 { dst[j] = src[j] + pb[j] }
                }
                if t > 0 {  // + h_{t−1}·W_hhᵀ; h_{t−1} rows are T·2H apart in the output
                    BLAS.gemm(transB: true, m: b - r0, n: g4, k: h, a: po + r0 * oStride + (t - 1) * 2 * h, lda: oStride,
                              b: weightHH.storage.pointer, ldb: h, beta: 1, c: gates + r0 * g4, ldc: g4)
                }
                for r in r0..<b {
                    let gr = gates + r * g4, a = pa + r * pStride + t * g4, o = po + r * oStride + t * 2 * h
                    for j in 0..<g4 {
                        a[j] = j >= 2 * h && j < 3 * h ? tanhf(gr[j]) : 1 / (1 + expf(-gr[j]))
                    }
                    let cPrev: UnsafeMutablePointer<Float>? = t > 0 ? o - 2 * h + h : nil
                    for j in 0..<h {
                        let cNew = a[h + j] * (cPrev?[j] ?? 0) + a[j] * a[2 * h + j]
                        o[h + j] = cNew
                        o[j] = a[3 * h + j] * tanhf(cNew)
                    }
                }
            }
        }
        return result(out.shape, out.storage, op: .lstmLayer, inputs: [projected, weightHH, biasHH]) { grad, needs in
            let pa = act.storage.pointer, po = out.storage.pointer, pg = grad.storage.pointer
            let dProjected = Tensor.zeros(projected.shape)  // the gates' gradients, every step
            let dW = Tensor.zeros(weightHH.shape)
            let dgp = dProjected.storage.pointer
            // What flows back from step t + 1: dL/dh_t through W_hh, and dL/dc_t.
            let dhCarry = UnsafeMutablePointer<Float>.allocate(capacity: b * h)
            let dcCarry = UnsafeMutablePointer<Float>.allocate(capacity: b * h)
            defer { dhCarry.deallocate(); dcCarry.deallocate() }
            dhCarry.update(repeating: 0, count: b * h)
            dcCarry.update(repeating: 0, count: b * h)
            for t in stride(from: steps - 1, through: 0, by: -1) {
                let r0 = first[t]
                guard r0 < b else { continue }
                for r in r0..<b {
                    let a = pa + r * pStride + t * g4, o = po + r * oStride + t * 2 * h
                    let g = pg + r * oStride + t * 2 * h, dg = dgp + r * pStride + t * g4
                    let cPrev: UnsafeMutablePointer<Float>? = t > 0 ? o - 2 * h + h : nil
                    let dhIn = dhCarry + r * h, dcIn = dcCarry + r * h
                    for j in 0..<h {
                        let i = a[j], f = a[h + j], gg = a[2 * h + j], og = a[3 * h + j]
                        let tc = tanhf(o[h + j])
                        let dH = g[j] + dhIn[j]
                        let dC = g[h + j] + dcIn[j] + dH * og * (1 - tc * tc)
                        dg[j] = dC * gg * i * (1 - i)
                        dg[h + j] = dC * (cPrev?[j] ?? 0) * f * (1 - f)
                        dg[2 * h + j] = dC * i * (1 - gg * gg)
                        dg[3 * h + j] = dH * tc * og * (1 - og)
                        dcIn[j] = dC * f
                    }
                }
                guard t > 0 else { break }
                // dL/dh_{t−1} = dgates_t·W_hh; dW_hh += dgates_tᵀ·h_{t−1}.
                BLAS.gemm(m: b - r0, n: h, k: g4, a: dgp + r0 * pStride + t * g4, lda: pStride,
                          b: weightHH.storage.pointer, ldb: h, c: dhCarry + r0 * h, ldc: h)
                if needs[1] {
                    BLAS.gemm(transA: true, m: g4, n: h, k: b - r0, a: dgp + r0 * pStride + t * g4, lda: pStride,
                              b: po + r0 * oStride + (t - 1) * 2 * h, ldb: oStride, beta: 1, c: dW.storage.pointer, ldc: h)
                }
            }
            var dBias: Tensor?
            if needs[2] {
                dBias = Tensor(shape: [g4]) { pd in
                    pd.update(repeating: 0, count: g4)
                    for row in 0..<(b * steps) {
                        let dg = dgp + row * g4
                        for j in 0..<g4 { pd[j] += dg[j] }
                    }
                }
            }
            return [needs[0] ? dProjected : nil, needs[1] ? dW : nil, dBias]
        }
    }
}
