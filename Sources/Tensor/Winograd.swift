/// Winograd's minimal filtering F(2×2, 3×3) (Lavin and Gray, "Fast Algorithms
/// for Convolutional Neural Networks", CVPR 2016) for the 3×3 convolutions with
/// stride 1 and padding 1 that make up VGG and ResNet's blocks.
///
/// Each 4×4 input tile d and 3×3 filter g are transformed (V = Bᵀ d B,
/// U = G g Gᵀ) so that the 2×2 output tile is Aᵀ (U ⊙ V) A: 16 multiplications
/// instead of 36. Summed over input channels, the 16 elementwise products
/// become 16 sgemms [O, C]·[C, tiles], 2.25× fewer flops than the im2col
/// product. The transforms only add and halve, so results differ from direct
/// convolution by rounding alone (a few ulps; WinogradTests compares them).
struct Winograd3x3 {
    let c: Int, h: Int, w: Int, o: Int
    /// Tiles per column and per row: the output is h × w, in 2×2 tiles.
    let tilesHigh: Int, tilesWide: Int

    /// Whether F(2×2, 3×3) is worth using: a 3×3 kernel, stride 1, padding 1,
    /// no dilation or groups, enough input channels for the products to
    /// dominate the input and output transforms, and a map large enough for the
    /// filter transform (16/9 of the weights, redone on every call) to cost
    /// less than the flops it saves — on VGG-16's 28×28 layers it does not.
    /// (The small maps of a training batch are better served by im2col's
    /// products over several images.)
    static func applies(_ win: Window2D, groups: Int, c: Int, oh: Int, ow: Int) -> Bool {
        win.kernel == (3, 3) && win.stride == (1, 1) && win.padding == (1, 1) && win.dilation == (1, 1)
            && groups == 1 && c >= 32 && oh * ow >= 48 * 48
    }

    init(c: Int, h: Int, w: Int, o: Int) {
        (self.c, self.h, self.w, self.o) = (c, h, w, o)
        (tilesHigh, tilesWide) = ((h + 1) / 2, (w + 1) / 2)
    }

