extension RGBImage {
    /// The image with a heat map drawn over it, as Grad-CAM figures show.
    ///
    /// `map` holds `mapHeight` rows of `mapWidth` values in [0, 1] (a CAM is
    /// usually 7×7 or 14×14). It is resized to the image with bilinear
    /// half-pixel interpolation in Float, coloured by `colormap`, and blended
    /// per pixel as `(1 - alpha) * image + alpha * colour`, rounded; `alpha`
    /// is clamped to [0, 1].
    public func overlay(map: [Float], mapWidth: Int, mapHeight: Int, colormap: Colormap, alpha: Float) -> RGBImage {
        precondition(mapWidth > 0 && mapHeight > 0 && map.count == mapWidth * mapHeight,
                     "map must hold mapWidth*mapHeight values")
        let a = alpha.isNaN ? 0 : min(max(alpha, 0), 1)
        let values = resizeBilinear(map, width: mapWidth, height: mapHeight, toWidth: width, toHeight: height)
        let table = colormap.table
        var out = pixels
        values.withUnsafeBufferPointer { values in
            table.withUnsafeBufferPointer { table in
                out.withUnsafeMutableBufferPointer { out in
                    for i in 0..<values.count {
                        let c = Colormap.index(values[i]) * 3, p = i * 3
                        out[p] = blend(out[p], table[c], a)
                        out[p + 1] = blend(out[p + 1], table[c + 1], a)
                        out[p + 2] = blend(out[p + 2], table[c + 2], a)
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }
}

private func blend(_ base: UInt8, _ color: UInt8, _ alpha: Float) -> UInt8 {
    UInt8(min(max(((1 - alpha) * Float(base) + alpha * Float(color)).rounded(), 0), 255))
}
