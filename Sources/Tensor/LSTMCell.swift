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
        return result(out.shape, out.storage, op: "lstm_cell", inputs: [gates, cell]) { grad, needs in
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
