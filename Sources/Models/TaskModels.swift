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
        return ResNet(arch: resnet, baseWidth: config.baseWidth ?? 64, feature: feature, classes: classes,
                      initializer: &initializer)
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

/// "Deeper LSTM Q + norm I" (VQA_LSTM_CNN): an L2-normalised image vector and
/// an LSTM question state, each projected and squashed by tanh, multiplied
/// pointwise, then classified into answers.
public final class VQAModel: Module {
    public let backbone: Backbone
    public let imageProj: Linear
    public let embed: Embedding
    public let lstm: LSTM
    public let questionProj: Linear
    public let classifier: Module
    public let embedTanh: Bool

    public init(config: ModelConfig, questionVocabularySize: Int, answers: Int, initializer: inout Initializer) {
        let q = config.questionEncoder!, fusion = config.fusion!
        backbone = makeBackbone(config.backbone, classes: nil, initializer: &initializer)
        let f = backbone.featureSize(input: (config.input.height, config.input.width))
        imageProj = Linear(f, fusion.dim, initializer: &initializer)
        embed = Embedding(questionVocabularySize, q.embed, initializer: &initializer)
        lstm = LSTM(inputSize: q.embed, hiddenSize: q.hidden, layers: q.layers, initializer: &initializer)
        questionProj = Linear(2 * q.layers * q.hidden, fusion.dim, initializer: &initializer)
        if let m = fusion.hidden {
            classifier = Sequential([Linear(fusion.dim, m, initializer: &initializer), Tanh(),
                                     Linear(m, answers, initializer: &initializer)])
        } else {
            classifier = Linear(fusion.dim, answers, initializer: &initializer)
        }
        embedTanh = (q.embedActivation ?? .tanh) == .tanh
        super.init()
        add("backbone", backbone)
        add("image_proj", imageProj)
        add("embed", embed)
        add("lstm", lstm)
        add("question_proj", questionProj)
        add("classifier", classifier)
        assignPaths()
    }

    public func imageFeature(_ images: Tensor, _ ctx: ForwardContext) -> Tensor {
        backbone.feature(images, ctx)
    }

    /// q = tanh(question_proj([c₀, h₀, c₁, h₁, …])) for one question's ids: [1, D].
    public func questionVector(_ ids: [Int], _ ctx: ForwardContext) -> Tensor {
        questionVectors([ids], ctx)
    }

    /// Question vectors [B, D] for B questions of the same length (training
    /// batches group questions by length, so no padding enters the LSTM).
    public func questionVectors(_ questions: [[Int]], _ ctx: ForwardContext) -> Tensor {
        let b = questions.count, n = questions.first?.count ?? 0
        precondition(questions.allSatisfy { $0.count == n }, "questionVectors: questions of equal length needed")
        let state: LSTM.State
        if n == 0 {
            state = lstm.zeroState(batch: b)
        } else {
            let e = embed(questions.flatMap { $0 }).reshaped([b, n, -1])
            state = lstm.sequence(embedTanh ? e.tanh() : e).state
        }
        var parts: [Tensor] = []
        for k in 0..<lstm.layers { parts += [state.c[k], state.h[k]] }
        return questionProj(Tensor.concat(parts, axis: 1), ctx).tanh()
    }

    /// Answer logits [B, A] for image vectors [B, F] and question vectors [B, D] (or one, [1, D], for all).
    public func answerLogits(imageFeature: Tensor, question: Tensor, _ ctx: ForwardContext) -> Tensor {
        let i = imageProj(imageFeature.l2Normalized(axis: 1), ctx).tanh()
        return classifier(i * question, ctx)
    }
}
