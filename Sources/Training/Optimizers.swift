import Foundation
import NN
import Tensor

/// Updates parameters from their gradients. An optimiser keeps per-parameter
/// state (momentum, moments) in the order the parameters are given.
public protocol Optimizer: AnyObject {
    var learningRate: Float { get set }
    func step(_ parameters: [Parameter], _ gradients: [Tensor])
    /// The state to checkpoint, by name, and its restoration.
    func state() -> [String: Tensor]
    func restore(_ state: [String: Tensor]) throws
}

public struct OptimizerStateError: Error, CustomStringConvertible {
    public let description: String
}

/// SGD with momentum (PyTorch's form: v ← μv + g, p ← p − lr·v), optional weight decay.
public final class SGD: Optimizer {
    public var learningRate: Float
    public let momentum: Float, weightDecay: Float
    /// Threads sharing the update, each a set of whole parameters.
    public let threads: Int
    /// One parameter's velocity: an object each, so threads update their own.
    private final class Velocity {
        var v: [Float]
        init(_ v: [Float]) { self.v = v }
    }
    private var velocities: [Velocity] = []

    public init(learningRate: Float, momentum: Float = 0.9, weightDecay: Float = 0, threads: Int = 1) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.threads = max(threads, 1)
    }

    public func step(_ parameters: [Parameter], _ gradients: [Tensor]) {
        if velocities.isEmpty { velocities = parameters.map { Velocity([Float](repeating: 0, count: $0.value.count)) } }
        let (lr, mu, decay, velocities) = (learningRate, momentum, weightDecay, self.velocities)
        updateEach(parameters, gradients, threads: threads) { i, ow, gv, w in
            velocities[i].v.withUnsafeMutableBufferPointer { vv in
                for j in 0..<ow.count {
                    vv[j] = mu * vv[j] + gv[j] + decay * ow[j]
                    w[j] = ow[j] - lr * vv[j]
                }
            }
        }
    }

    public func state() -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: velocities.enumerated().map { ("velocity.\($0.offset)", Tensor(shape: [$0.element.v.count], values: $0.element.v)) })
    }

    public func restore(_ state: [String: Tensor]) throws {
        velocities = try (0..<state.count).map { i in
            guard let t = state["velocity.\(i)"] else {
                throw OptimizerStateError(description: "optimizer state lacks velocity.\(i) (was the run trained with another --optimizer?)")
            }
            return Velocity(t.values)
        }
    }
}

/// Adam (Kingma & Ba) with PyTorch's defaults and bias correction.
public final class Adam: Optimizer {
    public var learningRate: Float
    public let beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    /// Threads sharing the update, each a set of whole parameters.
    public let threads: Int
    /// One parameter's moments: an object each, so threads update their own.
    private final class Moments {
        var m: [Float], v: [Float]
        init(m: [Float], v: [Float]) { (self.m, self.v) = (m, v) }
    }
    private var moments: [Moments] = []
    private var t = 0

    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8,
                weightDecay: Float = 0, threads: Int = 1) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.threads = max(threads, 1)
    }

    public func step(_ parameters: [Parameter], _ gradients: [Tensor]) {
        if moments.isEmpty {
            moments = parameters.map { p in
                let zeros = [Float](repeating: 0, count: p.value.count)
                return Moments(m: zeros, v: zeros)
            }
        }
        t += 1
        let c1 = 1 - powf(beta1, Float(t)), c2 = 1 - powf(beta2, Float(t))
        let stepSize = learningRate / c1
        let (b1, b2, decay, eps, moments) = (beta1, beta2, weightDecay, self.eps, self.moments)
        updateEach(parameters, gradients, threads: threads) { i, ow, gv, w in
            let state = moments[i]
            state.m.withUnsafeMutableBufferPointer { mm in
                state.v.withUnsafeMutableBufferPointer { vv in
                    for j in 0..<ow.count {
                        let grad = gv[j] + decay * ow[j]
                        mm[j] = b1 * mm[j] + (1 - b1) * grad
                        vv[j] = b2 * vv[j] + (1 - b2) * grad * grad
                        w[j] = ow[j] - stepSize * mm[j] / ((vv[j] / c2).squareRoot() + eps)
                    }
                }
            }
        }
    }

    public func state() -> [String: Tensor] {
        var s: [String: Tensor] = ["step": Tensor(scalar: Float(t))]
        for (i, state) in moments.enumerated() {
            s["m.\(i)"] = Tensor(shape: [state.m.count], values: state.m)
            s["v.\(i)"] = Tensor(shape: [state.v.count], values: state.v)
        }
        return s
    }

    public func restore(_ state: [String: Tensor]) throws {
        guard let step = state["step"] else {
            throw OptimizerStateError(description: "optimizer state lacks its step count (was the run trained with another --optimizer?)")
        }
        let count = (state.count - 1) / 2
        moments = try (0..<count).map { i in
            guard let mi = state["m.\(i)"], let vi = state["v.\(i)"] else {
                throw OptimizerStateError(description: "optimizer state lacks the moments of parameter \(i)")
            }
            return Moments(m: mi.values, v: vi.values)
        }
        t = Int(step.scalar)
    }
}

