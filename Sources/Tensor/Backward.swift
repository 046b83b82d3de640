/// The one backward engine: reverse mode over the graph that ops record as they run.
///
/// Every op defines its backward rule beside its forward (as micrograd does)
/// and hands it to `Tensor.result`. The rule receives the gradient of the
/// op's output and which inputs need a gradient, and returns one gradient
/// per input (nil where not needed). Rules compute with plain, unrecorded
/// tensors: backward is never itself recorded.
public typealias Backward = (_ grad: Tensor, _ needs: [Bool]) -> [Tensor?]

/// An op's identity in the recorded graph: what `BackwardRules` replacements
/// are keyed by. Each op records one of these constants, and a replacement
/// names the same constant, so renaming an op cannot silently detach a rule
/// from it (as a misspelt string key would).
public struct Op: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    private init(_ name: String) { self.name = name }
    public var description: String { name }

    public static let adaptiveAvgPool2d = Op("adaptive_avg_pool2d")
    public static let add = Op("add")
    public static let avgPool2d = Op("avg_pool2d")
    public static let batchNorm = Op("batch_norm")
    public static let batchNormTraining = Op("batch_norm_training")
    public static let clampMin = Op("clamp_min")
    public static let concat = Op("concat")
    public static let conv2d = Op("conv2d")
    public static let div = Op("div")
    public static let exp = Op("exp")
    public static let expand = Op("expand")
    public static let flatten = Op("flatten")
    public static let indexSelect = Op("index_select")
    public static let linear = Op("linear")
    public static let log = Op("log")
    public static let logSoftmax = Op("log_softmax")
    public static let lstmCell = Op("lstm_cell")
    public static let lstmLayer = Op("lstm_layer")
    public static let matmul = Op("matmul")
    public static let max = Op("max")
    public static let maxPool2d = Op("max_pool2d")
    public static let mul = Op("mul")
    public static let neg = Op("neg")
    public static let permute = Op("permute")
    public static let pick = Op("pick")
    public static let relu = Op("relu")
    public static let reshape = Op("reshape")
    public static let resizeBilinear = Op("resize_bilinear")
    public static let sigmoid = Op("sigmoid")
    public static let slice = Op("slice")
    public static let softmax = Op("softmax")
    public static let sqrt = Op("sqrt")
    public static let square = Op("square")
    public static let squeeze = Op("squeeze")
    public static let sub = Op("sub")
    public static let sum = Op("sum")
    public static let tanh = Op("tanh")
}

/// How a recorded tensor was made.
final class Node {
    let op: Op
    let inputs: [Tensor]
    let backward: Backward

    init(op: Op, inputs: [Tensor], backward: @escaping Backward) {
        self.op = op
        self.inputs = inputs
        self.backward = backward
    }
}

/// What a replacement backward rule sees of one recorded op.
public struct BackwardContext {
    /// The op, as recorded by `Tensor.result` (`.relu`, `.conv2d`, …).
    public let op: Op
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

/// Backward rules swapped in for one pass, by op, without touching layer code:
/// guided backpropagation replaces the rule of `relu`.
public struct BackwardRules {
    public typealias Rule = (BackwardContext) -> [Tensor?]
    var rules: [Op: Rule] = [:]

    public init() {}
    public static var standard: BackwardRules { BackwardRules() }

    public func replacing(_ op: Op, with rule: @escaping Rule) -> BackwardRules {
        var copy = self
        copy.rules[op] = rule
        return copy
    }

    /// Guided backpropagation (Springenberg et al.): at every ReLU the gradient
    /// passes only where the forward input was positive and the incoming
    /// gradient is positive.
    public static var guided: BackwardRules {
        BackwardRules().replacing(.relu) { ctx in
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
