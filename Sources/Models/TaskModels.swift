import NN
import Tensor

/// The backbone that a config describes (a classifier's reads `avgpool`).
func makeBackbone(_ config: ModelConfig.Backbone, classes: Int?, initializer: inout Initializer) -> Backbone {
    let feature = config.feature ?? .avgpool
    let resnet: ResNet.Arch? = switch config.arch {
    case .resnet18: .resnet18
    case .resnet34: .resnet34
    case .resnet50: .resnet50
    case .resnet101: .resnet101
    case .resnet152: .resnet152
    case .vgg11, .vgg13, .vgg16, .vgg19, .vgg: nil
    }
    if let resnet {
        return ResNet(arch: resnet, baseWidth: config.baseWidth ?? 64, caffe: config.layout == .caffe, feature: feature,
                      classes: classes, initializer: &initializer)
    }
    var cfg: [VGG.VGGLayer] = config.arch == .vgg
        ? (config.cfg ?? []).map { if case let .conv(n) = $0 { .conv(n) } else { .pool } }
        : VGG.configs[config.arch.rawValue] ?? []
    // Cut before the last max pool (Show, Attend and Tell on VGG: features[:-1]).
    if config.lastPool == false, cfg.last == .pool { cfg.removeLast() }
    return VGG(cfg: cfg, batchNorm: config.hasBatchNorm, feature: feature, classes: classes,
               hidden: config.hidden ?? 4096, initializer: &initializer)
}

/// A torchvision classifier: the backbone is the root, so its names carry no prefix.
public final class Classifier {
    public let network: Backbone

    public init(config: ModelConfig, classes: Int, initializer: inout Initializer) {
        var backbone = config.backbone
        backbone.feature = .avgpool
        network = makeBackbone(backbone, classes: classes, initializer: &initializer)
        network.assignPaths()
    }

    /// Class logits [B, classes] for images [B, 3, H, W].
    public func logits(_ images: Tensor, _ ctx: ForwardContext) -> Tensor { network.logits(images, ctx) }
}
