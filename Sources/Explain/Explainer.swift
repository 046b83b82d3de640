import Foundation
import Models
import NN
import Tensor

/// What to explain and how (cli.md, EXPLAIN OPTIONS).
public struct ExplainOptions: Sendable {
    public var method: Method = .gradcam
    /// A dotted module path; nil for the model's `explain_layer`.
    public var layer: String?
    public var counterfactual = false
    public var normalize: Normalization = .token
    /// Also measure each map's deletion and insertion AUC against a random order
    /// (`TargetSet.faithfulness`): the tasks put it in `ExplainedSequence.faithfulness`.
    public var faithfulness = false
    /// pytorch-grad-cam's `aug_smooth`: the mean of the maps of the image
    /// flipped or not, times 0.9, 1 and 1.1 (`Explainer.augmentations`).
    public var augSmooth = false
    /// pytorch-grad-cam's `eigen_smooth`: each map is the first principal
    /// component of its channels' contributions instead of their sum.
    public var eigenSmooth = false

    public init(method: Method = .gradcam, layer: String? = nil, counterfactual: Bool = false,
                normalize: Normalization = .token, faithfulness: Bool = false,
                augSmooth: Bool = false, eigenSmooth: Bool = false) {
        self.method = method
        self.layer = layer
        self.counterfactual = counterfactual
        self.normalize = normalize
        self.faithfulness = faithfulness
        self.augSmooth = augSmooth
        self.eigenSmooth = eigenSmooth
    }
}

/// Maps for every target of one image (export-format.md's arrays).
public struct Explanation {
    public struct Entry: Sendable {
        public let label: String
        public let id: Int
        /// The value that was differentiated (`score` in the manifest).
        public let score: Float
        /// The largest value of the entry's `cams` map.
        public let camMax: Float
        /// [row, column] of the maximum of ReLU(raw) at layer resolution.
        public let peak: [Int]
    }

    public let method: Method
    public let layer: String
    public let inputSize: (height: Int, width: Int)
    public let layerSize: (height: Int, width: Int)?
    /// [T, h, w], signed, before the ReLU; nil for guided backpropagation.
    public let raw: Tensor?
    /// [T, H, W]: ReLU(raw) upsampled and normalised; nil for guided backpropagation.
    public let cams: Tensor?
    /// [T, 3, H, W]: the guided gradient at the input (× the cam for guided Grad-CAM).
    public let guided: Tensor?
    public let entries: [Entry]
    /// Whether the maps were smoothed (`ExplainOptions.augSmooth`, `eigenSmooth`).
    public var augSmooth = false
    public var eigenSmooth = false

    /// Entry t's map at the input size (H·W values) as grounding and faithfulness
    /// measures read it: its cam, or for guided backpropagation, which has no
    /// layer map, the guided gradient's magnitude summed over channels.
    public func saliency(_ t: Int) -> [Float] {
        let plane = inputSize.height * inputSize.width
        if let cams { return Array(cams.values[(t * plane)..<((t + 1) * plane)]) }
        guard let guided else { return [] }
        let v = guided.values
        return (0..<plane).map { i in (0..<3).reduce(0) { $0 + abs(v[(t * 3 + $1) * plane + i]) } }
    }
}

public enum ExplainError: Error, CustomStringConvertible, Equatable {
    case unknownLayer(String, suggestions: [String])
    case notSpatial(String, shape: [Int])
    case notOnImagePath(String)
    case unknownTarget(String, kind: String, suggestions: [String])
    case indexOutOfRange(Int, count: Int)
    case smoothing(String)

    public var description: String {
        switch self {
        case let .unknownLayer(name, suggestions):
            return "no layer named \"\(name)\"; layers with similar names: \(suggestions.joined(separator: ", ")) (`gradcam layers MODEL` lists them all)"
        case let .notSpatial(name, shape):
            return "layer \"\(name)\" has output shape \(shape), with no spatial extent: CAM methods need a convolutional layer's [N, C, h, w] output"
        case let .notOnImagePath(name):
            return "layer \"\(name)\" is not computed from the image, so it has no map; choose a layer of the backbone"
        case let .unknownTarget(name, kind, suggestions):
            let kinds = kind.hasSuffix("s") ? kind + "es" : kind + "s"
            return "\"\(name)\" is not one of the model's \(kinds); the closest are: \(suggestions.map { "\"\($0)\"" }.joined(separator: ", "))"
        case let .indexOutOfRange(index, count):
            return "class index \(index) is out of range: the model has \(count) classes, 0 to \(count - 1)"
        case let .smoothing(reason):
            return reason
        }
    }
}

