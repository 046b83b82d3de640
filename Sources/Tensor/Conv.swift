/// The geometry of a 2-D convolution or pooling window along one spatial axis pair.
public struct Window2D: Equatable, Sendable {
    public var kernel: (h: Int, w: Int)
    public var stride: (h: Int, w: Int)
    public var padding: (h: Int, w: Int)
    public var dilation: (h: Int, w: Int)

    public init(kernel: (Int, Int), stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                dilation: (Int, Int) = (1, 1)) {
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
    }

    public static func == (a: Window2D, b: Window2D) -> Bool {
        a.kernel == b.kernel && a.stride == b.stride && a.padding == b.padding && a.dilation == b.dilation
    }

    /// The output size for an input of `size`, or nil when the window does not fit.
    func outputSize(_ size: (h: Int, w: Int), ceilMode: Bool = false) -> (h: Int, w: Int)? {
        func one(_ n: Int, _ k: Int, _ s: Int, _ p: Int, _ d: Int) -> Int {
            let span = n + 2 * p - d * (k - 1) - 1
            guard span >= 0 else { return 0 }
            var o = (ceilMode ? (span + s - 1) / s : span / s) + 1
            // PyTorch: the last window must start inside the input or the left padding.
            if ceilMode && (o - 1) * s >= n + p { o -= 1 }
            return o
        }
        let h = one(size.h, kernel.h, stride.h, padding.h, dilation.h)
        let w = one(size.w, kernel.w, stride.w, padding.w, dilation.w)
        return h > 0 && w > 0 ? (h, w) : nil
    }

    func validate(_ op: String) {
        precondition(kernel.h > 0 && kernel.w > 0, "\(op): kernel \(kernel) must be positive")
        precondition(stride.h > 0 && stride.w > 0, "\(op): stride \(stride) must be positive")
        precondition(padding.h >= 0 && padding.w >= 0, "\(op): padding \(padding) must not be negative")
        precondition(dilation.h > 0 && dilation.w > 0, "\(op): dilation \(dilation) must be positive")
    }
}

