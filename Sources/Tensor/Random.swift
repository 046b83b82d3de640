import Foundation

/// A small, fast, seedable generator (SplitMix64), so initialisation,
/// dropout and data order are reproducible for a seed on every platform.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func nextFloat() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Standard normal (Box–Muller).
    public mutating func nextGaussian() -> Float {
        let u = Swift.max(nextFloat(), 1e-7), v = nextFloat()
        return (-2 * logf(u)).squareRoot() * cosf(2 * .pi * v)
    }
}

extension Tensor {
    public static func uniform(_ shape: [Int], in range: ClosedRange<Float>, using rng: inout SeededGenerator) -> Tensor {
        let n = shape.reduce(1, *), span = range.upperBound - range.lowerBound
        var values = [Float](repeating: 0, count: n)
        for i in 0..<n { values[i] = range.lowerBound + span * rng.nextFloat() }
        return Tensor(shape: shape, values: values)
    }

    public static func randn(_ shape: [Int], std: Float = 1, using rng: inout SeededGenerator) -> Tensor {
        var values = [Float](repeating: 0, count: shape.reduce(1, *))
        for i in values.indices { values[i] = std * rng.nextGaussian() }
        return Tensor(shape: shape, values: values)
    }
}
