import Tensor

// The layers of torchvision's VGG and ResNet and of the task heads, with
// PyTorch's parameter names, shapes and default initialisation.

/// How a new layer's parameters are filled: PyTorch's default initialisation
/// from a seeded generator, or placeholders when a checkpoint will replace them
/// anyway (so loading a large model pays for no random numbers and no memory).
public struct Initializer {
    var rng: SeededGenerator?
    /// When loading: the values the checkpoint holds, which no parameter may
    /// exceed (a config with a wrong width must not allocate a huge model).
    let budget: LoadingBudget?

    public static func random(seed: UInt64) -> Initializer { Initializer(rng: SeededGenerator(seed: seed), budget: nil) }
    public static var forLoading: Initializer { Initializer(rng: nil, budget: nil) }
    /// Placeholders, for a checkpoint holding the budget's numbers: a parameter that
    /// would take the total past them gets no memory (an empty placeholder) and
    /// marks the budget exceeded, for the caller to report before loading.
    public static func forLoading(_ budget: LoadingBudget) -> Initializer { Initializer(rng: nil, budget: budget) }

    public mutating func uniform(_ shape: [Int], bound: Float) -> Tensor {
        guard rng != nil else { return placeholder(shape) }
        return Tensor.uniform(shape, in: -bound...bound, using: &rng!)
    }

    public mutating func normal(_ shape: [Int], std: Float = 1) -> Tensor {
        guard rng != nil else { return placeholder(shape) }
        return Tensor.randn(shape, std: std, using: &rng!)
    }

    /// A parameter a checkpoint will replace: a placeholder, which takes no memory.
    private func placeholder(_ shape: [Int]) -> Tensor {
        guard let budget else { return .placeholder(shape) }
        return budget.take(shape) ? .placeholder(shape) : .zeros([0])
    }

    /// Kaiming-uniform with a = √5, PyTorch's default for Conv2d and Linear
    /// weights and biases: U(−1/√fanIn, 1/√fanIn).
    mutating func pytorchDefault(_ shape: [Int], fanIn: Int) -> Tensor {
        uniform(shape, bound: 1 / Float(Swift.max(fanIn, 1)).squareRoot())
    }
}

/// The numbers a checkpoint holds, spent by the parameters of the model built
/// to receive them.
public final class LoadingBudget {
    private var remaining: Int
    /// Whether some parameter did not fit: the model needs more numbers than
    /// the checkpoint has, so loading would fail anyway.
    public private(set) var exceeded = false

    public init(values: Int) { remaining = values }

    /// Spends `shape`'s element count, or marks the budget exceeded.
    func take(_ shape: [Int]) -> Bool {
        var count = 1
        for d in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, product <= remaining else { exceeded = true; return false }
            count = product
        }
        remaining -= count
        return true
    }
}

public final class Conv2d: Module {
    public let weight: Parameter
    public let bias: Parameter?
    public let stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int), groups: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                dilation: Int = 1, groups: Int = 1, bias: Bool = true, initializer: inout Initializer) {
        let fanIn = inChannels / groups * kernel * kernel
        self.stride = (stride, stride)
        self.padding = (padding, padding)
        self.dilation = (dilation, dilation)
        self.groups = groups
        let w = initializer.pytorchDefault([outChannels, inChannels / groups, kernel, kernel], fanIn: fanIn)
        let b = bias ? initializer.pytorchDefault([outChannels], fanIn: fanIn) : nil
        weight = Parameter(w)
        self.bias = b.map { Parameter($0) }
        super.init()
        register("weight", weight)
        if let p = self.bias { register("bias", p) }
    }

    public override func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        x.conv2d(weight: weight.value, bias: bias?.value, stride: stride, padding: padding,
                 dilation: dilation, groups: groups)
    }
}

public final class Linear: Module {
    public let weight: Parameter
    public let bias: Parameter?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, initializer: inout Initializer) {
        weight = Parameter(initializer.pytorchDefault([outFeatures, inFeatures], fanIn: inFeatures))
        self.bias = bias ? Parameter(initializer.pytorchDefault([outFeatures], fanIn: inFeatures)) : nil
        super.init()
        register("weight", weight)
        if let p = self.bias { register("bias", p) }
    }

    public override func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        x.linear(weight: weight.value, bias: bias?.value)
    }
}

