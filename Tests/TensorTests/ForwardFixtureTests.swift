import Foundation
import Tensor
import XCTest

/// Forward values against PyTorch (Fixtures/ops.json, made by Fixtures/make_fixtures.py).
final class ForwardFixtureTests: XCTestCase {
    struct Case: Decodable {
        struct Array: Decodable { let shape: [Int]; let data: [Float] }
        let op: String
        let args: [String: Arg]
        let inputs: [Array]
        let output: Array
    }

    enum Arg: Decodable {
        case int(Int), float(Float), bool(Bool), list([Int])
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let i = try? c.decode(Int.self) { self = .int(i) }
            else if let f = try? c.decode(Float.self) { self = .float(f) }
            else { self = .list(try c.decode([Int].self)) }
        }
        var int: Int { if case let .int(v) = self { return v }; fatalError("not an int") }
        var pair: (Int, Int) { if case let .list(v) = self { return (v[0], v[1]) }; fatalError("not a pair") }
        var bool: Bool { if case let .bool(v) = self { return v }; fatalError("not a bool") }
        var float: Float {
            switch self { case let .float(v): return v; case let .int(v): return Float(v); default: fatalError("not a number") }
        }
    }

    func testOpsMatchPyTorch() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/ops.json")
        let cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: url))
        XCTAssertEqual(cases.count, 27)
        var seen = Set<String>()
        for c in cases {
            let x = c.inputs.map { Tensor(shape: $0.shape, values: $0.data) }
            let a = c.args
            let y: Tensor
            switch c.op {
            case "conv2d":
                y = x[0].conv2d(weight: x[1], bias: x.count > 2 ? x[2] : nil, stride: a["stride"]!.pair,
                                padding: a["padding"]!.pair, dilation: a["dilation"]!.pair, groups: a["groups"]!.int)
            case "max_pool2d":
                y = x[0].maxPool2d(kernel: a["kernel"]!.pair, stride: a["stride"]!.pair, padding: a["padding"]!.pair,
                                   ceilMode: a["ceil_mode"]!.bool)
            case "avg_pool2d":
                y = x[0].avgPool2d(kernel: a["kernel"]!.pair, stride: a["stride"]!.pair, padding: a["padding"]!.pair,
                                   ceilMode: a["ceil_mode"]!.bool)
            case "adaptive_avg_pool2d": y = x[0].adaptiveAvgPool2d(a["size"]!.pair)
            case "resize_bilinear":
                let (h, w) = a["size"]!.pair
                y = x[0].resizedBilinear(height: h, width: w)
            case "log_softmax": y = x[0].logSoftmax(axis: a["axis"]!.int)
            case "softmax": y = x[0].softmax(axis: a["axis"]!.int)
            case "batch_norm":
                y = x[0].batchNorm(mean: x[1], variance: x[2], weight: x[3], bias: x[4], eps: a["eps"]!.float)
            case "l2_normalize": y = x[0].l2Normalized(axis: a["axis"]!.int)
            default: XCTFail("unknown op \(c.op)"); continue
            }
            seen.insert(c.op)
            XCTAssertEqual(y.shape, c.output.shape, "\(c.op) \(a)")
            let scale = max(1, c.output.data.map(abs).max() ?? 1)
            let err = zip(y.values, c.output.data).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(err, 1e-5 * scale, "\(c.op) \(a): max error \(err)")
        }
        XCTAssertEqual(seen.count, 9)
    }

    func testHandComputedValues() {
        let a = Tensor(shape: [2, 2], values: [1, 2, 3, 4]), b = Tensor(shape: [2], values: [10, 20])
        XCTAssertEqual((a + b).values, [11, 22, 13, 24])
        XCTAssertEqual(a.matmul(a).values, [7, 10, 15, 22])
        XCTAssertEqual(a.linear(weight: a, bias: b).values, [15, 31, 21, 45])
        XCTAssertEqual(a.sum(axis: 0).values, [4, 6])
        XCTAssertEqual(a.transposed().values, [1, 3, 2, 4])
        XCTAssertEqual(a.indexSelect([1, 1, 0]).values, [3, 4, 3, 4, 1, 2])
        XCTAssertEqual(b.reshaped([2, 1]).expanded(to: [2, 3]).values, [10, 10, 10, 20, 20, 20])
        let big = Tensor(shape: [3], values: [1000, 1000, -1000])
        XCTAssertEqual(big.logSoftmax().values[0], -logf(2), accuracy: 1e-6)
        XCTAssertEqual(big.softmax().values[2], 0)
    }
}
