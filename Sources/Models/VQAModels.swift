import NN
import Tensor

/// A VQA model: an image encoder, a question encoder and a fusion that scores
/// the answers. Training, the explainer and the bench are written against this,
/// so "deeper LSTM Q + norm I" and Show, Ask, Attend and Answer are two
/// implementations of one thing.
public protocol VQAModel: Module {
    var backbone: Backbone { get }

    /// The image features [B, …] for images [B, 3, H, W]: a vector or, for attention, a map.
    func imageFeature(_ images: Tensor, _ ctx: ForwardContext) -> Tensor

    /// Question vectors [B, D] for B questions of the same length (training
    /// batches group questions by length, so no padding enters the LSTM).
    func questionVectors(_ questions: [[Int]], _ ctx: ForwardContext) -> Tensor

    /// Answer logits [B, A] for image features [B, …] and question vectors [B, D].
    func answerLogits(imageFeature: Tensor, question: Tensor, _ ctx: ForwardContext) -> Tensor

    /// Attention models: each glimpse's weights over the map's cells [B, G, h, w]
    /// (each sums to 1); nil for a model without attention.
    func glimpses(imageFeature: Tensor, question: Tensor, _ ctx: ForwardContext) -> Tensor?

    /// The layer whose output the model L2-normalises cell by cell, if any: the
    /// answer ignores each cell's scale there, so gradient × activation is zero
    /// in every cell and CAM methods at that layer show rounding noise.
    var cellNormalizedLayer: String? { get }
}

extension VQAModel {
    /// The question vector [1, D] of one question's ids.
    public func questionVector(_ ids: [Int], _ ctx: ForwardContext) -> Tensor {
        questionVectors([ids], ctx)
    }
}

/// "Deeper LSTM Q + norm I" (VQA_LSTM_CNN): an L2-normalised image vector and
/// an LSTM question state, each projected and squashed by tanh, multiplied
/// pointwise, then classified into answers.
public final class DeeperLSTMQ: Module, VQAModel {
    public let backbone: Backbone
    public let imageProj: Linear
    public let embed: Embedding
    public let lstm: LSTM
    public let questionProj: Linear
    public let classifier: Module
    public let embedTanh: Bool
    /// basic_vqa's order of operations (`fusion.kind` "basic-vqa"; see `answerLogits`).
    let basic: Bool
    /// Questions padded with this id to `padTo` tokens (`question_encoder.pad_to`).
    let padding: (id: Int, length: Int)?

    public init(config: ModelConfig, questionVocabularySize: Int, answers: Int, padID: Int? = nil,
                initializer: inout Initializer) {
        let q = config.questionEncoder!, fusion = config.fusion!
        basic = fusion.fusionKind == .basicVQA
        padding = q.padTo.flatMap { n in padID.map { ($0, n) } }
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

    /// q = tanh(question_proj([c₀, h₀, c₁, h₁, …])); basic_vqa: question_proj(tanh([h₀, c₀, h₁, c₁, …])).
    public func questionVectors(_ questions: [[Int]], _ ctx: ForwardContext) -> Tensor {
        let questions = padding.map { p in questions.map { $0 + Array(repeating: p.id, count: max(p.length - $0.count, 0)) } } ?? questions
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
        for k in 0..<lstm.layers { parts += basic ? [state.h[k], state.c[k]] : [state.c[k], state.h[k]] }
        let states = Tensor.concat(parts, axis: 1)
        return basic ? questionProj(states.tanh(), ctx) : questionProj(states, ctx).tanh()
    }

    /// Image vectors [B, F] and question vectors [B, D] (or one, [1, D], for all).
    /// Deeper LSTM Q + norm I: classifier(tanh(image_proj(f / ‖f‖)) ⊙ q); basic_vqa:
    /// i = image_proj(f) / ‖image_proj(f)‖ with the length held constant (its
    /// `.detach()`), classifier(tanh(i ⊙ q)).
    public func answerLogits(imageFeature: Tensor, question: Tensor, _ ctx: ForwardContext) -> Tensor {
        guard basic else {
            let i = imageProj(imageFeature.l2Normalized(axis: 1), ctx).tanh()
            return classifier(i * question, ctx)
        }
        let projected = imageProj(imageFeature, ctx)
        let length = (projected * projected).sum(axis: 1, keepDims: true).sqrt().detached()
        return classifier((projected / length * question).tanh(), ctx)
    }

    public func glimpses(imageFeature: Tensor, question: Tensor, _ ctx: ForwardContext) -> Tensor? { nil }

    public var cellNormalizedLayer: String? { nil }
}

/// Show, Ask, Attend and Answer (Kazemi & Elqursh 2017), as Cyanogenoid's
/// pytorch-vqa writes it: the map L2-normalised per cell, the question's final
/// LSTM cell state, G question-guided softmax glimpses over the cells, their
/// weighted sums and the question into a two-layer classifier.
///
/// Two extensions for relations ("what is left of the red circle?"), both off
/// by default: each cell may carry its (x, y) position, so attended cells say
/// where they are; and further hops may attend again, each asked with the
/// question and what the hop before it saw (stacked attention), so a second
/// hop can look for "the object left of what the first found".
public final class ShowAskAttendAnswer: Module, VQAModel {
    public let backbone: Backbone
    let pool: AdaptiveAvgPool2d?
    public let text: QuestionLSTM
    /// One attention per hop: `attention`, then `attention_hop2`, …
    public let hops: [GlimpseAttention]
    public let classifier: AnswerClassifier
    let coordinates: Bool