    /// Convolves `n` images [n, c, h, w] with weight [o, c, 3, 3] into `out`
    /// [n, o, h, w], finishing each row with `finish(dst, src, count, channel,
    /// offset)` (bias or the inference epilogue). The tile rows are cut into
    /// bands by the shape alone, so the products and their bits are the same
    /// whatever the number of threads (`BLAS.threads`) that share the bands.
    func convolve(_ x: UnsafePointer<Float>, n: Int, weight: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                  finish: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int, Int, Int) -> Void) {
        let u = UnsafeMutablePointer<Float>.allocate(capacity: 16 * o * c)
        defer { u.deallocate() }
        let filterWorkers = Swift.max(1, Swift.min(BLAS.threads, o))
        BLAS.concurrently(filterWorkers) { part in
            transformFilters(weight, into: u, filters: BLAS.share(part, of: o * c, parts: filterWorkers))
        }
        // Bands of tile rows whose transformed inputs and products stay near
        // 4 MB each, and at least `BLAS.bandsPerProduct` of them to share.
        let rowsPerBand = Swift.max(1, Swift.min((1 << 20) / (16 * Swift.max(c, o) * tilesWide),
                                                 (tilesHigh + BLAS.bandsPerProduct - 1) / BLAS.bandsPerProduct))
        let bands = Array(Swift.stride(from: 0, to: tilesHigh, by: rowsPerBand))
        let workers = Swift.max(1, Swift.min(BLAS.threads, bands.count))
        BLAS.concurrently(workers) { worker in
            let bandTiles = Swift.min(rowsPerBand, tilesHigh) * tilesWide
            let v = UnsafeMutablePointer<Float>.allocate(capacity: 16 * c * bandTiles)
            let m = UnsafeMutablePointer<Float>.allocate(capacity: 16 * o * bandTiles)
            let rows = UnsafeMutablePointer<Float>.allocate(capacity: 4 * (2 * tilesWide + 2))
            defer { v.deallocate(); m.deallocate(); rows.deallocate() }
            for i in 0..<n {
                let image = x + i * c * h * w
                for t0 in Swift.stride(from: bands[worker], to: tilesHigh, by: rowsPerBand * workers) {
                    let band = t0..<Swift.min(t0 + rowsPerBand, tilesHigh), tiles = band.count * tilesWide
                    transformInputs(image, tileRows: band, into: v, ld: tiles, rows: rows)
                    for xi in 0..<16 {
                        BLAS.gemm(m: o, n: tiles, k: c, a: u + xi * o * c, lda: c,
                                  b: v + xi * c * tiles, ldb: tiles, c: m + xi * o * tiles, ldc: tiles)
                    }
                    transformOutputs(m, ld: tiles, tileRows: band, image: i, into: out, rows: rows, finish: finish)
                }
            }
        }
    }

    /// U[ξ][k][ci] = (G g Gᵀ)[ξ] for every filter g = weight[k][ci], with
    /// G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]: first the rows of
    /// t = G g, then each row (a, b, e) of t becomes (a, (a+b+e)/2, (a−b+e)/2, e).
    private func transformFilters(_ weight: UnsafePointer<Float>, into u: UnsafeMutablePointer<Float>, filters: Range<Int>) {
        let plane = o * c
        @inline(__always) func store(_ row: Int, _ f: Int, _ a: Float, _ b: Float, _ e: Float) {
            let dst = u + 4 * row * plane + f
            dst[0] = a
            dst[plane] = (a + b + e) * 0.5
            dst[2 * plane] = (a - b + e) * 0.5
            dst[3 * plane] = e
        }
        for f in filters {
            let g = weight + f * 9
            store(0, f, g[0], g[1], g[2])
            store(1, f, (g[0] + g[3] + g[6]) * 0.5, (g[1] + g[4] + g[7]) * 0.5, (g[2] + g[5] + g[8]) * 0.5)
            store(2, f, (g[0] - g[3] + g[6]) * 0.5, (g[1] - g[4] + g[7]) * 0.5, (g[2] - g[5] + g[8]) * 0.5)
            store(3, f, g[6], g[7], g[8])
        }
    }

    /// V[ξ][ci][tile] = (Bᵀ d B)[ξ] for the 4×4 input tile d of every tile in
    /// `tileRows` (zero outside the image), with
    /// Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]].
    private func transformInputs(_ image: UnsafePointer<Float>, tileRows: Range<Int>, into v: UnsafeMutablePointer<Float>,
                                 ld tiles: Int, rows: UnsafeMutablePointer<Float>) {
        // Four padded rows: input column x at x + 1, zeros around.
        let width = 2 * tilesWide + 2
        let plane = c * tiles
        for ci in 0..<c {
            let channel = image + ci * h * w
            for ty in tileRows {
                // Bᵀ d: the rows' combinations, then each tile's columns' below.
                rows.update(repeating: 0, count: 4 * width)
                for r in 0..<4 {
                    let y = 2 * ty - 1 + r
                    if y >= 0 && y < h { (rows + r * width + 1).update(from: channel + y * w, count: w) }
                }
                let d0 = rows, d1 = rows + width, d2 = rows + 2 * width, d3 = rows + 3 * width
                for j in 0..<width {
                    let (a, b, e, f) = (d0[j], d1[j], d2[j], d3[j])
                    d0[j] = a - e; d1[j] = b + e; d2[j] = e - b; d3[j] = b - f
                }
                let first = (ty - tileRows.lowerBound) * tilesWide
                for r in 0..<4 {
                    let s = rows + r * width
                    let dst = v + (4 * r) * plane + ci * tiles + first
                    for tx in 0..<tilesWide {
                        let (a, b, e, f) = (s[2 * tx], s[2 * tx + 1], s[2 * tx + 2], s[2 * tx + 3])
                        dst[tx] = a - e
                        dst[plane + tx] = b + e
                        dst[2 * plane + tx] = e - b
                        dst[3 * plane + tx] = b - f
                    }
                }
            }
        }
    }

    /// The 2×2 output tiles Aᵀ M A, with Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]],
    /// written row by row into image `i` of `out` through `finish`.
    private func transformOutputs(_ m: UnsafePointer<Float>, ld tiles: Int, tileRows: Range<Int>, image i: Int,
                                  into out: UnsafeMutablePointer<Float>, rows: UnsafeMutablePointer<Float>,
                                  finish: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int, Int, Int) -> Void) {
        let plane = o * tiles, width = 2 * tilesWide
        let top = rows, bottom = rows + width
        for k in 0..<o {
            for ty in tileRows {
                let p = m + k * tiles + (ty - tileRows.lowerBound) * tilesWide
                for tx in 0..<tilesWide {
                    // a = rows 0 + 1 + 2 of M, b = rows 1 − 2 − 3, then the same on columns.
                    var a = (Float(0), Float(0), Float(0), Float(0)), b = a
                    a.0 = p[tx] + p[4 * plane + tx] + p[8 * plane + tx]
                    a.1 = p[plane + tx] + p[5 * plane + tx] + p[9 * plane + tx]
                    a.2 = p[2 * plane + tx] + p[6 * plane + tx] + p[10 * plane + tx]
                    a.3 = p[3 * plane + tx] + p[7 * plane + tx] + p[11 * plane + tx]
                    b.0 = p[4 * plane + tx] - p[8 * plane + tx] - p[12 * plane + tx]
                    b.1 = p[5 * plane + tx] - p[9 * plane + tx] - p[13 * plane + tx]
                    b.2 = p[6 * plane + tx] - p[10 * plane + tx] - p[14 * plane + tx]
                    b.3 = p[7 * plane + tx] - p[11 * plane + tx] - p[15 * plane + tx]
                    top[2 * tx] = a.0 + a.1 + a.2
                    top[2 * tx + 1] = a.1 - a.2 - a.3
                    bottom[2 * tx] = b.0 + b.1 + b.2
                    bottom[2 * tx + 1] = b.1 - b.2 - b.3
                }
                for r in 0..<Swift.min(2, h - 2 * ty) {
                    let offset = ((i * o + k) * h + 2 * ty + r) * w
                    finish(out + offset, rows + r * width, w, k, offset)
                }
            }
        }
    }
}
