import Foundation
import Models
import Tensor

/// The explanation methods (cli.md, `--method`).
public enum Method: String, CaseIterable, Sendable {
    case gradcam
    case gradcamPlusPlus = "gradcam++"
    case hirescam, layercam, xgradcam, scorecam, eigencam
    case guidedBackprop = "guided-backprop"
    case guidedGradcam = "guided-gradcam"

    /// Whether the method makes a map at the explained layer.
    public var hasLayerMap: Bool { self != .guidedBackprop }
    /// Whether the method needs the gradient with respect to the input image.
    public var needsGuidedGradient: Bool { self == .guidedBackprop || self == .guidedGradcam }
    /// Whether the method needs gradients at the layer.
    var usesLayerGradients: Bool {
        switch self {
        case .gradcam, .gradcamPlusPlus, .hirescam, .layercam, .xgradcam, .guidedGradcam: return true
        case .scorecam, .eigencam, .guidedBackprop: return false
        }
    }
}

/// Maps at layer resolution from one activation A [C, h, w] and gradients G [C, h, w].
/// Formulas follow the method papers; where pytorch-grad-cam differs, it is
/// followed and the difference noted.
///
/// Every weighted method's map is a sum over channels of contributions
/// P_k (w_k A_k, or G_k ⊙ A_k element-wise); with `eigen` (`--eigen-smooth`,
/// pytorch-grad-cam's `eigen_smooth`) the map is instead P's first principal
/// component over positions.
enum LayerMaps {
    /// Σ_k w_k A_k for channel weights w [C], or with `eigen` the principal component of the w_k A_k.
    static func weighted(_ a: UnsafePointer<Float>, _ w: [Float], hw: Int, eigen: Bool = false) -> [Float] {
        if eigen {
            var p = [Float](repeating: 0, count: w.count * hw)
            for (k, wk) in w.enumerated() { for i in 0..<hw { p[k * hw + i] = wk * a[k * hw + i] } }
            return p.withUnsafeBufferPointer { principalProjection($0.baseAddress!, c: w.count, hw: hw) }
        }
        var map = [Float](repeating: 0, count: hw)
        for (k, wk) in w.enumerated() where wk != 0 {
            let ak = a + k * hw
            for i in 0..<hw { map[i] += wk * ak[i] }
        }
        return map
    }

    /// The signed map of a gradient method for one target.
    static func gradientMap(_ method: Method, a: UnsafePointer<Float>, g: UnsafePointer<Float>, c: Int, hw: Int,
                            eigen: Bool = false) -> [Float] {
        switch method {
        case .gradcam, .guidedGradcam:
            // α_k = mean of the gradient over positions (Selvaraju et al. eq. 1).
            let w = (0..<c).map { k -> Float in
                var s: Float = 0
                for i in 0..<hw { s += g[k * hw + i] }
                return s / Float(hw)
            }
            return weighted(a, w, hw: hw, eigen: eigen)
        case .gradcamPlusPlus:
            // Chattopadhay et al. eq. 19 with pytorch-grad-cam's eps 1e-6 and a = 0 where g = 0.
            let w = (0..<c).map { k -> Float in
                var sumA: Float = 0
                for i in 0..<hw { sumA += a[k * hw + i] }
                var s: Float = 0
                for i in 0..<hw {
                    let gi = g[k * hw + i]
                    guard gi != 0 else { continue }
                    let g2 = gi * gi
                    let alpha = g2 / (2 * g2 + sumA * g2 * gi + 1e-6)
                    s += alpha * Swift.max(gi, 0)
                }
                return s
            }
            return weighted(a, w, hw: hw, eigen: eigen)
        case .xgradcam:
            // Fu et al.: w_k = Σ (A / ΣA) g, eps 1e-7 as pytorch-grad-cam.
            let w = (0..<c).map { k -> Float in
                var sumA: Float = 0
                for i in 0..<hw { sumA += a[k * hw + i] }
                var s: Float = 0
                for i in 0..<hw { s += g[k * hw + i] * a[k * hw + i] }
                return s / (sumA + 1e-7)
            }
            return weighted(a, w, hw: hw, eigen: eigen)
        case .hirescam, .layercam:
            // HiResCAM (Draelos & Carin): Σ_k g_k ⊙ A_k, no averaging. LayerCAM (Jiang et al.):
            // Σ_k ReLU(g_k) ⊙ A_k (the outer ReLU comes in post-processing).
            let positive = method == .layercam
            var p = [Float](repeating: 0, count: c * hw)
            for j in 0..<(c * hw) { p[j] = (positive ? Swift.max(g[j], 0) : g[j]) * a[j] }
            if eigen { return p.withUnsafeBufferPointer { principalProjection($0.baseAddress!, c: c, hw: hw) } }
            var map = [Float](repeating: 0, count: hw)
            for k in 0..<c { for i in 0..<hw { map[i] += p[k * hw + i] } }
            return map
        case .scorecam, .eigencam, .guidedBackprop:
            preconditionFailure("\(method.rawValue) is not a gradient-weighted map")
        }
    }

