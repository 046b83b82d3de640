import Tensor

/// ROAD, "remove and debias" (Rong et al., ICML 2022), as pytorch-grad-cam's
/// `ROADCombined` computes it: at each percentile p of 10, 20, …, 90 the pixels
/// at or above the map's p-th percentile (most relevant first, MoRF) — or at
/// or below its (100 − p)-th (least relevant first, LeRF) — are replaced by a
/// noisy linear imputation from the pixels kept, and the score's change is
/// averaged over the percentiles. Imputing from the neighbours, rather than
/// painting pixels black as deletion does, keeps the removed region's shape
/// from telling the model what was there. Combined = (LeRF − MoRF) / 2:
/// higher means the map's top pixels carry the score and its bottom ones do not.
public enum ROAD {
    public static let percentiles: [Double] = [10, 20, 30, 40, 50, 60, 70, 80, 90]
    /// pytorch-grad-cam's noise: the standard deviation added to imputed values.
    public static let noise: Float = 0.01

    public struct Scores: Sendable, Equatable {
        /// The mean change of the score when the most relevant pixels are imputed (lower is better).
        public let mostRelevantFirst: Float
        /// The mean change when the least relevant are (near 0 is better).
        public let leastRelevantFirst: Float
        public var combined: Float { (leastRelevantFirst - mostRelevantFirst) / 2 }
    }

    /// The ROAD scores of `map` (H·W values) for the model input `image`
    /// [1, C, H, W]; `score` gives a batch's scores [B, C, H, W] → B values.
    /// The noise is seeded, so a run repeats.
    public static func scores(image: Tensor, map: [Float], seed: UInt64, noise: Float = noise,
                              score: (Tensor) -> [Float]) -> Scores {
        let (c, h, w) = (image.shape[1], image.shape[2], image.shape[3])
        precondition(map.count == h * w, "ROAD: the map has \(map.count) values for a \(h)×\(w) image")
        var rng = SeededGenerator(seed: seed)
        let base = score(image)[0]
        // The mean change of the score over the percentiles: one batch of imputed images.
        func meanChange(mostRelevantFirst: Bool) -> Float {
            let batch = percentiles.flatMap { p in
                imputed(image, keep: kept(map: map, percentile: p, mostRelevantFirst: mostRelevantFirst),
                        noise: noise, using: &rng).values
            }
            let changes = score(Tensor(shape: [percentiles.count, c, h, w], values: batch)).map { $0 - base }
            return changes.reduce(0, +) / Float(changes.count)
        }
        let mostRelevantFirst = meanChange(mostRelevantFirst: true)
        return Scores(mostRelevantFirst: mostRelevantFirst, leastRelevantFirst: meanChange(mostRelevantFirst: false))
    }

    /// The pixels kept at percentile `p`, exactly as pytorch-grad-cam decides:
    /// the map scaled to [0, 1] as its `scale_cam_image` does, then kept where
    /// below `np.percentile` (linear interpolation) of it — of 1 − it for LeRF.
    public static func kept(map: [Float], percentile p: Double, mostRelevantFirst: Bool) -> [Bool] {
        let low = map.min() ?? 0, high = map.max() ?? 0
        var scaled = map.map { ($0 - low) / (1e-7 + high - low) }
        if !mostRelevantFirst { scaled = scaled.map { 1 - $0 } }
        let sorted = scaled.sorted()
        let position = p / 100 * Double(sorted.count - 1)
        let i = Int(position.rounded(.down)), fraction = position - Double(i)
        let next = sorted[Swift.min(i + 1, sorted.count - 1)]
        let threshold = Double(sorted[i]) + fraction * (Double(next) - Double(sorted[i]))
        return scaled.map { Double($0) < threshold }
    }

