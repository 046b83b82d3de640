/// The one backward engine: reverse mode over the graph that ops record as they run.
///
/// Every op defines its backward rule beside its forward (as micrograd does)
/// and hands it to `Tensor.result`. The rule receives the gradient of the
/// op's output and which inputs need a gradient, and returns one gradient
/// per input (nil where not needed). Rules compute with plain, unrecorded
/// tensors: backward is never itself recorded.
public typealias Backward = (_ grad: Tensor, _ needs: [Bool]) -> [Tensor?]

/// How a recorded tensor was made.
final class Node {
    let op: String
    let inputs: [Tensor]
    let backward: Backward

    init(op: String, inputs: [Tensor], backward: @escaping Backward) {
        self.op = op
        self.inputs = inputs
        self.backward = backward
    }
}

/// What a replacement backward rule sees of one recorded op.
public struct BackwardContext {
    /// The op's name, as given to `Tensor.result` ("relu", "conv2d", …).
    public let op: String
    public let inputs: [Tensor]
    public let output: Tensor
    /// The gradient arriving at the op's output.
    public let grad: Tensor
    /// Which inputs need a gradient.
    public let needs: [Bool]
    let standardRule: Backward

    /// The op's own rule, for replacements that adjust rather than replace it.
    public func standard(grad: Tensor? = nil) -> [Tensor?] { standardRule(grad ?? self.grad, needs) }
}

/// Backward rules swapped in for one pass, by op name, without touching layer code:
/// guided backpropagation replaces the rule of `relu`.
public struct BackwardRules {
    public typealias Rule = (BackwardContext) -> [Tensor?]
    var rules: [String: Rule] = [:]

    public init() {}
    public static var standard: BackwardRules { BackwardRules() }

    public func replacing(_ op: String, with rule: @escaping Rule) -> BackwardRules {
        var copy = self
        copy.rules[op] = rule
        return copy
    }

    /// Guided backpropagation (Springenberg et al.): at every ReLU the gradient
    /// passes only where the forward input was positive and the incoming
    /// gradient is positive.
    public static var guided: BackwardRules {
        BackwardRules().replacing("relu") { ctx in
            [Tensor.zip(ctx.inputs[0], ctx.grad) { x, g in x > 0 && g > 0 ? g : 0 }]
        }
    }
}

public enum GradientError: Error, CustomStringConvertible {
    case seedShape(output: [Int], seed: [Int])
    case nonScalarWithoutSeed([Int])

    public var description: String {
        switch self {
        case let .seedShape(output, seed):
            return "gradients: the seed's shape \(seed) differs from the output's shape \(output)"
        case let .nonScalarWithoutSeed(shape):
            return "gradients: the output has shape \(shape); a non-scalar output needs a seed of that shape"
        }
    }
}

/// The gradients of `y` with respect to each of `xs`, which may be leaves or
/// intermediate tensors of the recorded graph.
///
/// Only the part of the graph between `y` and `xs` is walked: an op whose
/// inputs cannot reach any of `xs` is skipped, and inside an op only the
/// needed input gradients are computed, so weight gradients cost nothing
/// unless the weights are among `xs`. With a `seed` of `y`'s shape this is
/// the vector–Jacobian product seedᵀ·∂y/∂x; without one, `y` must be a scalar.
/// A tensor of `xs` that `y` does not depend on gets a zero gradient.
public func gradients(of y: Tensor, withRespectTo xs: [Tensor], seed: Tensor? = nil,
                      rules: BackwardRules = .standard) throws -> [Tensor] {
    let start: Tensor
    if let seed {
        guard seed.shape == y.shape else { throw GradientError.seedShape(output: y.shape, seed: seed.shape) }
        start = seed
    } else {
        guard y.count == 1 else { throw GradientError.nonScalarWithoutSeed(y.shape) }
        start = Tensor.ones(y.shape)
    }
    let targets = Set(xs.map(ObjectIdentifier.init))
    let order = postorder(from: y)

    // A tensor is relevant when it is a target or leads to one.
    var relevant = Set<ObjectIdentifier>()
    for t in order {
        let id = ObjectIdentifier(t)
        if targets.contains(id) || (t.node?.inputs.contains { relevant.contains(ObjectIdentifier($0)) } ?? false) {
            relevant.insert(id)
        }
    }

    var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(y): start]
    // Sums this loop allocated: no op holds them yet, so later contributions are
    // added in place (a weight used at every LSTM step accumulates T times).
    var ownedSums = Set<ObjectIdentifier>()
    for t in order.reversed() {
        let id = ObjectIdentifier(t)
        guard let node = t.node, relevant.contains(id), let g = grads[id] else { continue }
        if !targets.contains(id) { grads[id] = nil }  // free memory as we go
        let needs = node.inputs.map { relevant.contains(ObjectIdentifier($0)) }
        let inputGrads: [Tensor?]
        if let rule = rules.rules[node.op] {
            inputGrads = rule(BackwardContext(op: node.op, inputs: node.inputs, output: t, grad: g,
                                              needs: needs, standardRule: node.backward))
        } else {
            inputGrads = node.backward(g, needs)
        }
        for (input, ig) in zip(node.inputs, inputGrads) {
            guard let ig, relevant.contains(ObjectIdentifier(input)) else { continue }
            precondition(ig.shape == input.shape,
                         "backward of \(node.op): gradient shape \(ig.shape) for input of shape \(input.shape)")
            let key = ObjectIdentifier(input)
            if let sum = grads[key] {
                if ownedSums.contains(key) {
                    add(ig, into: sum)
                } else {
                    grads[key] = sum.adding(ig)
                    ownedSums.insert(key)
                }
            } else {
                grads[key] = ig
            }
        }
    }
    return xs.map { grads[ObjectIdentifier($0)] ?? Tensor.zeros($0.shape) }
}

/// Tensors reachable from `y` through recorded ops, each after all its inputs.
/// Iterative, so long unrolled graphs cannot overflow the stack.
private func postorder(from y: Tensor) -> [Tensor] {
    var order: [Tensor] = []
    var visited = Set<ObjectIdentifier>()
    var stack: [(Tensor, Int)] = [(y, 0)]
    visited.insert(ObjectIdentifier(y))
    while let (t, next) = stack.popLast() {
        let inputs = t.node?.inputs ?? []
        if next < inputs.count {
            stack.append((t, next + 1))
            let input = inputs[next]
            if input.requiresGrad, visited.insert(ObjectIdentifier(input)).inserted {
                stack.append((input, 0))
            }
        } else {
            order.append(t)
        }
    }
    return order
}

/// `sum += g` for gradients of the same shape, in place.
private func add(_ g: Tensor, into sum: Tensor) {
    let ps = sum.storage.pointer, pg = g.storage.pointer
    for i in 0..<sum.count { ps[i] += pg[i] }
}

extension Tensor {
    /// self + other for gradients of the same shape, unrecorded, in a new buffer.
    fileprivate func adding(_ other: Tensor) -> Tensor {
        let pa = storage.pointer, pb = other.storage.pointer
        return Tensor(shape: shape) { po in
            for i in 0..<count { po[i] = pa[i] + pb[i] }
        }
    }
}
