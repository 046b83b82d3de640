import Foundation
import Tensor
import XCTest

/// A finite-difference check for every differentiable op.
final class OpGradientTests: XCTestCase {
    func testBroadcastArithmetic() {
        let pairs: [([Int], [Int])] = [([2, 3, 4], [2, 3, 4]), ([2, 3, 4], [3, 1]), ([1], [2, 3]),
                                       ([4, 1, 3], [1, 5, 1]), ([], [3, 2])]
        for (k, (sa, sb)) in pairs.enumerated() {
            let a = random(sa, seed: UInt64(10 + k)), b = random(sb, seed: UInt64(20 + k))
            let bPositive = b.map { abs($0) + 0.5 }
            checkGradients([a, b]) { $0[0] + $0[1] }
            checkGradients([a, b]) { $0[0] - $0[1] }
            checkGradients([a, b]) { $0[0] * $0[1] }
            checkGradients([a, bPositive], eps: 1e-3) { $0[0] / $0[1] }
        }
    }

    /// A word the model is sure of (log p ≈ −6e-8): log p and its gradient against a float64
    /// computation, entry by entry. In float32, log(Σ exp) and 1 − p round to noise there
    /// (1 − p was 0 or 1.2e-7 for a true 6e-8), and so did every Grad-CAM map of such a word.
    func testLogSoftmaxOfAConfidentEntryIsExact() throws {
        let logits: [Float] = [18, 0, 0.5, -1, 0.25]
        let x = Tensor(shape: [1, 5], values: logits).tracked()
        let y = x.logSoftmax(axis: 1)
        let g = try gradients(of: y, withRespectTo: [x], seed: Tensor(shape: [1, 5], values: [1, 0, 0, 0, 0]))[0].values
        let d = logits.map(Double.init)
        let rest = d.dropFirst().map { Foundation.exp($0 - d[0]) }.reduce(0, +)
        let logp = d.map { $0 - d[0] - Foundation.log1p(rest) }
        let want = [-Foundation.expm1(logp[0])] + logp.dropFirst().map { -Foundation.exp($0) }
        XCTAssertEqual(Double(y.values[0]), logp[0], accuracy: 1e-6 * abs(logp[0]))
        XCTAssertLessThan(logp[0], -1e-8)
        for k in 0..<5 { XCTAssertEqual(Double(g[k]), want[k], accuracy: 1e-5 * abs(want[k]), "entry \(k)") }
        // And an ordinary seed still checks against finite differences.
        checkGradients([random([3, 7], seed: 77)]) { $0[0].logSoftmax(axis: 1) }
    }

    func testWholeLSTMLayer() {
        // projected [B, T, 4H], weight_hh [4H, H], bias_hh [4H]; every output (h and c of every step) weighs in.
        let (b, t, h) = (2, 4, 3)
        checkGradients([random([b, t, 4 * h], seed: 31), random([4 * h, h], seed: 32, std: 0.5),
                        random([4 * h], seed: 33)], eps: 1e-2, maxElements: 100) {
            Tensor.lstmLayer(projected: $0[0], weightHH: $0[1], biasHH: $0[2])
        }
    }

    /// Rows with lengths stop early: their steps up to the length equal the full
    /// run's, later ones are zero, and the gradients stay right.
    func testWholeLSTMLayerWithLengths() {
        let (b, t, h) = (3, 5, 2), lengths = [2, 4, 5]
        let projected = random([b, t, 4 * h], seed: 37), w = random([4 * h, h], seed: 38, std: 0.5), bias = random([4 * h], seed: 39)
        let full = Tensor.lstmLayer(projected: projected, weightHH: w, biasHH: bias).values
        let short = Tensor.lstmLayer(projected: projected, weightHH: w, biasHH: bias, lengths: lengths).values
        for r in 0..<b {
            for step in 0..<t {
                for j in 0..<(2 * h) {
                    let k = (r * t + step) * 2 * h + j
                    XCTAssertEqual(short[k], step < lengths[r] ? full[k] : 0, accuracy: 1e-6, "row \(r) step \(step)")
                }
            }
        }
        checkGradients([projected, w, bias], eps: 1e-2, maxElements: 100) {
            Tensor.lstmLayer(projected: $0[0], weightHH: $0[1], biasHH: $0[2], lengths: lengths)
        }
    }

