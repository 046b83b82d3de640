import Foundation
import Models
import NN
import Tensor
import Text

/// The model-parameter randomisation tests of Adebayo et al., "Sanity Checks for
/// Saliency Maps" (NeurIPS 2018). A map that explains the model must change when
/// the weights it depends on are replaced by random ones: *cascading*, the groups
/// of parameters are randomised one more at a time from the top of the network
/// down; *independent*, one group at a time. Each randomised map is compared with
/// the trained model's by Spearman rank correlation and SSIM, entry by entry.
///
/// A method that ignores the gradient (Eigen-CAM: the activations' first
/// principal component) draws the same map at the explained layer whatever the
/// layers above it hold — and fails the cascading test there.
public struct SanityCheck {
    public enum Test: String, Sendable { case cascading, independent }

    /// One explanation of a randomised model.
    public struct Step: Sendable {
        public let test: Test
        /// The group randomised (cascading: the last one added).
        public let group: String
        /// Whether the group lies above the explained layer (the gradient passes it).
        public let aboveLayer: Bool
        public let method: Method
        /// Per entry, against the trained model's map.
        public let spearman: [Float]
        public let ssim: [Float]
        /// The randomised maps [T, H, W] (for the sheet).
        public let cams: Tensor

        public var meanSpearman: Float { spearman.isEmpty ? 0 : spearman.reduce(0, +) / Float(spearman.count) }
    }

    /// The largest mean Spearman a method's maps may keep once every group above
    /// the explained layer is random (the 0.3).
    public static let passingSpearman: Float = 0.3

    public let model: ModelDirectory
    /// The explained layer (the model's own name).
    public let layer: String
    /// Parameter groups in forward order: a backbone's blocks (`backbone.layer4.2`,
    /// `backbone.features.10`), the decoder's or fusion's modules (`attention`, `fc`).
    public let groups: [String]
    /// The weights a randomised group takes: a freshly initialised model's, from `seed`.
    private let random: [String: Tensor]

    public init(model: ModelDirectory, layer: String, seed: UInt64 = 1) throws {
        self.model = model
        self.layer = layer
        var groups: [String] = []
        // A classifier's root is its backbone: its names carry no "backbone." prefix.
        let backboneDepth = model.config.task == .classification ? 2 : 3
        for (name, _) in model.model.root.namedParameters() {
            let parts = name.split(separator: ".").dropLast()
            let inBackbone = model.config.task == .classification || parts.first == "backbone"
            let group = parts.prefix(inBackbone ? backboneDepth : 1).joined(separator: ".")
            if groups.last != group, !groups.contains(group) { groups.append(group) }
        }
        self.groups = groups
        guard groups.contains(where: { Self.isAbove($0, layer: layer, in: model) }) else {
            throw TaskError.invalid("nothing lies above \(layer) to randomise (it is the model's last layer): "
                                    + "the randomisation test cannot tell a faithful method from one that ignores the model")
        }
        let vocabularies: [Vocabulary] = switch model.model {
        case let .captioning(_, v): [v]
        case let .vqa(_, q, a): [q, a]
        case let .classification(_, c): [c]
        }
        random = ModelDirectory.build(model.config, vocabularies, initializer: .random(seed: seed)).root.stateDict()
    }

    /// Whether `group` comes after `layer` in the forward order and is not part of it.
    public static func isAbove(_ group: String, layer: String, in model: ModelDirectory) -> Bool {
        let order = model.model.root.namedModules().map(\.name)
        guard let g = order.firstIndex(of: group), let l = order.firstIndex(of: layer) else { return false }
        return g > l && !group.hasPrefix(layer + ".") && !layer.hasPrefix(group + ".")
    }

