import Imaging
import XCTest

final class DrawingTests: XCTestCase {
    private func assertColor(_ c: (UInt8, UInt8, UInt8), _ e: (UInt8, UInt8, UInt8),
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(c == e, "\(c) != \(e)", file: file, line: line)
    }

    /// Values from matplotlib 3.11's float tables: `floor(cm(v)[:3] * 255 + 0.5)`.
    /// jet(0.25) is index 64, whose green is exactly 128.5 (a tie, rounded up).
    func testColormapsMatchMatplotlib() {
        let cases: [(Colormap, Float, (UInt8, UInt8, UInt8))] = [
            (.viridis, 0, (68, 1, 84)), (.viridis, 0.25, (59, 82, 139)), (.viridis, 0.5, (33, 145, 140)),
            (.viridis, 0.75, (94, 201, 98)), (.viridis, 1, (253, 231, 37)),
            (.turbo, 0, (48, 18, 59)), (.turbo, 0.25, (40, 188, 235)), (.turbo, 0.5, (164, 252, 60)),
            (.turbo, 0.75, (251, 126, 33)), (.turbo, 1, (122, 4, 3)),
            (.jet, 0, (0, 0, 128)), (.jet, 0.25, (0, 129, 255)), (.jet, 0.5, (125, 255, 122)),
            (.jet, 0.75, (255, 148, 0)), (.jet, 1, (128, 0, 0)),
        ]
        for (map, v, expected) in cases {
            assertColor(map.color(v), expected)
        }
    }

    func testColormapIndexRuleAndClamping() {
        // Index min(Int(v·256), 255): 0.999 is the last entry, 1/256 - ε the first.
        for map in Colormap.allCases {
            assertColor(map.color(0.999), map.color(1))
            assertColor(map.color(1.0 / 256 - 1e-4), map.color(0))
            assertColor(map.color(-3), map.color(0))
            assertColor(map.color(7), map.color(1))
            assertColor(map.color(.nan), map.color(0))
            assertColor(map.color(.infinity), map.color(1))
        }
        XCTAssertEqual(Colormap(rawValue: "turbo"), .turbo)
    }

    func testOverlayBlendsResizedMap() {
        // A 2×1 map [0, 1] over a 4×1 image: resized to 0, 0.25, 0.75, 1.
        let black = RGBImage(width: 4, height: 1, color: (0, 0, 0))
        let full = black.overlay(map: [0, 1], mapWidth: 2, mapHeight: 1, colormap: .jet, alpha: 1)
        XCTAssertEqual(full.pixels, [0, 0, 128, 0, 129, 255, 255, 148, 0, 128, 0, 0])

        // Half and half on white: (255 + viridis(0)) / 2, rounded.
        let white = RGBImage(width: 2, height: 2)
        let half = white.overlay(map: [0], mapWidth: 1, mapHeight: 1, colormap: .viridis, alpha: 0.5)
        XCTAssertEqual(half.pixels, [UInt8]([162, 128, 170]) + [162, 128, 170] + [162, 128, 170] + [162, 128, 170])

        XCTAssertEqual(white.overlay(map: [1], mapWidth: 1, mapHeight: 1, colormap: .turbo, alpha: 0), white)
    }

    private func inkCount(_ image: RGBImage) -> Int {
        stride(from: 0, to: image.pixels.count, by: 3).filter { image.pixels[$0..<$0 + 3] != [255, 255, 255] }.count
    }

    func testTextDrawsGlyphPixels() {
        var canvas = RGBImage(width: 20, height: 10)
        canvas.drawText("A", x: 1, y: 1, color: (0, 0, 0))
        XCTAssertEqual(inkCount(canvas), 18)  // the A glyph has 18 ink cells
        assertColor(canvas[1 + 2, 1], (0, 0, 0))  // apex
        assertColor(canvas[1, 1], (255, 255, 255))

        var big = RGBImage(width: 20, height: 20)
        big.drawText("A", x: 0, y: 0, scale: 2, color: (200, 0, 0))
        XCTAssertEqual(inkCount(big), 18 * 4)
    }

    /// Letters with a tail (g, j, p, q, y) start at x-height and hang below the baseline, where
    /// nothing else reaches: "green" and "large" once read "9reen" and "lar9e".
    func testTailedLettersHangBelowTheBaseline() {
        func inkRows(_ text: String) -> ClosedRange<Int> {
            var canvas = RGBImage(width: 10, height: 10)
            canvas.drawText(text, x: 0, y: 0, color: (0, 0, 0))
            let rows = (0..<10).filter { y in (0..<10).contains { canvas[$0, y] != (255, 255, 255) } }
            return rows.first!...rows.last!
        }
        for letter in ["g", "p", "q", "y"] { XCTAssertEqual(inkRows(letter), 2...8, letter) }
        XCTAssertEqual(inkRows("j"), 0...8)
        XCTAssertEqual(inkRows("9"), 0...6)
        for letter in ["a", "e", "n", "A", "Z", "0"] { XCTAssertEqual(inkRows(letter).upperBound, 6, letter) }
    }

    func testNonASCIIDrawsQuestionMark() {
        var accented = RGBImage(width: 8, height: 8)
        accented.drawText("é", x: 0, y: 0, color: (0, 0, 0))
        var question = RGBImage(width: 8, height: 8)
        question.drawText("?", x: 0, y: 0, color: (0, 0, 0))
        XCTAssertEqual(accented, question)
        XCTAssertGreaterThan(inkCount(question), 0)
    }

    func testTextIsClippedAndMeasured() {
        var canvas = RGBImage(width: 4, height: 4)
        canvas.drawText("Hello, world!\nline two", x: -2, y: -2, scale: 3, color: (0, 0, 0))
        XCTAssertGreaterThan(inkCount(canvas), 0)
        XCTAssertTrue(RGBImage.textSize("ab") == (11, 9))
        XCTAssertTrue(RGBImage.textSize("ab\nc", scale: 2) == (22, 38))
        XCTAssertTrue(RGBImage.textSize("") == (0, 9))
    }

    func testPasteClipsToCanvas() {
        let red = RGBImage(width: 2, height: 2, color: (255, 0, 0))
        let canvas = RGBImage(width: 4, height: 4)
        let corner = canvas.pasted(red, x: 3, y: 3)
        assertColor(corner[3, 3], (255, 0, 0))
        XCTAssertEqual(inkCount(corner), 1)
        let offCanvas = canvas.pasted(red, x: -1, y: -1)
        assertColor(offCanvas[0, 0], (255, 0, 0))
        XCTAssertEqual(inkCount(offCanvas), 1)
        XCTAssertEqual(canvas.pasted(red, x: 10, y: 0), canvas)
        let middle = canvas.pasted(red, x: 1, y: 1)
        XCTAssertEqual(inkCount(middle), 4)
        assertColor(middle[2, 2], (255, 0, 0))
    }
}
