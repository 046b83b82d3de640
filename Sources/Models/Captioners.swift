import NN
import Tensor

/// A captioning model: an image encoder and a caption decoder. Beam search,
/// teacher forcing, training and the explainer are written against this, so
/// Show and Tell and Show, Attend and Tell are two implementations of one thing.
public protocol Captioner: Module {
    var backbone: Backbone { get }
    /// The output layer: decoder outputs [N, H] → logits [N, V].
    var head: Linear { get }
    var startID: Int { get }
    /// Whether the first token is predicted from the image alone and may be
    /// `<start>` itself (`decoder.image_step_predicts`): search then proposes `<start>`.
    var imageStepPredicts: Bool { get }
    /// One image's feature shape (without the batch axis): [F] for a vector,
    /// [C, h, w] for a map an attention decoder reads.
    var featureShape: [Int] { get }

    /// The image features [B, …] for images [B, 3, H, W].
    func imageFeature(_ images: Tensor, _ ctx: ForwardContext) -> Tensor

    /// The decoder state after reading the image and `<start>` (or the image
    /// alone, when it predicts the first token), and the log-probabilities of
    /// the first word [B, V]: where search begins.
    func start(_ feature: Tensor, _ ctx: ForwardContext) -> (logProbs: Tensor, state: DecoderState)

    /// One decoding step: each row's previous word in, log-probabilities [B, V] out.
    func step(_ words: [Int], _ state: DecoderState, _ ctx: ForwardContext) -> (logProbs: Tensor, state: DecoderState)

    /// Teacher forcing with one caption per row of `feature`, all of length n:
    /// output t of row r reads the image and the words of `rows[r]` before t.
    /// With `needed` (non-decreasing), row r is computed for its first
    /// needed[r] positions only (the rest are zero): explaining word t needs
    /// nothing after it.
    func teacherForced(_ feature: Tensor, rows: [[Int]], needed: [Int]?, _ ctx: ForwardContext) -> TeacherForced
}

/// A caption decoder's memory for a batch of hypotheses, one row each.
public struct DecoderState {
    public var lstm: LSTM.State
    /// Attention decoders: the map's cells [B, P, C] and their projection into
    /// the attention space [B, P, A], made once per image.
    public var cells: Tensor?
    public var projectedCells: Tensor?

    /// The rows `rows` (beam search keeps the surviving beams).
    public func selecting(rows: [Int]) -> DecoderState {
        DecoderState(lstm: lstm.selecting(rows: rows), cells: cells?.indexSelect(rows),
                     projectedCells: projectedCells?.indexSelect(rows))
    }
}

/// The decoder's outputs under teacher forcing.
public struct TeacherForced {
    /// The outputs [B, n, H] before the head: a caller that needs only some
    /// positions applies `head` to those alone.
    public let hidden: Tensor
    /// Attention decoders: each position's weights over the map's cells [B, n, P].
    public let attention: Tensor?
}

extension Captioner {
    public var vocabularySize: Int { head.weight.value.shape[0] }
    public var imageStepPredicts: Bool { false }

    /// Where an attention decoder looked for each of `words` in one image [1, 3, H, W]:
    /// the weights [n, h, w] over the map's cells (each sums to 1), taken before the
    /// word is chosen. nil for a decoder without attention.
    public func attentionMaps(_ image: Tensor, words: [Int], _ ctx: ForwardContext) -> Tensor? {
        guard featureShape.count == 3, image.shape.first == 1 else { return nil }
        let feature = imageFeature(image, ctx)
        guard let alpha = teacherForced(feature, rows: [words], needed: nil, ctx).attention else { return nil }
        return alpha.reshaped([words.count, feature.shape[2], feature.shape[3]])
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
        guard n > 0 else { return Tensor.zeros([b, 0, vocabularySize]) }
        let hidden = teacherForced(feature, rows: rows, needed: nil, ctx).hidden
        return head(hidden.reshaped([b * n, hidden.shape[2]]), ctx).reshaped([b, n, vocabularySize])
    }
}