    /// Runs the tests for each method. `explain(method)` explains the same targets
    /// (the trained model's caption, answers or classes) with the model's current
    /// weights; the weights are put back before this returns.
    public func run(methods: [Method], tests: [Test] = [.cascading, .independent], progress: (Int, Int) -> Void = { _, _ in },
                    explain: (Method) throws -> Explanation) throws -> (original: [Method: Explanation], steps: [Step]) {
        let root = model.model.root
        let trained = root.stateDict()
        defer { try? root.load(trained, file: "the trained weights") }
        var original: [Method: Explanation] = [:]
        for method in methods { original[method] = try explain(method) }
        var steps: [Step] = []
        let total = tests.count * groups.count * methods.count
        for test in tests {
            for (k, group) in groups.reversed().enumerated() {
                let randomised = test == .cascading ? Array(groups.reversed().prefix(k + 1)) : [group]
                var weights = trained
                for (name, tensor) in random where randomised.contains(where: { name.hasPrefix($0 + ".") }) { weights[name] = tensor }
                try root.load(weights, file: "the randomised weights")
                for method in methods {
                    let e = try explain(method), reference = original[method]!
                    let (spearman, ssim) = Self.compare(reference, e)
                    steps.append(Step(test: test, group: group, aboveLayer: Self.isAbove(group, layer: layer, in: model),
                                      method: method, spearman: spearman, ssim: ssim,
                                      cams: e.cams ?? Tensor.zeros([e.entries.count] + [e.inputSize.height, e.inputSize.width])))
                    progress(steps.count, total)
                }
            }
        }
        return (original, steps)
    }

    /// Whether `method` passes: its mean Spearman at the cascading step where the last
    /// group above the explained layer became random is at most `passingSpearman`.
    public static func passes(_ method: Method, _ steps: [Step]) -> Bool {
        guard let step = decisiveStep(method, steps) else { return false }
        return step.meanSpearman <= passingSpearman
    }

    /// The cascading step of `method` after which everything above the layer is random.
    public static func decisiveStep(_ method: Method, _ steps: [Step]) -> Step? {
        steps.filter { $0.test == .cascading && $0.method == method && $0.aboveLayer }.last
    }

    /// Per entry: Spearman rank correlation and SSIM of the two explanations' maps.
    static func compare(_ a: Explanation, _ b: Explanation) -> (spearman: [Float], ssim: [Float]) {
        let n = min(a.entries.count, b.entries.count), (h, w) = a.inputSize
        var spearman: [Float] = [], ssim: [Float] = []
        for t in 0..<n {
            let x = a.saliency(t), y = b.saliency(t)
            spearman.append(Self.spearman(x, y))
            ssim.append(Self.ssim(normalized(x), normalized(y), width: w, height: h))
        }
        return (spearman, ssim)
    }

    /// Spearman's rank correlation (ties share their mean rank); 0 when either is constant.
    static func spearman(_ x: [Float], _ y: [Float]) -> Float {
        func ranks(_ v: [Float]) -> [Double] {
            let order = v.indices.sorted { v[$0] < v[$1] }
            var r = [Double](repeating: 0, count: v.count), i = 0
            while i < order.count {
                var j = i
                while j + 1 < order.count && v[order[j + 1]] == v[order[i]] { j += 1 }
                for k in i...j { r[order[k]] = Double(i + j) / 2 }
                i = j + 1
            }
            return r
        }
        let rx = ranks(x), ry = ranks(y), n = Double(x.count)
        let mx = rx.reduce(0, +) / n, my = ry.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (a, b) in zip(rx, ry) { sxy += (a - mx) * (b - my); sxx += (a - mx) * (a - mx); syy += (b - my) * (b - my) }
        return sxx > 0 && syy > 0 ? Float(sxy / (sxx * syy).squareRoot()) : 0
    }

    /// The map scaled to [0, 1] by its maximum (a zero map stays zero).
    static func normalized(_ v: [Float]) -> [Float] {
        let m = v.max() ?? 0
        return m > 0 ? v.map { max($0, 0) / m } : v.map { _ in 0 }
    }

    /// Mean SSIM over 7×7 windows (uniform weights), data range 1 (Wang et al. 2004's constants).
    static func ssim(_ x: [Float], _ y: [Float], width: Int, height: Int, window: Int = 7) -> Float {
        let c1 = 0.01 * 0.01, c2 = 0.03 * 0.03
        let k = min(window, width, height)
        var total = 0.0, count = 0
        for top in 0...(height - k) {
            for left in 0...(width - k) {
                var sx = 0.0, sy = 0.0, sxx = 0.0, syy = 0.0, sxy = 0.0
                for r in top..<(top + k) {
                    for c in left..<(left + k) {
                        let a = Double(x[r * width + c]), b = Double(y[r * width + c])
                        sx += a; sy += b; sxx += a * a; syy += b * b; sxy += a * b
                    }
                }
                let n = Double(k * k), mx = sx / n, my = sy / n
                let vx = sxx / n - mx * mx, vy = syy / n - my * my, cov = sxy / n - mx * my
                total += (2 * mx * my + c1) * (2 * cov + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))
                count += 1
            }
        }
        return Float(total / Double(max(count, 1)))
    }
}
