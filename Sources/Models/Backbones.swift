import NN
import Tensor

/// How the last feature map becomes the image vector of a captioner or VQA
/// model (model-format.md, `backbone.feature`).
public enum FeatureKind: String, ConfigValue {
    /// Global average pool → C values.
    case avgpool
    /// The last feature map flattened → C·h·w values.
    case flatten
    /// VGG only: torchvision's 7×7 avgpool, flatten, classifier.0 + ReLU, classifier.3 + ReLU → 4096.
    case fc7
    /// The last feature map itself, [C, h, w]: the cells an attention decoder attends over.
    case map
}

/// A torchvision CNN with torchvision's module names.
public protocol Backbone: Module {
    /// The class logits: torchvision's forward.
    func logits(_ x: Tensor, _ ctx: ForwardContext) -> Tensor
    /// The image vector for a captioner or VQA model.
    func feature(_ x: Tensor, _ ctx: ForwardContext) -> Tensor
    /// The last feature map [B, C, h, w], before any pooling: what attention reads.
    func featureMap(_ x: Tensor, _ ctx: ForwardContext) -> Tensor
    /// The shape [C, h, w] of `featureMap` for an input of `size` (height, width).
    func mapShape(input size: (Int, Int)) -> [Int]
    /// The length of `feature`'s vector for an input of `size` (height, width).
    func featureSize(input size: (Int, Int)) -> Int
    /// The module path whose output a CAM method explains by default.
    var defaultExplainLayer: String { get }
    /// The module path whose output `featureMap` returns.
    var mapLayer: String { get }
}

/// torchvision's VGG: `features` (convolutions, optional batch norm, ReLU,
/// max pools), `avgpool` (adaptive 7×7) and `classifier`
/// (Linear → ReLU → Dropout → Linear → ReLU → Dropout → Linear).
public final class VGG: Module, Backbone {
    public static let configs: [String: [VGGLayer]] = [
        "vgg11": [64, .pool, 128, .pool, 256, 256, .pool, 512, 512, .pool, 512, 512, .pool],
        "vgg13": [64, 64, .pool, 128, 128, .pool, 256, 256, .pool, 512, 512, .pool, 512, 512, .pool],
        "vgg16": [64, 64, .pool, 128, 128, .pool, 256, 256, 256, .pool, 512, 512, 512, .pool, 512, 512, 512, .pool],
        "vgg19": [64, 64, .pool, 128, 128, .pool, 256, 256, 256, 256, .pool,
                  512, 512, 512, 512, .pool, 512, 512, 512, 512, .pool],
    ]

    public enum VGGLayer: Equatable, ExpressibleByIntegerLiteral, Sendable {
        case conv(Int)
        case pool
        public init(integerLiteral value: Int) { self = .conv(value) }
    }

    public let features: Sequential
    public let avgpool: AdaptiveAvgPool2d
    /// nil when the model uses no classifier layer (`avgpool` / `flatten` features).
    public let classifier: Sequential?
    let channels: Int
    let pools: Int
    let lastReLU: Int
    let layerCount: Int

    public let featureKind: FeatureKind

    /// - Parameters:
    ///   - classes: the size of classifier.6 for a classification model; nil for a
    ///     captioner's or VQA model's backbone, which keeps classifier.0–5 only for
    ///     the `fc7` feature and has no classifier otherwise.
    ///   - hidden: the classifier's width (torchvision: 4096).
    public init(cfg: [VGGLayer], batchNorm: Bool, feature: FeatureKind = .avgpool, classes: Int?, hidden: Int = 4096,
                initializer: inout Initializer) {
        featureKind = feature
        let withClassifier = classes != nil || feature == .fc7
        var layers: [Module] = []
        var c = 3, pools = 0
        for item in cfg {
            switch item {
            case .pool:
                layers.append(MaxPool2d(kernel: 2, stride: 2))
                pools += 1
            case let .conv(width):
                layers.append(Conv2d(c, width, kernel: 3, padding: 1, initializer: &initializer))
                if batchNorm { layers.append(BatchNorm2d(width)) }
                layers.append(ReLU())
                c = width
            }
        }
        channels = c
        self.pools = pools
        lastReLU = layers.lastIndex { $0 is ReLU } ?? 0
        layerCount = layers.count
        features = Sequential(layers)
        avgpool = AdaptiveAvgPool2d((7, 7))
        if withClassifier {
            var head: [Module] = [Linear(c * 49, hidden, initializer: &initializer), ReLU(), Dropout(),
                                  Linear(hidden, hidden, initializer: &initializer), ReLU(), Dropout()]
            if let classes { head.append(Linear(hidden, classes, initializer: &initializer)) }
            classifier = Sequential(head)
        } else {
            classifier = nil
        }
        super.init()
        add("features", features)
        add("avgpool", avgpool)
        if let classifier { add("classifier", classifier) }
    }