/// Explains the targets of one image with one method at one layer.
///
/// Gradient methods run the network below the layer once, unrecorded; the
/// layer's output is repeated T times on the batch axis and made a tracked
/// leaf, the part above runs at batch T, row k is scored for target k, and one
/// backward gives every target's gradient at once (DESIGN.md, "Many targets,
/// one pass").
public struct Explainer {
    public let root: Module
    public let layer: String
    public let options: ExplainOptions
    /// What the passes over one image share (`sharingContext`): an explainer
    /// serves one image at a time, on one thread.
    private let memo: ForwardMemo

    public init(root: Module, defaultLayer: String, options: ExplainOptions) throws {
        let layer = options.layer ?? defaultLayer
        let names = root.namedModules().map(\.name).filter { !$0.isEmpty }
        guard names.contains(layer) else {
            // Suggested are layers of the part the default layer is in (the backbone), not the
            // decoder's, which have no map.
            let part = defaultLayer.split(separator: ".").first.map { String($0) + "." } ?? ""
            let candidates = defaultLayer.contains(".") ? names.filter { $0.hasPrefix(part) } : names
            throw ExplainError.unknownLayer(layer, suggestions: closest(to: layer, in: candidates, count: 5))
        }
        if options.augSmooth || options.eigenSmooth, !options.method.hasLayerMap {
            let flag = options.augSmooth ? "--aug-smooth" : "--eigen-smooth"
            throw ExplainError.smoothing("\(flag) smooths a map at a layer; \(options.method.rawValue) has none (try guided-gradcam)")
        }
        if options.eigenSmooth, options.method == .eigencam {
            throw ExplainError.smoothing("--eigen-smooth has nothing to do for eigencam: its map is already the first principal component")
        }
        self.root = root
        self.layer = layer
        self.options = options
        memo = ForwardMemo(layer: layer)
    }

    /// A context for an inference pass over `image`, the image about to be
    /// explained (beam search's, a classifier's logits): the explanation then
    /// reuses its work below the layer instead of running the network again.
    /// The other inputs (a question) must be those of the explanation too.
    public func sharingContext(for image: Tensor) -> ForwardContext {
        memo.use(for: image)
        return ForwardContext(memo: memo)
    }

    /// The memo when it holds passes over `image`.
    private func memo(for image: Tensor) -> ForwardMemo? { memo.isFor(image) ? memo : nil }

    public func explain(_ targets: TargetSet, image: Tensor) throws -> Explanation {
        let t = targets.count
        let (height, width) = (image.shape[2], image.shape[3])
        let method = options.method

        var scores: [Float] = []
        var raw: Tensor?, cams: Tensor?, layerSize: (height: Int, width: Int)?
        if method.hasLayerMap, options.augSmooth {
            (raw, cams, scores, layerSize) = try smoothedMaps(targets, image: image)
        } else if method.hasLayerMap {
            let (a, maps, s) = try layerMaps(targets, image: image)
            raw = maps
            cams = PostProcessing.cams(raw: maps, height: height, width: width, normalize: options.normalize)
            scores = s
            layerSize = (a.shape[2], a.shape[3])
        } else if t > 0 {
            scores = targets.scores(image, ForwardContext(memo: memo(for: image))).values
        }
        var guided: Tensor?
        if method.needsGuidedGradient {
            let g = try guidedGradients(targets, image: image)
            guided = cams.map { g * $0.reshaped([t, 1, height, width]) } ?? g
        }
        let entries = (0..<t).map { k -> Explanation.Entry in
            Explanation.Entry(label: targets.entries[k].label, id: targets.entries[k].id, score: scores[k],
                              camMax: cams.map { $0.slice(axis: 0, k..<(k + 1)).values.max() ?? 0 } ?? 0,
                              peak: raw.map { peakOf($0.slice(axis: 0, k..<(k + 1))) } ?? [])
        }
        return Explanation(method: method, layer: layer, inputSize: (height, width), layerSize: layerSize,
                           raw: raw, cams: cams, guided: guided, entries: entries,
                           augSmooth: options.augSmooth, eigenSmooth: options.eigenSmooth)
    }

