/// The shapes of ShapesWorld, in the order of the classification categories.
public enum Shape: String, CaseIterable, Sendable {
    case circle, square, triangle, star, diamond

    /// The plural used in counting questions ("how many stars are there?").
    public var plural: String { rawValue + "s" }
}

/// Object colours. They are saturated (max − min channel ≥ 130) and far apart
/// from each other (every pair differs by at least 95 in some channel), while
/// backgrounds are low-saturation greys and pastels (max − min ≤ 50), so no
/// background pixel ever has an object's colour and a colour word is unambiguous.
public enum ShapeColor: String, CaseIterable, Sendable {
    case red, green, blue, yellow, purple, orange

    /// The exact RGB value every pixel of an object of this colour has.
    public var rgb: (UInt8, UInt8, UInt8) {
        switch self {
        case .red: (215, 25, 35)
        case .green: (30, 160, 50)
        case .blue: (30, 70, 220)
        case .yellow: (245, 225, 30)
        case .purple: (140, 40, 180)
        case .orange: (245, 120, 15)
        }
    }
}

/// The two object sizes; the radius scales with the image so a split at any
/// `--size` looks the same.
public enum ObjectSize: String, CaseIterable, Sendable {
    case small, large

    /// Half the extent of the object's bounding square, in pixels.
    public func radius(imageSize: Int) -> Double {
        switch self {
        case .small: Double(imageSize) / 10
        case .large: Double(imageSize) / 6
        }
    }
}

/// A colour–shape combination, the unit the held-out split is defined by.
public struct ColorShape: Hashable, Sendable, CustomStringConvertible {
    public let color: ShapeColor
    public let shape: Shape

    public init(_ color: ShapeColor, _ shape: Shape) {
        self.color = color
        self.shape = shape
    }

    /// "green square".
    public var description: String { "\(color.rawValue) \(shape.rawValue)" }

    /// Every combination, colours outer, in declaration order.
    public static let all: [ColorShape] = ShapeColor.allCases.flatMap { color in
        Shape.allCases.map { ColorShape(color, $0) }
    }

    /// The combinations kept out of `train` and `test` and shown only in
    /// `heldout` scenes (5 of 30: one per shape, each with a different colour),
    /// to measure whether a model composes colour and shape or memorises pairs.
    public static let heldOut: [ColorShape] = [
        ColorShape(.green, .square), ColorShape(.red, .star), ColorShape(.blue, .triangle),
        ColorShape(.yellow, .circle), ColorShape(.purple, .diamond),
    ]
}

/// A spatial relation between two objects. It holds only when the objects'
/// pixel boxes are disjoint along its axis, so every relation the generator
/// states or asks about is unambiguous to a viewer.
public enum Relation: String, CaseIterable, Sendable {
    case leftOf = "left of", rightOf = "right of", above, below

    /// The relation that holds with the objects swapped.
    public var converse: Relation {
        switch self {
        case .leftOf: .rightOf
        case .rightOf: .leftOf
        case .above: .below
        case .below: .above
        }
    }

    /// Whether `a` lies entirely on this side of `b`.
    public func holds(_ a: SceneObject, _ b: SceneObject) -> Bool {
        switch self {
        case .leftOf: a.box.x + a.box.width <= b.box.x
        case .rightOf: b.box.x + b.box.width <= a.box.x
        case .above: a.box.y + a.box.height <= b.box.y
        case .below: b.box.y + b.box.height <= a.box.y
        }
    }

    /// Whether `a`'s centre is on this side of `b`'s centre: a weaker test, used
    /// to avoid questions where a second object is partly on that side.
    func leans(_ a: SceneObject, _ b: SceneObject) -> Bool {
        switch self {
        case .leftOf: a.centerX < b.centerX
        case .rightOf: a.centerX > b.centerX
        case .above: a.centerY < b.centerY
        case .below: a.centerY > b.centerY
        }
    }
}

/// The caption and question templates. Every sentence the generator writes is
/// built here, from the word lists below, so the vocabularies derived from
/// those lists cover every word (a test checks both directions).
enum Grammar {
    static let numbers = ["zero", "one", "two", "three", "four"]

    // MARK: Captions

    /// "a large red circle" with the size, "an orange star" without.
    static func phrase(_ object: SceneObject, withSize: Bool) -> String {
        let words = withSize
            ? [object.size.rawValue, object.color.rawValue, object.shape.rawValue]
            : [object.color.rawValue, object.shape.rawValue]
        return ([article(before: words[0])] + words).joined(separator: " ")
    }

    /// "x", "x and y", "x, y and z".
    static func list(_ phrases: [String]) -> String {
        guard let last = phrases.last else { return "" }
        if phrases.count == 1 { return last }
        return phrases.dropLast().joined(separator: ", ") + " and " + last
    }

