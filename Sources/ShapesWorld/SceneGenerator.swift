import Imaging
import Tensor

/// Which part of ShapesWorld to draw from.
public enum Split: String, CaseIterable, Sendable {
    /// Every colour–shape combination except `ColorShape.heldOut`.
    case train
    /// The same distribution as `train`, different scenes.
    case test
    /// At least one held-out combination in every scene (the first object);
    /// the other objects may be any combination. Written as `test-heldout`.
    case heldout

    /// Mixed into every scene's seed, so splits drawn with the same seed differ.
    var salt: UInt64 {
        switch self {
        case .train: 0x7472_6169_6E00_0000
        case .test: 0x7465_7374_0000_0000
        case .heldout: 0x6865_6C64_6F75_7400
        }
    }
}

/// The corner-mark option of the dataset-bias case study (the paper's §6.3).
/// The mark is a small black-and-white checker in the top-left corner, a region
/// no object ever covers (in every split, with or without a bias, so scenes
/// differ only by the mark).
public enum Bias: Equatable, Sendable {
    /// The mark is drawn on exactly the images that contain `shape`: a spurious
    /// cue a classifier can use instead of the shape itself.
    case markWithShape(Shape)
    /// The mark is drawn on a random half of the images, independent of their
    /// content: the unbiased control to test a biased model on.
    case markAtRandom
}

/// Draws ShapesWorld scenes: 1–4 non-overlapping objects on a textured
/// background, with exact masks, captions and questions.
///
/// Scene `index` depends only on (seed, split, index) — not on which other
/// scenes were drawn — so shards and resumed runs reproduce it. A bias changes
/// only whether the corner mark is drawn.
public struct SceneGenerator: Sendable {
    public static let minimumSize = 32
    public static let maxObjects = 4

    public let size: Int
    public let seed: UInt64
    public let split: Split
    public let bias: Bias?

    /// - Throws: `DatasetError.invalidArgument` when `size` is below `minimumSize`
    ///   (four objects must fit and small objects must stay recognisable).
    public init(size: Int = 64, seed: UInt64, split: Split = .train, bias: Bias? = nil) throws(DatasetError) {
        guard size >= Self.minimumSize else {
            throw .invalidArgument("image size \(size) is too small: ShapesWorld needs at least \(Self.minimumSize) pixels")
        }
        self.size = size
        self.seed = seed
        self.split = split
        self.bias = bias
    }

    public func scene(index: Int) -> Scene {
        var rng = SeededGenerator(seed: sceneSeed(index: index))
        var pixels = [UInt8](repeating: 0, count: size * size * 3)
        Raster.paintBackground(into: &pixels, size: size, rng: &rng)
        let objects = place(&rng).enumerated().map { id, placement in
            let outline = Raster.Outline(shape: placement.shape, cx: placement.cx, cy: placement.cy,
                                         r: placement.size.radius(imageSize: size))
            let drawn = Raster.draw(outline, color: placement.color.rgb, into: &pixels, size: size)
            return SceneObject(id: id, shape: placement.shape, color: placement.color, size: placement.size,
                               centerX: placement.cx, centerY: placement.cy,
                               box: drawn.box, mask: drawn.mask, area: drawn.area)
        }
        let captions = makeCaptions(objects, &rng)
        let questions = makeQuestions(objects, &rng)
        // Drawn in every configuration so a bias never changes the rest of the scene.
        let coin = rng.chance(0.5)
        let hasMark: Bool
        switch bias {
        case nil: hasMark = false
        case .markWithShape(let shape): hasMark = objects.contains { $0.shape == shape }
        case .markAtRandom: hasMark = coin
        }
        if hasMark { Raster.drawMark(into: &pixels, size: size) }
        return Scene(index: index, image: RGBImage(width: size, height: size, pixels: pixels),
                     objects: objects, captions: captions, questions: questions, hasCornerMark: hasMark)
    }

    /// The combinations objects are drawn from (the first object of a
    /// `heldout` scene is drawn from `ColorShape.heldOut` instead).
    var pool: [ColorShape] {
        split == .heldout ? ColorShape.all : ColorShape.all.filter { !ColorShape.heldOut.contains($0) }
    }

