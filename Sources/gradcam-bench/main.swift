// gradcam-bench: the benchmark suite. Run in a release build:
//     swift run -c release gradcam-bench [--quick]
// Every figure is reported beside a yardstick measured in the same run (the
// sgemm peak), because the machines are shared and noisy.

import Explain
import Foundation
import Models
import NN
import Tensor
import Text

let quick = CommandLine.arguments.contains("--quick")
let repeats = quick ? 3 : 5

func seconds(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

/// Median wall time in seconds of `repeats` runs after one warm-up.
func measure(_ body: () -> Void) -> Double {
    body()
    return median((0..<repeats).map { _ in seconds(body) })
}

/// Median times of two bodies run alternately, so both see the same machine load.
func measureSideBySide(_ first: () -> Void, _ second: () -> Void) -> (Double, Double) {
    first(); second()
    var a: [Double] = [], b: [Double] = []
    for _ in 0..<repeats {
        a.append(seconds(first))
        b.append(seconds(second))
    }
    return (median(a), median(b))
}

func peakMemoryMB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

func row(_ name: String, _ seconds: Double, gflops: Double? = nil, ratio: Double? = nil) {
    let g = gflops.map { String(format: "%8.1f", $0) } ?? "       -"
    let r = ratio.map { String(format: "%6.0f%%", $0 * 100) } ?? "      -"
    print(String(format: "%-44@ %9.2f ms %@ GFLOP/s %@", name as NSString, seconds * 1e3, g, r))
}

var rng = SeededGenerator(seed: 1)

// The yardstick: sgemm on large square products; the best of them is the peak.
print("gradcam-bench — median of \(repeats) after warm-up; ratio = GFLOP/s ÷ sgemm 1024³ timed alternately with it")
print(String(repeating: "-", count: 84))
var peak = 0.0
for n in [1024, 2048] {
    let a = Tensor.randn([n, n], using: &rng), b = Tensor.randn([n, n], using: &rng)
    let t = measure { _ = a.matmul(b) }
    let g = 2 * Double(n * n * n) / t / 1e9
    peak = max(peak, g)
    row("sgemm \(n)×\(n)×\(n)", t, gflops: g)
}
row("sgemm peak (the yardstick)", 0, gflops: peak, ratio: 1)
let yardstickA = Tensor.randn([1024, 1024], using: &rng), yardstickB = Tensor.randn([1024, 1024], using: &rng)
let yardstickFlops = 2.0 * 1024 * 1024 * 1024

// conv2d forward at 224×224 input, batch 1, on the layer shapes of VGG-16 and ResNet-50.
struct ConvShape { let name: String; let c: Int; let o: Int; let size: Int; let k: Int; let stride: Int; let pad: Int }
let convs = [
    ConvShape(name: "vgg16 conv1_2  64→64   224² 3×3", c: 64, o: 64, size: 224, k: 3, stride: 1, pad: 1),
    ConvShape(name: "vgg16 conv2_2 128→128  112² 3×3", c: 128, o: 128, size: 112, k: 3, stride: 1, pad: 1),
    ConvShape(name: "vgg16 conv3_2 256→256   56² 3×3", c: 256, o: 256, size: 56, k: 3, stride: 1, pad: 1),
    ConvShape(name: "vgg16 conv4_2 512→512   28² 3×3", c: 512, o: 512, size: 28, k: 3, stride: 1, pad: 1),
    ConvShape(name: "vgg16 conv5_2 512→512   14² 3×3", c: 512, o: 512, size: 14, k: 3, stride: 1, pad: 1),
    ConvShape(name: "resnet50 conv1  3→64   224² 7×7 s2", c: 3, o: 64, size: 224, k: 7, stride: 2, pad: 3),
    ConvShape(name: "resnet50 layer1 64→256  56² 1×1", c: 64, o: 256, size: 56, k: 1, stride: 1, pad: 0),
    ConvShape(name: "resnet50 layer1 64→64   56² 3×3", c: 64, o: 64, size: 56, k: 3, stride: 1, pad: 1),
    ConvShape(name: "resnet50 layer2 128→128 56² 3×3 s2", c: 128, o: 128, size: 56, k: 3, stride: 2, pad: 1),
    ConvShape(name: "resnet50 layer3 256→256 14² 3×3", c: 256, o: 256, size: 14, k: 3, stride: 1, pad: 1),
    ConvShape(name: "resnet50 layer4 2048→512 7² 1×1", c: 2048, o: 512, size: 7, k: 1, stride: 1, pad: 0),
    ConvShape(name: "resnet50 layer4 512→512  7² 3×3", c: 512, o: 512, size: 7, k: 3, stride: 1, pad: 1),
]
var vggDeepRatios: [Double] = []
for s in convs {
    let x = Tensor.randn([1, s.c, s.size, s.size], using: &rng)
    let w = Tensor.randn([s.o, s.c, s.k, s.k], std: 0.05, using: &rng)
    let bias = Tensor.randn([s.o], using: &rng)
    let out = (s.size + 2 * s.pad - s.k) / s.stride + 1
    let flops = 2 * Double(s.o * s.c * s.k * s.k * out * out)
    // The yardstick product is timed alternately with the convolution, so a
    // busy neighbour slows both alike.
    let (t, tGemm) = measureSideBySide({ _ = x.conv2d(weight: w, bias: bias, stride: s.stride, padding: s.pad) },
                                       { _ = yardstickA.matmul(yardstickB) })
    let g = flops / t / 1e9, localPeak = yardstickFlops / tGemm / 1e9
    row("conv2d " + s.name, t, gflops: g, ratio: g / localPeak)
    if s.name.hasPrefix("vgg16 conv3") || s.name.hasPrefix("vgg16 conv4") || s.name.hasPrefix("vgg16 conv5") {
        vggDeepRatios.append(g / localPeak)
    }
}
print(String(repeating: "-", count: 84))
print(String(format: "VGG-16 conv3–conv5 forward: %.0f%% of the sgemm peak (target ≥ 60%%)",
             vggDeepRatios.reduce(0, +) / Double(vggDeepRatios.count) * 100))
print(String(format: "peak memory: %.0f MB", peakMemoryMB()))

// Whole networks at 224×224, batch 1: forward, and classification Grad-CAM of the top class.
print(String(repeating: "-", count: 84))
func classifierConfig(_ arch: String, layer: String) -> ModelConfig {
    try! ModelConfig.parse(Data("""
        {"format": "gradcam-model/1", "task": "classification",
         "input": {"width": 224, "height": 224, "resize": "stretch", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
         "backbone": {"arch": "\(arch)"}, "explain_layer": "\(layer)"}
        """.utf8), file: "bench")
}
let classes = try! Vocabulary(tokens: (0..<1000).map { "class\($0)" })
for (arch, layer) in [("resnet50", "layer4"), ("vgg16", "features.29")] {
    let config = classifierConfig(arch, layer: layer)
    guard case let .classification(model, names) = ModelDirectory.build(config, [classes], initializer: .random(seed: 1)) else { continue }
    let x = Tensor.randn([1, 3, 224, 224], using: &rng)
    let tForward = measure { _ = model.logits(x, ForwardContext()) }
    row("\(arch) forward 224²", tForward)
    let explainer = try! Explainer(root: model.network, defaultLayer: layer, options: ExplainOptions())
    let targets = TargetSet.classes(model, names: names, ids: [0], kind: .logit)
    let tCam = measure { _ = try! explainer.explain(targets, image: x) }
    row("\(arch) Grad-CAM (top class)", tCam)
}
print(String(format: "peak memory: %.0f MB", peakMemoryMB()))