    /// The layer op equals the cell run step by step (the decoding path).
    func testWholeLSTMLayerEqualsCellSteps() {
        let (b, t, h) = (3, 5, 4)
        let projected = random([b, t, 4 * h], seed: 34), w = random([4 * h, h], seed: 35), bias = random([4 * h], seed: 36)
        let layer = Tensor.lstmLayer(projected: projected, weightHH: w, biasHH: bias)
        var hPrev = Tensor.zeros([b, h]), cPrev = Tensor.zeros([b, h])
        for step in 0..<t {
            let gates = projected.slice(axis: 1, step..<(step + 1)).reshaped([b, 4 * h]) + hPrev.linear(weight: w, bias: bias)
            let hc = Tensor.lstmCell(gates: gates, cell: cPrev)
            let expected = layer.slice(axis: 1, step..<(step + 1)).reshaped([b, 2 * h]).values
            for (x, y) in zip(hc.values, expected) { XCTAssertEqual(x, y, accuracy: 1e-5, "step \(step)") }
            hPrev = hc.slice(axis: 1, 0..<h)
            cPrev = hc.slice(axis: 1, h..<(2 * h))
        }
    }

    func testUnary() {
        let x = randomAwayFromZero([3, 5], seed: 1)
        let positive = x.map { abs($0) + 0.5 }
        checkGradients([x]) { -$0[0] }
        checkGradients([x]) { $0[0].relu() }
        checkGradients([x]) { $0[0].sigmoid() }
        checkGradients([x]) { $0[0].tanh() }
        checkGradients([x], eps: 1e-3) { $0[0].exp() }
        checkGradients([positive], eps: 1e-3) { $0[0].log() }
        checkGradients([positive], eps: 1e-3) { $0[0].sqrt() }
        checkGradients([x]) { $0[0].squared() }
        checkGradients([x]) { $0[0].clamped(min: 0.01) }
        checkGradients([x]) { $0[0] * 3 + 1 }
        checkGradients([x]) { 2 - $0[0] / 4 }
    }

    func testMatmulAndLinear() {
        checkGradients([random([3, 4], seed: 1), random([4, 5], seed: 2)]) { $0[0].matmul($0[1]) }
        checkGradients([random([2, 3, 4], seed: 3), random([2, 4, 2], seed: 4)]) { $0[0].matmul($0[1]) }
        checkGradients([random([2, 3, 4], seed: 5), random([4, 2], seed: 6)]) { $0[0].matmul($0[1]) }
        checkGradients([random([5, 4], seed: 7), random([3, 4], seed: 8), random([3], seed: 9)]) {
            $0[0].linear(weight: $0[1], bias: $0[2])
        }
        checkGradients([random([1, 6], seed: 7), random([2, 6], seed: 8)]) { $0[0].linear(weight: $0[1], bias: nil) }
    }

    func testConv2d() {
        // (input, weight, stride, padding, dilation, groups)
        let configs: [([Int], [Int], (Int, Int), (Int, Int), (Int, Int), Int)] = [
            ([1, 2, 5, 5], [3, 2, 3, 3], (1, 1), (1, 1), (1, 1), 1),
            ([2, 4, 7, 6], [4, 2, 3, 3], (2, 2), (1, 1), (1, 1), 2),
            ([1, 2, 8, 7], [2, 2, 3, 2], (1, 2), (2, 0), (2, 1), 1),
            ([1, 3, 5, 5], [3, 1, 3, 3], (1, 1), (1, 1), (1, 1), 3),
            ([2, 3, 4, 4], [2, 3, 1, 1], (1, 1), (0, 0), (1, 1), 1),
            ([1, 3, 5, 5], [2, 3, 1, 1], (2, 2), (0, 0), (1, 1), 1),
            ([1, 1, 6, 6], [2, 1, 4, 4], (3, 3), (2, 2), (1, 1), 1),
        ]
        for (k, (xs, ws, s, p, d, g)) in configs.enumerated() {
            let x = random(xs, seed: UInt64(k)), w = random(ws, seed: UInt64(100 + k))
            let b = random([ws[0]], seed: UInt64(200 + k))
            checkGradients([x, w, b], eps: 1e-2) {
                $0[0].conv2d(weight: $0[1], bias: $0[2], stride: s, padding: p, dilation: d, groups: g)
            }
            checkGradients([x, w]) {
                $0[0].conv2d(weight: $0[1], stride: s, padding: p, dilation: d, groups: g)
            }
        }
    }

