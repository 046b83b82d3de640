import NN
import Tensor

/// The backbone that a config describes.
func makeBackbone(_ config: ModelConfig.Backbone, feature: FeatureKind, classes: Int?,
                  initializer: inout Initializer) -> Backbone {
    if let arch = ResNet.Arch(rawValue: config.arch) {
        return ResNet(arch: arch, baseWidth: config.baseWidth ?? 64, feature: feature, classes: classes,
                      initializer: &initializer)
    }
    let cfg: [VGG.VGGLayer] = config.arch == "vgg"
        ? (config.cfg ?? []).map { if case let .conv(n) = $0 { .conv(n) } else { .pool } }
        : VGG.configs[config.arch]!
    return VGG(cfg: cfg, batchNorm: config.hasBatchNorm, feature: feature, classes: classes,
               hidden: config.hidden ?? 4096, initializer: &initializer)
}

/// A torchvision classifier: the backbone is the root, so its names carry no prefix.
public final class Classifier {
    public let network: Backbone

    public init(config: ModelConfig, classes: Int, initializer: inout Initializer) {
        network = makeBackbone(config.backbone, feature: .avgpool, classes: classes, initializer: &initializer)
        network.assignPaths()
    }

    /// Class logits [B, classes] for images [B, 3, H, W].
    public func logits(_ images: Tensor, _ ctx: ForwardContext) -> Tensor { network.logits(images, ctx) }
}

/// Show and Tell (as neuraltalk2): the image vector, projected, is the LSTM's
/// first input; then `<start>`, then the previous words; log-softmax of the head
/// at every step after the image.
public final class Captioner: Module {
    public let backbone: Backbone
    public let imageProj: Linear
    public let embed: Embedding
    public let lstm: LSTM
    public let head: Linear
    public let imageReLU: Bool
    public let startID: Int

    public init(config: ModelConfig, vocabularySize: Int, startID: Int, initializer: inout Initializer) {
        let d = config.decoder!
        backbone = makeBackbone(config.backbone, feature: FeatureKind(rawValue: config.backbone.feature!)!,
                                classes: nil, initializer: &initializer)
        let f = backbone.featureSize(input: (config.input.height, config.input.width))
        imageProj = Linear(f, d.embed, initializer: &initializer)
        embed = Embedding(vocabularySize, d.embed, initializer: &initializer)
        lstm = LSTM(inputSize: d.embed, hiddenSize: d.hidden, layers: d.layers, initializer: &initializer)
        head = Linear(d.hidden, vocabularySize, initializer: &initializer)
        imageReLU = d.imageActivation == "relu"
        self.startID = startID
        super.init()
        add("backbone", backbone)
        add("image_proj", imageProj)
        add("embed", embed)
        add("lstm", lstm)
        add("head", head)
        assignPaths()
    }

    /// The image vectors [B, F] for images [B, 3, H, W].
    public func imageFeature(_ images: Tensor, _ ctx: ForwardContext) -> Tensor {
        backbone.feature(images, ctx)
    }

    /// x₀ = image_proj(feature), through ReLU when the config says so.
    func imageInput(_ feature: Tensor, _ ctx: ForwardContext) -> Tensor {
        let x = imageProj(feature, ctx)
        return imageReLU ? x.relu() : x
    }

    /// The decoder state after reading the image and `<start>`, and the
    /// log-probabilities of the first word [B, V]: where search begins.
    public func start(_ feature: Tensor, _ ctx: ForwardContext) -> (logProbs: Tensor, state: LSTM.State) {
        let b = feature.shape[0]
        let (_, afterImage) = lstm.step(imageInput(feature, ctx), lstm.zeroState(batch: b))
        return step(Array(repeating: startID, count: b), afterImage, ctx)
    }

    /// One decoding step: each row's previous word in, log-probabilities [B, V] out.
    public func step(_ words: [Int], _ state: LSTM.State, _ ctx: ForwardContext) -> (logProbs: Tensor, state: LSTM.State) {
        let (h, next) = lstm.step(embed(words), state)
        return (head(h, ctx).logSoftmax(axis: 1), next)
    }

    /// Teacher forcing: the logits [B, n, V] of `words` (ids; `<end>` may be last),
    /// row t scoring word t given the image and words before it. Each row of
    /// `feature` reads the same words.
    public func teacherForcedLogits(_ feature: Tensor, words: [Int], _ ctx: ForwardContext) -> Tensor {
        teacherForcedLogits(feature, rows: Array(repeating: words, count: feature.shape[0]), ctx)
    }

    /// Teacher forcing with one caption per row of `feature`, all of the same
    /// length n (training batches group captions by length): logits [B, n, V].
    public func teacherForcedLogits(_ feature: Tensor, rows: [[Int]], _ ctx: ForwardContext) -> Tensor {
        let b = feature.shape[0], n = rows.first?.count ?? 0
        precondition(rows.count == b && rows.allSatisfy { $0.count == n },
                     "teacherForcedLogits: \(rows.count) captions of equal length needed for a batch of \(b)")
        let vocabulary = head.weight.value.shape[0]
        guard n > 0 else { return Tensor.zeros([b, 0, vocabulary]) }
        let hidden = teacherForcedHidden(feature, rows: rows, ctx)
        return head(hidden.reshaped([b * n, hidden.shape[2]]), ctx).reshaped([b, n, vocabulary])
    }

    /// The LSTM's top-layer outputs [B, n, H] under teacher forcing, before the
    /// head: callers that need only some positions apply `head` to those alone.
    /// With `needed` (non-decreasing), row r is computed for its first needed[r]
    /// positions only (the rest are zero).
    public func teacherForcedHidden(_ feature: Tensor, rows: [[Int]], needed: [Int]? = nil,
                                    _ ctx: ForwardContext) -> Tensor {
        let b = feature.shape[0], n = rows.first?.count ?? 0
        let x0 = imageInput(feature, ctx).unsqueezed(axis: 1)                // [B, 1, E]
        let inputs = rows.flatMap { [startID] + $0.dropLast() }
        let embedded = embed(inputs).reshaped([b, n, x0.shape[2]])
        // Output position t is step t + 1: the image is step 0.
        let (outputs, _) = lstm.sequence(Tensor.concat([x0, embedded], axis: 1), lengths: needed?.map { $0 + 1 })
        return outputs.slice(axis: 1, 1..<(n + 1))                           // [B, n, H]
    }
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
        backbone = makeBackbone(config.backbone, feature: FeatureKind(rawValue: config.backbone.feature!)!,
                                classes: nil, initializer: &initializer)
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
        embedTanh = (q.embedActivation ?? "tanh") == "tanh"
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
