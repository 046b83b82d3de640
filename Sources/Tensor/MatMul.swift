// Matrix products: matmul, batched matmul and linear, all through sgemm.

extension Tensor {
    /// The matrix product of [M, K] and [K, N], or the batched product of
    /// [B, M, K] and [B, K, N] (a [K, N] right side is shared by every batch).
    public func matmul(_ other: Tensor) -> Tensor {
        let a = self, b = other
        precondition((a.rank == 2 || a.rank == 3) && (b.rank == 2 || b.rank == 3) && !(a.rank == 2 && b.rank == 3),
                     "matmul: unsupported shapes \(a.shape) and \(b.shape)")
        let batch = a.rank == 3 ? a.shape[0] : 1
        let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1], n = b.shape[b.rank - 1]
        precondition(b.shape[b.rank - 2] == k && (b.rank == 2 || b.shape[0] == batch),
                     "matmul: shapes \(a.shape) and \(b.shape) do not match")
        let sharedB = b.rank == 2
        let outShape = a.rank == 3 ? [batch, m, n] : [m, n]
        let out = Tensor(shape: outShape) { po in
            for i in 0..<batch {
                BLAS.gemm(m: m, n: n, k: k, a: a.storage.pointer + i * m * k, lda: k,
                          b: b.storage.pointer + (sharedB ? 0 : i * k * n), ldb: n, c: po + i * m * n, ldc: n)
            }
        }
        return Tensor.result(outShape, out.storage, op: .matmul, inputs: [a, b]) { g, needs in
            var ga: Tensor?, gb: Tensor?
            if needs[0] {  // dA = dC · Bᵀ
                ga = Tensor(shape: a.shape) { pr in
                    for i in 0..<batch {
                        BLAS.gemm(transB: true, m: m, n: k, k: n, a: g.storage.pointer + i * m * n, lda: n,
                                  b: b.storage.pointer + (sharedB ? 0 : i * k * n), ldb: n, c: pr + i * m * k, ldc: k)
                    }
                }
            }
            if needs[1] {  // dB = Aᵀ · dC, summed over batches when B is shared
                gb = Tensor.zeros(b.shape)
                for i in 0..<batch {
                    BLAS.gemm(transA: true, m: k, n: n, k: m, a: a.storage.pointer + i * m * k, lda: k,
                              b: g.storage.pointer + i * m * n, ldb: n,
                              beta: sharedB ? 1 : 0, c: gb!.storage.pointer + (sharedB ? 0 : i * k * n), ldc: n)
                }
            }
            return [ga, gb]
        }
    }

    /// x·Wᵀ + b for x [N, in], W [out, in], b [out]: PyTorch's nn.Linear.
    public func linear(weight w: Tensor, bias b: Tensor?) -> Tensor {
        let x = self
        precondition(x.rank == 2 && w.rank == 2 && w.shape[1] == x.shape[1],
                     "linear: input \(x.shape) and weight \(w.shape) do not match (weight must be [out, \(x.rank == 2 ? x.shape[1] : -1)])")
        let rows = x.shape[0], inF = x.shape[1], outF = w.shape[0]
        if let b { precondition(b.shape == [outF], "linear: bias \(b.shape) for weight \(w.shape)") }
        let out = Tensor(shape: [rows, outF]) { po in
            if let b {
                for r in 0..<rows { (po + r * outF).update(from: b.storage.pointer, count: outF) }
            }
            BLAS.gemm(transB: true, m: rows, n: outF, k: inF, a: x.storage.pointer, lda: inF,
                      b: w.storage.pointer, ldb: inF, beta: b == nil ? 0 : 1, c: po, ldc: outF)
        }
        let inputs = b.map { [x, w, $0] } ?? [x, w]
        return Tensor.result([rows, outF], out.storage, op: .linear, inputs: inputs) { g, needs in
            var grads: [Tensor?] = [nil, nil, nil]
            if needs[0] {  // dx = dy · W
                grads[0] = Tensor(shape: x.shape) { pr in
                    BLAS.gemm(m: rows, n: inF, k: outF, a: g.storage.pointer, lda: outF,
                              b: w.storage.pointer, ldb: inF, c: pr, ldc: inF)
                }
            }
            if needs[1] {  // dW = dyᵀ · x
                grads[1] = Tensor(shape: w.shape) { pr in
                    BLAS.gemm(transA: true, m: outF, n: inF, k: rows, a: g.storage.pointer, lda: outF,
                              b: x.storage.pointer, ldb: inF, c: pr, ldc: inF)
                }
            }
            if needs.count > 2 && needs[2] { grads[2] = g.sum(axis: 0) }
            return Array(grads.prefix(inputs.count))
        }
    }
}