    public func logits(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        guard let classifier else { preconditionFailure("VGG.logits: this backbone has no classifier") }
        return classifier(avgpool(features(x, ctx), ctx).flattened(), ctx)
    }

    public func featureMap(_ x: Tensor, _ ctx: ForwardContext) -> Tensor { features(x, ctx) }

    public func feature(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        switch featureKind {
        case .avgpool: return features(x, ctx).globalAvgPool2d()
        case .flatten: return features(x, ctx).flattened()
        case .map: return features(x, ctx)
        case .fc7:
            guard let classifier else { preconditionFailure("VGG: fc7 feature needs classifier.0 and classifier.3") }
            var h = avgpool(features(x, ctx), ctx).flattened()
            for i in 0..<6 { h = classifier[i](h, ctx) }
            return h
        }
    }

    public func mapShape(input size: (Int, Int)) -> [Int] {
        var (h, w) = size
        for _ in 0..<pools { h /= 2; w /= 2 }
        return [channels, h, w]
    }

    public func featureSize(input size: (Int, Int)) -> Int {
        switch featureKind {
        case .avgpool: return channels
        case .flatten, .map: return mapShape(input: size).reduce(1, *)
        case .fc7: return (classifier?[0] as? Linear)?.weight.value.shape[0] ?? 4096
        }
    }

    /// The last ReLU of `features` (VGG-16: features.29, relu5_3), as in the paper.
    public var defaultExplainLayer: String { "features.\(lastReLU)" }

    /// The last layer of `features`: its ReLU, or a max pool after it.
    public var mapLayer: String { "features.\(layerCount - 1)" }
}

/// torchvision's ResNet-18/34 (BasicBlock) and ResNet-50/101/152 (Bottleneck,
/// stride on the 3×3 convolution as in torchvision ≥ 0.5).
public final class ResNet: Module, Backbone {
    public enum Arch: String, Sendable { case resnet18, resnet34, resnet50, resnet101, resnet152 }

    public let conv1: Conv2d, bn1: BatchNorm2d, relu: ReLU, maxpool: MaxPool2d
    public let stages: [Sequential]
    public let avgpool: AdaptiveAvgPool2d
    public let fc: Linear?
    let outChannels: Int
    /// The Caffe layout (`backbone.layout`): max pool without padding, rounding up;
    /// strides on each block's first 1×1 convolution.
    let caffe: Bool

    /// - Parameters:
    ///   - baseWidth: the first stage's width (torchvision: 64); smaller widths
    ///     keep the same structure and names for small test models.
    ///   - classes: the `fc` layer's size, or nil for a backbone without `fc`.
    public let featureKind: FeatureKind

    public init(arch: Arch, baseWidth: Int = 64, caffe: Bool = false, feature: FeatureKind = .avgpool, classes: Int?,
                initializer: inout Initializer) {
        precondition(feature != .fc7, "ResNet: the fc7 feature is VGG's")
        featureKind = feature
        self.caffe = caffe
        let (blocks, bottleneck): ([Int], Bool) = switch arch {
        case .resnet18: ([2, 2, 2, 2], false)
        case .resnet34: ([3, 4, 6, 3], false)
        case .resnet50: ([3, 4, 6, 3], true)
        case .resnet101: ([3, 4, 23, 3], true)
        case .resnet152: ([3, 8, 36, 3], true)
        }
        let expansion = bottleneck ? 4 : 1
        conv1 = Conv2d(3, baseWidth, kernel: 7, stride: 2, padding: 3, bias: false, initializer: &initializer)
        bn1 = BatchNorm2d(baseWidth)
        relu = ReLU()
        maxpool = caffe ? MaxPool2d(kernel: 3, stride: 2, padding: 0, ceilMode: true) : MaxPool2d(kernel: 3, stride: 2, padding: 1)
        var inplanes = baseWidth
        var stages: [Sequential] = []
        for (i, count) in blocks.enumerated() {
            let planes = baseWidth << i
            var layer: [Module] = []
            for b in 0..<count {
                let stride = b == 0 && i > 0 ? 2 : 1
                layer.append(bottleneck
                    ? Bottleneck(inplanes, planes, stride: stride, strideOnFirst: caffe, initializer: &initializer)
                    : BasicBlock(inplanes, planes, stride: stride, initializer: &initializer))
                inplanes = planes * expansion
            }
            stages.append(Sequential(layer))
        }
        self.stages = stages
        outChannels = inplanes
        avgpool = AdaptiveAvgPool2d((1, 1))
        fc = classes.map { Linear(inplanes, $0, initializer: &initializer) }
        super.init()
        add("conv1", conv1)
        add("bn1", bn1)
        add("relu", relu)
        add("maxpool", maxpool)
        for (i, s) in stages.enumerated() { add("layer\(i + 1)", s) }
        add("avgpool", avgpool)
        if let fc { add("fc", fc) }
    }

