import Foundation
import Tensor

/// Grounding and faithfulness measures of a map against ground truth
/// (REFERENCE.md, "Evaluation protocols"). Maps and masks are row-major planes
/// of the same size; a map is read after ReLU.
public enum Grounding {
    /// Pointing game: a hit when the map's maximum (first on ties) lies inside
    /// the mask. A map with no positive value points nowhere: a miss.
    public static func pointingHit(map: [Float], mask: [Bool]) -> Bool {
        precondition(map.count == mask.count, "pointingHit: map and mask sizes differ")
        guard let peak = map.indices.max(by: { map[$0] < map[$1] || (map[$0] == map[$1] && $0 > $1) }),
              map[peak] > 0 else { return false }
        return mask[peak]
    }

    /// Energy-based pointing game (Score-CAM): the share of the map's mass inside the mask.
    public static func energy(map: [Float], mask: [Bool]) -> Float {
        precondition(map.count == mask.count, "energy: map and mask sizes differ")
        var inside: Double = 0, total: Double = 0
        for (v, m) in zip(map, mask) where v > 0 {
            total += Double(v)
            if m { inside += Double(v) }
        }
        return total > 0 ? Float(inside / total) : 0
    }

    /// IoU between the mask and the map thresholded at `fraction` of its
    /// maximum (the paper's 15%).
    public static func iou(map: [Float], mask: [Bool], fraction: Float = 0.15) -> Float {
        precondition(map.count == mask.count, "iou: map and mask sizes differ")
        guard let top = map.max(), top > 0 else { return 0 }
        let threshold = fraction * top
        var intersection = 0, union = 0
        for (v, m) in zip(map, mask) {
            let on = v >= threshold
            if on && m { intersection += 1 }
            if on || m { union += 1 }
        }
        return union > 0 ? Float(intersection) / Float(union) : 0
    }

    /// Mean of the map inside the mask ÷ mean outside (the paper's caption
    /// study; a uniform map scores 1).
    public static func insideOutsideRatio(map: [Float], mask: [Bool]) -> Float {
        var inside: Double = 0, outside: Double = 0, nIn = 0, nOut = 0
        for (v, m) in zip(map, mask) {
            let r = Double(Swift.max(v, 0))
            if m { inside += r; nIn += 1 } else { outside += r; nOut += 1 }
        }
        guard nIn > 0, nOut > 0, outside > 0 else { return 0 }
        return Float((inside / Double(nIn)) / (outside / Double(nOut)))
    }
}

/// Deletion and insertion curves (Petsiuk et al., RISE): pixels ranked by a
/// saliency map are removed from the image (set to 0) or inserted into a
/// blurred copy (Gaussian, kernel 11, σ 5), `perStep` at a time, and the
/// target's score is tracked. Area under the curve by the trapezoid rule on
/// [0, 1]: lower is better for deletion, higher for insertion.
public enum Faithfulness {
    public struct Curve: Sendable {
        public let scores: [Float]
        public var area: Float {
            guard scores.count > 1 else { return scores.first ?? 0 }
            let h = 1 / Float(scores.count - 1)
            return zip(scores, scores.dropFirst()).reduce(0) { $0 + ($1.0 + $1.1) * h / 2 }
        }
    }

    /// - Parameters:
    ///   - image: [1, C, H, W], the model input.
    ///   - saliency: H·W values; higher means more important.
    ///   - score: the target's score for a batch of images [B, C, H, W] → B values.
    public static func deletion(image: Tensor, saliency: [Float], perStep: Int, batch: Int = 16,
                                score: (Tensor) -> [Float]) -> Curve {
        curve(from: image, towards: Tensor.zeros(image.shape), saliency: saliency, perStep: perStep,
              batch: batch, score: score)
    }

    public static func insertion(image: Tensor, saliency: [Float], perStep: Int, batch: Int = 16,
                                 score: (Tensor) -> [Float]) -> Curve {
        // Insertion starts from the blurred image and moves towards the original.
        curve(from: blurred(image), towards: image, saliency: saliency, perStep: perStep, batch: batch,
              score: score)
    }

    /// Step k replaces the k·perStep most salient pixels of `start` with those of `end`.
    /// For deletion start is the image and end is zeros; for insertion start is the
    /// blur and end is the image.
    private static func curve(from start: Tensor, towards end: Tensor, saliency: [Float], perStep: Int,
                              batch: Int, score: (Tensor) -> [Float]) -> Curve {
        let (c, h, w) = (start.shape[1], start.shape[2], start.shape[3])
        let plane = h * w
        precondition(saliency.count == plane, "faithfulness: saliency has \(saliency.count) values for a \(h)×\(w) image")
        precondition(perStep > 0, "faithfulness: perStep must be positive")
        let order = saliency.indices.sorted { saliency[$0] != saliency[$1] ? saliency[$0] > saliency[$1] : $0 < $1 }
        let steps = (plane + perStep - 1) / perStep
        var current = start.values
        let target = end.values
        var images: [[Float]] = [current]
        for k in 0..<steps {
            for p in order[(k * perStep)..<Swift.min((k + 1) * perStep, plane)] {
                for ch in 0..<c { current[ch * plane + p] = target[ch * plane + p] }
            }
            images.append(current)
        }
        var scores: [Float] = []
        for s in stride(from: 0, to: images.count, by: batch) {
            let chunk = images[s..<Swift.min(s + batch, images.count)]
            scores += score(Tensor(shape: [chunk.count, c, h, w], values: chunk.flatMap { $0 }))
        }
        return Curve(scores: scores)
    }

    /// Gaussian blur, kernel 11 and σ 5, zero padding, per channel (RISE's insertion start).
    public static func blurred(_ image: Tensor, kernel: Int = 11, sigma: Float = 5) -> Tensor {
        let r = kernel / 2
        var k = (0..<kernel).map { expf(-Float(($0 - r) * ($0 - r)) / (2 * sigma * sigma)) }
        let s = k.reduce(0, +)
        k = k.map { $0 / s }
        let c = image.shape[1]
        let weight2d = Tensor(shape: [c, 1, kernel, kernel], values: (0..<c).flatMap { _ in
            (0..<(kernel * kernel)).map { k[$0 / kernel] * k[$0 % kernel] }
        })
        return image.conv2d(weight: weight2d, padding: r, groups: c)
    }
}