    /// The test-time augmentations of `--aug-smooth`, as pytorch-grad-cam's
    /// default `tta.Compose([HorizontalFlip(), Multiply([0.9, 1, 1.1])])`
    /// applies them to the model input.
    static let augmentations: [(flip: Bool, factor: Float)] =
        [(false, 0.9), (false, 1), (false, 1.1), (true, 0.9), (true, 1), (true, 1.1)]

    /// `--aug-smooth`: each augmentation's maps post-processed as usual (the
    /// normalisation included), flipped back and averaged, as
    /// pytorch-grad-cam's `forward_augmentation_smoothing` does; `raw` is the mean
    /// of the flipped-back raw maps. The scores are those of the image itself.
    func smoothedMaps(_ targets: TargetSet, image: Tensor)
        throws -> (raw: Tensor, cams: Tensor, scores: [Float], layerSize: (height: Int, width: Int)) {
        let (height, width) = (image.shape[2], image.shape[3])
        var rawSum: Tensor?, camSum: Tensor?, scores: [Float] = [], layerSize = (height: 0, width: 0)
        for (flip, factor) in Self.augmentations {
            let original = factor == 1 && !flip
            let (a, maps, s) = try layerMaps(targets, image: original ? image : (flip ? flippedHorizontally(image) : image) * factor)
            let cams = PostProcessing.cams(raw: maps, height: height, width: width, normalize: options.normalize)
            let (r, c) = flip ? (flippedHorizontally(maps), flippedHorizontally(cams)) : (maps, cams)
            rawSum = rawSum.map { $0 + r } ?? r
            camSum = camSum.map { $0 + c } ?? c
            if original { scores = s }
            layerSize = (a.shape[2], a.shape[3])
        }
        let n = Float(Self.augmentations.count)
        return (rawSum! * (1 / n), camSum! * (1 / n), scores, layerSize)
    }

    /// The layer's activation [1, C, h, w], the signed maps [T, h, w] and the targets' scores [T].
    func layerMaps(_ targets: TargetSet, image: Tensor) throws -> (Tensor, Tensor, [Float]) {
        let t = targets.count
        // Gradient methods: T tracked copies of the activation continue above the layer.
        let copies = options.method.usesLayerGradients ? t : 0
        var activation: Tensor?
        let ctx = ForwardContext(capturing: [layer], replacing: [layer: { a in
            activation = a
            guard a.rank == 4, a.shape[0] == 1, copies > 0 else { return a }
            return a.expanded(to: [copies] + a.shape.dropFirst()).tracked()
        }], memo: memo(for: image))
        // Gradient methods: row k of the batch is explained for target k, [T]; others: [1, T].
        let output = t == 0 ? nil
            : copies > 0 ? targets.rowScores(image, ctx, Array(0..<t)) : targets.scores(image, ctx)
        if t == 0 { targets.image(image, ctx) }
        guard let a = activation else { throw ExplainError.notOnImagePath(layer) }
        guard a.rank == 4, a.shape[0] == 1 else { throw ExplainError.notSpatial(layer, shape: a.shape) }
        let (c, h, w) = (a.shape[1], a.shape[2], a.shape[3])
        guard let output else { return (a, Tensor.zeros([0, h, w]), []) }

        let hw = h * w
        var maps = [Float](repeating: 0, count: t * hw)
        func setMap(_ k: Int, _ map: [Float]) { maps.replaceSubrange((k * hw)..<((k + 1) * hw), with: map) }
        let scores: [Float]
        switch options.method {
        case .eigencam:
            scores = output.values
            let map = a.withUnsafeBufferPointer { LayerMaps.principalProjection($0.baseAddress!, c: c, hw: hw) }
            for k in 0..<t { setMap(k, map) }
        case .scorecam:
            scores = output.values
            let weights = scoreCAMWeights(targets, image: image, activation: a)
            a.withUnsafeBufferPointer { pa in
                for k in 0..<t { setMap(k, LayerMaps.weighted(pa.baseAddress!, weights[k], hw: hw, eigen: options.eigenSmooth)) }
            }
        default:
            // output[k] is target k's score, computed from copy k of the activation.
            scores = output.values
            guard let tracked = ctx.captured[layer], tracked.shape[0] == t else { throw ExplainError.notOnImagePath(layer) }
            let seed = Tensor.full([t], options.counterfactual ? -1 : 1)
            let g = try gradients(of: output, withRespectTo: [tracked], seed: seed)[0]
            a.withUnsafeBufferPointer { pa in
                g.withUnsafeBufferPointer { pg in
                    for k in 0..<t {
                        setMap(k, LayerMaps.gradientMap(options.method, a: pa.baseAddress!,
                                                        g: pg.baseAddress! + k * c * hw, c: c, hw: hw,
                                                        eigen: options.eigenSmooth))
                    }
                }
            }
        }
        return (a, Tensor(shape: [t, h, w], values: maps), scores)
    }