    /// pytorch-grad-cam's `NoisyLinearImputer`: every removed pixel becomes
    /// the weighted mean of its eight neighbours inside the image (1/6 across,
    /// 1/12 diagonally), kept neighbours with their values and removed ones
    /// with theirs — one sparse linear system per channel, solved here by
    /// conjugate gradients in double precision (it is symmetric positive
    /// definite wherever some pixel is kept; with none kept, the image becomes
    /// zeros, as SciPy's solver makes it there) — plus Gaussian noise of `noise`
    /// on the imputed pixels.
    public static func imputed(_ image: Tensor, keep: [Bool], noise: Float, using rng: inout SeededGenerator) -> Tensor {
        let (c, h, w) = (image.shape[1], image.shape[2], image.shape[3])
        let plane = h * w
        let removed = (0..<plane).filter { !keep[$0] }
        guard !removed.isEmpty else { return image }
        var unknown = [Int](repeating: -1, count: plane)
        for (k, i) in removed.enumerated() { unknown[i] = k }
        let neighbours: [(dy: Int, dx: Int, weight: Double)] = [
            (1, 1, 1.0 / 12), (0, 1, 1.0 / 6), (-1, 1, 1.0 / 12), (1, -1, 1.0 / 12),
            (0, -1, 1.0 / 6), (-1, -1, 1.0 / 12), (1, 0, 1.0 / 6), (-1, 0, 1.0 / 6),
        ]
        // Row k of the system: diagonal[k]·x_k − Σ weight·x_j (removed neighbours j) = Σ weight·value (kept ones).
        let system = SparseSystem(size: removed.count)
        var knownLinks: [[(pixel: Int, weight: Double)]] = Array(repeating: [], count: removed.count)
        for (k, i) in removed.enumerated() {
            let (y, x) = (i / w, i % w)
            for n in neighbours {
                let (ny, nx) = (y + n.dy, x + n.dx)
                guard ny >= 0, ny < h, nx >= 0, nx < w else { continue }
                system.diagonal[k] += n.weight
                let j = ny * w + nx
                if unknown[j] >= 0 { system.link(unknown[j], n.weight) } else { knownLinks[k].append((j, n.weight)) }
            }
            system.endRow()
        }
        var values = image.values
        for ch in 0..<c {
            let offset = ch * plane
            let rhs = knownLinks.map { $0.reduce(0.0) { $0 + $1.weight * Double(values[offset + $1.pixel]) } }
            let solution = system.solve(rhs)
            for (k, i) in removed.enumerated() { values[offset + i] = Float(solution[k]) }
        }
        if noise > 0 {
            for ch in 0..<c { for i in removed { values[ch * plane + i] += noise * rng.nextGaussian() } }
        }
        return Tensor(shape: image.shape, values: values)
    }
}

/// ROAD's linear system, rows in compressed form: A = diag(diagonal) − the
/// links' weights, symmetric positive semi-definite.
private final class SparseSystem {
    var diagonal: [Double]
    private var rowStart = [0], columns: [Int] = [], weights: [Double] = []

    init(size: Int) { diagonal = [Double](repeating: 0, count: size) }

    /// Adds −weight at `column` of the current row; rows are filled in order, each closed by `endRow`.
    func link(_ column: Int, _ weight: Double) {
        columns.append(column)
        weights.append(weight)
    }

    func endRow() { rowStart.append(columns.count) }

    /// Solves A·x = b by conjugate gradients from x = 0, to a residual of 1e-8 of b's (far below the
    /// imputation's noise).
    func solve(_ b: [Double]) -> [Double] {
        let n = b.count
        var x = [Double](repeating: 0, count: n), r = b, p = r, ap = [Double](repeating: 0, count: n)
        var rr = r.reduce(0) { $0 + $1 * $1 }
        let stop = rr * 1e-16
        var iterations = 0
        while rr > stop, rr > 0, iterations < 4 * n + 100 {
            iterations += 1
            var pap = 0.0
            for k in 0..<n {
                var v = diagonal[k] * p[k]
                for e in rowStart[k]..<rowStart[k + 1] { v -= weights[e] * p[columns[e]] }
                ap[k] = v
                pap += p[k] * v
            }
            let alpha = rr / pap
            var next = 0.0
            for k in 0..<n {
                x[k] += alpha * p[k]
                r[k] -= alpha * ap[k]
                next += r[k] * r[k]
            }
            let beta = next / rr
            rr = next
            for k in 0..<n { p[k] = r[k] + beta * p[k] }
        }
        return x
    }
}
