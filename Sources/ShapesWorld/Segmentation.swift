/// A COCO segmentation, as found in an instances file.
public enum Segmentation: Equatable, Sendable {
    /// Polygons `[x1, y1, x2, y2, …]` in pixel coordinates; the object is their union.
    case polygons([[Double]])
    /// Uncompressed RLE: `{"size": [h, w], "counts": [n0, n1, …]}` — run lengths
    /// over the pixels in column-major order (down each column, columns left to
    /// right), alternating background and object, starting with background
    /// (the first run may be 0). This is what ShapesWorld writes.
    case runs(height: Int, width: Int, counts: [Int])
    /// Compressed RLE: the same runs in pycocotools' string encoding.
    case compressed(height: Int, width: Int, counts: String)

    /// Why a segmentation cannot be turned into a mask.
    struct Problem: Error {
        let reason: String
    }

    /// The row-major `width`×`height` mask. Polygons are rasterised by the
    /// even-odd rule at pixel centres (x + 0.5, y + 0.5), the convention the
    /// generator draws with (pycocotools' rasteriser may differ by a pixel at
    /// edges).
    func mask(width: Int, height: Int) throws(Problem) -> [Bool] {
        switch self {
        case .polygons(let polygons):
            return try Self.rasterize(polygons, width: width, height: height)
        case .runs(let h, let w, let counts):
            return try Self.decode(counts, h: h, w: w, width: width, height: height)
        case .compressed(let h, let w, let string):
            guard let counts = RunLengthEncoding.counts(compressed: string) else {
                throw Problem(reason: "malformed compressed RLE string")
            }
            return try Self.decode(counts, h: h, w: w, width: width, height: height)
        }
    }

    private static func decode(_ counts: [Int], h: Int, w: Int, width: Int, height: Int) throws(Problem) -> [Bool] {
        guard h == height, w == width else {
            throw Problem(reason: "RLE size [\(h), \(w)] differs from the image's [\(height), \(width)]")
        }
        guard let mask = RunLengthEncoding.decode(counts, width: width, height: height) else {
            throw Problem(reason: "RLE counts must be non-negative and sum to \(h)×\(w) = \(h * w)")
        }
        return mask
    }

    private static func rasterize(_ polygons: [[Double]], width: Int, height: Int) throws(Problem) -> [Bool] {
        var mask = [Bool](repeating: false, count: width * height)
        for polygon in polygons {
            guard polygon.count >= 6, polygon.count % 2 == 0 else {
                throw Problem(reason: "a polygon needs at least three x, y pairs (got \(polygon.count) numbers)")
            }
            guard polygon.allSatisfy(\.isFinite) else {
                throw Problem(reason: "a polygon coordinate is not a finite number")
            }
            let xs = stride(from: 0, to: polygon.count, by: 2).map { polygon[$0] }
            let ys = stride(from: 1, to: polygon.count, by: 2).map { polygon[$0] }
            // Only pixels whose centres fall inside the polygon's bounding box can be inside.
            // Coordinates such as 1e300 are clamped before they become Ints.
            func pixel(_ v: Double, _ size: Int) -> Int { Int(min(max(v, -1), Double(size))) }
            let x0 = max(0, pixel(((xs.min() ?? 0) - 0.5).rounded(.up), width))
            let x1 = min(width - 1, pixel(((xs.max() ?? 0) - 0.5).rounded(.down), width))
            let y0 = max(0, pixel(((ys.min() ?? 0) - 0.5).rounded(.up), height))
            let y1 = min(height - 1, pixel(((ys.max() ?? 0) - 0.5).rounded(.down), height))
            guard x0 <= x1, y0 <= y1 else { continue }
            for y in y0...y1 {
                for x in x0...x1 where Raster.polygonContains(xs, ys, x: Double(x) + 0.5, y: Double(y) + 0.5) {
                    mask[y * width + x] = true
                }
            }
        }
        return mask
    }
}

extension Segmentation: Codable {
    private enum Keys: String, CodingKey { case size, counts }

    public init(from decoder: Decoder) throws {
        if let polygons = try? decoder.singleValueContainer().decode([[Double]].self) {
            self = .polygons(polygons)
            return
        }
        let container = try decoder.container(keyedBy: Keys.self)
        let size = try container.decode([Int].self, forKey: .size)
        guard size.count == 2 else {
            throw DecodingError.dataCorruptedError(forKey: .size, in: container,
                                                   debugDescription: "RLE size must be [height, width]")
        }
        if let counts = try? container.decode([Int].self, forKey: .counts) {
            self = .runs(height: size[0], width: size[1], counts: counts)
        } else {
            self = .compressed(height: size[0], width: size[1], counts: try container.decode(String.self, forKey: .counts))
        }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .polygons(let polygons):
            var container = encoder.singleValueContainer()
            try container.encode(polygons)
        case .runs(let height, let width, let counts):
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode([height, width], forKey: .size)
            try container.encode(counts, forKey: .counts)
        case .compressed(let height, let width, let counts):
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode([height, width], forKey: .size)
            try container.encode(counts, forKey: .counts)
        }
    }
}