    /// Score-CAM (Wang et al.), as pytorch-grad-cam computes it: each channel,
    /// upsampled to the input and min-max normalised, masks the image; the
    /// targets' scores on the masked images, softmaxed over channels, weight the
    /// channels. Masked images run in batches. pytorch-grad-cam upsamples with
    /// align_corners=True; here with half-pixel centres like every other map.
    func scoreCAMWeights(_ targets: TargetSet, image: Tensor, activation a: Tensor) -> [[Float]] {
        let (c, h, w) = (a.shape[1], a.shape[2], a.shape[3])
        let (H, W) = (image.shape[2], image.shape[3])
        let up = a.reshaped([c, 1, h, w]).resizedBilinear(height: H, width: W).values
        var scores: [[Float]] = Array(repeating: [], count: targets.count)
        let batch = 16
        for start in stride(from: 0, to: c, by: batch) {
            let n = Swift.min(batch, c - start)
            var masked = [Float](repeating: 0, count: n * 3 * H * W)
            let pixels = image.values
            for j in 0..<n {
                let plane = up[((start + j) * H * W)..<((start + j + 1) * H * W)]
                let lo = plane.min()!, hi = plane.max()!
                for ch in 0..<3 {
                    for (i, m) in plane.enumerated() {
                        masked[(j * 3 + ch) * H * W + i] = pixels[ch * H * W + i] * (m - lo) / (hi - lo + 1e-8)
                    }
                }
            }
            let s = targets.scores(Tensor(shape: [n, 3, H, W], values: masked), ForwardContext()).values
            for k in 0..<targets.count { for j in 0..<n { scores[k].append(s[j * targets.count + k]) } }
        }
        return scores.map { Tensor(shape: [c], values: $0).softmax().values }
    }

    /// Guided backpropagation: the gradient of each target at the input image,
    /// with the guided ReLU rule, from one recorded forward differentiated T times.
    func guidedGradients(_ targets: TargetSet, image: Tensor) throws -> Tensor {
        let t = targets.count
        let (H, W) = (image.shape[2], image.shape[3])
        guard t > 0 else { return Tensor.zeros([0, 3, H, W]) }
        let input = image.tracked()
        let output = targets.scores(input, ForwardContext())
        var grads: [Tensor] = []
        for k in 0..<t {
            var seed = [Float](repeating: 0, count: t)
            seed[k] = options.counterfactual ? -1 : 1
            let g = try gradients(of: output, withRespectTo: [input], seed: Tensor(shape: [1, t], values: seed),
                                  rules: .guided)[0]
            grads.append(g.reshaped([3, H, W]))
        }
        return Tensor.stack(grads, axis: 0)
    }
}

/// `t` [..., w] mirrored along its last axis.
func flippedHorizontally(_ t: Tensor) -> Tensor {
    let w = t.shape.last!
    let v = t.values
    var out = v
    for row in stride(from: 0, to: v.count, by: w) {
        for j in 0..<w { out[row + j] = v[row + w - 1 - j] }
    }
    return Tensor(shape: t.shape, values: out)
}

/// [row, column] of the maximum of ReLU(map) for a [1, h, w] map (first on ties).
func peakOf(_ map: Tensor) -> [Int] {
    let w = map.shape[2]
    let values = map.values.map { Swift.max($0, 0) }
    var best = 0
    for (i, v) in values.enumerated() where v > values[best] { best = i }
    return [best / w, best % w]
}

/// The `count` names nearest to `name` by edit distance (ties: alphabetical).
public func closest(to name: String, in candidates: [String], count: Int) -> [String] {
    let a = Array(name.lowercased())
    func distance(_ s: String) -> Int {
        let b = Array(s.lowercased())
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
    return candidates.map { ($0, distance($0)) }.sorted { ($0.1, $0.0) < ($1.1, $1.0) }.prefix(count).map(\.0)
}