    /// Every object with its size, in `SceneObject.listedBefore` order:
    /// "a small blue square and a large red circle".
    static func listCaption(_ listed: [SceneObject]) -> String {
        list(listed.map { phrase($0, withSize: true) })
    }

    /// "two objects: a red circle and a blue square".
    static func countCaption(_ listed: [SceneObject]) -> String {
        let n = listed.count
        return "\(numbers[n]) \(n == 1 ? "object" : "objects"): "
            + list(listed.map { phrase($0, withSize: false) })
    }

    /// "there is one shape", "there are three shapes".
    static func totalCaption(count n: Int) -> String {
        n == 1 ? "there is one shape" : "there are \(numbers[n]) shapes"
    }

    /// "a small red circle left of a blue square".
    static func relationCaption(_ a: SceneObject, _ relation: Relation, _ b: SceneObject) -> String {
        "\(phrase(a, withSize: true)) \(relation.rawValue) \(phrase(b, withSize: false))"
    }

    /// Every word a caption can contain.
    static var captionWords: [String] {
        ["a", "an", "and", "object", "objects", "there", "is", "are", "shape", "shapes"]
            + numbers.dropFirst() + relationWords
            + ObjectSize.allCases.map(\.rawValue) + ShapeColor.allCases.map(\.rawValue)
            + Shape.allCases.map(\.rawValue)
    }

    // MARK: Questions

    static func colorQuestion(_ shape: Shape) -> String { "what color is the \(shape.rawValue)?" }

    static func shapeQuestion(_ color: ShapeColor) -> String { "what shape is the \(color.rawValue) object?" }

    /// What a counting question counts: all objects, one shape or one colour.
    enum CountSubject {
        case all, shape(Shape), color(ShapeColor)

        func matches(_ object: SceneObject) -> Bool {
            switch self {
            case .all: true
            case .shape(let shape): object.shape == shape
            case .color(let color): object.color == color
            }
        }
    }

    static func countQuestion(_ subject: CountSubject) -> String {
        switch subject {
        case .all: "how many shapes are there?"
        case .shape(let shape): "how many \(shape.plural) are there?"
        case .color(let color): "how many \(color.rawValue) objects are there?"
        }
    }

    static func existsQuestion(_ combination: ColorShape) -> String {
        "is there \(article(before: combination.color.rawValue)) \(combination)?"
    }

    static func relationQuestion(_ a: SceneObject, _ relation: Relation, _ b: SceneObject) -> String {
        "is the \(a.colorShape) \(relation.rawValue) the \(b.colorShape)?"
    }

    static func whatQuestion(_ relation: Relation, _ b: SceneObject) -> String {
        "what is \(relation.rawValue) the \(b.colorShape)?"
    }

    /// Every question form the generator asks (`question_forms.txt`, Text's
    /// `QuestionForms`), with the article agreeing with the colour as asked.
    public static var questionForms: String {
        func any(_ words: [String]) -> String { "{" + words.joined(separator: "|") + "}" }
        let colors = ShapeColor.allCases.map(\.rawValue), shapes = Shape.allCases.map(\.rawValue)
        let vowel = colors.filter { article(before: $0) == "an" }, consonant = colors.filter { article(before: $0) == "a" }
        let relations = any(Relation.allCases.map(\.rawValue)), object = any(colors) + " " + any(shapes)
        return ([
            "# The forms of ShapesWorld's questions (gradcam shapes); a question of another form gets an answer that means nothing.",
            "what color is the \(any(shapes))?",
            "what shape is the \(any(colors)) object?",
            "how many shapes are there?",
            "how many \(any(Shape.allCases.map(\.plural))) are there?",
            "how many \(any(colors)) objects are there?",
        ] + (consonant.isEmpty ? [] : ["is there a \(any(consonant)) \(any(shapes))?"])
          + (vowel.isEmpty ? [] : ["is there an \(any(vowel)) \(any(shapes))?"]) + [
            "is the \(object) \(relations) the \(object)?",
            "what is \(relations) the \(object)?",
        ]).joined(separator: "\n") + "\n"
    }

    /// Every word a question can contain.
    static var questionWords: [String] {
        ["a", "an", "the", "what", "color", "is", "shape", "object", "how", "many", "shapes",
         "objects", "are", "there"]
            + relationWords + ShapeColor.allCases.map(\.rawValue)
            + Shape.allCases.map(\.rawValue) + Shape.allCases.map(\.plural)
    }

    /// Every possible answer: yes/no, counts, colours, shapes.
    static var answers: [String] {
        ["yes", "no"] + numbers + ShapeColor.allCases.map(\.rawValue) + Shape.allCases.map(\.rawValue)
    }

    // MARK: Helpers

    private static var relationWords: [String] {
        Relation.allCases.flatMap { $0.rawValue.split(separator: " ").map(String.init) }
    }

    private static func article(before word: String) -> String {
        word.first.map { "aeiou".contains($0) } == true ? "an" : "a"
    }
}
