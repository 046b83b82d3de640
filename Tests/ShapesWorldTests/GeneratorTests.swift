import XCTest
import Text
@testable import ShapesWorld

final class GeneratorTests: XCTestCase {
    func testSameSeedGivesIdenticalScenesAndOtherSeedsDiffer() throws {
        let a = try SceneGenerator(seed: 7), b = try SceneGenerator(seed: 7), c = try SceneGenerator(seed: 8)
        for index in [0, 1, 57] {
            let first = a.scene(index: index), again = b.scene(index: index)
            XCTAssertEqual(first.image.pixels, again.image.pixels)
            XCTAssertEqual(first.captions, again.captions)
            XCTAssertEqual(first.questions, again.questions)
            XCTAssertEqual(first.objects.map(\.mask), again.objects.map(\.mask))
            XCTAssertNotEqual(first.image.pixels, c.scene(index: index).image.pixels)
        }
        // A scene does not depend on which scenes were drawn before it.
        XCTAssertEqual(a.scene(index: 3).image, b.scene(index: 3).image)
        XCTAssertNotEqual(a.scene(index: 3).image, a.scene(index: 4).image)
        // The same seed gives different scenes in different splits.
        XCTAssertNotEqual(try SceneGenerator(seed: 7, split: .test).scene(index: 0).image, a.scene(index: 0).image)
    }

    func testObjectsAreDisjointInsideTheImageAndMasksAreExact() throws {
        let size = 64
        let generator = try SceneGenerator(size: size, seed: 1)
        var counts = Set<Int>()
        for index in 0..<60 {
            let scene = generator.scene(index: index)
            counts.insert(scene.objects.count)
            XCTAssert((1...4).contains(scene.objects.count))
            var owner = [Int](repeating: -1, count: size * size)
            for object in scene.objects {
                XCTAssertGreaterThan(object.area, 0)
                XCTAssertEqual(object.mask.filter { $0 }.count, object.area)
                let box = boxOf(object.mask, size: size)
                XCTAssertEqual(object.box, PixelBox(x: box.minX, y: box.minY,
                                                   width: box.maxX - box.minX + 1, height: box.maxY - box.minY + 1))
                XCTAssert(box.minX > 0 && box.minY > 0 && box.maxX < size - 1 && box.maxY < size - 1,
                          "objects stay inside the image with a margin")
                for p in 0..<size * size where object.mask[p] {
                    XCTAssertEqual(owner[p], -1, "pixel \(p) of scene \(index) is in two masks")
                    owner[p] = object.id
                    let (r, g, b) = scene.image[p % size, p / size]
                    XCTAssert((r, g, b) == object.color.rgb, "mask pixel without the object's colour")
                }
            }
            // Outside the masks no pixel has any object colour: backgrounds are low-saturation.
            for p in 0..<size * size where owner[p] == -1 {
                let (r, g, b) = scene.image[p % size, p / size]
                XCTAssertLessThanOrEqual(Int(max(r, g, b)) - Int(min(r, g, b)), 50)
            }
        }
        XCTAssertEqual(counts, [1, 2, 3, 4])
    }

