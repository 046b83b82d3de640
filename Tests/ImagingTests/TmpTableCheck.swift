import Foundation
import Imaging
import XCTest
final class TmpTableCheck: XCTestCase {
    func testPerf() throws {
        var img = RGBImage(width: 4000, height: 3000)
        for i in stride(from: 0, to: img.pixels.count, by: 7) { img.pixels[i] = UInt8(i % 251) }
        var t = Date()
        let jpg = try img.encodeJPEG(quality: 90); print("encode", Date().timeIntervalSince(t), jpg.count); t = Date()
        let back = try RGBImage.decode(data: jpg); print("decode", Date().timeIntervalSince(t)); t = Date()
        let p = try Preprocessing(width: 224, height: 224, resize: .centerCrop, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
        _ = p.apply(to: back); print("preprocess", Date().timeIntervalSince(t)); t = Date()
        let small = back.resized(width: 400, height: 300); print("resize", Date().timeIntervalSince(t)); t = Date()
        _ = back.overlay(map: [Float](repeating: 0.3, count: 196), mapWidth: 14, mapHeight: 14, colormap: .jet, alpha: 0.5); print("overlay", Date().timeIntervalSince(t)); t = Date()
        _ = try back.encodePNG(); print("png", Date().timeIntervalSince(t)); t = Date()
        _ = small
    }
}
