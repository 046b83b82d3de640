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
enum LayerMaps {
    /// Σ_k w_k A_k for channel weights w [C].
    static func weighted(_ a: UnsafePointer<Float>, _ w: [Float], hw: Int) -> [Float] {
        var map = [Float](repeating: 0, count: hw)
        for (k, wk) in w.enumerated() where wk != 0 {
            let ak = a + k * hw
            for i in 0..<hw { map[i] += wk * ak[i] }
        }
        return map
    }

    /// The signed map of a gradient method for one target.
    static func gradientMap(_ method: Method, a: UnsafePointer<Float>, g: UnsafePointer<Float>, c: Int, hw: Int) -> [Float] {
        switch method {
        case .gradcam, .guidedGradcam:
            // α_k = mean of the gradient over positions (Selvaraju et al. eq. 1).
            let w = (0..<c).map { k -> Float in
                var s: Float = 0
                for i in 0..<hw { s += g[k * hw + i] }
                return s / Float(hw)
            }
            return weighted(a, w, hw: hw)
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
            return weighted(a, w, hw: hw)
        case .xgradcam:
            // Fu et al.: w_k = Σ (A / ΣA) g, eps 1e-7 as pytorch-grad-cam.
            let w = (0..<c).map { k -> Float in
                var sumA: Float = 0
                for i in 0..<hw { sumA += a[k * hw + i] }
                var s: Float = 0
                for i in 0..<hw { s += g[k * hw + i] * a[k * hw + i] }
                return s / (sumA + 1e-7)
            }
            return weighted(a, w, hw: hw)
        case .hirescam:
            // Draelos & Carin: Σ_k g_k ⊙ A_k, no averaging.
            var map = [Float](repeating: 0, count: hw)
            for k in 0..<c { for i in 0..<hw { map[i] += g[k * hw + i] * a[k * hw + i] } }
            return map
        case .layercam:
            // Jiang et al.: Σ_k ReLU(g_k) ⊙ A_k (the outer ReLU comes in post-processing).
            var map = [Float](repeating: 0, count: hw)
            for k in 0..<c { for i in 0..<hw { map[i] += Swift.max(g[k * hw + i], 0) * a[k * hw + i] } }
            return map
        case .scorecam, .eigencam, .guidedBackprop:
            preconditionFailure("\(method.rawValue) is not a gradient-weighted map")
        }
    }

    /// Eigen-CAM (Muhammad & Yeasin): A as (hw × C), centred per channel,
    /// projected on its first right singular vector. The sign of a singular
    /// vector is arbitrary; it is chosen so that the projection's largest
    /// magnitude is positive (pytorch-grad-cam leaves it to the SVD).
    static func eigenMap(_ a: UnsafePointer<Float>, c: Int, hw: Int) -> [Float] {
        // X[i][k] = A_k[i] − mean_k; the right singular vector is XᵀX's top eigenvector.
        var x = [Double](repeating: 0, count: hw * c)
        for k in 0..<c {
            var mean = 0.0
            for i in 0..<hw { mean += Double(a[k * hw + i]) }
            mean /= Double(hw)
            for i in 0..<hw { x[i * c + k] = Double(a[k * hw + i]) - mean }
        }
        var cov = [Double](repeating: 0, count: c * c)
        for i in 0..<hw {
            for p in 0..<c where x[i * c + p] != 0 {
                let xp = x[i * c + p]
                for q in 0..<c { cov[p * c + q] += xp * x[i * c + q] }
            }
        }
        // Power iteration from a fixed start, so the result is deterministic.
        var v = [Double](repeating: 1 / Double(c).squareRoot(), count: c)
        for _ in 0..<500 {
            var next = [Double](repeating: 0, count: c)
            for p in 0..<c { for q in 0..<c { next[p] += cov[p * c + q] * v[q] } }
            let norm = next.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard norm > 0 else { return [Float](repeating: 0, count: hw) }
            let change = zip(next, v).reduce(0) { $0 + abs($1.0 / norm - $1.1) }
            v = next.map { $0 / norm }
            if change < 1e-12 { break }
        }
        var map = (0..<hw).map { i in Float((0..<c).reduce(0.0) { $0 + x[i * c + $1] * v[$1] }) }
        if let extreme = map.max(by: { abs($0) < abs($1) }), extreme < 0 { map = map.map { -$0 } }
        return map
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