    public init(config: ModelConfig, questionVocabularySize: Int, answers: Int, initializer: inout Initializer) {
        let q = config.questionEncoder!, fusion = config.fusion!
        let dropout = fusion.dropout ?? 0.5
        backbone = makeBackbone(config.backbone, classes: nil, initializer: &initializer)
        let c = backbone.mapShape(input: (config.input.height, config.input.width))[0]
        pool = config.backbone.adaptivePool.map { AdaptiveAvgPool2d(($0, $0)) }
        coordinates = fusion.coordinates ?? false
        let cells = c + (coordinates ? 2 : 0), g = fusion.glimpses ?? 2
        text = QuestionLSTM(vocabularySize: questionVocabularySize, config: q, dropout: dropout, initializer: &initializer)
        hops = (0..<(fusion.hops ?? 1)).map { hop in
            GlimpseAttention(cells: cells, question: q.hidden + (hop == 0 ? 0 : g * cells), dim: fusion.dim, glimpses: g,
                             dropout: dropout, initializer: &initializer)
        }
        classifier = AnswerClassifier(inputs: hops.count * g * cells + q.hidden, hidden: fusion.hidden!, answers: answers,
                                      dropout: dropout, initializer: &initializer)
        super.init()
        add("backbone", backbone)
        if let pool { add("adaptive_pool", pool) }
        add("text", text)
        for (k, hop) in hops.enumerated() { add(Self.hopName(k), hop) }
        add("classifier", classifier)
        assignPaths()
    }

    /// The map `cells` normalises: the pool's output, else the backbone's map.
    public var cellNormalizedLayer: String? { pool != nil ? "adaptive_pool" : "backbone." + backbone.mapLayer }

    /// pytorch-vqa's name for the first hop; `attention_hop2`, … for the others.
    static func hopName(_ k: Int) -> String { k == 0 ? "attention" : "attention_hop\(k + 1)" }

    /// The encoder's map [B, C, h, w] (pooled to S×S when configured).
    public func imageFeature(_ images: Tensor, _ ctx: ForwardContext) -> Tensor {
        let map = backbone.featureMap(images, ctx)
        return pool.map { $0(map, ctx) } ?? map
    }

    /// The final cell state of the question LSTM's last layer [B, H].
    public func questionVectors(_ questions: [[Int]], _ ctx: ForwardContext) -> Tensor {
        text.questionVectors(questions, ctx)
    }

    /// v / (‖v‖₂ + 1e-8) over each cell's channels, then the (x, y) channels when configured: [B, C′, h, w].
    func cells(_ feature: Tensor) -> Tensor {
        let v = feature / (feature.squared().sum(axis: 1, keepDims: true).sqrt() + 1e-8)
        guard coordinates else { return v }
        return Tensor.concat([v, Self.coordinateChannels(like: feature)], axis: 1)
    }

    /// x and y of each cell in [-1, 1] (torch.linspace(-1, 1, n)): [B, 2, h, w].
    static func coordinateChannels(like feature: Tensor) -> Tensor {
        let b = feature.shape[0], h = feature.shape[2], w = feature.shape[3]
        func place(_ i: Int, _ n: Int) -> Float { n > 1 ? -1 + 2 * Float(i) / Float(n - 1) : 0 }
        var values = [Float](repeating: 0, count: 2 * h * w)
        for y in 0..<h {
            for x in 0..<w {
                values[y * w + x] = place(x, w)
                values[h * w + y * w + x] = place(y, h)
            }
        }
        return Tensor(shape: [1, 2, h, w], values: values).expanded(to: [b, 2, h, w])
    }

    /// Every hop's glimpse weights [B, G, P] and the attended cells [B, G·C′].
    /// The feature and the question may have a batch of 1 for all (and an
    /// explained layer inside a hop repeats its output, so a hop's batch may
    /// exceed the map's).
    func attend(_ feature: Tensor, _ question: Tensor, _ ctx: ForwardContext) -> [(weights: Tensor, attended: Tensor)] {
        let v = cells(feature)
        let flat = v.reshaped([v.shape[0], v.shape[1], -1]).transposed(1, 2)    // [B, P, C′]
        var results: [(weights: Tensor, attended: Tensor)] = []
        for hop in hops {
            let x = hop.scores(v, results.last.map { Self.joined([question, $0.attended]) } ?? question, ctx)
            let b = x.shape[0]
            let weights = x.reshaped([b, x.shape[1], -1]).softmax(axis: 2)       // [B, G, P]
            results.append((weights, weights.matmul(Self.batched(flat, b)).reshaped([b, -1])))
        }
        return results
    }

