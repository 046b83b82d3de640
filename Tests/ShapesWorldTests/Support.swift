import Foundation
import XCTest
@testable import ShapesWorld

/// A fresh temporary folder, removed when the test ends.
func temporaryFolder(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("shapesworld-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// The tight box of a mask, computed independently of the generator.
func boxOf(_ mask: [Bool], size: Int) -> (minX: Int, maxX: Int, minY: Int, maxY: Int) {
    var box = (minX: size, maxX: -1, minY: size, maxY: -1)
    for y in 0..<size {
        for x in 0..<size where mask[y * size + x] {
            box = (min(box.minX, x), max(box.maxX, x), min(box.minY, y), max(box.maxY, y))
        }
    }
    return box
}

/// Whether `a` lies entirely on the `relation` side of `b`, from the masks alone.
func fullyBeside(_ a: SceneObject, _ relation: String, _ b: SceneObject, size: Int) -> Bool {
    let p = boxOf(a.mask, size: size), q = boxOf(b.mask, size: size)
    switch relation {
    case "left of": return p.maxX < q.minX
    case "right of": return q.maxX < p.minX
    case "above": return p.maxY < q.minY
    case "below": return q.maxY < p.minY
    default: return false
    }
}

let numberWords = ["zero", "one", "two", "three", "four"]

/// The objects a "colour shape" phrase such as "red circle" names.
func objects(named phrase: ArraySlice<String>, in scene: Scene) -> [SceneObject] {
    let words = Array(phrase)
    guard words.count == 2 else { return [] }
    return scene.objects.filter { $0.color.rawValue == words[0] && $0.shape.rawValue == words[1] }
}