    public func featureMap(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        let convolved = runChain([.convolution(conv1, bn1, relu)], x, ctx)
        let stem = maxpool(convolved, ctx)
        return stages.reduce(stem) { $1($0, ctx) }
    }

    public func logits(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        guard let fc else { preconditionFailure("ResNet.logits: this backbone has no fc layer") }
        return fc(avgpool(featureMap(x, ctx), ctx).flattened(), ctx)
    }

    public func feature(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        let map = featureMap(x, ctx)
        switch featureKind {
        case .avgpool, .fc7: return avgpool(map, ctx).flattened()
        case .flatten: return map.flattened()
        case .map: return map
        }
    }

    public func mapShape(input size: (Int, Int)) -> [Int] {
        // conv1 and maxpool halve (rounding up, with their padding); stages 2–4 halve again.
        // Caffe's max pool: 3×3 without padding, rounding up, its last window starting inside.
        func halve(_ n: Int) -> Int { (n + 1) / 2 }
        func caffePool(_ n: Int) -> Int {
            guard n >= 3 else { return 0 }
            let out = (n - 3 + 1) / 2 + 1
            return (out - 1) * 2 >= n ? out - 1 : out
        }
        let (h, w) = caffe ? (caffePool(halve(size.0)), caffePool(halve(size.1))) : (halve(halve(size.0)), halve(halve(size.1)))
        return [outChannels, halve(halve(halve(h))), halve(halve(halve(w)))]
    }

    public func featureSize(input size: (Int, Int)) -> Int {
        featureKind == .avgpool ? outChannels : mapShape(input: size).reduce(1, *)
    }

    public var defaultExplainLayer: String { "layer4" }

    public var mapLayer: String { "layer4" }
}

/// ResNet-18/34's block: two 3×3 convolutions and a shortcut.
final class BasicBlock: ResidualBlock {
    init(_ inplanes: Int, _ planes: Int, stride: Int, initializer: inout Initializer) {
        let conv1 = Conv2d(inplanes, planes, kernel: 3, stride: stride, padding: 1, bias: false, initializer: &initializer)
        let bn1 = BatchNorm2d(planes), relu = ReLU()
        let conv2 = Conv2d(planes, planes, kernel: 3, padding: 1, bias: false, initializer: &initializer)
        let bn2 = BatchNorm2d(planes)
        let downsample = stride != 1 || inplanes != planes
            ? Sequential([Conv2d(inplanes, planes, kernel: 1, stride: stride, bias: false, initializer: &initializer),
                          BatchNorm2d(planes)])
            : nil
        super.init(main: [conv1, bn1, relu, conv2, bn2], shortcut: downsample.map { [$0] } ?? [], relu: relu)
        add("conv1", conv1); add("bn1", bn1); add("relu", relu); add("conv2", conv2); add("bn2", bn2)
        if let downsample { add("downsample", downsample) }
    }
}

/// ResNet-50/101/152's block: 1×1 → 3×3 (with the stride) → 1×1 (×4 channels) and a shortcut.
final class Bottleneck: ResidualBlock {
    /// - Parameter strideOnFirst: the Caffe layout, strided on the 1×1 convolution rather than the 3×3.
    init(_ inplanes: Int, _ planes: Int, stride: Int, strideOnFirst: Bool = false, initializer: inout Initializer) {
        let conv1 = Conv2d(inplanes, planes, kernel: 1, stride: strideOnFirst ? stride : 1, bias: false, initializer: &initializer)
        let bn1 = BatchNorm2d(planes)
        let conv2 = Conv2d(planes, planes, kernel: 3, stride: strideOnFirst ? 1 : stride, padding: 1, bias: false,
                           initializer: &initializer)
        let bn2 = BatchNorm2d(planes)
        let conv3 = Conv2d(planes, planes * 4, kernel: 1, bias: false, initializer: &initializer)
        let bn3 = BatchNorm2d(planes * 4), relu = ReLU()
        let downsample = stride != 1 || inplanes != planes * 4
            ? Sequential([Conv2d(inplanes, planes * 4, kernel: 1, stride: stride, bias: false, initializer: &initializer),
                          BatchNorm2d(planes * 4)])
            : nil
        super.init(main: [conv1, bn1, relu, conv2, bn2, relu, conv3, bn3], shortcut: downsample.map { [$0] } ?? [],
                   relu: relu)
        add("conv1", conv1); add("bn1", bn1); add("conv2", conv2); add("bn2", bn2)
        add("conv3", conv3); add("bn3", bn3); add("relu", relu)
        if let downsample { add("downsample", downsample) }
    }
}