    /// `t` with its batch of 1 repeated to `b` (or as it is).
    static func batched(_ t: Tensor, _ b: Int) -> Tensor {
        t.shape[0] == b ? t : t.expanded(to: [b] + t.shape.dropFirst())
    }

    /// Rows concatenated along axis 1, a batch of 1 repeated to the others'.
    static func joined(_ parts: [Tensor]) -> Tensor {
        let b = parts.map { $0.shape[0] }.max() ?? 1
        return Tensor.concat(parts.map { batched($0, b) }, axis: 1)
    }

    public func answerLogits(imageFeature: Tensor, question: Tensor, _ ctx: ForwardContext) -> Tensor {
        classifier(Self.joined(attend(imageFeature, question, ctx).map(\.attended) + [question]), ctx)
    }

    /// All hops' glimpses, hop by hop: [B, hops·G, h, w].
    public func glimpses(imageFeature: Tensor, question: Tensor, _ ctx: ForwardContext) -> Tensor? {
        let weights = Tensor.concat(attend(imageFeature, question, ctx).map(\.weights), axis: 1)
        return weights.reshaped([weights.shape[0], weights.shape[1], imageFeature.shape[2], imageFeature.shape[3]])
    }
}

/// pytorch-vqa's TextProcessor: embedding → dropout → tanh → LSTM, the final cell state out.
public final class QuestionLSTM: Module {
    public let embedding: Embedding
    public let lstm: LSTM
    let dropout: Dropout
    let tanh: Bool

    init(vocabularySize: Int, config q: ModelConfig.QuestionEncoder, dropout: Float, initializer: inout Initializer) {
        embedding = Embedding(vocabularySize, q.embed, initializer: &initializer)
        lstm = LSTM(inputSize: q.embed, hiddenSize: q.hidden, layers: q.layers, initializer: &initializer)
        self.dropout = Dropout(dropout)
        tanh = (q.embedActivation ?? .tanh) == .tanh
        super.init()
        add("embedding", embedding)
        add("lstm", lstm)
    }

    func questionVectors(_ questions: [[Int]], _ ctx: ForwardContext) -> Tensor {
        let b = questions.count, n = questions.first?.count ?? 0
        precondition(questions.allSatisfy { $0.count == n }, "questionVectors: questions of equal length needed")
        guard n > 0 else { return lstm.zeroState(batch: b).c[lstm.layers - 1] }
        let e = dropout(embedding(questions.flatMap { $0 }).reshaped([b, n, -1]), ctx)
        return lstm.sequence(tanh ? e.tanh() : e).state.c[lstm.layers - 1]
    }
}

/// pytorch-vqa's Attention: x_conv(relu(v_conv(v) + q_lin(q) tiled over the cells)),
/// G scores per cell.
public final class GlimpseAttention: Module {
    public let vConv: Conv2d, qLin: Linear, xConv: Conv2d
    let dropout: Dropout

    init(cells: Int, question: Int, dim: Int, glimpses: Int, dropout: Float, initializer: inout Initializer) {
        vConv = Conv2d(cells, dim, kernel: 1, bias: false, initializer: &initializer)
        qLin = Linear(question, dim, initializer: &initializer)
        xConv = Conv2d(dim, glimpses, kernel: 1, initializer: &initializer)
        self.dropout = Dropout(dropout)
        super.init()
        add("v_conv", vConv)
        add("q_lin", qLin)
        add("x_conv", xConv)
    }

    /// The scores [B, G, h, w] of cells [B, C′, h, w] for questions [B, D] (or one, [1, D]).
    func scores(_ cells: Tensor, _ question: Tensor, _ ctx: ForwardContext) -> Tensor {
        let v = vConv(dropout(cells, ctx), ctx)
        let q = qLin(dropout(question, ctx), ctx)
        let joined = (v + q.reshaped([q.shape[0], q.shape[1], 1, 1])).relu()
        return xConv(dropout(joined, ctx), ctx)
    }
}

/// pytorch-vqa's Classifier: dropout → lin1 → ReLU → dropout → lin2.
public final class AnswerClassifier: Module {
    public let lin1: Linear, lin2: Linear
    let dropout: Dropout

    init(inputs: Int, hidden: Int, answers: Int, dropout: Float, initializer: inout Initializer) {
        lin1 = Linear(inputs, hidden, initializer: &initializer)
        lin2 = Linear(hidden, answers, initializer: &initializer)
        self.dropout = Dropout(dropout)
        super.init()
        add("lin1", lin1)
        add("lin2", lin2)
    }

    public override func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        lin2(dropout(lin1(dropout(x, ctx), ctx).relu(), ctx), ctx)
    }
}
