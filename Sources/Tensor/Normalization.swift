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
        return Tensor.result(shape, out.storage, op: .batchNorm, inputs: inputs) { g, needs in
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

extension Tensor {
    /// Batch normalisation in training form over axis 1 of [N, C, …]: each
    /// channel normalised by its batch mean and biased variance, then scaled and
    /// shifted. Returns the output and the batch statistics (mean, biased
    /// variance) for the running averages. One fused op, forward and backward.
    public func batchNormTraining(weight: Tensor, bias: Tensor, eps: Float = 1e-5)
        -> (output: Tensor, mean: [Float], variance: [Float]) {
        precondition(rank >= 2, "batchNormTraining: expected [N, C, …], got \(shape)")
        let n = shape[0], c = shape[1], inner = count / Swift.max(n * c, 1), m = Float(n * inner)
        precondition(weight.shape == [c] && bias.shape == [c],
                     "batchNormTraining: weight \(weight.shape) and bias \(bias.shape) must be [\(c)]")
        let px = storage.pointer
        var mean = [Float](repeating: 0, count: c), variance = [Float](repeating: 0, count: c)
        for ch in 0..<c {
            var s: Double = 0
            for i in 0..<n { let row = px + (i * c + ch) * inner; for k in 0..<inner { s += Double(row[k]) } }
            let mu = Float(s / Double(m))
            var v: Double = 0
            for i in 0..<n { let row = px + (i * c + ch) * inner; for k in 0..<inner { let d = row[k] - mu; v += Double(d * d) } }
            mean[ch] = mu
            variance[ch] = Float(v / Double(m))
        }
        let invStd = variance.map { 1 / ($0 + eps).squareRoot() }
        let gamma = weight.values, beta = bias.values
        // x̂, kept for the backward.
        let normalized = Tensor(shape: shape) { po in
            for i in 0..<n {
                for ch in 0..<c {
                    let src = px + (i * c + ch) * inner, dst = po + (i * c + ch) * inner
                    let mu = mean[ch], s = invStd[ch]
                    for k in 0..<inner { dst[k] = (src[k] - mu) * s }
                }
            }
        }
        let out = Tensor(shape: shape) { po in
            let pn = normalized.storage.pointer
            for i in 0..<n {
                for ch in 0..<c {
                    let base = (i * c + ch) * inner, g = gamma[ch], b = beta[ch]
                    for k in 0..<inner { po[base + k] = pn[base + k] * g + b }
                }
            }
        }
        let result = Tensor.result(shape, out.storage, op: .batchNormTraining, inputs: [self, weight, bias]) { grad, needs in
            let pg = grad.storage.pointer, pn = normalized.storage.pointer
            // Per channel: Σ g and Σ g·x̂.
            var sumG = [Float](repeating: 0, count: c), sumGX = [Float](repeating: 0, count: c)
            for i in 0..<n {
                for ch in 0..<c {
                    let base = (i * c + ch) * inner
                    var a: Float = 0, b: Float = 0
                    for k in 0..<inner { a += pg[base + k]; b += pg[base + k] * pn[base + k] }
                    sumG[ch] += a
                    sumGX[ch] += b
                }
            }
            var dx: Tensor?
            if needs[0] {
                // dx = γ/σ · (g − mean(g) − x̂ · mean(g·x̂))
                dx = Tensor(shape: self.shape) { pd in
                    for i in 0..<n {
                        for ch in 0..<c {
                            let base = (i * c + ch) * inner
                            let scale = gamma[ch] * invStd[ch], mg = sumG[ch] / m, mgx = sumGX[ch] / m
                            for k in 0..<inner { pd[base + k] = scale * (pg[base + k] - mg - pn[base + k] * mgx) }
                        }
                    }
                }
            }
            return [dx, needs[1] ? Tensor(shape: [c], values: sumGX) : nil, needs[2] ? Tensor(shape: [c], values: sumG) : nil]
        }
        return (result, mean, variance)
    }
}