    /// The first principal component of x [C, hw] over positions, as
    /// pytorch-grad-cam's `get_2d_projection` computes it for Eigen-CAM (Muhammad
    /// & Yeasin) and `eigen_smooth`: X (hw × C), each channel centred, projected
    /// on its first right singular vector. A singular vector's sign is arbitrary;
    /// the map is flipped when its minimum outweighs its maximum, as the
    /// library's `get_2d_projection_with_sign_correction` does.
    ///
    /// The top eigenvector comes from the smaller of XᵀX (C × C) and XXᵀ
    /// (hw × hw) — for XXᵀ's u with eigenvalue λ the projection is XXᵀu / √λ —
    /// by power iteration from a fixed start, so the result is deterministic.
    static func principalProjection(_ x: UnsafePointer<Float>, c: Int, hw: Int) -> [Float] {
        var centred = [Double](repeating: 0, count: c * hw)
        for k in 0..<c {
            var mean = 0.0
            for i in 0..<hw { mean += Double(x[k * hw + i]) }
            mean /= Double(hw)
            for i in 0..<hw { centred[k * hw + i] = Double(x[k * hw + i]) - mean }
        }
        var projection = [Double](repeating: 0, count: hw)
        if c <= hw {
            var cov = [Double](repeating: 0, count: c * c)
            for p in 0..<c {
                for q in p..<c {
                    var s = 0.0
                    for i in 0..<hw { s += centred[p * hw + i] * centred[q * hw + i] }
                    cov[p * c + q] = s
                    cov[q * c + p] = s
                }
            }
            guard let v = topEigenvector(cov, n: c) else { return [Float](repeating: 0, count: hw) }
            for k in 0..<c where v[k] != 0 { for i in 0..<hw { projection[i] += centred[k * hw + i] * v[k] } }
        } else {
            var gram = [Double](repeating: 0, count: hw * hw)
            for k in 0..<c {
                let row = k * hw
                for i in 0..<hw where centred[row + i] != 0 {
                    let xi = centred[row + i]
                    for j in i..<hw { gram[i * hw + j] += xi * centred[row + j] }
                }
            }
            for i in 0..<hw { for j in 0..<i { gram[i * hw + j] = gram[j * hw + i] } }
            guard let u = topEigenvector(gram, n: hw) else { return [Float](repeating: 0, count: hw) }
            var gu = [Double](repeating: 0, count: hw)
            for i in 0..<hw { for j in 0..<hw { gu[i] += gram[i * hw + j] * u[j] } }
            let lambda = zip(u, gu).reduce(0) { $0 + $1.0 * $1.1 }
            guard lambda > 0 else { return [Float](repeating: 0, count: hw) }
            projection = gu.map { $0 / lambda.squareRoot() }
        }
        let lo = projection.min() ?? 0, hi = projection.max() ?? 0
        return projection.map { Float(abs(lo) > abs(hi) ? -$0 : $0) }
    }

    /// The unit eigenvector of the symmetric n × n `matrix` with the largest
    /// eigenvalue, by power iteration; nil when the matrix is zero.
    static func topEigenvector(_ matrix: [Double], n: Int) -> [Double]? {
        // A fixed start with no symmetry: a constant vector is orthogonal to every
        // centred principal direction of XXᵀ.
        var v = (0..<n).map { i -> Double in
            let s = sin(Double(i + 1) * 12.9898) * 43758.5453
            return s - s.rounded(.down) - 0.5
        }
        for _ in 0..<5000 {
            var next = [Double](repeating: 0, count: n)
            for p in 0..<n {
                var s = 0.0
                for q in 0..<n { s += matrix[p * n + q] * v[q] }
                next[p] = s
            }
            let norm = next.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard norm > 0 else { return nil }
            let change = zip(next, v).reduce(0) { $0 + abs($1.0 / norm - $1.1) }
            v = next.map { $0 / norm }
            if change < 1e-13 * Double(n) { break }
        }
        return v
    }
}

/// How the `cams` maps are scaled (export-format.md, `--normalize`).
public enum Normalization: String, CaseIterable, Sendable {
    case token, sequence, none
}

enum PostProcessing {
    /// ReLU, bilinear upsampling with half-pixel centres to the input size, then
    /// normalisation: raw [T, h, w] → cams [T, H, W]. An all-zero map stays zero.
    static func cams(raw: Tensor, height: Int, width: Int, normalize: Normalization) -> Tensor {
        let t = raw.shape[0], h = raw.shape[1], w = raw.shape[2]
        guard t > 0 else { return Tensor.zeros([0, height, width]) }
        let up = raw.relu().reshaped([t, 1, h, w]).resizedBilinear(height: height, width: width)
        var values = up.values
        let plane = height * width
        func scale(_ range: Range<Int>, lo: Float, hi: Float) {
            let span = hi - lo
            for i in range { values[i] = span > 0 ? (values[i] - lo) / span : 0 }
        }
        switch normalize {
        case .none: break
        case .token:
            for k in 0..<t {
                let r = (k * plane)..<((k + 1) * plane)
                scale(r, lo: values[r].min()!, hi: values[r].max()!)
            }
        case .sequence:
            scale(0..<values.count, lo: values.min()!, hi: values.max()!)
        }
        return Tensor(shape: [t, height, width], values: values)
    }
}

extension ModelDirectory {
    /// The method commands use when none is asked for: config.json's
    /// `explain_method` (checked against `ModelConfig.explainMethods` when
    /// loaded), else Grad-CAM.
    public var defaultMethod: Method { config.explainMethod.flatMap(Method.init(rawValue:)) ?? .gradcam }
}
