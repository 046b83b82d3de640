import XCTest
import Models
import NN
import Tensor

/// At inference a convolution runs fused with the batch norm, residual sum and
/// ReLU after it (`runChain`, `ResidualBlock`); capturing every module's output
/// forces the unfused path.
/// Both must give the same numbers, and the captured outputs must still exist.
final class FusionTests: XCTestCase {
    /// Non-trivial batch-norm statistics and affine parameters, so folding them matters.
    private func randomizeBatchNorms(_ net: Module, seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        for (_, module) in net.namedModules() {
            guard let bn = module as? BatchNorm2d else { continue }
            let c = bn.weight.value.count
            bn.runningMean.value = Tensor.uniform([c], in: -0.5...0.5, using: &rng)
            bn.runningVar.value = Tensor.uniform([c], in: 0.5...2, using: &rng)
            bn.weight.value = Tensor.uniform([c], in: 0.5...1.5, using: &rng)
            bn.bias.value = Tensor.uniform([c], in: -0.3...0.3, using: &rng)
        }
    }

    private func assertFusionChangesNothing(_ net: Module & Backbone, _ x: Tensor, _ what: String) {
        let allPaths = Set(net.namedModules().map(\.name).filter { !$0.isEmpty })
        let fused = net.logits(x, ForwardContext())
        let unfusedCtx = ForwardContext(capturing: allPaths)
        let unfused = net.logits(x, unfusedCtx)
        XCTAssertEqual(fused.shape, unfused.shape, what)
        let scale = unfused.values.map(abs).max() ?? 0
        let err = zip(fused.values, unfused.values).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertGreaterThan(scale, 1e-3, "\(what): outputs are all near zero")
        XCTAssertLessThanOrEqual(err, 1e-5 * scale, "\(what): fused and unfused differ by \(err)")
        XCTAssertEqual(Set(unfusedCtx.captured.keys), allPaths, "\(what): every output captured")
    }

    /// The plan both paths are read from: each convolution with the batch norm
    /// and ReLU directly after it, anything else on its own.
    func testChainGroupsEachConvolutionWithWhatFollowsIt() {
        var initializer = Initializer.random(seed: 1)
        func conv() -> Conv2d { Conv2d(2, 2, kernel: 1, initializer: &initializer) }
        let steps = chainSteps([conv(), BatchNorm2d(2), ReLU(), MaxPool2d(kernel: 2), conv(), conv(), ReLU(),
                                ReLU(), conv(), BatchNorm2d(2), BatchNorm2d(2), conv()])
        let described = steps.map { step -> String in
            switch step {
            case let .convolution(_, bn, relu): "conv" + (bn == nil ? "" : "+bn") + (relu == nil ? "" : "+relu")
            case let .module(module): "\(type(of: module))"
            }
        }
        XCTAssertEqual(described, ["conv+bn+relu", "MaxPool2d", "conv", "conv+relu", "ReLU", "conv+bn", "BatchNorm2d", "conv"])
    }

    func testResNetBlocksFuseExactly() {
        for (k, arch) in [ResNet.Arch.resnet18, .resnet50].enumerated() {
            var initializer = Initializer.random(seed: UInt64(10 + k))
            let net = ResNet(arch: arch, baseWidth: 8, classes: 7, initializer: &initializer)
            net.assignPaths()
            randomizeBatchNorms(net, seed: UInt64(20 + k))
            var rng = SeededGenerator(seed: UInt64(30 + k))
            assertFusionChangesNothing(net, Tensor.uniform([2, 3, 40, 36], in: -1...1, using: &rng), "\(arch)")
        }
    }

    func testVGGWithAndWithoutBatchNormFusesExactly() {
        for (k, bn) in [true, false].enumerated() {
            var initializer = Initializer.random(seed: UInt64(40 + k))
            let net = VGG(cfg: [8, .pool, 16, 16, .pool, 32], batchNorm: bn, classes: 5, hidden: 16, initializer: &initializer)
            net.assignPaths()
            randomizeBatchNorms(net, seed: UInt64(50 + k))
            var rng = SeededGenerator(seed: UInt64(60 + k))
            assertFusionChangesNothing(net, Tensor.uniform([3, 3, 64, 64], in: -1...1, using: &rng), "vgg bn=\(bn)")
        }
    }

    /// Replacing an output inside a would-be fused group (Grad-CAM's tracked
    /// leaf) must see that very output: the group runs unfused around it.
    func testReplacingAnInnerOutputStillWorks() throws {
        var initializer = Initializer.random(seed: 70)
        let net = VGG(cfg: [8, .pool, 16], batchNorm: true, classes: 3, hidden: 8, initializer: &initializer)
        net.assignPaths()
        randomizeBatchNorms(net, seed: 71)
        var rng = SeededGenerator(seed: 72)
        let x = Tensor.uniform([1, 3, 32, 32], in: -1...1, using: &rng)
        var seen: Tensor?
        let ctx = ForwardContext(replacing: ["features.5": { a in seen = a; return a.tracked() }])
        let y = net.logits(x, ctx).sum()
        let bnOutput = try XCTUnwrap(seen, "features.5 (a batch norm) was never observed")
        let reference = net.logits(x, ForwardContext(capturing: ["features.5"]))
        XCTAssertEqual(y.scalar, reference.sum().scalar, accuracy: 1e-4)
        XCTAssertEqual(bnOutput.shape, [1, 16, 16, 16])
    }

    /// Capturing any one module inside a ResNet block (a convolution, a batch norm,
    /// the shortcut's) yields that module's own output, and the logits do not change:
    /// the group holding it runs unfused.
    func testCapturingAnyModuleInsideABlock() {
        var initializer = Initializer.random(seed: 80)
        let net = ResNet(arch: .resnet50, baseWidth: 8, classes: 4, initializer: &initializer)
        net.assignPaths()
        randomizeBatchNorms(net, seed: 81)
        var rng = SeededGenerator(seed: 82)
        let x = Tensor.uniform([1, 3, 32, 32], in: -1...1, using: &rng)
        let reference = net.logits(x, ForwardContext()).values
        for path in ["layer2.0.conv2", "layer2.0.bn1", "layer2.0.downsample.0", "layer2.0.downsample.1", "layer3.1.bn3"] {
            let ctx = ForwardContext(capturing: [path])
            let logits = net.logits(x, ctx).values
            XCTAssertNotNil(ctx.captured[path], path)
            XCTAssertEqual(logits, reference, accuracy: 1e-4 * (reference.map(abs).max() ?? 1), path)
        }
    }
}

private func XCTAssertEqual(_ a: [Float], _ b: [Float], accuracy: Float, _ what: String,
                            file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, what, file: file, line: line)
    let err = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
    XCTAssertLessThanOrEqual(err, accuracy, "\(what): max difference \(err)", file: file, line: line)
}