/// Replaces every parameter by new values that `update(i, old, gradient, new)`
/// writes, on up to `threads` threads, each a set of whole parameters (so each
/// parameter's optimiser state is touched by one thread).
private func updateEach(_ parameters: [Parameter], _ gradients: [Tensor], threads: Int,
                        _ update: (Int, UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
    let shares = balancedShares(parameters.map(\.value.count), parts: threads)
    concurrently(shares.count) { s in
        for i in shares[s] {
            let old = parameters[i].value, g = gradients[i]
            parameters[i].value = Tensor(shape: old.shape) { w in
                old.withUnsafeBufferPointer { ow in g.withUnsafeBufferPointer { gv in update(i, ow, gv, w) } }
            }
        }
    }
}

/// Indices of `sizes` in at most `parts` groups of nearly equal total size
/// (largest first, each to the lightest group); no group is empty.
func balancedShares(_ sizes: [Int], parts: Int) -> [[Int]] {
    let n = min(max(parts, 1), sizes.count)
    var groups = [[Int]](repeating: [], count: n), totals = [Int](repeating: 0, count: n)
    for i in sizes.indices.sorted(by: { sizes[$0] > sizes[$1] }) {
        let lightest = totals.indices.min { totals[$0] < totals[$1] }!
        groups[lightest].append(i)
        totals[lightest] += sizes[i]
    }
    return groups
}

/// Scales gradients so their joint L2 norm is at most `maxNorm` (PyTorch's
/// clip_grad_norm_), as LSTMs need. Returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ gradients: inout [Tensor], maxNorm: Float) -> Float {
    let total = gradients.reduce(0.0) { acc, g in
        acc + g.withUnsafeBufferPointer { $0.reduce(0.0) { $0 + Double($1) * Double($1) } }
    }
    let norm = Float(total.squareRoot())
    if norm > maxNorm {
        let scale = maxNorm / (norm + 1e-6)
        gradients = gradients.map { $0 * scale }
    }
    return norm
}

/// The learning rate at a point of training.
public enum LearningRateSchedule: Sendable {
    case constant
    /// Multiplied by `gamma` every `epochs` epochs.
    case step(epochs: Int, gamma: Float)
    /// Cosine decay from the base rate to zero over the whole run.
    case cosine

    public func rate(base: Float, epoch: Int, totalEpochs: Int, progress: Float) -> Float {
        switch self {
        case .constant: return base
        case let .step(every, gamma): return base * powf(gamma, Float(epoch / max(every, 1)))
        case .cosine:
            let position = (Float(epoch) + progress) / Float(max(totalEpochs, 1))
            return base * 0.5 * (1 + cosf(.pi * min(position, 1)))
        }
    }
}