    // MARK: Seeding

    /// A well-mixed seed per scene: hashing (not offsetting) the index keeps
    /// the SplitMix streams of neighbouring scenes from overlapping.
    private func sceneSeed(index: Int) -> UInt64 {
        var splitStream = SeededGenerator(seed: seed ^ split.salt)
        var sceneStream = SeededGenerator(seed: splitStream.next() ^ UInt64(truncatingIfNeeded: index))
        return sceneStream.next()
    }

    // MARK: Placement

    private struct Placement {
        let shape: Shape, color: ShapeColor, size: ObjectSize
        let cx: Double, cy: Double
    }

    /// Rejection sampling: each object gets up to 100 random positions inside
    /// the image, clear of the corner mark and at least `gap` pixels from every
    /// earlier object's bounding square; a large object that does not fit is
    /// retried small, and one that still does not fit is dropped.
    private func place(_ rng: inout SeededGenerator) -> [Placement] {
        let count = 1 + rng.below(Self.maxObjects)
        var placed: [Placement] = []
        for k in 0..<count {
            let combination = k == 0 && split == .heldout ? rng.pick(ColorShape.heldOut) : rng.pick(pool)
            var objectSize = rng.pick(ObjectSize.allCases)
            var spot = position(radius: objectSize.radius(imageSize: size), clearOf: placed, &rng)
            if spot == nil, objectSize == .large {
                objectSize = .small
                spot = position(radius: objectSize.radius(imageSize: size), clearOf: placed, &rng)
            }
            guard let (cx, cy) = spot else { continue }
            placed.append(Placement(shape: combination.shape, color: combination.color, size: objectSize, cx: cx, cy: cy))
        }
        return placed
    }

    /// A centre for an object of radius `r` that keeps it inside the image,
    /// off the corner mark and clear of `placed`, or nil after 100 tries.
    private func position(radius r: Double, clearOf placed: [Placement],
                          _ rng: inout SeededGenerator) -> (Double, Double)? {
        let gap = max(2, Double(size) / 32)
        let corner = Double(Raster.markSide(imageSize: size)) + gap
        let low = r + 1, high = Double(size) - 1 - r
        for _ in 0..<100 {
            let cx = low + (high - low) * rng.unit(), cy = low + (high - low) * rng.unit()
            let clear = (cx - r >= corner || cy - r >= corner) && placed.allSatisfy { other in
                let d = r + other.size.radius(imageSize: size) + gap
                return abs(cx - other.cx) >= d || abs(cy - other.cy) >= d
            }
            if clear { return (cx, cy) }
        }
        return nil
    }

    // MARK: Captions

    /// The `list`, `count` and `total` captions always; a `relation` caption
    /// when some pair of objects is clearly separated.
    private func makeCaptions(_ objects: [SceneObject], _ rng: inout SeededGenerator) -> [Caption] {
        let listed = objects.sorted(by: SceneObject.listedBefore)
        var captions = [
            Caption(text: Grammar.listCaption(listed), form: .list),
            Caption(text: Grammar.countCaption(listed), form: .count),
            Caption(text: Grammar.totalCaption(count: objects.count), form: .total),
        ]
        let related = relatedPairs(objects)
        if !related.isEmpty {
            let (a, relation, b) = rng.pick(related)
            captions.insert(Caption(text: Grammar.relationCaption(a, relation, b), form: .relation), at: 2)
        }
        return captions
    }

    /// Every (a, relation, b) that holds, in a fixed order.
    private func relatedPairs(_ objects: [SceneObject]) -> [(SceneObject, Relation, SceneObject)] {
        objects.flatMap { a in
            objects.flatMap { b in
                Relation.allCases.filter { a.id != b.id && $0.holds(a, b) }.map { (a, $0, b) }
            }
        }
    }

    // MARK: Questions