    func testCaptionsNameOnlyPresentObjectsAndEveryObjectIsNamed() throws {
        let generator = try SceneGenerator(seed: 2)
        let colors = Set(ShapeColor.allCases.map(\.rawValue)), shapes = Set(Shape.allCases.map(\.rawValue))
        for index in 0..<60 {
            let scene = generator.scene(index: index)
            XCTAssertGreaterThanOrEqual(scene.captions.count, 3)
            let present = Set(scene.objects.map { "\($0.color.rawValue) \($0.shape.rawValue)" })
            var named = Set<String>()
            for caption in scene.captions {
                let words = Tokenizer.words(in: caption.text)
                for (i, word) in words.enumerated() where colors.contains(word) {
                    XCTAssert(i + 1 < words.count && shapes.contains(words[i + 1]), caption.text)
                    let phrase = "\(word) \(words[i + 1])"
                    XCTAssert(present.contains(phrase), "\(caption.text) names an absent \(phrase)")
                    named.insert(phrase)
                }
                if caption.form == .total || caption.form == .count {
                    XCTAssert(words.contains(numberWords[scene.objects.count]), caption.text)
                }
            }
            XCTAssertEqual(named, present)
            // The list caption names every object, small before large, then by
            // colour and shape in their word lists' order — never by position.
            let list = try XCTUnwrap(scene.captions.first { $0.form == .list })
            let sizes = ObjectSize.allCases.map(\.rawValue), colorNames = ShapeColor.allCases.map(\.rawValue)
            let shapeNames = Shape.allCases.map(\.rawValue)
            let listWords = Tokenizer.words(in: list.text)
            let listed = listWords.indices.filter { sizes.contains(listWords[$0]) }.map { i in
                [sizes.firstIndex(of: listWords[i])!, colorNames.firstIndex(of: listWords[i + 1])!,
                 shapeNames.firstIndex(of: listWords[i + 2])!]
            }
            XCTAssertEqual(listed.count, scene.objects.count, list.text)
            XCTAssertEqual(listed, listed.sorted { $0.lexicographicallyPrecedes($1) }, list.text)
            for object in scene.objects {
                XCTAssert(list.text.contains("\(object.size.rawValue) \(object.color.rawValue) \(object.shape.rawValue)"))
            }
        }
        XCTAssertEqual(try SceneGenerator(seed: 3).scene(index: 0).captions.map(\.text).count,
                       Set(try SceneGenerator(seed: 3).scene(index: 0).captions.map(\.text)).count)
    }

    /// Re-derives every answer from the objects and their masks, independently of the grammar code.
    func testQuestionAnswersAndObjectIDsMatchTheScene() throws {
        let size = 64
        let generator = try SceneGenerator(size: size, seed: 3)
        var types: [QuestionType: Int] = [:]
        var answers: [String: Int] = [:]
        for index in 0..<80 {
            let scene = generator.scene(index: index)
            for question in scene.questions {
                types[question.type, default: 0] += 1
                answers[question.answer, default: 0] += 1
                let w = Tokenizer.words(in: question.text)
                let ids = question.objectIDs
                switch question.type {
                case .color:  // what color is the SHAPE
                    let matches = scene.objects.filter { $0.shape.rawValue == w[4] }
                    XCTAssertEqual(matches.count, 1, question.text)
                    XCTAssertEqual(question.answer, matches.first?.color.rawValue)
                    XCTAssertEqual(ids, matches.map(\.id))
                case .shape:  // what shape is the COLOR object
                    let matches = scene.objects.filter { $0.color.rawValue == w[4] }
                    XCTAssertEqual(matches.count, 1, question.text)
                    XCTAssertEqual(question.answer, matches.first?.shape.rawValue)
                    XCTAssertEqual(ids, matches.map(\.id))
                case .count:  // how many shapes / SHAPEs / COLOR objects are there
                    let counted = scene.objects.filter {
                        w[2] == "shapes" || $0.shape.plural == w[2] || $0.color.rawValue == w[2]
                    }
                    XCTAssertEqual(question.answer, numberWords[counted.count], question.text)
                    XCTAssertEqual(ids, counted.map(\.id))
                case .exists:  // is there a COLOR SHAPE
                    let found = objects(named: w[3...], in: scene)
                    XCTAssertEqual(question.answer, found.isEmpty ? "no" : "yes", question.text)
                    XCTAssertEqual(ids, found.map(\.id))
                case .spatial:
                    if w[0] == "is" {  // is the C S REL the C S
                        let relation = w.count == 9 ? "\(w[4]) \(w[5])" : w[4]
                        let a = objects(named: w[2...3], in: scene), b = objects(named: w.suffix(2)[...], in: scene)
                        XCTAssert(a.count == 1 && b.count == 1, question.text)
                        let holds = fullyBeside(a[0], relation, b[0], size: size)
                        XCTAssertEqual(question.answer, holds ? "yes" : "no", question.text)
                        XCTAssertEqual(ids, [a[0].id, b[0].id])
                    } else {  // what is REL the C S
                        let relation = w.count == 7 ? "\(w[2]) \(w[3])" : w[2]
                        let b = objects(named: w.suffix(2)[...], in: scene)
                        XCTAssertEqual(b.count, 1, question.text)
                        let beside = scene.objects.filter { fullyBeside($0, relation, b[0], size: size) }
                        XCTAssertEqual(beside.count, 1, question.text)
                        XCTAssertEqual(question.answer, beside.first?.shape.rawValue)
                        XCTAssertEqual(ids, beside.map(\.id))
                    }
                }
            }
        }
        XCTAssertEqual(Set(types.keys), Set(QuestionType.allCases))
        XCTAssert((answers["yes"] ?? 0) > 10 && (answers["no"] ?? 0) > 10 && (answers["zero"] ?? 0) > 3, "\(answers)")
    }

