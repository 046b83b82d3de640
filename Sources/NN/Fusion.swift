import Tensor

/// Whether this pass may fuse the convolutions inside `module`: inference,
/// nothing recorded (neither `x` nor any parameter requires a gradient) and no
/// module below it captured or replaced — fusing hides their outputs. Every
/// descendant is checked, so a block needs no list of what its fused path hides.
public func mayFuse(_ module: Module, _ x: Tensor, _ ctx: ForwardContext) -> Bool {
    !ctx.training && !x.requiresGrad
        && !module.namedParameters().contains { $0.parameter.value.requiresGrad }
        && !observesBelow(module, ctx)
}

private func observesBelow(_ module: Module, _ ctx: ForwardContext) -> Bool {
    module.children.contains { ctx.observes($0.module.path) || observesBelow($0.module, ctx) }
}

/// conv → batch norm (→ + residual) (→ ReLU) as one `conv2dInference`, when
/// `mayFuse` allows it (the group's last output is observed as usual, under
/// its module's path); nil when the modules must run one by one.
///
/// Why: at inference these are three or four passes over every feature map;
/// fused, each band of the convolution's output is finished while in cache.
public func fusedConvolution(_ conv: Conv2d, _ bn: BatchNorm2d?, residual: Tensor? = nil, relu: ReLU?,
                             _ x: Tensor, _ ctx: ForwardContext) -> Tensor? {
    precondition(residual == nil || relu != nil, "fusedConvolution: a residual sum is fused only before a ReLU")
    let members: [Module] = [conv, bn, relu].compactMap { $0 }
    guard !(residual?.requiresGrad ?? false),
          members.allSatisfy({ mayFuse($0, x, ctx) }),
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