/// Batch normalisation over channels. Inference uses the running statistics;
/// training normalises by the batch's and updates the running ones
/// (momentum 0.1, unbiased variance), as PyTorch does.
public final class BatchNorm2d: Module {
    public let weight: Parameter, bias: Parameter
    public let runningMean: Parameter, runningVar: Parameter, batchesTracked: Parameter
    public let eps: Float, momentum: Float

    public init(_ channels: Int, eps: Float = 1e-5, momentum: Float = 0.1) {
        weight = Parameter(.ones([channels]))
        bias = Parameter(.zeros([channels]))
        runningMean = Parameter(.zeros([channels]), isBuffer: true)
        runningVar = Parameter(.ones([channels]), isBuffer: true)
        batchesTracked = Parameter(.zeros([]), isBuffer: true, isOptional: true)
        self.eps = eps
        self.momentum = momentum
        super.init()
        register("weight", weight)
        register("bias", bias)
        register("running_mean", runningMean)
        register("running_var", runningVar)
        register("num_batches_tracked", batchesTracked)
    }

    public override func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        guard ctx.training else {
            return x.batchNorm(mean: runningMean.value, variance: runningVar.value,
                               weight: weight.value, bias: bias.value, eps: eps)
        }
        let (y, mean, variance) = x.batchNormTraining(weight: weight.value, bias: bias.value, eps: eps)
        guard ctx.updatesStatistics else { return y }
        // Running statistics: PyTorch keeps the unbiased variance.
        let c = mean.count, n = Float(x.count / Swift.max(c, 1))
        let unbiased = variance.map { $0 * n / Swift.max(n - 1, 1) }
        runningMean.value = runningMean.value * (1 - momentum) + Tensor(shape: [c], values: mean) * momentum
        runningVar.value = runningVar.value * (1 - momentum) + Tensor(shape: [c], values: unbiased) * momentum
        batchesTracked.value = batchesTracked.value + 1
        return y
    }
}

public final class ReLU: Module {
    public override func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor { x.relu() }
}

public final class Tanh: Module {
    public override func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor { x.tanh() }
}

public final class MaxPool2d: Module {
    public let kernel: Int, stride: Int, padding: Int
    /// PyTorch's `ceil_mode` (Caffe's pooling rounds up).
    public let ceilMode: Bool

    public init(kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) {
        self.kernel = kernel
        self.stride = stride ?? kernel
        self.padding = padding
        self.ceilMode = ceilMode
    }

    public override func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        x.maxPool2d(kernel: (kernel, kernel), stride: (stride, stride), padding: (padding, padding), ceilMode: ceilMode)
    }
}

public final class AdaptiveAvgPool2d: Module {
    public let size: (Int, Int)

    public init(_ size: (Int, Int)) { self.size = size }

    public override func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        size == (1, 1) ? x.globalAvgPool2d().reshaped([x.shape[0], x.shape[1], 1, 1]) : x.adaptiveAvgPool2d(size)
    }
}

/// Zeroes each element with probability p in training, scaling the rest by
/// 1/(1−p); the identity at inference.
public final class Dropout: Module {
    public let p: Float

    public init(_ p: Float = 0.5) { self.p = p }

    public override func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        guard ctx.training, p > 0 else { return x }
        let keep = 1 - p
        var mask = [Float](repeating: 0, count: x.count)
        for i in mask.indices where ctx.rng.nextFloat() < keep { mask[i] = 1 / keep }
        return x * Tensor(shape: x.shape, values: mask)
    }
}

public final class Embedding: Module {
    public let weight: Parameter

    public init(_ count: Int, _ dim: Int, initializer: inout Initializer) {
        weight = Parameter(initializer.normal([count, dim]))
        super.init()
        register("weight", weight)
    }

    /// The rows of `ids`: [ids.count, dim].
    public func callAsFunction(_ ids: [Int]) -> Tensor { weight.value.indexSelect(ids) }
}

/// Modules applied in order, named "0", "1", … as in PyTorch.
public final class Sequential: Module {
    public init(_ layers: [Module]) {
        super.init()
        for (i, layer) in layers.enumerated() { add(String(i), layer) }
    }

    /// Runs the layers in order; at inference, a convolution with the batch
    /// norm and ReLU after it runs as one fused op (see `runChain`).
    public override func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        runChain(chainSteps(children.map(\.module)), x, ctx)
    }

    public subscript(i: Int) -> Module { children[i].module }
    public var count: Int { children.count }
}
