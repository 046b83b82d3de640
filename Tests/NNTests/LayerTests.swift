import NN
import Tensor
import XCTest

final class LayerTests: XCTestCase {
    func testLSTMSequenceEqualsStepsAndHasPyTorchNames() throws {
        var initializer = Initializer.random(seed: 3)
        let lstm = LSTM(inputSize: 4, hiddenSize: 5, layers: 2, initializer: &initializer)
        XCTAssertEqual(lstm.namedParameters().map(\.name), [
            "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
            "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"])
        XCTAssertEqual(lstm.namedParameters()[4].parameter.value.shape, [20, 5])
        var rng = SeededGenerator(seed: 4)
        let xs = Tensor.randn([3, 6, 4], using: &rng)
        let (outputs, final) = lstm.sequence(xs)
        var state = lstm.zeroState(batch: 3)
        for t in 0..<6 {
            let (h, next) = lstm.step(xs.slice(axis: 1, t..<(t + 1)).reshaped([3, 4]), state)
            state = next
            let output = outputs.slice(axis: 1, t..<(t + 1)).values
            for (a, b) in zip(h.values, output) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        }
        for (a, b) in zip(state.c[1].values, final.c[1].values) { XCTAssertEqual(a, b, accuracy: 1e-6) }
    }

    func testLSTMGradientsByFiniteDifferences() throws {
        var initializer = Initializer.random(seed: 5)
        let lstm = LSTM(inputSize: 3, hiddenSize: 4, layers: 2, initializer: &initializer)
        var rng = SeededGenerator(seed: 6)
        let xs = Tensor.randn([2, 5, 3], using: &rng).tracked()
        let w = Tensor.randn([2, 4], using: &rng)
        func loss(_ x: Tensor) -> Tensor {
            let (outputs, state) = lstm.sequence(x)
            return (outputs.slice(axis: 1, 4..<5).reshaped([2, 4]) * w).sum() + (outputs * 0.1).sum()
                + state.c[0].sum() * 0.5 + state.h[0].sum() * 0.3
        }
        let g = try gradients(of: loss(xs), withRespectTo: [xs])[0].values
        let base = xs.values
        for j in stride(from: 0, to: base.count, by: 3) {
            var p = base, m = base
            p[j] += 1e-2; m[j] -= 1e-2
            let numeric = (Double(loss(Tensor(shape: xs.shape, values: p)).scalar)
                - Double(loss(Tensor(shape: xs.shape, values: m)).scalar)) / 2e-2
            XCTAssertEqual(Double(g[j]), numeric, accuracy: 2e-3 + 1e-2 * abs(numeric), "element \(j)")
        }
    }

    func testBatchNormTrainingUpdatesRunningStatistics() {
        let bn = BatchNorm2d(2)
        let x = Tensor(shape: [2, 2, 1, 2], values: [1, 3, 10, 10, 5, 7, 20, 30])
        let y = bn(x, ForwardContext(training: true))
        // Channel 0: values 1, 3, 5, 7 → mean 4, biased var 5, unbiased 20/3.
        XCTAssertEqual(y.values[0], (1 - 4) / (5 + 1e-5).squareRoot(), accuracy: 1e-5)
        XCTAssertEqual(bn.runningMean.value.values[0], 0.4, accuracy: 1e-6)
        XCTAssertEqual(bn.runningVar.value.values[0], 0.9 + 0.1 * 20 / 3, accuracy: 1e-5)
        XCTAssertEqual(bn.batchesTracked.value.scalar, 1)
        // Inference uses the running statistics.
        let z = bn(x, ForwardContext())
        XCTAssertEqual(z.values[0], (1 - 0.4) / (bn.runningVar.value.values[0] + 1e-5).squareRoot(), accuracy: 1e-5)
    }

    func testBatchNormLeavesStatisticsAloneWhenTold() {
        // The data-parallel trainer's later shares normalise by their batch but must not write the buffers.
        let bn = BatchNorm2d(2)
        let x = Tensor(shape: [2, 2, 1, 2], values: [1, 3, 10, 10, 5, 7, 20, 30])
        let y = bn(x, ForwardContext(training: true, updatesStatistics: false))
        XCTAssertEqual(y.values[0], (1 - 4) / (5 + 1e-5).squareRoot(), accuracy: 1e-5)
        XCTAssertEqual(bn.runningMean.value.values, [0, 0])
        XCTAssertEqual(bn.runningVar.value.values, [1, 1])
        XCTAssertEqual(bn.batchesTracked.value.scalar, 0)
    }

    func testDropoutOnlyInTraining() {
        let d = Dropout(0.5)
        let x = Tensor.ones([1000])
        XCTAssertEqual(d(x, ForwardContext()).values, x.values)
        let y = d(x, ForwardContext(training: true, seed: 9)).values
        XCTAssertTrue(y.allSatisfy { $0 == 0 || $0 == 2 })
        XCTAssertEqual(Double(y.filter { $0 == 0 }.count), 500, accuracy: 60)
    }

    func testOutputsAreCapturedAndReplacedByPath() throws {
        var initializer = Initializer.random(seed: 1)
        let net = Sequential([Linear(3, 4, initializer: &initializer), ReLU(), Linear(4, 2, initializer: &initializer)])
        net.assignPaths()
        XCTAssertEqual(net.namedModules().map(\.name), ["", "0", "1", "2"])
        XCTAssertEqual(net.namedParameters().map(\.name), ["0.weight", "0.bias", "2.weight", "2.bias"])
        let ctx = ForwardContext(capturing: ["1"], replacing: ["1": { $0.tracked() }])
        let y = net(Tensor.ones([1, 3]), ctx)
        let a = try XCTUnwrap(ctx.captured["1"])
        XCTAssertTrue(a.requiresGrad)
        let g = try gradients(of: y.sum(), withRespectTo: [a])[0]
        // d(sum of the last linear)/d(input) = column sums of its weight.
        let w = net[2].namedParameters()[0].parameter.value.values
        XCTAssertEqual(g.values[0], w[0] + w[4], accuracy: 1e-6)
    }
}
