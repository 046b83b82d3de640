// Normalisations: batch norm in inference form and L2 normalisation.

extension Tensor {
    /// Batch normalisation with fixed statistics (inference form) over axis 1
    /// of [N, C, …]: (x − mean)/√(var + eps)·weight + bias, as PyTorch's eval mode.
    /// One fused pass: y = x·scale[c] + shift[c].
    public func batchNorm(mean: Tensor, variance: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        precondition(rank >= 2, "batchNorm: expected [N, C, …], got \(shape)")
        let c = shape[1], n = shape[0], inner = count / Swift.max(n * c, 1)
        for (name, t) in [("mean", mean), ("variance", variance), ("weight", weight), ("bias", bias)] {
            if let t { precondition(t.shape == [c], "batchNorm: \(name) has shape \(t.shape), expected [\(c)]") }
        }
        let invStd = (0..<c).map { 1 / (variance.storage.pointer[$0] + eps).squareRoot() }
        let scale = (0..<c).map { invStd[$0] * (weight?.storage.pointer[$0] ?? 1) }
        let shift = (0..<c).map { (bias?.storage.pointer[$0] ?? 0) - mean.storage.pointer[$0] * scale[$0] }
        let x = self, px = storage.pointer
        let out = Tensor(shape: shape) { po in
            for i in 0..<n {
                for ch in 0..<c {
                    let base = (i * c + ch) * inner, s = scale[ch], t = shift[ch]
                    for k in 0..<inner { po[base + k] = px[base + k] * s + t }
                }
            }
        }
        var inputs = [x]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        return Tensor.result(shape, out.storage, op: "batch_norm", inputs: inputs) { g, needs in
            let pg = g.storage.pointer
            var grads: [Tensor?] = [nil]
            if needs[0] {
                grads[0] = Tensor(shape: x.shape) { pr in
                    for i in 0..<n {
                        for ch in 0..<c {
                            let base = (i * c + ch) * inner, s = scale[ch]
                            for k in 0..<inner { pr[base + k] = pg[base + k] * s }
                        }
                    }
                }
            }
            // Per channel: Σ g·x̂ for the weight, Σ g for the bias.
            func channelSums(_ f: (Float, Int) -> Float) -> Tensor {
                Tensor(shape: [c]) { pr in
                    for ch in 0..<c {
                        var s: Float = 0
                        for i in 0..<n {
                            let base = (i * c + ch) * inner
                            for k in 0..<inner { s += pg[base + k] * f(px[base + k], ch) }
                        }
                        pr[ch] = s
                    }
                }
            }
            let m = mean.storage.pointer
            if weight != nil { grads.append(needs[grads.count] ? channelSums { ($0 - m[$1]) * invStd[$1] } : nil) }
            if bias != nil { grads.append(needs[grads.count] ? channelSums { _, _ in 1 } : nil) }
            return grads
        }
    }

    /// x / max(‖x‖₂, eps) along `axis`, as PyTorch's F.normalize.
    public func l2Normalized(axis: Int = -1, eps: Float = 1e-12) -> Tensor {
        self / squared().sum(axis: axis, keepDims: true).sqrt().clamped(min: eps)
    }
}