/// Show and Tell (as neuraltalk2): the image vector, projected, is the LSTM's
/// first input; then `<start>`, then the previous words; log-softmax of the head
/// at every step after the image. With `imageStepPredicts` (yunjey's
/// pytorch-tutorial) the output after the image already scores the first token
/// and no `<start>` is fed unless predicted.
public final class ShowAndTell: Module, Captioner {
    public let backbone: Backbone
    public let imageProj: Linear
    public let embed: Embedding
    public let lstm: LSTM
    public let head: Linear
    public let imageReLU: Bool
    public let startID: Int
    public let imageStepPredicts: Bool
    public let featureShape: [Int]

    public init(config: ModelConfig, vocabularySize: Int, startID: Int, initializer: inout Initializer) {
        let d = config.decoder!
        imageStepPredicts = d.imageStepPredicts ?? false
        backbone = makeBackbone(config.backbone, classes: nil, initializer: &initializer)
        let f = backbone.featureSize(input: (config.input.height, config.input.width))
        featureShape = [f]
        imageProj = Linear(f, d.embed, initializer: &initializer)
        embed = Embedding(vocabularySize, d.embed, initializer: &initializer)
        lstm = LSTM(inputSize: d.embed, hiddenSize: d.hidden, layers: d.layers, initializer: &initializer)
        head = Linear(d.hidden, vocabularySize, initializer: &initializer)
        imageReLU = d.imageActivation == .relu
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

    public func start(_ feature: Tensor, _ ctx: ForwardContext) -> (logProbs: Tensor, state: DecoderState) {
        let b = feature.shape[0]
        let (h, afterImage) = lstm.step(imageInput(feature, ctx), lstm.zeroState(batch: b))
        if imageStepPredicts { return (head(h, ctx).logSoftmax(axis: 1), DecoderState(lstm: afterImage)) }
        return step(Array(repeating: startID, count: b), DecoderState(lstm: afterImage), ctx)
    }

    public func step(_ words: [Int], _ state: DecoderState, _ ctx: ForwardContext) -> (logProbs: Tensor, state: DecoderState) {
        let (h, next) = lstm.step(embed(words), state.lstm)
        return (head(h, ctx).logSoftmax(axis: 1), DecoderState(lstm: next))
    }

    public func teacherForced(_ feature: Tensor, rows: [[Int]], needed: [Int]? = nil,
                              _ ctx: ForwardContext) -> TeacherForced {
        let b = feature.shape[0], n = rows.first?.count ?? 0
        let x0 = imageInput(feature, ctx).unsqueezed(axis: 1)                // [B, 1, E]
        // Output position t is step t + 1 (the image is step 0), or step t when the
        // image's step predicts the first token.
        let shift = imageStepPredicts ? 0 : 1
        let inputs = rows.flatMap { (imageStepPredicts ? [] : [startID]) + $0.dropLast() }
        let steps = max(n - 1 + shift, 0)
        let sequence = steps == 0 ? x0 : Tensor.concat([x0, embed(inputs).reshaped([b, steps, x0.shape[2]])], axis: 1)
        let (outputs, _) = lstm.sequence(sequence, lengths: needed?.map { $0 + shift })
        return TeacherForced(hidden: outputs.slice(axis: 1, shift..<(n + shift)), attention: nil)  // [B, n, H]
    }
}

/// Show, Attend and Tell as sgrvinod's "a-PyTorch-Tutorial-to-Image-Captioning"
/// (additive attention) or AaronCCWong's "Show-Attend-and-Tell" (tanh
/// attention), with their parameter names. The encoder is the backbone's map,
/// optionally through AdaptiveAvgPool2d(S); its cells a [B, P, C] start the
/// LSTM at h₀ = init_h(mean a), c₀ = init_c(mean a). Each step attends with the
/// previous h: α = softmax over cells of the attention scores, context
/// z = sigmoid(f_beta(h)) · Σ α a, and the LSTMCell reads [embedding; z];
/// the word's logits are fc(dropout(h)).
public final class ShowAttendTell: Module, Captioner {
    public let backbone: Backbone
    /// AdaptiveAvgPool2d(S) on the map, when the config asks for one.
    let pool: AdaptiveAvgPool2d?
    public let attention: CellAttention
    public let embedding: Embedding
    public let decodeStep: LSTMCell
    public let initH: Linear, initC: Linear, fBeta: Linear
    public let fc: Linear
    let dropout: Dropout
    let tanhInit: Bool
    public let startID: Int
    public let featureShape: [Int]

