import NN
import Tensor

/// How much of an entry's score the pixels its map ranks first carry (Petsiuk et
/// al., RISE): the area under the deletion curve (lower is better) and under the
/// insertion curve (higher is better), each beside the same curve for a random
/// pixel order — a map is faithful where it beats its random baseline; and ROAD,
/// which imputes the removed pixels instead of blackening them (`ROAD`).
public struct EntryFaithfulness: Sendable, Equatable {
    public let deletion: Float, insertion: Float
    public let randomDeletion: Float, randomInsertion: Float
    public let road: ROAD.Scores

    /// Deletion below the random order's: removing the map's pixels first costs the score sooner.
    public var beatsRandomDeletion: Bool { deletion < randomDeletion }
}

extension TargetSet {
    /// Each entry's deletion and insertion AUC for `explanation`, made from these
    /// targets on `image` [1, C, H, W]: the entry's own score (the kind explained;
    /// a caption word teacher-forced) as the map's pixels are removed or inserted,
    /// over `steps` steps; and its ROAD scores. The random order and ROAD's noise
    /// are seeded, so a run repeats. `only`
    /// measures those entries alone (in that order).
    public func faithfulness(of explanation: Explanation, image: Tensor, steps: Int = 32,
                             only: [Int]? = nil) -> [EntryFaithfulness] {
        let plane = image.shape[2] * image.shape[3]
        let perStep = max(1, (plane + steps - 1) / steps)
        var rng = SeededGenerator(seed: 2018)
        return (only ?? Array(0..<count)).map { t in
            let score: (Tensor) -> [Float] = { batch in
                let all = scores(batch, ForwardContext()).values
                return (0..<batch.shape[0]).map { all[$0 * count + t] }
            }
            let map = explanation.saliency(t)
            let random = (0..<plane).map { _ in Float.random(in: 0..<1, using: &rng) }
            func deletion(_ order: [Float]) -> Float {
                Faithfulness.deletion(image: image, saliency: order, perStep: perStep, score: score).area
            }
            func insertion(_ order: [Float]) -> Float {
                Faithfulness.insertion(image: image, saliency: order, perStep: perStep, score: score).area
            }
            return EntryFaithfulness(deletion: deletion(map), insertion: insertion(map),
                                     randomDeletion: deletion(random), randomInsertion: insertion(random),
                                     road: ROAD.scores(image: image, map: map, seed: UInt64(t), score: score))
        }
    }
}
