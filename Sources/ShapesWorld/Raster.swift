import Foundation
import Tensor

/// Drawing without anti-aliasing: a pixel belongs to a shape when its centre
/// (x + 0.5, y + 0.5) is inside, and is then painted with exactly the object's
/// colour, so the mask is exact by construction.
enum Raster {
    /// Whether (x, y) is inside the polygon by the even-odd rule; shared by the
    /// generator (triangles, stars) and COCO polygon decoding.
    static func polygonContains(_ xs: [Double], _ ys: [Double], x: Double, y: Double) -> Bool {
        var inside = false
        var j = xs.count - 1
        for i in 0..<xs.count {
            if (ys[i] > y) != (ys[j] > y) {
                let crossX = xs[i] + (y - ys[i]) / (ys[j] - ys[i]) * (xs[j] - xs[i])
                if x < crossX { inside.toggle() }
            }
            j = i
        }
        return inside
    }

    /// The outline of one shape around a centre, ready for point tests.
    struct Outline {
        let shape: Shape
        let cx: Double, cy: Double, r: Double
        private let xs: [Double], ys: [Double]

        init(shape: Shape, cx: Double, cy: Double, r: Double) {
            self.shape = shape
            self.cx = cx
            self.cy = cy
            self.r = r
            var xs: [Double] = [], ys: [Double] = []
            switch shape {
            case .triangle:
                // Apex up, base along the bottom of the bounding square.
                xs = [cx, cx + r, cx - r]
                ys = [cy - r, cy + r, cy + r]
            case .star:
                // Five points, the first straight up; inner radius half the outer.
                for k in 0..<10 {
                    let radius = k % 2 == 0 ? r : r * 0.5
                    let angle = -Double.pi / 2 + Double(k) * Double.pi / 5
                    xs.append(cx + radius * cos(angle))
                    ys.append(cy + radius * sin(angle))
                }
            case .circle, .square, .diamond:
                break
            }
            self.xs = xs
            self.ys = ys
        }

        func contains(x: Double, y: Double) -> Bool {
            let dx = x - cx, dy = y - cy
            switch shape {
            case .circle: return dx * dx + dy * dy <= r * r
            // Slightly smaller than its box so its area is close to the circle's.
            case .square: return abs(dx) <= 0.85 * r && abs(dy) <= 0.85 * r
            case .diamond: return abs(dx) + abs(dy) <= r
            case .triangle, .star: return Raster.polygonContains(xs, ys, x: x, y: y)
            }
        }
    }

    /// Paints `outline` in `color` into the interleaved RGB `pixels` of a
    /// `size`×`size` image and returns its mask, tight box and area.
    static func draw(_ outline: Outline, color: (UInt8, UInt8, UInt8), into pixels: inout [UInt8],
                     size: Int) -> (mask: [Bool], box: PixelBox, area: Int) {
        var mask = [Bool](repeating: false, count: size * size)
        var minX = size, minY = size, maxX = -1, maxY = -1, area = 0
        let x0 = max(0, Int((outline.cx - outline.r).rounded(.down)))
        let x1 = min(size - 1, Int((outline.cx + outline.r).rounded(.up)))
        let y0 = max(0, Int((outline.cy - outline.r).rounded(.down)))
        let y1 = min(size - 1, Int((outline.cy + outline.r).rounded(.up)))
        for y in y0...y1 {
            for x in x0...x1 where outline.contains(x: Double(x) + 0.5, y: Double(y) + 0.5) {
                let i = y * size + x
                mask[i] = true
                pixels[3 * i] = color.0
                pixels[3 * i + 1] = color.1
                pixels[3 * i + 2] = color.2
                minX = min(minX, x); maxX = max(maxX, x)
                minY = min(minY, y); maxY = max(maxY, y)
                area += 1
            }
        }
        let box = PixelBox(x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1)
        return (mask, box, area)
    }