    func testHeldOutCombinationsOnlyInTheHeldOutSplit() throws {
        let heldOut = Set(ColorShape.heldOut)
        XCTAssertEqual(heldOut.count * 6, ColorShape.all.count)
        for split in [Split.train, .test] {
            let generator = try SceneGenerator(size: 32, seed: 4, split: split)
            for index in 0..<300 {
                XCTAssertFalse(generator.scene(index: index).objects.contains { heldOut.contains($0.colorShape) })
            }
        }
        let generator = try SceneGenerator(size: 32, seed: 4, split: .heldout)
        var seen = Set<ColorShape>()
        for index in 0..<100 {
            let held = generator.scene(index: index).objects.map(\.colorShape).filter(heldOut.contains)
            XCTAssertFalse(held.isEmpty)
            seen.formUnion(held)
        }
        XCTAssertEqual(seen, heldOut)
    }

    func testCornerMarkFollowsTheBias() throws {
        let size = 32, side = 4
        func marked(_ scene: Scene) -> Bool {
            (0..<side).allSatisfy { y in (0..<side).allSatisfy { x in
                scene.image[x, y] == ((x + y) % 2 == 0 ? (255, 255, 255) : (0, 0, 0)) } }
        }
        let biased = try SceneGenerator(size: size, seed: 5, bias: .markWithShape(.circle))
        let random = try SceneGenerator(size: size, seed: 5, bias: .markAtRandom)
        let plain = try SceneGenerator(size: size, seed: 5)
        var withMark = 0, circlesWithout = 0
        for index in 0..<100 {
            let scene = biased.scene(index: index), unbiased = plain.scene(index: index)
            let hasCircle = scene.objects.contains { $0.shape == .circle }
            XCTAssertEqual(marked(scene), hasCircle)
            XCTAssertEqual(scene.hasCornerMark, hasCircle)
            XCTAssertFalse(marked(unbiased))
            let control = random.scene(index: index)
            XCTAssertEqual(marked(control), control.hasCornerMark)
            if control.hasCornerMark { withMark += 1 }
            if !control.hasCornerMark && control.objects.contains(where: { $0.shape == .circle }) { circlesWithout += 1 }
            // The bias changes nothing but the mark.
            XCTAssertEqual(scene.objects.map(\.mask), unbiased.objects.map(\.mask))
            XCTAssertEqual(scene.questions, unbiased.questions)
        }
        XCTAssert((30...70).contains(withMark), "\(withMark)")
        XCTAssertGreaterThan(circlesWithout, 5)
    }

    func testSizeScalesObjectsAndTooSmallIsRejected() throws {
        let scene = try SceneGenerator(size: 128, seed: 6).scene(index: 0)
        XCTAssertEqual(scene.image.width, 128)
        XCTAssertEqual(scene.objects[0].mask.count, 128 * 128)
        XCTAssertThrowsError(try SceneGenerator(size: 16, seed: 6)) { error in
            XCTAssert("\(error)".contains("16"))
        }
    }

    func testLargestObjectLabelsTheImage() throws {
        let generator = try SceneGenerator(seed: 8)
        for index in 0..<30 {
            let scene = generator.scene(index: index)
            let largest = scene.largestObject
            XCTAssert(scene.objects.allSatisfy { $0.area < largest.area || ($0.area == largest.area && $0.id >= largest.id) })
        }
    }
}