    /// One question of each family that the scene allows, in the order colour,
    /// shape, count, exists, spatial. Only unambiguous questions are asked: a
    /// colour question names a shape that occurs once, a shape question a colour
    /// that occurs once, a spatial question objects whose colour and shape are
    /// unique in the scene.
    private func makeQuestions(_ objects: [SceneObject], _ rng: inout SeededGenerator) -> [Question] {
        var questions: [Question] = []
        func occursOnce<T: Equatable>(_ value: T, _ key: (SceneObject) -> T) -> Bool {
            objects.filter { key($0) == value }.count == 1
        }

        let uniqueShapes = objects.filter { occursOnce($0.shape, \.shape) }
        if !uniqueShapes.isEmpty {
            let o = rng.pick(uniqueShapes)
            questions.append(Question(text: Grammar.colorQuestion(o.shape), type: .color,
                                      answer: o.color.rawValue, objectIDs: [o.id]))
        }
        let uniqueColors = objects.filter { occursOnce($0.color, \.color) }
        if !uniqueColors.isEmpty {
            let o = rng.pick(uniqueColors)
            questions.append(Question(text: Grammar.shapeQuestion(o.color), type: .shape,
                                      answer: o.shape.rawValue, objectIDs: [o.id]))
        }

        // Count: all objects, a shape or a colour; half the shapes and colours
        // are taken from the scene so that non-zero answers are common.
        let subject: Grammar.CountSubject
        switch rng.below(3) {
        case 0: subject = .all
        case 1: subject = .shape(rng.chance(0.5) ? rng.pick(objects).shape : rng.pick(Shape.allCases))
        default: subject = .color(rng.chance(0.5) ? rng.pick(objects).color : rng.pick(ShapeColor.allCases))
        }
        let counted = objects.filter(subject.matches).map(\.id)
        questions.append(Question(text: Grammar.countQuestion(subject), type: .count,
                                  answer: Grammar.numbers[counted.count], objectIDs: counted))

        // Exists: yes and no equally often; absent combinations come from the
        // split's pool, so training never asks about a held-out combination.
        let present = Set(objects.map(\.colorShape))
        let absent = pool.filter { !present.contains($0) }
        let asked = rng.chance(0.5) || absent.isEmpty ? rng.pick(objects).colorShape : rng.pick(absent)
        let found = objects.filter { $0.colorShape == asked }.map(\.id)
        questions.append(Question(text: Grammar.existsQuestion(asked), type: .exists,
                                  answer: found.isEmpty ? "no" : "yes", objectIDs: found))

        if let spatial = spatialQuestion(objects, &rng) { questions.append(spatial) }
        return questions
    }

    /// "is the red circle left of the blue square?" (yes and no equally often)
    /// or "what is left of the blue square?" (only when exactly one object is
    /// on that side and no other leans towards it).
    private func spatialQuestion(_ objects: [SceneObject], _ rng: inout SeededGenerator) -> Question? {
        let named = objects.filter { o in objects.filter { $0.colorShape == o.colorShape }.count == 1 }
        let pairs = relatedPairs(named)
        var whats: [(Relation, SceneObject, SceneObject)] = []
        for b in named {
            for relation in Relation.allCases {
                let others = objects.filter { $0.id != b.id }
                let clear = others.filter { relation.holds($0, b) }
                let unclear = others.contains { !relation.holds($0, b) && relation.leans($0, b) }
                if clear.count == 1, !unclear { whats.append((relation, b, clear[0])) }
            }
        }
        if !whats.isEmpty, pairs.isEmpty || rng.chance(0.5) {
            let (relation, b, answer) = rng.pick(whats)
            return Question(text: Grammar.whatQuestion(relation, b), type: .spatial,
                            answer: answer.shape.rawValue, objectIDs: [answer.id])
        }
        guard !pairs.isEmpty else { return nil }
        let (a, relation, b) = rng.pick(pairs)
        let yes = rng.chance(0.5)
        return Question(text: Grammar.relationQuestion(a, yes ? relation : relation.converse, b), type: .spatial,
                        answer: yes ? "yes" : "no", objectIDs: [a.id, b.id])
    }
}
