import Imaging

/// A tight pixel box: the smallest rectangle holding every pixel of a mask
/// (COCO's `[x, y, w, h]`).
public struct PixelBox: Equatable, Sendable {
    public let x: Int
    public let y: Int
    public let width: Int
    public let height: Int
}

/// One drawn object with its ground truth.
public struct SceneObject: Sendable {
    /// Position in the scene's object list (0-based, in placement order).
    public let id: Int
    public let shape: Shape
    public let color: ShapeColor
    public let size: ObjectSize
    /// The centre the shape was drawn around, in pixels (x right, y down).
    public let centerX: Double
    public let centerY: Double
    public let box: PixelBox
    /// Row-major, `size * size`: true exactly where the pixel was painted with
    /// this object's colour.
    public let mask: [Bool]
    /// The number of true pixels in `mask`.
    public let area: Int

    public var colorShape: ColorShape { ColorShape(color, shape) }

    /// The order in which captions list objects: by size, then colour, then
    /// shape, each in its word list's order (small before large, red before
    /// green, …), ties by id. It depends only on what the objects are, not on
    /// where they are, so a model whose image vector averages over positions
    /// (`"feature": "avgpool"`) can still tell which object comes next.
    public static func listedBefore(_ a: SceneObject, _ b: SceneObject) -> Bool {
        func key(_ o: SceneObject) -> [Int] {
            [ObjectSize.allCases.firstIndex(of: o.size)!, ShapeColor.allCases.firstIndex(of: o.color)!,
             Shape.allCases.firstIndex(of: o.shape)!, o.id]
        }
        return key(a).lexicographicallyPrecedes(key(b))
    }
}

/// Which template a caption comes from, so a trainer can choose its references.
public enum CaptionForm: String, CaseIterable, Sendable {
    /// Every object with its size, in `SceneObject.listedBefore` order: "a small blue square and a large red circle".
    case list
    /// The number of objects, then each without its size: "two objects: a red circle and a blue square".
    case count
    /// One pair and a relation that holds: "a small red circle left of a blue square".
    case relation
    /// Only the number: "there are two shapes".
    case total
}

public struct Caption: Equatable, Sendable {
    public let text: String
    public let form: CaptionForm
}

/// The question families; also VQA's `question_type`, so accuracy is reported per family.
public enum QuestionType: String, CaseIterable, Sendable {
    case color, shape, count, exists, spatial
}

public struct Question: Equatable, Sendable {
    public let text: String
    public let type: QuestionType
    public let answer: String
    /// The objects the answer is about (scene object ids): the object asked
    /// about, the objects counted or found, or the pair compared.
    public let objectIDs: [Int]

    /// VQA's `answer_type`: "yes/no", "number" or "other".
    public var answerType: String {
        if answer == "yes" || answer == "no" { return "yes/no" }
        return Grammar.numbers.contains(answer) ? "number" : "other"
    }
}

/// One generated image and everything known about it.
public struct Scene: Sendable {
    /// The index it was generated for; with the generator's seed and split it
    /// determines the scene completely.
    public let index: Int
    public let image: RGBImage
    public let objects: [SceneObject]
    public let captions: [Caption]
    public let questions: [Question]
    /// Whether the corner mark of the bias case study was drawn (see `Bias`).
    public let hasCornerMark: Bool

    /// The object that names the image for classification: the largest by
    /// area, ties to the lowest id.
    public var largestObject: SceneObject {
        objects.reduce(objects[0]) { $1.area > $0.area ? $1 : $0 }
    }
}
