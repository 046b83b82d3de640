/// The colour maps that heat maps are drawn with, byte for byte as
/// matplotlib draws them (up to rounding, see `color`).
///
/// viridis and turbo use their published 256-entry tables (ColormapData.swift);
/// jet is matplotlib's piecewise-linear segment data sampled at 256 points
/// exactly as `LinearSegmentedColormap` with N = 256 samples it.
public enum Colormap: String, CaseIterable, Sendable {
    case jet, viridis, turbo

    /// The colour of `v` in [0, 1]. The table index is matplotlib's rule,
    /// `min(Int(v * 256), 255)`, so each of the 256 entries covers an equal
    /// 1/256 of the range. Values below 0 or above 1 are clamped and NaN maps
    /// to entry 0. Components are rounded to the nearest byte, ties up;
    /// matplotlib's `bytes=True` truncates instead, so it may be 1 lower
    /// (jet's 0.5 blue is 128 here, 127 there).
    public func color(_ v: Float) -> (UInt8, UInt8, UInt8) {
        let i = Colormap.index(v) * 3, table = self.table
        return (table[i], table[i + 1], table[i + 2])
    }

    /// The table entry of `v` (see `color`).
    static func index(_ v: Float) -> Int {
        v.isNaN ? 0 : min(Int(min(max(v, 0), 1) * 256), 255)
    }

    /// 256 RGB triples as bytes.
    var table: [UInt8] {
        switch self {
        case .jet: return Colormap.jetTable
        case .viridis: return Colormap.viridisTable
        case .turbo: return Colormap.turboTable
        }
    }

    /// A breakpoint of a segmented colour map: at `x` the value jumps from `y0` to `y1`.
    private typealias Segment = (x: Double, y0: Double, y1: Double)

    private static let viridisTable = bytes(viridisData)
    private static let turboTable = bytes(turboData)
    private static let jetTable: [UInt8] = {
        // matplotlib's `_jet_data`: per channel, (x, y0, y1) breakpoints.
        let red: [Segment] = [
            (0.00, 0, 0), (0.35, 0, 0), (0.66, 1, 1), (0.89, 1, 1), (1.00, 0.5, 0.5),
        ]
        let green: [Segment] = [
            (0.000, 0, 0), (0.125, 0, 0), (0.375, 1, 1), (0.640, 1, 1), (0.910, 0, 0), (1.000, 0, 0),
        ]
        let blue: [Segment] = [
            (0.00, 0.5, 0.5), (0.11, 1, 1), (0.34, 1, 1), (0.65, 0, 0), (1.00, 0, 0),
        ]
        let channels = [red, green, blue].map { lookupTable(segments: $0, count: 256) }
        return bytes((0..<256).flatMap { i in channels.map { $0[i] } })
    }()

    /// Components in [0, 1] to bytes, ties rounded up: floor(255·f + 0.5). jet's
    /// green ramp lands exactly on halves (255·f = 4i - 127.5), so the 1e-9
    /// keeps floating-point noise from rounding some ties down and others up.
    private static func bytes(_ values: [Double]) -> [UInt8] {
        values.map { UInt8((min(max($0, 0), 1) * 255 + 0.5 + 1e-9).rounded(.down)) }
    }

    /// matplotlib's `_create_lookup_table(N, data)`: sample i of N sits at
    /// x = i/(N-1); between breakpoints k-1 and k the value runs linearly from
    /// y1[k-1] to y0[k]; the ends are y1[0] and y0[last].
    private static func lookupTable(segments: [Segment], count: Int) -> [Double] {
        let n = Double(count - 1)
        var lut = [Double](repeating: 0, count: count)
        lut[0] = segments[0].y1
        lut[count - 1] = segments[segments.count - 1].y0
        for i in 1..<(count - 1) {
            let xi = Double(i)
            // searchsorted(side="left"): the first breakpoint at or after xi.
            let k = segments.firstIndex { $0.x * n >= xi } ?? segments.count - 1
            let lo = segments[k - 1], hi = segments[k]
            let distance = (xi - lo.x * n) / (hi.x * n - lo.x * n)
            lut[i] = distance * (hi.y0 - lo.y1) + lo.y1
        }
        return lut
    }
}
