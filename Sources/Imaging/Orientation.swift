extension RGBImage {
    /// The image turned upright according to an EXIF Orientation value.
    ///
    /// Cameras store pixels as the sensor read them and record the rotation
    /// in EXIF; viewers apply it, so explanations must too or their maps
    /// would be drawn on a sideways photo. Values 5...8 swap width and height;
    /// values outside 1...8 leave the image as it is.
    ///
    /// | value | transform                     |
    /// |-------|-------------------------------|
    /// | 1     | none                          |
    /// | 2     | mirror left-right             |
    /// | 3     | rotate 180°                   |
    /// | 4     | mirror top-bottom             |
    /// | 5     | transpose (mirror + 90° CCW)  |
    /// | 6     | rotate 90° clockwise          |
    /// | 7     | transverse (mirror + 90° CW)  |
    /// | 8     | rotate 90° counter-clockwise  |
    public func applyingEXIFOrientation(_ orientation: Int) -> RGBImage {
        guard (2...8).contains(orientation) else { return self }
        let w = width, h = height
        let swaps = orientation >= 5
        let outWidth = swaps ? h : w, outHeight = swaps ? w : h
        // Source pixel of output pixel (x, y).
        let source: (Int, Int) -> (Int, Int)
        switch orientation {
        case 2: source = { x, y in (w - 1 - x, y) }
        case 3: source = { x, y in (w - 1 - x, h - 1 - y) }
        case 4: source = { x, y in (x, h - 1 - y) }
        case 5: source = { x, y in (y, x) }
        case 6: source = { x, y in (y, h - 1 - x) }
        case 7: source = { x, y in (w - 1 - y, h - 1 - x) }
        default: source = { x, y in (w - 1 - y, x) }
        }
        var out = [UInt8](repeating: 0, count: pixels.count)
        var i = 0
        for y in 0..<outHeight {
            for x in 0..<outWidth {
                let (sx, sy) = source(x, y)
                let s = (sy * w + sx) * 3
                out[i] = pixels[s]
                out[i + 1] = pixels[s + 1]
                out[i + 2] = pixels[s + 2]
                i += 3
            }
        }
        return RGBImage(width: outWidth, height: outHeight, pixels: out)
    }
}
