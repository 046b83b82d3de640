/// Bilinear sampling along one axis with half-pixel centres, computed exactly
/// as PyTorch's `F.interpolate(mode="bilinear", align_corners=False)` does in
/// Float: `src = scale * (dst + 0.5) - 0.5` with `scale = in / out`, negative
/// `src` clamped to 0, `i0 = min(floor(src), in - 1)`, `i1 = min(i0 + 1, in - 1)`,
/// `w1 = clamp(src - i0, 0, 1)`, `w0 = 1 - w1`. OpenCV's INTER_LINEAR uses the
/// same sample positions.
struct BilinearAxis {
    var i0: [Int]
    var i1: [Int]
    var w0: [Float]
    var w1: [Float]

    init(input: Int, output: Int) {
        precondition(input > 0 && output > 0, "sizes must be positive")
        i0 = [Int](repeating: 0, count: output)
        i1 = i0
        w0 = [Float](repeating: 1, count: output)
        w1 = [Float](repeating: 0, count: output)
        guard input != output else {
            for o in 0..<output { i0[o] = o; i1[o] = o }
            return
        }
        let scale = Float(input) / Float(output)
        for o in 0..<output {
            let src = max(scale * (Float(o) + 0.5) - 0.5, 0)
            let lo = min(Int(src), input - 1)
            let lambda = min(max(src - Float(lo), 0), 1)
            i0[o] = lo
            i1[o] = lo < input - 1 ? lo + 1 : lo
            w1[o] = lambda
            w0[o] = 1 - lambda
        }
    }
}

/// A separable 1-D resampling filter: output `o` is the weighted sum of
/// source samples `sources[taps[o]]` with weights `weights[taps[o]]`.
struct AxisFilter {
    var taps: [Range<Int>] = []
    var sources: [Int] = []
    var weights: [Float] = []

    private mutating func append(_ entries: [(Int, Float)]) {
        let start = sources.count
        for (source, weight) in entries {
            sources.append(source)
            weights.append(weight)
        }
        taps.append(start..<sources.count)
    }

    static func bilinear(input: Int, output: Int) -> AxisFilter {
        let axis = BilinearAxis(input: input, output: output)
        var filter = AxisFilter()
        for o in 0..<output {
            filter.append([(axis.i0[o], axis.w0[o]), (axis.i1[o], axis.w1[o])])
        }
        return filter
    }

    /// Box filter (OpenCV's INTER_AREA): output `o` averages the source interval
    /// [o·s, (o+1)·s) with s = in/out, weighting partly covered pixels by overlap.
    static func area(input: Int, output: Int) -> AxisFilter {
        let scale = Double(input) / Double(output)
        var filter = AxisFilter()
        for o in 0..<output {
            let start = Double(o) * scale, end = min(start + scale, Double(input))
            var entries: [(Int, Float)] = []
            var i = Int(start)
            while i < input, Double(i) < end {
                let overlap = min(Double(i + 1), end) - max(Double(i), start)
                if overlap > 1e-9 { entries.append((i, Float(overlap / scale))) }
                i += 1
            }
            filter.append(entries)
        }
        return filter
    }

    /// Area averaging when shrinking by more than 2×, bilinear otherwise.
    static func automatic(input: Int, output: Int) -> AxisFilter {
        input > 2 * output ? area(input: input, output: output) : bilinear(input: input, output: output)
    }
}

extension RGBImage {
    /// The image resampled to `width`×`height`.
    ///
    /// Each axis chooses its own filter: when it shrinks by more than 2× it
    /// uses area averaging (a box filter, like OpenCV's INTER_AREA), because
    /// bilinear sampling then skips source pixels and thumbnails alias;
    /// otherwise it uses bilinear interpolation with half-pixel centres (as
    /// PyTorch with `align_corners=False` and OpenCV's INTER_LINEAR). Results
    /// are rounded to the nearest integer. Model input does not come through
    /// here: see `Preprocessing`, which must match PyTorch exactly.
    public func resized(width: Int, height: Int) -> RGBImage {
        precondition(width > 0 && height > 0, "sizes must be positive")
        let fx = AxisFilter.automatic(input: self.width, output: width)
        let fy = AxisFilter.automatic(input: self.height, output: height)

        // Horizontal pass into Float rows, then vertical pass with rounding.
        let inWidth = self.width
        var rows = [Float](repeating: 0, count: self.height * width * 3)
        pixels.withUnsafeBufferPointer { src in
            rows.withUnsafeMutableBufferPointer { dst in
                for y in 0..<self.height {
                    let srcRow = y * inWidth * 3, dstRow = y * width * 3
                    for x in 0..<width {
                        var r: Float = 0, g: Float = 0, b: Float = 0
                        for t in fx.taps[x] {
                            let s = srcRow + fx.sources[t] * 3, w = fx.weights[t]
                            r += Float(src[s]) * w
                            g += Float(src[s + 1]) * w
                            b += Float(src[s + 2]) * w
                        }
                        dst[dstRow + x * 3] = r
                        dst[dstRow + x * 3 + 1] = g
                        dst[dstRow + x * 3 + 2] = b
                    }
                }
            }
        }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        let stride = width * 3
        rows.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    for i in 0..<stride {
                        var v: Float = 0
                        for t in fy.taps[y] {
                            v += src[fy.sources[t] * stride + i] * fy.weights[t]
                        }
                        dst[y * stride + i] = UInt8(min(max(v.rounded(), 0), 255))
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }
}

/// Bilinear resize of one Float plane (half-pixel centres, see `BilinearAxis`),
/// horizontal then vertical as PyTorch evaluates it.
func resizeBilinear(_ plane: [Float], width: Int, height: Int, toWidth: Int, toHeight: Int) -> [Float] {
    precondition(plane.count == width * height, "plane must hold width*height values")
    let ax = BilinearAxis(input: width, output: toWidth)
    let ay = BilinearAxis(input: height, output: toHeight)
    var out = [Float](repeating: 0, count: toWidth * toHeight)
    for y in 0..<toHeight {
        let r0 = ay.i0[y] * width, r1 = ay.i1[y] * width
        for x in 0..<toWidth {
            let h0 = plane[r0 + ax.i0[x]] * ax.w0[x] + plane[r0 + ax.i1[x]] * ax.w1[x]
            let h1 = plane[r1 + ax.i0[x]] * ax.w0[x] + plane[r1 + ax.i1[x]] * ax.w1[x]
            out[y * toWidth + x] = h0 * ay.w0[y] + h1 * ay.w1[y]
        }
    }
    return out
}
