// Pooling over [N, C, H, W] tensors, with PyTorch's window conventions.

extension Tensor {
    private var planes: (count: Int, h: Int, w: Int) {
        precondition(rank == 4, "pooling: expected [N, C, H, W], got \(shape)")
        return (shape[0] * shape[1], shape[2], shape[3])
    }

    /// Max pooling; padding counts as −∞. The gradient goes to the first
    /// maximum of each window in scan order (PyTorch's rule for ties).
    public func maxPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0),
                          dilation: (Int, Int) = (1, 1), ceilMode: Bool = false) -> Tensor {
        let win = Window2D(kernel: kernel, stride: stride ?? kernel, padding: padding, dilation: dilation)
        win.validate("maxPool2d")
        precondition(padding.0 * 2 <= kernel.0 && padding.1 * 2 <= kernel.1,
                     "maxPool2d: padding \(padding) must be at most half the kernel \(kernel)")
        let (planes, h, w) = self.planes
        guard let (oh, ow) = win.outputSize((h, w), ceilMode: ceilMode) else {
            preconditionFailure("maxPool2d: kernel \(kernel) does not fit input \(shape)")
        }
        var argmax = [Int32](repeating: -1, count: planes * oh * ow)
        let px = storage.pointer
        // The common 2×2, stride 2 window without padding, as one tight loop.
        let simple = kernel == (2, 2) && win.stride == (2, 2) && padding == (0, 0) && dilation == (1, 1)
        let out = Tensor(shape: [shape[0], shape[1], oh, ow]) { po in
            argmax.withUnsafeMutableBufferPointer { am in
                for p in 0..<planes where simple {
                    let src = px + p * h * w
                    for y in 0..<oh {
                        for x in 0..<ow {
                            let i0 = 2 * y * w + 2 * x
                            var best = src[i0], at = i0
                            for i in [i0 + 1, i0 + w, i0 + w + 1] where src[i] > best || src[i].isNaN { best = src[i]; at = i }
                            po[(p * oh + y) * ow + x] = best
                            am[(p * oh + y) * ow + x] = Int32(at)
                        }
                    }
                }
                for p in 0..<planes where !simple {
                    let src = px + p * h * w
                    for y in 0..<oh {
                        for x in 0..<ow {
                            var best = -Float.infinity, at: Int32 = -1
                            for ki in 0..<kernel.0 {
                                let iy = y * win.stride.h - padding.0 + ki * dilation.0
                                guard iy >= 0 && iy < h else { continue }
                                for kj in 0..<kernel.1 {
                                    let ix = x * win.stride.w - padding.1 + kj * dilation.1
                                    guard ix >= 0 && ix < w else { continue }
                                    let v = src[iy * w + ix]
                                    if v > best || at < 0 || v.isNaN { best = v; at = Int32(iy * w + ix) }
                                }
                            }
                            po[(p * oh + y) * ow + x] = best
                            am[(p * oh + y) * ow + x] = at
                        }
                    }
                }
            }
        }
        let inShape = shape
        return Tensor.result(out.shape, out.storage, op: .maxPool2d, inputs: [self]) { g, _ in
            let r = Tensor.zeros(inShape)
            let pr = r.storage.pointer, pg = g.storage.pointer
            for p in 0..<planes {
                for j in 0..<(oh * ow) where argmax[p * oh * ow + j] >= 0 {
                    pr[p * h * w + Int(argmax[p * oh * ow + j])] += pg[p * oh * ow + j]
                }
            }
            return [r]
        }
    }

    /// Average pooling; padded positions count in the divisor (PyTorch's default
    /// count_include_pad=True).
    public func avgPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0),
                          ceilMode: Bool = false) -> Tensor {
        let win = Window2D(kernel: kernel, stride: stride ?? kernel, padding: padding)
        win.validate("avgPool2d")
        let (_, h, w) = planes
        guard let (oh, ow) = win.outputSize((h, w), ceilMode: ceilMode) else {
            preconditionFailure("avgPool2d: kernel \(kernel) does not fit input \(shape)")
        }
        // Each output averages the window clipped to the padded input, divided by the clipped window's area.
        let rows = (0..<oh).map { y -> (Int, Int, Int) in
            let start = y * win.stride.h - padding.0, end = Swift.min(start + kernel.0, h + padding.0)
            return (Swift.max(start, 0), Swift.min(end, h), end - start)
        }
        let cols = (0..<ow).map { x -> (Int, Int, Int) in
            let start = x * win.stride.w - padding.1, end = Swift.min(start + kernel.1, w + padding.1)
            return (Swift.max(start, 0), Swift.min(end, w), end - start)
        }
        return regionAverage(rows: rows, cols: cols, op: .avgPool2d)
    }

    /// Adaptive average pooling to `size`, PyTorch's windows:
    /// [⌊i·H/oh⌋, ⌈(i+1)·H/oh⌉).
    public func adaptiveAvgPool2d(_ size: (Int, Int)) -> Tensor {
        let (_, h, w) = planes
        precondition(size.0 > 0 && size.1 > 0, "adaptiveAvgPool2d: output size \(size) must be positive")
        func windows(_ n: Int, _ o: Int) -> [(Int, Int, Int)] {
            (0..<o).map { i in
                let s = (i * n) / o, e = ((i + 1) * n + o - 1) / o
                return (s, e, e - s)
            }
        }
        return regionAverage(rows: windows(h, size.0), cols: windows(w, size.1), op: .adaptiveAvgPool2d)
    }

    /// The mean over each image plane: [N, C, H, W] → [N, C].
    public func globalAvgPool2d() -> Tensor {
        let (_, h, w) = planes
        return reshaped([shape[0], shape[1], h * w]).mean(axis: 2)
    }

    /// out[y, x] = Σ over rows[y] × cols[x] of the input, divided by the divisors' product.
    /// Each range is (start, end, divisor).
    private func regionAverage(rows: [(Int, Int, Int)], cols: [(Int, Int, Int)], op: Op) -> Tensor {
        let (planes, h, w) = self.planes
        let oh = rows.count, ow = cols.count
        let px = storage.pointer
        let out = Tensor(shape: [shape[0], shape[1], oh, ow]) { po in
            for p in 0..<planes {
                let src = px + p * h * w
                for (y, r) in rows.enumerated() {
                    for (x, c) in cols.enumerated() {
                        var s: Float = 0
                        for iy in r.0..<Swift.max(r.0, r.1) {
                            for ix in c.0..<Swift.max(c.0, c.1) { s += src[iy * w + ix] }
                        }
                        po[(p * oh + y) * ow + x] = s / Float(r.2 * c.2)
                    }
                }
            }
        }
        let inShape = shape
        return Tensor.result(out.shape, out.storage, op: op, inputs: [self]) { g, _ in
            let res = Tensor.zeros(inShape)
            let pr = res.storage.pointer, pg = g.storage.pointer
            for p in 0..<planes {
                let dst = pr + p * h * w
                for (y, r) in rows.enumerated() {
                    for (x, c) in cols.enumerated() {
                        let v = pg[(p * oh + y) * ow + x] / Float(r.2 * c.2)
                        for iy in r.0..<Swift.max(r.0, r.1) {
                            for ix in c.0..<Swift.max(c.0, c.1) { dst[iy * w + ix] += v }
                        }
                    }
                }
            }
            return [res]
        }
    }
}
