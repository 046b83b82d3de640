/// An 8-bit RGB image: what every decoder produces and every encoder takes.
///
/// Pixels are interleaved and row-major: the red, green and blue bytes of
/// pixel (x, y) are at `(y * width + x) * 3 + 0...2`. Alpha never survives
/// decoding (it is composited on white), so three channels are enough for
/// photographs, overlays and contact sheets alike.
public struct RGBImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    /// Wraps existing pixels; `pixels.count` must be `width * height * 3`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0, "an image needs at least one pixel")
        precondition(pixels.count == width * height * 3, "pixels must hold width*height*3 bytes")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A blank canvas of one colour (white by default), for composing sheets.
    public init(width: Int, height: Int, color: (UInt8, UInt8, UInt8) = (255, 255, 255)) {
        precondition(width > 0 && height > 0, "an image needs at least one pixel")
        self.width = width
        self.height = height
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in stride(from: 0, to: pixels.count, by: 3) {
            pixels[i] = color.0
            pixels[i + 1] = color.1
            pixels[i + 2] = color.2
        }
        self.pixels = pixels
    }

    /// The colour of pixel (x, y); both must be inside the image.
    public subscript(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        get {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel outside the image")
            let i = (y * width + x) * 3
            return (pixels[i], pixels[i + 1], pixels[i + 2])
        }
        set {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel outside the image")
            let i = (y * width + x) * 3
            pixels[i] = newValue.0
            pixels[i + 1] = newValue.1
            pixels[i + 2] = newValue.2
        }
    }

    /// Copies `other` with its top-left corner at (x, y); whatever falls
    /// outside this image is clipped, so callers may paste partly off-canvas.
    public mutating func paste(_ other: RGBImage, x: Int, y: Int) {
        let x0 = max(x, 0), x1 = min(x + other.width, width)
        let y0 = max(y, 0), y1 = min(y + other.height, height)
        guard x0 < x1, y0 < y1 else { return }
        let count = (x1 - x0) * 3
        for row in y0..<y1 {
            let src = ((row - y) * other.width + (x0 - x)) * 3
            let dst = (row * width + x0) * 3
            pixels.replaceSubrange(dst..<dst + count, with: other.pixels[src..<src + count])
        }
    }

    /// This image with `other` pasted at (x, y) (see `paste`).
    public func pasted(_ other: RGBImage, x: Int, y: Int) -> RGBImage {
        var copy = self
        copy.paste(other, x: x, y: y)
        return copy
    }

    /// The central `width`×`height` region. When the margin is odd the extra
    /// pixel is split like torchvision's `CenterCrop` (offset rounded half to even).
    public func centerCropped(width: Int, height: Int) -> RGBImage {
        precondition(width > 0 && width <= self.width && height > 0 && height <= self.height,
                     "crop must fit inside the image")
        let left = centerOffset(self.width, width), top = centerOffset(self.height, height)
        var out = [UInt8]()
        out.reserveCapacity(width * height * 3)
        for row in top..<top + height {
            let start = (row * self.width + left) * 3
            out.append(contentsOf: pixels[start..<start + width * 3])
        }
        return RGBImage(width: width, height: height, pixels: out)
    }
}

/// torchvision's crop offset: `int(round((size - crop) / 2))`, Python rounding half to even.
func centerOffset(_ size: Int, _ crop: Int) -> Int {
    Int((Double(size - crop) / 2).rounded(.toNearestOrEven))
}

extension RGBImage {
    /// Whether every pixel is grey (red = green = blue).
    public var isGrey: Bool {
        pixels.withUnsafeBufferPointer { p in
            stride(from: 0, to: p.count, by: 3).allSatisfy { p[$0] == p[$0 + 1] && p[$0] == p[$0 + 2] }
        }
    }
}