    public var head: Linear { fc }

    public init(config: ModelConfig, vocabularySize: Int, startID: Int, initializer: inout Initializer) {
        let d = config.decoder!
        backbone = makeBackbone(config.backbone, classes: nil, initializer: &initializer)
        let map = backbone.mapShape(input: (config.input.height, config.input.width))
        let c = map[0]
        if let s = config.backbone.adaptivePool {
            pool = AdaptiveAvgPool2d((s, s))
            featureShape = [c, s, s]
        } else {
            pool = nil
            featureShape = map
        }
        let kind = d.attention ?? .additive
        attention = CellAttention(kind: kind, cells: c, hidden: d.hidden, dim: d.attentionDim!, initializer: &initializer)
        embedding = Embedding(vocabularySize, d.embed, initializer: &initializer)
        decodeStep = LSTMCell(inputSize: d.embed + c, hiddenSize: d.hidden, initializer: &initializer)
        initH = Linear(c, d.hidden, initializer: &initializer)
        initC = Linear(c, d.hidden, initializer: &initializer)
        fBeta = Linear(d.hidden, c, initializer: &initializer)
        fc = Linear(d.hidden, vocabularySize, initializer: &initializer)
        dropout = Dropout(d.dropout ?? 0.5)
        tanhInit = kind == .tanh
        self.startID = startID
        super.init()
        add("backbone", backbone)
        if let pool { add("adaptive_pool", pool) }
        add("attention", attention)
        add("embedding", embedding)
        // The two tutorials' names: sgrvinod's decode_step and fc, AaronCCWong's lstm and deep_output.
        add(tanhInit ? "lstm" : "decode_step", decodeStep)
        add("init_h", initH)
        add("init_c", initC)
        add("f_beta", fBeta)
        add(tanhInit ? "deep_output" : "fc", fc)
        assignPaths()
    }

    /// The encoder's map [B, C, h, w] (pooled to S×S when configured).
    public func imageFeature(_ images: Tensor, _ ctx: ForwardContext) -> Tensor {
        let map = backbone.featureMap(images, ctx)
        return pool.map { $0(map, ctx) } ?? map
    }

    /// The state before the first word: the cells, their projection, and
    /// h₀, c₀ from the mean cell.
    func initialState(_ feature: Tensor, _ ctx: ForwardContext) -> DecoderState {
        let b = feature.shape[0], c = feature.shape[1]
        let cells = feature.permuted([0, 2, 3, 1]).reshaped([b, -1, c])         // [B, P, C]
        let mean = cells.mean(axis: 1)
        var h = initH(mean, ctx), cell = initC(mean, ctx)
        if tanhInit { h = h.tanh(); cell = cell.tanh() }
        return DecoderState(lstm: LSTM.State(h: [h], c: [cell]), cells: cells,
                            projectedCells: attention.projectCells(cells, ctx))
    }

    /// One step of the recurrence: the new h [B, H], the attention [B, P] it used, the next state.
    func decode(_ words: [Int], _ state: DecoderState, _ ctx: ForwardContext) -> (h: Tensor, alpha: Tensor, state: DecoderState) {
        let h = state.lstm.h[0], c = state.lstm.c[0]
        let (context, alpha) = attention.attend(cells: state.cells!, projected: state.projectedCells!, hidden: h, ctx)
        let gated = fBeta(h, ctx).sigmoid() * context
        let next = decodeStep.step(Tensor.concat([embedding(words), gated], axis: 1), h: h, c: c)
        var state = state
        state.lstm = LSTM.State(h: [next.h], c: [next.c])
        return (next.h, alpha, state)
    }

    public func start(_ feature: Tensor, _ ctx: ForwardContext) -> (logProbs: Tensor, state: DecoderState) {
        step(Array(repeating: startID, count: feature.shape[0]), initialState(feature, ctx), ctx)
    }

    public func step(_ words: [Int], _ state: DecoderState, _ ctx: ForwardContext) -> (logProbs: Tensor, state: DecoderState) {
        let (h, _, next) = decode(words, state, ctx)
        return (fc(h, ctx).logSoftmax(axis: 1), next)
    }

