@testable import Tensor
import XCTest

/// The Winograd F(2×2, 3×3) path of conv2d against a direct convolution
/// summed in Double: even and odd map sizes (a cropped last tile), odd channel
/// counts, several images, bias, and the inference epilogue.
final class WinogradTests: XCTestCase {
    /// y[i][k][r][s] = bias[k] + Σ x[i][ci][r + a − 1][s + b − 1]·w[k][ci][a][b].
    private func directConvolution(_ x: Tensor, _ w: Tensor, bias: Tensor?) -> [Double] {
        let (n, c, h, wd, o) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], w.shape[0])
        let xs = x.values, ws = w.values, bs = bias?.values
        var y = [Double](repeating: 0, count: n * o * h * wd)
        for i in 0..<n { for k in 0..<o { for r in 0..<h { for s in 0..<wd {
            var sum = Double(bs?[k] ?? 0)
            for ci in 0..<c { for a in 0..<3 { for b in 0..<3 {
                let (yy, xx) = (r + a - 1, s + b - 1)
                if yy >= 0 && yy < h && xx >= 0 && xx < wd {
                    sum += Double(xs[((i * c + ci) * h + yy) * wd + xx]) * Double(ws[((k * c + ci) * 3 + a) * 3 + b])
                }
            } } }
            y[((i * o + k) * h + r) * wd + s] = sum
        } } } }
        return y
    }

    private func assertClose(_ got: [Float], _ want: [Double], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, file: file, line: line)
        let scale = want.map(abs).max() ?? 1
        let worst = zip(got, want).map { abs(Double($0) - $1) }.max() ?? 0
        XCTAssertLessThan(worst, 1e-5 * scale, "largest difference \(worst), largest value \(scale)", file: file, line: line)
    }

    /// On one thread, and on three and two (each thread a share of the filters and tile rows), with
    /// the same bits whatever the number of threads.
    func testMatchesDirectConvolution() {
        let threads = BLAS.threads
        defer { setBLASThreads(threads) }
        for (k, (n, c, h, w, o)) in [(1, 32, 48, 48, 8), (2, 33, 49, 51, 5), (1, 40, 57, 48, 17)].enumerated() {
            XCTAssert(Winograd3x3.applies(Window2D(kernel: (3, 3), padding: (1, 1)), groups: 1, c: c, oh: h, ow: w))
            var rng = SeededGenerator(seed: UInt64(100 + k))
            let x = Tensor.randn([n, c, h, w], using: &rng), weight = Tensor.randn([o, c, 3, 3], using: &rng)
            let bias = Tensor.randn([o], using: &rng)
            var first: [Float]?
            for t in [1, 3, 2] {
                setBLASThreads(t)
                let y = x.conv2d(weight: weight, bias: bias, padding: 1).values
                assertClose(y, directConvolution(x, weight, bias: bias))
                assertClose(x.conv2d(weight: weight, padding: 1).values, directConvolution(x, weight, bias: nil))
                if let first { XCTAssertNil(firstDifference(y, first), "\(t) threads against 1") }
                first = first ?? y
            }
        }
    }

    func testEpilogueIsAppliedToEveryRow() {
        var rng = SeededGenerator(seed: 7)
        let (n, c, h, w, o) = (2, 32, 49, 50, 6)
        let x = Tensor.randn([n, c, h, w], using: &rng), weight = Tensor.randn([o, c, 3, 3], using: &rng)
        let residual = Tensor.randn([n, o, h, w], using: &rng)
        let scale: [Float] = (0..<o).map { 0.5 + Float($0) * 0.25 }, shift: [Float] = (0..<o).map { Float($0) - 2.5 }
        let got = x.conv2dInference(weight: weight, padding: (1, 1),
                                    epilogue: ConvEpilogue(scale: scale, shift: shift, residual: residual, relu: true))
        let direct = directConvolution(x, weight, bias: nil), r = residual.values
        let want = direct.indices.map { j -> Double in
            let channel = (j / (h * w)) % o
            return max(0, direct[j] * Double(scale[channel]) + Double(shift[channel]) + Double(r[j]))
        }
        assertClose(got.values, want)
    }
}