    /// The side of the corner mark: 4 px at 64 px, scaled with the image.
    static func markSide(imageSize: Int) -> Int { max(4, imageSize / 16) }

    /// A black-and-white checker in the top-left corner: the spurious cue of
    /// the bias case study. Pure black and white never occur in backgrounds
    /// (clamped to 40...220) or objects, so the cue is unmistakable.
    static func drawMark(into pixels: inout [UInt8], size: Int) {
        let side = markSide(imageSize: size), cell = max(1, side / 4)
        for y in 0..<side {
            for x in 0..<side {
                let value: UInt8 = (x / cell + y / cell) % 2 == 0 ? 255 : 0
                let i = 3 * (y * size + x)
                pixels[i] = value
                pixels[i + 1] = value
                pixels[i + 2] = value
            }
        }
    }

    /// Background patterns: varied so a model cannot find objects by "anything
    /// not the background colour", but always low-saturation.
    enum Pattern: CaseIterable {
        case noise, stripes, gradient, checker
    }

    /// Fills a `size`×`size` background: one pattern mixing two pastel/grey
    /// colours at most 50 grey levels apart, plus per-pixel noise. Colours are a
    /// grey level in 80...190 with a tint of at most ±12 per channel, noise at
    /// most ±10 per channel, clamped to 40...220: max − min channel stays ≤ 50,
    /// far below any object colour's 130.
    static func paintBackground(into pixels: inout [UInt8], size: Int, rng: inout SeededGenerator) {
        func pastel(grey: Double, _ rng: inout SeededGenerator) -> (Double, Double, Double) {
            (grey + 24 * rng.unit() - 12, grey + 24 * rng.unit() - 12, grey + 24 * rng.unit() - 12)
        }
        let greyA = 80 + 110 * rng.unit()
        let greyB = min(190, max(80, greyA + 100 * rng.unit() - 50))
        let a = pastel(grey: greyA, &rng), b = pastel(grey: greyB, &rng)
        let pattern = rng.pick(Pattern.allCases)
        let period = 4 + rng.below(9)            // stripes and checker cells, in pixels
        let orientation = rng.below(3)           // stripes: horizontal, vertical, diagonal
        let angle = 2 * Double.pi * rng.unit()   // gradient direction
        let (ux, uy) = (cos(angle), sin(angle))
        let noise = 2 + rng.below(9)             // amplitude in 2...10
        let span = UInt64(2 * noise + 1)

        @inline(__always) func channel(_ lo: Double, _ hi: Double, _ t: Double, _ bits: inout UInt64) -> UInt8 {
            let jitter = Double(Int(bits % span) - noise)
            bits /= span
            return UInt8(min(220, max(40, lo + (hi - lo) * t + jitter)))
        }

        for y in 0..<size {
            for x in 0..<size {
                let t: Double
                switch pattern {
                case .noise:
                    t = 0
                case .stripes:
                    let coordinate = orientation == 0 ? y : orientation == 1 ? x : x + y
                    t = (coordinate / period) % 2 == 0 ? 0 : 1
                case .gradient:
                    let s = (Double(x) - Double(size) / 2) * ux + (Double(y) - Double(size) / 2) * uy
                    t = min(1, max(0, 0.5 + s / Double(size)))
                case .checker:
                    t = (x / period + y / period) % 2 == 0 ? 0 : 1
                }
                var bits = rng.next()
                let i = 3 * (y * size + x)
                pixels[i] = channel(a.0, b.0, t, &bits)
                pixels[i + 1] = channel(a.1, b.1, t, &bits)
                pixels[i + 2] = channel(a.2, b.2, t, &bits)
            }
        }
    }
}

extension SeededGenerator {
    /// Uniform in 0..<n (n > 0). Modulo bias is below 2⁻⁵⁰ for our small n.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    /// Uniform in [0, 1) with 53 random bits.
    mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    mutating func chance(_ probability: Double) -> Bool { unit() < probability }
}
