import Tensor

// Inference fusion, kept out of the layers. A container declares the order
// its modules run in — a `Sequential` its children, a `ResidualBlock` its
// main path and shortcut — and `chainSteps` groups each convolution with the
// batch norm and ReLU right after it; `runChain` runs such a group as one
// `conv2dInference` when `fusedConvolution` allows, else module by module.
// A block therefore has no fused code of its own to get wrong: the fused and
// the plain computation are read from the same declared order.

/// One step of a chain of modules.
public enum ChainStep {
    /// A convolution with the batch norm and the ReLU directly after it (either may be absent).
    case convolution(Conv2d, BatchNorm2d?, ReLU?)
    /// Any other module.
    case module(Module)
}

/// `modules`, in the order they run, as steps: each convolution grouped with
/// a batch norm and a ReLU directly after it.
public func chainSteps(_ modules: [Module]) -> [ChainStep] {
    var steps: [ChainStep] = [], i = 0
    while i < modules.count {
        guard let conv = modules[i] as? Conv2d else {
            steps.append(.module(modules[i]))
            i += 1
            continue
        }
        let bn = i + 1 < modules.count ? modules[i + 1] as? BatchNorm2d : nil
        let next = i + (bn == nil ? 1 : 2)
        let relu = next < modules.count ? modules[next] as? ReLU : nil
        steps.append(.convolution(conv, bn, relu))
        i = next + (relu == nil ? 0 : 1)
    }
    return steps
}

/// Runs `steps` on `x`: each convolution group fused when `fusedConvolution`
/// allows, else module by module.
public func runChain(_ steps: some Sequence<ChainStep>, _ x: Tensor, _ ctx: ForwardContext) -> Tensor {
    steps.reduce(x) { y, step in
        switch step {
        case let .module(module):
            return module(y, ctx)
        case let .convolution(conv, bn, relu):
            if bn != nil || relu != nil, let fused = fusedConvolution(conv, bn, relu: relu, y, ctx) { return fused }
            var z = conv(y, ctx)
            if let bn { z = bn(z, ctx) }
            if let relu { z = relu(z, ctx) }
            return z
        }
    }
}

/// A residual block, `relu(main(x) + shortcut(x))`, declared as its main
/// path's and shortcut's modules in the order they run (an empty shortcut is
/// the identity). Subclasses build and name the modules (`add`), PyTorch's way.
///
/// At inference the main path's last convolution and batch norm run fused
/// with the sum and the ReLU, when `fusedConvolution` allows.
open class ResidualBlock: Module {
    private let main: [ChainStep]
    private let shortcut: [ChainStep]
    private let relu: ReLU

    public init(main: [Module], shortcut: [Module], relu: ReLU) {
        self.main = chainSteps(main)
        self.shortcut = chainSteps(shortcut)
        self.relu = relu
        super.init()
    }

    open override func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        let body = runChain(main.dropLast(), x, ctx)
        let identity = runChain(shortcut, x, ctx)
        if case let .convolution(conv, bn, nil)? = main.last,
           let fused = fusedConvolution(conv, bn, residual: identity, relu: relu, body, ctx) {
            return fused
        }
        return relu(runChain(main.suffix(1), body, ctx) + identity, ctx)
    }
}

/// conv → batch norm (→ + residual) (→ ReLU) as one `conv2dInference`; nil
/// when the modules must run one by one: when training or recording a
/// gradient, or when the convolution's or batch norm's own output is captured
/// or replaced (fusing would hide it). The group's last output is observed as
/// usual, under its module's path.
///
/// Why: at inference these are three or four passes over every feature map;
/// fused, each band of the convolution's output is finished while in cache.
private func fusedConvolution(_ conv: Conv2d, _ bn: BatchNorm2d?, residual: Tensor? = nil, relu: ReLU?,
                             _ x: Tensor, _ ctx: ForwardContext) -> Tensor? {
    precondition(residual == nil || relu != nil, "fusedConvolution: a residual sum is fused only before a ReLU")
    let members: [Module] = [conv, bn, relu].compactMap { $0 }
    guard !ctx.training, !x.requiresGrad, !(residual?.requiresGrad ?? false),
          !members.contains(where: { $0.namedParameters().contains { $0.parameter.value.requiresGrad } }),
          !members.dropLast().contains(where: { ctx.observes($0.path) }) else { return nil }
    if let y = ctx.reused(members.last!.path) { return ctx.observe(members.last!.path, y) }

    let channels = conv.weight.value.shape[0]
    let bias = conv.bias?.value.values ?? [Float](repeating: 0, count: channels)
    var scale: [Float]?, shift = bias
    if let bn {
        // As Tensor.batchNorm: v·s + (β − μ·s) with s = γ/√(σ² + ε), the conv's bias folded in.
        let mean = bn.runningMean.value.values, variance = bn.runningVar.value.values
        let gamma = bn.weight.value.values, beta = bn.bias.value.values
        let s = (0..<channels).map { gamma[$0] / (variance[$0] + bn.eps).squareRoot() }
        scale = s
        shift = (0..<channels).map { beta[$0] - mean[$0] * s[$0] + bias[$0] * s[$0] }
    }
    let y = x.conv2dInference(weight: conv.weight.value, stride: conv.stride, padding: conv.padding,
                              dilation: conv.dilation, groups: conv.groups,
                              epilogue: ConvEpilogue(scale: scale, shift: shift, residual: residual, relu: relu != nil))
    return ctx.observe(members.last!.path, y)
}