    func testPools() {
        let x = distinct([2, 2, 7, 6], seed: 3)
        checkGradients([x], eps: 1e-3) { $0[0].maxPool2d(kernel: (2, 2)) }
        checkGradients([x], eps: 1e-3) { $0[0].maxPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1)) }
        checkGradients([x], eps: 1e-3) { $0[0].maxPool2d(kernel: (3, 2), stride: (2, 2), ceilMode: true) }
        checkGradients([x]) { $0[0].avgPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1)) }
        checkGradients([x]) { $0[0].avgPool2d(kernel: (2, 3), stride: (1, 2), ceilMode: true) }
        checkGradients([x]) { $0[0].adaptiveAvgPool2d((3, 4)) }
        checkGradients([x]) { $0[0].adaptiveAvgPool2d((7, 6)) }
        checkGradients([x]) { $0[0].globalAvgPool2d() }
    }

    func testMaxPoolTiesGoToFirstMaximum() throws {
        // Every window is all ties: PyTorch sends the gradient to the first in scan order.
        let x = Tensor.ones([1, 1, 4, 4]).tracked()
        let y = x.maxPool2d(kernel: (2, 2))
        let g = try gradients(of: y, withRespectTo: [x], seed: Tensor.ones(y.shape))[0]
        XCTAssertEqual(g.values, [1, 0, 1, 0,  0, 0, 0, 0,  1, 0, 1, 0,  0, 0, 0, 0])
        let m = Tensor(shape: [2, 3], values: [1, 5, 5, 2, 2, 1]).tracked()
        let gm = try gradients(of: m.max(axis: 1), withRespectTo: [m], seed: Tensor.ones([2]))[0]
        XCTAssertEqual(gm.values, [0, 1, 0, 1, 0, 0])
    }

    func testReductionsAndSoftmax() {
        let x = random([3, 4, 5], seed: 4)
        for axis in [0, 1, 2, -1] {
            checkGradients([x]) { $0[0].sum(axis: axis) }
            checkGradients([x]) { $0[0].mean(axis: axis, keepDims: true) }
            checkGradients([x]) { $0[0].softmax(axis: axis) }
            checkGradients([x]) { $0[0].logSoftmax(axis: axis) }
        }
        checkGradients([distinct([3, 4, 5], seed: 1)], eps: 1e-3) { $0[0].max(axis: 1) }
        checkGradients([x]) { $0[0].sum(axes: [0, 2]) }
        checkGradients([x]) { $0[0].mean() }
    }

    func testShapeOps() {
        let x = random([2, 3, 4], seed: 5)
        checkGradients([x]) { $0[0].reshaped([4, -1]) * $0[0].reshaped([4, 6]) }
        checkGradients([x]) { $0[0].permuted([2, 0, 1]) }
        checkGradients([x]) { $0[0].transposed(0, 2) }
        checkGradients([x, random([2, 1, 4], seed: 6)]) { Tensor.concat([$0[0], $0[1], $0[0]], axis: 1) }
        checkGradients([x, random([2, 3, 4], seed: 7)]) { Tensor.stack([$0[0], $0[1]], axis: 1) }
        checkGradients([x]) { $0[0].slice(axis: 2, 1..<3) }
        checkGradients([random([5, 3], seed: 8)]) { $0[0].indexSelect([4, 0, 4, 2]) }
        checkGradients([random([3, 5], seed: 9)]) { $0[0].pick([4, 0, 2]) }
        checkGradients([random([1, 3, 1], seed: 10)]) { $0[0].expanded(to: [4, 3, 2]) }
        checkGradients([x]) { $0[0].flattened().unsqueezed(axis: 0).squeezed(axis: 0) }
    }

    func testNormalisationAndResize() {
        let x = random([2, 3, 4, 4], seed: 11)
        let mean = random([3], seed: 12), variance = random([3], seed: 13).map { abs($0) + 0.5 }
        checkGradients([x, random([3], seed: 14), random([3], seed: 15)]) {
            $0[0].batchNorm(mean: mean, variance: variance, weight: $0[1], bias: $0[2])
        }
        checkGradients([x]) { $0[0].batchNorm(mean: mean, variance: variance, weight: nil, bias: nil) }
        checkGradients([x, random([3], seed: 19), random([3], seed: 20)], eps: 1e-3) {
            $0[0].batchNormTraining(weight: $0[1], bias: $0[2]).output
        }
        checkGradients([random([3, 6], seed: 16)], eps: 1e-3) { $0[0].l2Normalized(axis: 1) }
        checkGradients([random([1, 2, 4, 5], seed: 17)]) { $0[0].resizedBilinear(height: 9, width: 7) }
        checkGradients([random([2, 1, 9, 8], seed: 18)]) { $0[0].resizedBilinear(height: 4, width: 3) }
    }

    func testComposedNetworkGradient() {
        // A small CNN head: conv → relu → pool → linear → log-softmax, checked end to end.
        let x = random([2, 2, 6, 6], seed: 20), w = random([3, 2, 3, 3], seed: 21, std: 0.5)
        let fc = random([4, 27], seed: 22, std: 0.3)
        checkGradients([x, w, fc], eps: 1e-3, tolerance: 3e-2) { v in
            v[0].conv2d(weight: v[1], padding: 1).tanh().maxPool2d(kernel: (2, 2))
                .flattened().linear(weight: v[2], bias: nil).logSoftmax()
        }
    }
}

extension Tensor {
    func map(_ f: (Float) -> Float) -> Tensor { Tensor(shape: shape, values: values.map(f)) }
}
