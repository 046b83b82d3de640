import Tensor
import XCTest

/// Finite-difference gradient checks: the engine's gradient of L = Σ w ⊙ f(x)
/// (w random, fixed) against central differences of L accumulated in Float64.
func checkGradients(_ inputs: [Tensor], eps: Float = 1e-2, tolerance: Double = 2e-2,
                    maxElements: Int = 60, seed: UInt64 = 7,
                    file: StaticString = #filePath, line: UInt = #line,
                    _ f: ([Tensor]) -> Tensor) {
    var rng = SeededGenerator(seed: seed)
    let tracked = inputs.map { $0.tracked() }
    let y = f(tracked)
    let w = Tensor.randn(y.shape, using: &rng)
    let analytic: [Tensor]
    do {
        analytic = try gradients(of: y, withRespectTo: tracked, seed: w)
    } catch {
        XCTFail("gradients threw \(error)", file: file, line: line)
        return
    }
    let weights = w.values

    func loss(_ xs: [Tensor]) -> Double {
        zip(f(xs).values, weights).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    for (i, x) in inputs.enumerated() {
        let base = x.values
        let ga = analytic[i].values
        // Check every element of small inputs, an even sample of large ones.
        let step = max(1, base.count / maxElements)
        var worst = 0.0
        var scale = 1e-3
        for j in stride(from: 0, to: base.count, by: step) {
            var plus = base, minus = base
            plus[j] += eps
            minus[j] -= eps
            var xs = inputs
            xs[i] = Tensor(shape: x.shape, values: plus)
            let lp = loss(xs)
            xs[i] = Tensor(shape: x.shape, values: minus)
            let lm = loss(xs)
            let numeric = (lp - lm) / Double(plus[j] - minus[j])
            worst = max(worst, abs(numeric - Double(ga[j])))
            scale = max(scale, abs(numeric))
        }
        XCTAssertLessThanOrEqual(worst / scale, tolerance,
                                 "input \(i) of shape \(x.shape): worst gradient error \(worst) against scale \(scale)",
                                 file: file, line: line)
    }
}

/// A random tensor whose values stay at least `margin` away from zero, so
/// kinks (ReLU, max) are not straddled by the finite difference.
func randomAwayFromZero(_ shape: [Int], margin: Float = 0.05, seed: UInt64) -> Tensor {
    var rng = SeededGenerator(seed: seed)
    let values = (0..<shape.reduce(1, *)).map { _ -> Float in
        let v = rng.nextGaussian()
        return v >= 0 ? v + margin : v - margin
    }
    return Tensor(shape: shape, values: values)
}

func random(_ shape: [Int], seed: UInt64, std: Float = 1) -> Tensor {
    var rng = SeededGenerator(seed: seed)
    return Tensor.randn(shape, std: std, using: &rng)
}

/// Distinct values (no ties), shuffled, for max-based ops.
func distinct(_ shape: [Int], seed: UInt64) -> Tensor {
    var rng = SeededGenerator(seed: seed)
    let n = shape.reduce(1, *)
    let values = (0..<n).map { Float($0) * 0.1 - Float(n) * 0.05 }.shuffled(using: &rng)
    return Tensor(shape: shape, values: values)
}