extension Tensor {
    /// 2-D convolution (cross-correlation, as PyTorch's conv2d) of x [N, C, H, W]
    /// with weight [O, C/groups, kh, kw] and optional bias [O].
    ///
    /// Lowered to sgemm: a 1×1 convolution with stride 1 and no padding multiplies
    /// the input directly; a 3×3 one with stride 1 and padding 1 on a large
    /// enough map uses Winograd's F(2×2, 3×3) (`Winograd3x3`); otherwise each
    /// image is unfolded (im2col) into a [C/groups·kh·kw, OH·OW] matrix first.
    public func conv2d(weight w: Tensor, bias b: Tensor? = nil, stride: (Int, Int) = (1, 1),
                       padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1) -> Tensor {
        let x = self
        let (out, geo, perProduct) = x.convolved(weight: w, bias: b, stride: stride, padding: padding,
                                                 dilation: dilation, groups: groups, epilogue: nil)
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, oh, ow) = (out.shape[1], out.shape[2], out.shape[3])
        let og = o / groups, kSize = geo.colRows, ohw = oh * ow
        let inputs = b.map { [x, w, $0] } ?? [x, w]
        return Tensor.result(out.shape, out.storage, op: .conv2d, inputs: inputs) { gOut, needs in
            let pg = gOut.storage.pointer
            var gx: Tensor?, gw: Tensor?, gb: Tensor?
            let width = perProduct * ohw
            let col = UnsafeMutablePointer<Float>.allocate(capacity: kSize * width)
            let gathered = UnsafeMutablePointer<Float>.allocate(capacity: og * width)
            defer { col.deallocate(); gathered.deallocate() }
            if needs[0] { gx = Tensor.zeros(x.shape) }
            if needs[1] { gw = Tensor.zeros(w.shape) }
            for i0 in Swift.stride(from: 0, to: n, by: perProduct) where needs[0] || needs[1] {
                let images = Swift.min(perProduct, n - i0), cols = images * ohw
                for g in 0..<groups {
                    // dY of these images for this group's channels, as [og, images·ohw].
                    for j in 0..<images {
                        for r in 0..<og {
                            (gathered + r * cols + j * ohw).update(from: pg + ((i0 + j) * o + g * og + r) * ohw, count: ohw)
                        }
                    }
                    if let gx {  // dX = col2im(Wᵀ · dY)
                        BLAS.gemm(transA: true, m: kSize, n: cols, k: og, a: w.storage.pointer + g * og * kSize, lda: kSize,
                                  b: gathered, ldb: cols, c: col, ldc: cols)
                        for j in 0..<images {
                            geo.col2im(col + j * ohw, gx.storage.pointer + ((i0 + j) * c + g * geo.c) * h * wd, ld: cols)
                        }
                    }
                    if let gw {  // dW += dY · colᵀ
                        for j in 0..<images {
                            geo.im2col(x.storage.pointer + ((i0 + j) * c + g * geo.c) * h * wd, col + j * ohw,
                                       rows: 0..<oh, ld: cols)
                        }
                        BLAS.gemm(transB: true, m: og, n: kSize, k: cols, a: gathered, lda: cols,
                                  b: col, ldb: cols, beta: 1, c: gw.storage.pointer + g * og * kSize, ldc: kSize)
                    }
                }
            }
            if needs.count > 2 && needs[2] {
                gb = Tensor(shape: [o]) { pb in
                    for j in 0..<o {
                        var s: Float = 0
                        for i in 0..<n {
                            let row = pg + (i * o + j) * ohw
                            for k in 0..<ohw { s += row[k] }
                        }
                        pb[j] = s
                    }
                }
            }
            return Array([gx, gw, gb].prefix(inputs.count))
        }
    }

    /// The convolution's output, unrecorded, and the lowering the backward pass
    /// reuses. With an epilogue, each band of output rows is finished (scale,
    /// shift, residual, ReLU) right after its sgemm, while it is in cache.
    private func convolved(weight w: Tensor, bias b: Tensor?, stride: (Int, Int), padding: (Int, Int),
                           dilation: (Int, Int), groups: Int,
                           epilogue: ConvEpilogue?) -> (Tensor, ConvGeometry, perProduct: Int) {
        let x = self
        precondition(x.rank == 4 && w.rank == 4, "conv2d: input \(x.shape) and weight \(w.shape) must both be rank 4")
        let win = Window2D(kernel: (w.shape[2], w.shape[3]), stride: stride, padding: padding, dilation: dilation)
        win.validate("conv2d")
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let o = w.shape[0]
        precondition(groups > 0 && c % groups == 0 && o % groups == 0 && w.shape[1] == c / groups,
                     "conv2d: input \(x.shape), weight \(w.shape) and groups \(groups) do not match")
        if let b { precondition(b.shape == [o], "conv2d: bias \(b.shape) for weight \(w.shape)") }
        guard let (oh, ow) = win.outputSize((h, wd)) else {
            preconditionFailure("conv2d: kernel \(win.kernel) with padding \(padding) and dilation \(dilation) does not fit input \(x.shape)")
        }
        if let r = epilogue?.residual {
            precondition(r.shape == [n, o, oh, ow], "conv2dInference: residual \(r.shape) for output \([n, o, oh, ow])")
        }
        let geo = ConvGeometry(c: c / groups, h: h, w: wd, oh: oh, ow: ow, win: win)
        let og = o / groups, kSize = geo.colRows, ohw = oh * ow
        // Small feature maps: several images share one product, so sgemm sees ≥ 2048
        // columns (and the column matrix stays under 16 MB).
        let perProduct = ohw >= 2048 ? 1
            : Swift.max(1, Swift.min(n, (2048 + ohw - 1) / ohw, (1 << 22) / Swift.max(kSize * ohw, 1)))
        let out: Tensor
        if Winograd3x3.applies(win, groups: groups, c: c, oh: oh, ow: ow) {
            out = Tensor(shape: [n, o, oh, ow]) { po in
                Winograd3x3(c: c, h: h, w: wd, o: o).convolve(x.storage.pointer, n: n, weight: w.storage.pointer,
                                                              into: po) { dst, src, count, channel, offset in
                    if let epilogue {
                        epilogue.apply(dst, from: src, count: count, channel: channel, offset: offset)
                    } else {
                        let bias = b?.storage.pointer[channel] ?? 0
                        for k in 0..<count { dst[k] = src[k] + bias }
                    }
                }
            }
        } else if perProduct == 1 {
            // Large feature maps: one image at a time, unfolding a band of output rows at
            // a time so the column matrix stays near 16 MB however large the image.
            let band = geo.isPointwise ? oh
                : Swift.min(oh, Swift.max((2048 + ow - 1) / ow, (1 << 22) / Swift.max(kSize * ow, 1)))
            out = Tensor(shape: [n, o, oh, ow]) { po in
                let col = geo.isPointwise ? nil : UnsafeMutablePointer<Float>.allocate(capacity: kSize * band * ow)
                defer { col?.deallocate() }
                for i in 0..<n {
                    for g in 0..<groups {
                        let src = x.storage.pointer + (i * c + g * geo.c) * h * wd
                        let dst = po + (i * o + g * og) * ohw
                        let preloadBias = b != nil && epilogue == nil
                        if let b, preloadBias {
                            for r in 0..<og { (dst + r * ohw).update(repeating: b.storage.pointer[g * og + r], count: ohw) }
                        }
                        for y0 in Swift.stride(from: 0, to: oh, by: band) {
                            let rows = y0..<Swift.min(y0 + band, oh), cols = rows.count * ow
                            if let col { geo.im2col(src, col, rows: rows, ld: cols) }
                            BLAS.gemm(m: og, n: cols, k: kSize, a: w.storage.pointer + g * og * kSize, lda: kSize,
                                      b: col ?? src, ldb: col == nil ? ohw : cols, beta: preloadBias ? 1 : 0,
                                      c: dst + y0 * ow, ldc: ohw)
                            if let epilogue {
                                for r in 0..<og {
                                    let offset = (i * o + g * og + r) * ohw + y0 * ow
                                    epilogue.apply(po + offset, from: po + offset, count: cols,
                                                   channel: g * og + r, offset: offset)
                                }
                            }
                        }
                    }
                }
            }
        } else {
            out = Tensor(shape: [n, o, oh, ow]) { po in
                let width = perProduct * ohw
                let col = UnsafeMutablePointer<Float>.allocate(capacity: kSize * width)
                let product = UnsafeMutablePointer<Float>.allocate(capacity: og * width)
                defer { col.deallocate(); product.deallocate() }
                for i0 in Swift.stride(from: 0, to: n, by: perProduct) {
                    let images = Swift.min(perProduct, n - i0), cols = images * ohw
                    for g in 0..<groups {
                        for j in 0..<images {
                            geo.im2col(x.storage.pointer + ((i0 + j) * c + g * geo.c) * h * wd, col + j * ohw,
                                       rows: 0..<oh, ld: cols)
                        }
                        BLAS.gemm(m: og, n: cols, k: kSize, a: w.storage.pointer + g * og * kSize, lda: kSize,
                                  b: col, ldb: cols, c: product, ldc: cols)
                        for j in 0..<images {
                            for r in 0..<og {
                                let offset = ((i0 + j) * o + g * og + r) * ohw
                                let dst = po + offset, src = product + r * cols + j * ohw
                                if let epilogue {
                                    epilogue.apply(dst, from: src, count: ohw, channel: g * og + r, offset: offset)
                                } else {
                                    let bias = b?.storage.pointer[g * og + r] ?? 0
                                    for k in 0..<ohw { dst[k] = src[k] + bias }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (out, geo, perProduct)
    }

    /// Inference only: the convolution followed by what an inference network
    /// does next to its output — batch norm folded into a per-channel scale and
    /// shift, a residual sum, ReLU — in one pass over each band while it is in
    /// cache, instead of three passes over the whole map. Nothing is recorded,
    /// so no input may require a gradient.
    public func conv2dInference(weight w: Tensor, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                                dilation: (Int, Int) = (1, 1), groups: Int = 1,
                                epilogue: ConvEpilogue) -> Tensor {
        precondition(!requiresGrad && !w.requiresGrad && !(epilogue.residual?.requiresGrad ?? false),
                     "conv2dInference records nothing: no input may require a gradient")
        precondition(epilogue.shift.count == w.shape[0] && (epilogue.scale?.count ?? w.shape[0]) == w.shape[0],
                     "conv2dInference: scale/shift for \(epilogue.shift.count) channels, weight \(w.shape)")
        return convolved(weight: w, bias: nil, stride: stride, padding: padding, dilation: dilation,
                         groups: groups, epilogue: epilogue).0
    }

    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                       dilation: Int = 1, groups: Int = 1) -> Tensor {
        conv2d(weight: weight, bias: bias, stride: (stride, stride), padding: (padding, padding),
               dilation: (dilation, dilation), groups: groups)
    }
}

/// One group's unfolding between an image [c, h, w] and its column matrix
/// [c·kh·kw, oh·ow].
struct ConvGeometry {
    let c: Int, h: Int, w: Int, oh: Int, ow: Int
    let win: Window2D

    var colRows: Int { c * win.kernel.h * win.kernel.w }
    var isPointwise: Bool {
        win.kernel == (1, 1) && win.stride == (1, 1) && win.padding == (0, 0)
    }

    /// For kernel offset kj, the output columns whose input column lies inside
    /// the image, and the input column of the first of them.
    @inline(__always)
    private func validColumns(_ kj: Int) -> (lo: Int, hi: Int) {
        let shift = kj * win.dilation.w - win.padding.w  // input column of output column 0
        let s = win.stride.w
        let lo = shift >= 0 ? 0 : (-shift + s - 1) / s
        let hi = w - shift <= 0 ? 0 : Swift.min(ow, (w - shift + s - 1) / s)
        return (Swift.min(lo, hi), hi)
    }

    /// Unfolds the output rows `rows` into `col`, whose rows are `ld` floats apart
    /// (several images can share one column matrix side by side).
    func im2col(_ src: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>, rows: Range<Int>, ld width: Int) {
        let (kh, kw) = win.kernel
        let s = win.stride.w
        for ch in 0..<c {
            let plane = src + ch * h * w
            for ki in 0..<kh {
                for kj in 0..<kw {
                    let dstRow = col + ((ch * kh + ki) * kw + kj) * width
                    let (lo, hi) = validColumns(kj)
                    let shift = kj * win.dilation.w - win.padding.w
                    for y in rows {
                        let dst = dstRow + (y - rows.lowerBound) * ow
                        let iy = y * win.stride.h - win.padding.h + ki * win.dilation.h
                        guard iy >= 0 && iy < h else { dst.update(repeating: 0, count: ow); continue }
                        let line = plane + iy * w + shift
                        if lo > 0 { dst.update(repeating: 0, count: lo) }
                        if s == 1 {
                            (dst + lo).update(from: line + lo, count: hi - lo)
                        } else {
                            for x in lo..<hi { dst[x] = line[x * s] }
                        }
                        if hi < ow { (dst + hi).update(repeating: 0, count: ow - hi) }
                    }
                }
            }
        }
    }

    /// The adjoint of im2col (all rows): adds each column entry, rows `ld` apart,
    /// back into its image position.
    func col2im(_ col: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, ld width: Int) {
        let (kh, kw) = win.kernel
        let s = win.stride.w
        for ch in 0..<c {
            let plane = dst + ch * h * w
            for ki in 0..<kh {
                for kj in 0..<kw {
                    let srcRow = col + ((ch * kh + ki) * kw + kj) * width
                    let (lo, hi) = validColumns(kj)
                    let shift = kj * win.dilation.w - win.padding.w
                    for y in 0..<oh {
                        let iy = y * win.stride.h - win.padding.h + ki * win.dilation.h
                        guard iy >= 0 && iy < h else { continue }
                        let line = plane + iy * w + shift
                        let src = srcRow + y * ow
                        for x in lo..<hi { line[x * s] += src[x] }
                    }
                }
            }
        }
    }
}

/// What `conv2dInference` does to each output value v of channel c after the
/// product: v·scale[c] + shift[c], plus the residual's value at the same
/// place, then ReLU.
public struct ConvEpilogue {
    public let scale: [Float]?
    public let shift: [Float]
    public let residual: Tensor?
    public let relu: Bool

    public init(scale: [Float]?, shift: [Float], residual: Tensor? = nil, relu: Bool) {
        self.scale = scale
        self.shift = shift
        self.residual = residual
        self.relu = relu
    }

    /// Finishes `count` values of `channel`; `offset` is their place in the output.
    @inline(__always)
    func apply(_ dst: UnsafeMutablePointer<Float>, from src: UnsafePointer<Float>, count: Int, channel: Int, offset: Int) {
        let s = scale?[channel] ?? 1, t = shift[channel]
        if let residual {
            let r = residual.storage.pointer + offset
            if relu {
                for k in 0..<count { let v = src[k] * s + t + r[k]; dst[k] = v > 0 ? v : 0 }
            } else {
                for k in 0..<count { dst[k] = src[k] * s + t + r[k] }
            }
        } else if relu {
            for k in 0..<count { let v = src[k] * s + t; dst[k] = v > 0 ? v : 0 }
        } else {
            for k in 0..<count { dst[k] = src[k] * s + t }
        }
    }
}
