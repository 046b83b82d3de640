import Tensor
import XCTest

/// The backward engine's contract: gradients to chosen tensors only, seeds,
/// repeated backward, replaceable rules, no recording when nothing is tracked.
final class EngineTests: XCTestCase {
    /// A small conv net split at an intermediate activation A.
    private func lowerAndUpper() -> (x: Tensor, w1: Tensor, w2: Tensor, fc: Tensor) {
        (random([1, 2, 6, 6], seed: 1), random([4, 2, 3, 3], seed: 2), random([3, 4, 3, 3], seed: 3),
         random([5, 3 * 9], seed: 4, std: 0.3))
    }

    private func upper(_ a: Tensor, _ w2: Tensor, _ fc: Tensor) -> Tensor {
        a.conv2d(weight: w2, padding: 1).relu().adaptiveAvgPool2d((3, 3)).flattened()
            .linear(weight: fc, bias: nil).logSoftmax()
    }

    func testGradientToIntermediateEqualsGradientOfTheUpperPartAlone() throws {
        let (x, w1, w2, fc) = lowerAndUpper()
        let w1t = w1.tracked()  // the whole graph is recorded, as in training
        let a = x.conv2d(weight: w1t, padding: 1).relu()
        let y = upper(a, w2, fc).pick([2]).sum()
        let viaFullGraph = try gradients(of: y, withRespectTo: [a])[0]

        // Independent reference: the upper part alone, from a fresh leaf holding A's values.
        let leaf = Tensor(shape: a.shape, values: a.values).tracked()
        let reference = try gradients(of: upper(leaf, w2, fc).pick([2]).sum(), withRespectTo: [leaf])[0]
        XCTAssertEqual(viaFullGraph.shape, [1, 4, 6, 6])
        for (u, v) in zip(viaFullGraph.values, reference.values) { XCTAssertEqual(u, v, accuracy: 1e-6) }
        XCTAssertGreaterThan(reference.values.map(abs).max()!, 0)

        // And it agrees with finite differences of the upper part.
        checkGradients([a.detached()], eps: 1e-3) { upper($0[0], w2, fc).pick([2]) }
    }

    func testOnlyThePathBetweenOutputAndTargetsIsWalked() throws {
        let (x, w1, w2, fc) = lowerAndUpper()
        let a = x.tracked().conv2d(weight: w1.tracked(), padding: 1).relu()
        let y = upper(a, w2.tracked(), fc.tracked()).sum()
        var conv2dCalls = 0
        var linearNeeds: [[Bool]] = []
        let counting = BackwardRules.standard
            .replacing(.conv2d) { ctx in conv2dCalls += 1; return ctx.standard() }
            .replacing(.linear) { ctx in linearNeeds.append(ctx.needs); return ctx.standard() }
        _ = try gradients(of: y, withRespectTo: [a], rules: counting)
        // Only the upper conv runs backward; the one below A is never visited.
        XCTAssertEqual(conv2dCalls, 1)
        // The linear layer is asked for its input's gradient only, not its weight's.
        XCTAssertEqual(linearNeeds, [[true, false]])
    }

    func testManyTargetsInOnePassEqualOneAtATime() throws {
        let (_, _, w2, fc) = lowerAndUpper()
        let a = random([1, 4, 6, 6], seed: 9)
        let targets = [0, 3, 4, 1]
        // T copies of A on the batch axis, one backward with one-hot seeds.
        let batched = a.expanded(to: [targets.count, 4, 6, 6]).detached().tracked()
        let out = upper(batched, w2, fc)
        var seed = [Float](repeating: 0, count: out.count)
        for (t, c) in targets.enumerated() { seed[t * 5 + c] = 1 }
        let all = try gradients(of: out, withRespectTo: [batched], seed: Tensor(shape: out.shape, values: seed))[0]
        for (t, c) in targets.enumerated() {
            let leaf = a.tracked()
            let one = try gradients(of: upper(leaf, w2, fc).pick([c]).sum(), withRespectTo: [leaf])[0]
            let row = all.slice(axis: 0, t..<(t + 1))
            for (u, v) in zip(row.values, one.values) { XCTAssertEqual(u, v, accuracy: 1e-5 * max(1, abs(v))) }
        }
    }

    func testTheSameGraphCanBeDifferentiatedTwice() throws {
        let x = random([3, 4], seed: 5).tracked()
        let y = (x.tanh() * x).sum()
        let first = try gradients(of: y, withRespectTo: [x])[0].values
        let second = try gradients(of: y, withRespectTo: [x])[0].values
        XCTAssertEqual(first, second)
    }

    func testGradientsAccumulateOverSeveralUses() throws {
        let x = Tensor(shape: [2], values: [1.5, -2]).tracked()
        let y = (x * x + x * 3).sum()  // dy/dx = 2x + 3
        XCTAssertEqual(try gradients(of: y, withRespectTo: [x])[0].values, [6, -1])
    }

    func testGuidedRulesReplaceReLUForOnePass() throws {
        let x = Tensor(shape: [4], values: [1, -1, 2, 3]).tracked()
        let y = x.relu() * Tensor(shape: [4], values: [1, 1, -1, 2])
        let seed = Tensor.ones([4])
        XCTAssertEqual(try gradients(of: y, withRespectTo: [x], seed: seed)[0].values, [1, 0, -1, 2])
        XCTAssertEqual(try gradients(of: y, withRespectTo: [x], seed: seed, rules: .guided)[0].values, [1, 0, 0, 2])
        // The standard rule is back for the next pass.
        XCTAssertEqual(try gradients(of: y, withRespectTo: [x], seed: seed)[0].values, [1, 0, -1, 2])
    }

    func testUntrackedForwardRecordsNothing() {
        let (x, w1, _, _) = lowerAndUpper()
        let y = x.conv2d(weight: w1, padding: 1).relu().sum()
        XCTAssertFalse(y.requiresGrad)
        let t = x.tracked().conv2d(weight: w1, padding: 1)
        XCTAssertTrue(t.requiresGrad)
    }

    func testUnreachedTargetGetsZerosAndSeedsAreChecked() throws {
        let x = random([2, 2], seed: 1).tracked(), z = random([3], seed: 2).tracked()
        let y = x.sum()
        XCTAssertEqual(try gradients(of: y, withRespectTo: [z])[0].values, [0, 0, 0])
        XCTAssertThrowsError(try gradients(of: x * 2, withRespectTo: [x]))
        XCTAssertThrowsError(try gradients(of: x * 2, withRespectTo: [x], seed: Tensor.ones([4])))
    }

    func testLongChainsDoNotOverflowTheStack() throws {
        var h = Tensor(shape: [1], values: [0.5]).tracked()
        let start = h
        for _ in 0..<20_000 { h = h * 1.0001 }
        let g = try gradients(of: h.sum(), withRespectTo: [start])[0]
        XCTAssertEqual(g.scalar, powf(1.0001, 20_000), accuracy: 1e-2)
    }
}
