// Bilinear resizing of [N, C, H, W] with half-pixel centres: PyTorch's
// interpolate(mode="bilinear", align_corners=False) and OpenCV's INTER_LINEAR.

/// For each output index: the two input indices and the weight of the second.
struct LinearTaps {
    let lo: [Int], hi: [Int], frac: [Float]

    init(input n: Int, output m: Int) {
        let scale = Float(n) / Float(m)
        var lo = [Int](), hi = [Int](), frac = [Float]()
        for i in 0..<m {
            let src = Swift.max((Float(i) + 0.5) * scale - 0.5, 0)
            let l = Swift.min(Int(src), n - 1)
            lo.append(l)
            hi.append(Swift.min(l + 1, n - 1))
            frac.append(src - Float(l))
        }
        self.lo = lo
        self.hi = hi
        self.frac = frac
    }
}

extension Tensor {
    public func resizedBilinear(height oh: Int, width ow: Int) -> Tensor {
        precondition(rank == 4, "resizedBilinear: expected [N, C, H, W], got \(shape)")
        precondition(oh > 0 && ow > 0, "resizedBilinear: output size \(oh)×\(ow) must be positive")
        let planes = shape[0] * shape[1], h = shape[2], w = shape[3]
        precondition(h > 0 && w > 0, "resizedBilinear: empty input \(shape)")
        let ty = LinearTaps(input: h, output: oh), tx = LinearTaps(input: w, output: ow)
        let px = storage.pointer
        let out = Tensor(shape: [shape[0], shape[1], oh, ow]) { po in
            for p in 0..<planes {
                let src = px + p * h * w, dst = po + p * oh * ow
                for y in 0..<oh {
                    let r0 = src + ty.lo[y] * w, r1 = src + ty.hi[y] * w, fy = ty.frac[y]
                    for x in 0..<ow {
                        let fx = tx.frac[x], a = tx.lo[x], b = tx.hi[x]
                        let top = r0[a] + (r0[b] - r0[a]) * fx
                        let bottom = r1[a] + (r1[b] - r1[a]) * fx
                        dst[y * ow + x] = top + (bottom - top) * fy
                    }
                }
            }
        }
        let inShape = shape
        return Tensor.result(out.shape, out.storage, op: .resizeBilinear, inputs: [self]) { g, _ in
            let r = Tensor.zeros(inShape)
            let pr = r.storage.pointer, pg = g.storage.pointer
            for p in 0..<planes {
                let dst = pr + p * h * w, src = pg + p * oh * ow
                for y in 0..<oh {
                    let fy = ty.frac[y]
                    for x in 0..<ow {
                        let v = src[y * ow + x], fx = tx.frac[x]
                        dst[ty.lo[y] * w + tx.lo[x]] += v * (1 - fy) * (1 - fx)
                        dst[ty.lo[y] * w + tx.hi[x]] += v * (1 - fy) * fx
                        dst[ty.hi[y] * w + tx.lo[x]] += v * fy * (1 - fx)
                        dst[ty.hi[y] * w + tx.hi[x]] += v * fy * fx
                    }
                }
            }
            return [r]
        }
    }
}