    public func teacherForced(_ feature: Tensor, rows: [[Int]], needed: [Int]? = nil,
                              _ ctx: ForwardContext) -> TeacherForced {
        let b = feature.shape[0], n = rows.first?.count ?? 0
        let cellCount = featureCells(feature)
        guard n > 0 else {
            return TeacherForced(hidden: Tensor.zeros([b, 0, decodeStep.hiddenSize]), attention: Tensor.zeros([b, 0, cellCount]))
        }
        var state = initialState(feature, ctx)
        var outputs: [Tensor] = [], alphas: [Tensor] = []
        var first = 0   // rows before `first` are done: the live rows are a suffix, as `needed` ascends
        for t in 0..<n {
            let live = needed.map { nd in nd.firstIndex { $0 > t } ?? b } ?? 0
            if live > first {
                if live < b { state = state.selecting(rows: Array((live - first)..<(b - first))) }
                first = live
            }
            guard first < b else {
                outputs.append(Tensor.zeros([b, decodeStep.hiddenSize]))
                alphas.append(Tensor.zeros([b, cellCount]))
                continue
            }
            let (h, alpha, next) = decode(rows[first...].map { t == 0 ? startID : $0[t - 1] }, state, ctx)
            state = next
            outputs.append(Self.padTop(dropout(h, ctx), to: b))
            alphas.append(Self.padTop(alpha, to: b))
        }
        return TeacherForced(hidden: Tensor.stack(outputs, axis: 1), attention: Tensor.stack(alphas, axis: 1))
    }

    /// The number of cells P in a feature [B, C, h, w].
    private func featureCells(_ feature: Tensor) -> Int { feature.shape[2] * feature.shape[3] }

    /// Rows of zeros above `x` [r, K] up to `rows` rows: the finished rows' outputs.
    private static func padTop(_ x: Tensor, to rows: Int) -> Tensor {
        x.shape[0] == rows ? x : Tensor.concat([Tensor.zeros([rows - x.shape[0], x.shape[1]]), x], axis: 0)
    }
}

/// Attention over a map's cells a [B, P, C] given the decoder's h [B, H]:
/// scores e = full(act(enc(a) + dec(h))), α = softmax over P, context Σ α a.
/// Additive (sgrvinod): enc, dec, full are `encoder_att`, `decoder_att`,
/// `full_att` and act is ReLU; tanh (AaronCCWong): `W`, `U`, `v` and tanh.
public final class CellAttention: Module {
    let encoderProj: Linear, decoderProj: Linear, full: Linear
    let tanh: Bool

    init(kind: ModelConfig.AttentionKind, cells: Int, hidden: Int, dim: Int, initializer: inout Initializer) {
        encoderProj = Linear(cells, dim, initializer: &initializer)
        decoderProj = Linear(hidden, dim, initializer: &initializer)
        full = Linear(dim, 1, initializer: &initializer)
        tanh = kind == .tanh
        super.init()
        add(tanh ? "W" : "encoder_att", encoderProj)
        add(tanh ? "U" : "decoder_att", decoderProj)
        add(tanh ? "v" : "full_att", full)
    }

    /// enc(a): [B, P, A], once per image.
    func projectCells(_ cells: Tensor, _ ctx: ForwardContext) -> Tensor {
        let b = cells.shape[0], p = cells.shape[1]
        return encoderProj(cells.reshaped([b * p, cells.shape[2]]), ctx).reshaped([b, p, -1])
    }

    /// The context [B, C] and the weights α [B, P].
    func attend(cells: Tensor, projected: Tensor, hidden: Tensor, _ ctx: ForwardContext) -> (context: Tensor, alpha: Tensor) {
        let b = cells.shape[0], p = cells.shape[1]
        let joined = projected + decoderProj(hidden, ctx).unsqueezed(axis: 1)     // [B, P, A]
        let activated = tanh ? joined.tanh() : joined.relu()
        let scores = full(activated.reshaped([b * p, projected.shape[2]]), ctx).reshaped([b, p])
        let alpha = scores.softmax(axis: 1)
        let context = alpha.unsqueezed(axis: 1).matmul(cells).reshaped([b, cells.shape[2]])
        return (context, alpha)
    }
}
