// The scenarios, our side. Each variant runs in its own process (the parent
// re-executes this binary with --child), loads its model directory, resets the
// memory high-water mark, times the protocol and returns one RunResult.

import Decoding
import Explain
import Export
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Imaging
import Models
import NN
import Tensor
import Text
import TorchFiles

struct Scenario {
    let name: String
    /// What the table calls it.
    let title: String
    let models: [ModelSpec]
    /// Our variants, each in its own process; the first is the headline one.
    let variants: [String]
    /// Whether scripts/bench_pytorch.py has this scenario.
    let pytorch: Bool
    /// Whether the PyTorch side writes the input this scenario reads (a torch.save
    /// checkpoint), and so runs first.
    var pytorchFirst = false
    let run: (Bench, String) throws -> RunResult
}

struct Bench {
    let ws: Workspace
    let p: Protocol
}

nonisolated(unsafe) let scenarios: [Scenario] = [
    Scenario(name: "sgemm", title: "sgemm (yardstick)", models: [], variants: ["sgemm"], pytorch: true, run: runSgemm),
    Scenario(name: "conv", title: "conv2d layer shapes", models: [], variants: ["conv"], pytorch: true, run: runConv),
    Scenario(name: "resnet50-forward", title: "ResNet-50 forward", models: [.resnet50], variants: ["forward"],
             pytorch: true) { try runForward($0, .resnet50, $1) },
    Scenario(name: "vgg16-forward", title: "VGG-16 forward", models: [.vgg16], variants: ["forward"],
             pytorch: true) { try runForward($0, .vgg16, $1) },
    Scenario(name: "resnet50-gradcam", title: "ResNet-50 Grad-CAM", models: [.resnet50], variants: ["gradcam"],
             pytorch: true) { try runClassGradCAM($0, .resnet50, $1) },
    Scenario(name: "vgg16-gradcam", title: "VGG-16 Grad-CAM", models: [.vgg16], variants: ["gradcam"],
             pytorch: true) { try runClassGradCAM($0, .vgg16, $1) },
    Scenario(name: "caption-gradcam", title: "caption per-word Grad-CAM T=16", models: [.captioner],
             variants: ["one-pass", "aux"], pytorch: true, run: runCaptionGradCAM),
    Scenario(name: "attention-caption-gradcam", title: "attention caption per-word Grad-CAM T=16, ResNet-101 256²",
             models: [.attentionCaptioner], variants: ["one-pass"], pytorch: true, run: runAttentionCaptionGradCAM),
    Scenario(name: "vqa-gradcam", title: "VQA top-answer Grad-CAM", models: [.vqa], variants: ["gradcam"],
             pytorch: true, run: runVQAGradCAM),
    Scenario(name: "caption-guided", title: "caption Guided Grad-CAM T=16", models: [.captioner],
             variants: ["guided-gradcam", "aux"], pytorch: true, run: runCaptionGuided),
    Scenario(name: "beam", title: "beam search k=5 vs greedy", models: [.captioner], variants: ["decode"],
             pytorch: false, run: runBeam),
    Scenario(name: "load", title: "load ResNet-50 checkpoint", models: [.resnet50], variants: ["load"],
             pytorch: true, run: runLoad),
    Scenario(name: "torch-load", title: "read a 179 MB legacy torch.save checkpoint", models: [], variants: ["torch-load"],
             pytorch: true, pytorchFirst: true, run: runTorchLoad),
    Scenario(name: "jpeg", title: "12 MP JPEG decode, resize", models: [], variants: ["jpeg"], pytorch: false, run: runJPEG),
    Scenario(name: "export", title: "export 16 tokens, 640×480", models: [], variants: ["export"], pytorch: false,
             run: runExport),
    Scenario(name: "command", title: "the gradcam command end to end", models: [.resnet50, .captioner],
             variants: ["classify", "classify-out", "caption", "export16"], pytorch: false, run: runCommand),
    Scenario(name: "serve", title: "gradcam serve: a 9-word caption over HTTP vs in process", models: [], variants: ["caption"],
             pytorch: false, run: runServe),
]

// MARK: - helpers

func loadModel(_ b: Bench, _ spec: ModelSpec) throws -> ModelDirectory {
    try ModelDirectory(path: b.ws.model(spec))
}

func argmax(_ t: Tensor) -> Int {
    let v = t.values
    return v.indices.max { v[$0] < v[$1] || (v[$0] == v[$1] && $0 > $1) }!
}

struct Targets: Codable { var ids: [Int] }

/// Times `body` under the protocol with the memory high-water mark reset first;
/// also the CPU time (user, system) and page faults per run, warm-up included.
func measured(_ b: Bench, _ body: () throws -> Void) rethrows -> (times: [Double], peak: Double, usage: [String: Double]) {
    Memory.resetPeak()
    let before = CPUUsage.now
    let times = try measure(b.p, body)
    let usage = CPUUsage.metrics(from: before, to: CPUUsage.now, runs: times.count + (times.count > 1 ? 1 : 0))
    return (times, Memory.peakMB(), usage)
}

// MARK: - yardstick and kernels

func runSgemm(_ b: Bench, _ variant: String) throws -> RunResult {
    var rng = SeededGenerator(seed: 11)
    var metrics: [String: Double] = [:]
    var best = 0.0, times: [Double] = []
    Memory.resetPeak()
    for n in [1024, 2048] {
        let x = Tensor.randn([n, n], using: &rng), y = Tensor.randn([n, n], using: &rng)
        times = measure(b.p) { _ = x.matmul(y) }
        let g = 2 * pow(Double(n), 3) / median(times) / 1e9
        metrics["gflops_\(n)"] = g
        best = max(best, g)
    }
    metrics["gflops"] = best
    // The row's times are those of 2048³ on both sides; the peak is the best rate.
    return RunResult(scenario: "sgemm", variant: variant, times: times, peak: Memory.peakMB(), metrics: metrics)
}

struct ConvShape: Codable {
    let name: String, c: Int, o: Int, size: Int, k: Int, stride: Int, pad: Int, bias: Bool
    var out: Int { (size + 2 * pad - k) / stride + 1 }
    var flops: Double { 2 * Double(o * c * k * k * out * out) }
}

let convShapes = [
    ConvShape(name: "vgg16 conv1_2 64-64 224 3x3", c: 64, o: 64, size: 224, k: 3, stride: 1, pad: 1, bias: true),
    ConvShape(name: "vgg16 conv2_2 128-128 112 3x3", c: 128, o: 128, size: 112, k: 3, stride: 1, pad: 1, bias: true),
    ConvShape(name: "vgg16 conv3_2 256-256 56 3x3", c: 256, o: 256, size: 56, k: 3, stride: 1, pad: 1, bias: true),
    ConvShape(name: "vgg16 conv4_2 512-512 28 3x3", c: 512, o: 512, size: 28, k: 3, stride: 1, pad: 1, bias: true),
    ConvShape(name: "vgg16 conv5_2 512-512 14 3x3", c: 512, o: 512, size: 14, k: 3, stride: 1, pad: 1, bias: true),
    ConvShape(name: "resnet50 conv1 3-64 224 7x7 s2", c: 3, o: 64, size: 224, k: 7, stride: 2, pad: 3, bias: false),
    ConvShape(name: "resnet50 layer1 64-256 56 1x1", c: 64, o: 256, size: 56, k: 1, stride: 1, pad: 0, bias: false),
    ConvShape(name: "resnet50 layer1 64-64 56 3x3", c: 64, o: 64, size: 56, k: 3, stride: 1, pad: 1, bias: false),
    ConvShape(name: "resnet50 layer2 128-128 56 3x3 s2", c: 128, o: 128, size: 56, k: 3, stride: 2, pad: 1, bias: false),
    ConvShape(name: "resnet50 layer3 256-256 14 3x3", c: 256, o: 256, size: 14, k: 3, stride: 1, pad: 1, bias: false),
    ConvShape(name: "resnet50 layer3 1024-256 14 1x1", c: 1024, o: 256, size: 14, k: 1, stride: 1, pad: 0, bias: false),
    ConvShape(name: "resnet50 layer4 2048-512 7 1x1", c: 2048, o: 512, size: 7, k: 1, stride: 1, pad: 0, bias: false),
    ConvShape(name: "resnet50 layer4 512-512 7 3x3", c: 512, o: 512, size: 7, k: 3, stride: 1, pad: 1, bias: false),
]

func activeConvShapes(_ quick: Bool) -> [ConvShape] {
    let few = ["vgg16 conv1_2", "vgg16 conv4_2", "resnet50 layer1 64-64", "resnet50 layer4 512-512"]
    return quick ? convShapes.filter { s in few.contains { s.name.hasPrefix($0) } } : convShapes
}

/// Each layer shape timed alternately with a 1024³ sgemm, so a busy neighbour slows both alike.
func runConv(_ b: Bench, _ variant: String) throws -> RunResult {
    let shapes = activeConvShapes(b.p.quick)
    try b.ws.writeJSON(shapes, to: b.ws.out("conv") + "/shapes.json")
    var rng = SeededGenerator(seed: 12)
    let ya = Tensor.randn([1024, 1024], using: &rng), yb = Tensor.randn([1024, 1024], using: &rng)
    var metrics: [String: Double] = [:]
    var total = 0.0, flops = 0.0, yardstickTime = 0.0
    Memory.resetPeak()
    for s in shapes {
        let x = Tensor.randn([1, s.c, s.size, s.size], using: &rng)
        let w = Tensor.randn([s.o, s.c, s.k, s.k], std: 0.05, using: &rng)
        let bias = s.bias ? Tensor.randn([s.o], using: &rng) : nil
        let (t, tg) = measureAlternately(b.p, { _ = x.conv2d(weight: w, bias: bias, stride: s.stride, padding: s.pad) },
                                         { _ = ya.matmul(yb) })
        metrics["ms:" + s.name] = median(t) * 1e3
        metrics["gflops:" + s.name] = s.flops / median(t) / 1e9
        let local = 2 * pow(1024, 3) / median(tg) / 1e9
        metrics["local_sgemm_gflops:" + s.name] = local
        total += median(t)
        flops += s.flops
        yardstickTime += s.flops / local / 1e9
    }
    metrics["gflops"] = flops / total / 1e9
    // Against the sgemm timed alternately with each shape: what the same FLOPs take there.
    metrics["ratio_alternate_sgemm"] = yardstickTime / total
    metrics["flops"] = flops
    var r = RunResult(scenario: "conv", variant: variant, peak: Memory.peakMB(), metrics: metrics)
    r.median_ms = total * 1e3
    return r
}

// MARK: - classification

func classifier(_ dir: ModelDirectory) throws -> (Classifier, Vocabulary) {
    guard case let .classification(model, classes) = dir.model else { throw BenchError("\(dir.path): not a classifier") }
    return (model, classes)
}

func runForward(_ b: Bench, _ spec: ModelSpec, _ variant: String) throws -> RunResult {
    let name = spec == .resnet50 ? "resnet50-forward" : "vgg16-forward"
    let (model, _) = try classifier(try loadModel(b, spec))
    let x = try b.ws.image()
    let flops = LayerFLOPs(root: model.network) { _ = model.logits(x, $0) }.total
    var logits: Tensor?
    let (ts, peak, usage) = measured(b) { logits = model.logits(x, ForwardContext()) }
    try NPY.write(logits!, to: b.ws.out(name) + "/ours_logits.npy")
    return RunResult(scenario: name, variant: variant, times: ts, peak: peak,
                     metrics: usage.merging(["flops": flops, "gflops": flops / median(ts) / 1e9]) { $1 })
}

func runClassGradCAM(_ b: Bench, _ spec: ModelSpec, _ variant: String) throws -> RunResult {
    let name = spec == .resnet50 ? "resnet50-gradcam" : "vgg16-gradcam"
    let dir = try loadModel(b, spec)
    let (model, classes) = try classifier(dir)
    let x = try b.ws.image()
    let counted = LayerFLOPs(root: model.network) { _ = model.logits(x, $0) }
    // Forward, then the backward of the part above the layer (input gradients only).
    let flops = counted.total + counted.above(dir.explainLayer)
    let top = argmax(model.logits(x, ForwardContext()))
    try b.ws.writeJSON(Targets(ids: [top]), to: b.ws.out(name) + "/targets.json")
    let explainer = try Explainer(root: model.network, defaultLayer: dir.explainLayer, options: ExplainOptions())
    let targets = TargetSet.classes(model, names: classes, ids: [top], kind: .logit)
    var e: Explanation?
    let (ts, peak, usage) = try measured(b) { e = try explainer.explain(targets, image: x) }
    try NPY.write(e!.raw!, to: b.ws.out(name) + "/ours_raw.npy")
    let tForward = median(measure(b.p) { _ = model.logits(x, ForwardContext()) })
    return RunResult(scenario: name, variant: variant, times: ts, peak: peak,
                     metrics: usage.merging(["flops": flops, "gflops": flops / median(ts) / 1e9, "forward_ms": tForward * 1e3]) { $1 })
}

// MARK: - captioning

/// The bench's captioner: Show and Tell on a ResNet-50 (its FLOPs are counted by hand).
func captioner(_ dir: ModelDirectory) throws -> (ShowAndTell, Vocabulary) {
    guard case let .captioning(model, vocabulary) = dir.model, let model = model as? ShowAndTell else {
        throw BenchError("\(dir.path): not a Show-and-Tell captioner")
    }
    return (model, vocabulary)
}

func captionFLOPs(_ cap: ShowAndTell, _ x: Tensor, words n: Int) -> CaptionFLOPs {
    let cnn = LayerFLOPs(root: cap) { _ = cap.imageFeature(x, $0) }.under("backbone.")
    let f = cap.imageProj.weight.value.shape[1], e = cap.imageProj.weight.value.shape[0]
    return CaptionFLOPs(cnn: cnn, f: f, e: e, h: cap.lstm.hiddenSize, v: cap.head.weight.value.shape[0], n: n)
}

/// The explained layer's activation at batch 1, unrecorded.
func layerActivation(_ cap: Captioner, _ x: Tensor, layer: String) -> Tensor {
    let ctx = ForwardContext(capturing: [layer])
    _ = cap.imageFeature(x, ctx)
    return ctx.captured[layer]!
}

/// Row j's log-probability of word j (b = n rows) or every word's (b = 1) from a
/// layer4 activation [b, C, h, w]: the captioner above the layer, as the Explainer runs it.
func wordScores(_ cap: Captioner, fromLayer4 a: Tensor, words: [Int]) -> Tensor {
    TargetSet.wordScores(cap, feature: a.globalAvgPool2d(), words: words, targets: Array(words.indices), kind: .logprob,
                         ForwardContext())
}

func runCaptionGradCAM(_ b: Bench, _ variant: String) throws -> RunResult {
    let name = "caption-gradcam"
    let dir = try loadModel(b, .captioner)
    let (cap, vocabulary) = try captioner(dir)
    let x = try b.ws.image(), words = try b.ws.readInputs().caption, n = words.count
    let explainer = try Explainer(root: cap, defaultLayer: dir.explainLayer, options: ExplainOptions())
    let targets = TargetSet.caption(cap, vocabulary: vocabulary, words: words, kind: .logprob)
    let fl = captionFLOPs(cap, x, words: n)
    var metrics: [String: Double] = ["flops": fl.required, "flops_executed": fl.executedOnePass]
    if variant == "one-pass" {
        var e: Explanation?
        let (ts, peak, usage) = try measured(b) { e = try explainer.explain(targets, image: x) }
        try NPY.write(e!.raw!, to: b.ws.out(name) + "/ours_raw.npy")
        try NPY.write(Tensor(shape: [n], values: e!.entries.map(\.score)), to: b.ws.out(name) + "/ours_scores.npy")
        metrics.merge(usage) { $1 }
        metrics["gflops"] = fl.required / median(ts) / 1e9
        return RunResult(scenario: name, variant: variant, times: ts, peak: peak, metrics: metrics)
    }
    // aux: the loop of single-target passes, the forward + decoder-backward baseline, and phases,
    // each as wall time (name_ms) and CPU time per run (name_cpu_ms).
    Memory.resetPeak()
    func phase(_ key: String, _ body: () throws -> Void) rethrows -> Double {
        try timePhase(b, key, into: &metrics, body)
    }
    let loop = try phase("loop16") {
        for k in 0..<n { _ = try explainer.explain(targets.selecting([k]), image: x) }
    }
    let forward = phase("forward") {
        _ = cap.teacherForcedLogits(cap.imageFeature(x, ForwardContext()), words: words, ForwardContext()).logSoftmax(axis: 2)
    }
    _ = phase("phase_cnn") { _ = cap.imageFeature(x, ForwardContext()) }
    // The decoder at batch n on n tracked copies of the activation, as the Explainer runs it.
    let a = layerActivation(cap, x, layer: dir.explainLayer)
    let copies = Array([n] + a.shape.dropFirst())
    var tracked = a, scores = a
    _ = phase("phase_decoder_forward_b16") {
        tracked = a.expanded(to: copies).tracked()
        scores = wordScores(cap, fromLayer4: tracked, words: words)
    }
    _ = phase("phase_decoder_forward_b1") { _ = wordScores(cap, fromLayer4: a.tracked(), words: words) }
    let backward = try phase("phase_decoder_backward_b16") {
        _ = try gradients(of: scores, withRespectTo: [tracked], seed: Tensor.ones([n]))
    }
    // Inside the decoder at batch n: the head over the n scored rows and its log-softmax.
    var rng = SeededGenerator(seed: 99)
    let hidden = Tensor.randn([n, cap.lstm.hiddenSize], using: &rng)
    _ = phase("phase_head_forward_b16") { _ = hidden.linear(weight: cap.head.weight.value, bias: cap.head.bias?.value) }
    let logits = hidden.linear(weight: cap.head.weight.value, bias: cap.head.bias?.value)
    _ = phase("phase_log_softmax_b16") { _ = logits.logSoftmax(axis: 1) }
    metrics["baseline_ms"] = (forward + backward) * 1e3
    metrics["baseline_cpu_ms"] = metrics["forward_cpu_ms"]! + metrics["phase_decoder_backward_b16_cpu_ms"]!
    var r = RunResult(scenario: name, variant: variant, times: [loop], peak: Memory.peakMB(), metrics: metrics)
    r.times_ms = nil
    return r
}

/// Show, Attend and Tell's 16 words explained at layer4 in one pass, through the
/// attention, gate and initial state of every step.
func runAttentionCaptionGradCAM(_ b: Bench, _ variant: String) throws -> RunResult {
    let name = "attention-caption-gradcam"
    let dir = try loadModel(b, .attentionCaptioner)
    guard case let .captioning(cap, vocabulary) = dir.model else { throw BenchError("\(dir.path): not a captioner") }
    let x = try b.ws.image256(), words = try b.ws.readInputs().caption
    let explainer = try Explainer(root: cap, defaultLayer: dir.explainLayer, options: ExplainOptions())
    let targets = TargetSet.caption(cap, vocabulary: vocabulary, words: words, kind: .logprob)
    var e: Explanation?
    let (ts, peak, usage) = try measured(b) { e = try explainer.explain(targets, image: x) }
    try NPY.write(e!.raw!, to: b.ws.out(name) + "/ours_raw.npy")
    return RunResult(scenario: name, variant: variant, times: ts, peak: peak, metrics: usage)
}

func runCaptionGuided(_ b: Bench, _ variant: String) throws -> RunResult {
    let name = "caption-guided"
    let dir = try loadModel(b, .captioner)
    let (cap, vocabulary) = try captioner(dir)
    let x = try b.ws.image(), words = try b.ws.readInputs().caption, n = words.count
    let targets = TargetSet.caption(cap, vocabulary: vocabulary, words: words, kind: .logprob)
    let fl = captionFLOPs(cap, x, words: n)
    var metrics: [String: Double] = ["flops": fl.guidedRequired]
    if variant == "guided-gradcam" {
        let explainer = try Explainer(root: cap, defaultLayer: dir.explainLayer, options: ExplainOptions(method: .guidedGradcam))
        var e: Explanation?
        let (ts, peak, usage) = try measured(b) { e = try explainer.explain(targets, image: x) }
        try NPY.write(e!.raw!, to: b.ws.out(name) + "/ours_raw.npy")
        try NPY.write(e!.guided!, to: b.ws.out(name) + "/ours_guided.npy")
        metrics.merge(usage) { $1 }
        metrics["gflops"] = fl.guidedRequired / median(ts) / 1e9
        return RunResult(scenario: name, variant: variant, times: ts, peak: peak, metrics: metrics)
    }
    // aux: the Grad-CAM part alone, the recorded forward at batch 1 and one guided backward.
    Memory.resetPeak()
    func phase(_ key: String, _ body: () throws -> Void) rethrows -> Double {
        try timePhase(b, key, into: &metrics, body)
    }
    let plain = try Explainer(root: cap, defaultLayer: dir.explainLayer, options: ExplainOptions())
    _ = try phase("phase_gradcam") { _ = try plain.explain(targets, image: x) }
    let input = x.tracked()
    var scores = x
    _ = phase("phase_recorded_forward") {
        scores = cap.teacherForcedLogits(cap.imageFeature(input, ForwardContext()), words: words, ForwardContext())
            .logSoftmax(axis: 2).reshaped([n, -1]).pick(words).reshaped([1, n])
    }
    var seed = [Float](repeating: 0, count: n)
    seed[n / 2] = 1
    let seedTensor = Tensor(shape: [1, n], values: seed)
    let one = try phase("phase_one_guided_backward") {
        _ = try gradients(of: scores, withRespectTo: [input], seed: seedTensor, rules: .guided)
    }
    _ = try phase("phase_one_plain_backward") { _ = try gradients(of: scores, withRespectTo: [input], seed: seedTensor) }
    metrics["guided_backward_gflops"] = (fl.cnn + fl.wordBackward(n / 2)) / one / 1e9
    var r = RunResult(scenario: name, variant: variant, times: [one], peak: Memory.peakMB(), metrics: metrics)
    r.times_ms = nil
    return r
}

// MARK: - VQA

func runVQAGradCAM(_ b: Bench, _ variant: String) throws -> RunResult {
    let name = "vqa-gradcam"
    let dir = try loadModel(b, .vqa)
    guard case let .vqa(model, _, answers) = dir.model else { throw BenchError("not a VQA model") }
    let x = try b.ws.image(), question = try b.ws.readInputs().question
    let counted = LayerFLOPs(root: model) { ctx in
        _ = model.answerLogits(imageFeature: model.imageFeature(x, ctx), question: model.questionVector(question, ctx), ctx)
    }
    let q = dir.config.questionEncoder!
    var lstm = 0.0
    for k in 0..<q.layers { lstm += Double(question.count) * lstmStepFLOPs(input: k == 0 ? q.embed : q.hidden, hidden: q.hidden) }
    // Above the layer, the backward needs image_proj's and the classifier's input gradients.
    let above = counted.under("image_proj") + counted.under("classifier")
    let flops = counted.total + lstm + above
    let ctx = ForwardContext()
    let top = argmax(model.answerLogits(imageFeature: model.imageFeature(x, ctx), question: model.questionVector(question, ctx), ctx))
    try b.ws.writeJSON(Targets(ids: [top]), to: b.ws.out(name) + "/targets.json")
    let explainer = try Explainer(root: model, defaultLayer: dir.explainLayer, options: ExplainOptions())
    let targets = TargetSet.answers(model, answers: answers, question: question, ids: [top], kind: .logit)
    var e: Explanation?
    let (ts, peak, usage) = try measured(b) { e = try explainer.explain(targets, image: x) }
    try NPY.write(e!.raw!, to: b.ws.out(name) + "/ours_raw.npy")
    let cnn = measure(b.p) { _ = model.imageFeature(x, ForwardContext()) }
    return RunResult(scenario: name, variant: variant, times: ts, peak: peak,
                     metrics: usage.merging(["flops": flops, "gflops": flops / median(ts) / 1e9, "phase_cnn_ms": median(cnn) * 1e3]) { $1 })
}

// MARK: - decoding, loading, images, export

func runBeam(_ b: Bench, _ variant: String) throws -> RunResult {
    let dir = try loadModel(b, .captioner)
    let (cap, vocabulary) = try captioner(dir)
    let x = try b.ws.image()
    let feature = cap.imageFeature(x, ForwardContext())
    let stepper = try CaptionerStepper(captioner: cap, vocabulary: vocabulary, feature: feature)
    let greedy = try BeamSearch(beamSize: 1, maxLength: 16), beam = try BeamSearch(beamSize: 5, maxLength: 16)
    var g: [Hypothesis] = [], h: [Hypothesis] = []
    Memory.resetPeak()
    let tg = try measure(b.p) { g = try greedy.search(stepper) }
    let greedyCPU = CPUUsage.lastPerRunMs
    let tb = try measure(b.p) { h = try beam.search(stepper) }
    let beamCPU = CPUUsage.lastPerRunMs
    let cnn = measure(b.p) { _ = cap.imageFeature(x, ForwardContext()) }
    return RunResult(scenario: "beam", variant: variant, times: tb, peak: Memory.peakMB(),
                     metrics: ["greedy_ms": median(tg) * 1e3, "beam5_ms": median(tb) * 1e3,
                               "greedy_cpu_ms": greedyCPU, "beam5_cpu_ms": beamCPU,
                               "ratio": median(tb) / median(tg), "cpu_ratio": beamCPU / greedyCPU,
                               "greedy_words": Double(g[0].words.count),
                               "beam5_words": Double(h[0].words.count), "cnn_ms": median(cnn) * 1e3])
}

func runLoad(_ b: Bench, _ variant: String) throws -> RunResult {
    let path = b.ws.model(.resnet50), weights = path + "/weights.safetensors"
    let size = Double((try FileManager.default.attributesOfItem(atPath: weights)[.size] as? Int) ?? 0)
    Memory.resetPeak()
    let read = try measure(b.p) { _ = try Data(contentsOf: URL(fileURLWithPath: weights)) }
    let readCPU = CPUUsage.lastPerRunMs
    let parse = try measure(b.p) { _ = try Safetensors.read(path: weights) }
    // The model a load builds before the tensors replace its parameters.
    let build = measure(b.p) { _ = ModelDirectory.build(ModelSpec.resnet50.config, ModelSpec.resnet50.vocabularies, initializer: .forLoading) }
    let load = try measure(b.p) { _ = try ModelDirectory(path: path) }
    let loadCPU = CPUUsage.lastPerRunMs
    return RunResult(scenario: "load", variant: variant, times: load, peak: Memory.peakMB(),
                     metrics: ["read_ms": median(read) * 1e3, "safetensors_read_ms": median(parse) * 1e3,
                               "build_for_loading_ms": median(build) * 1e3,
                               "beyond_read_ms": (median(load) - median(read)) * 1e3, "file_mb": size / 1e6,
                               "read_cpu_ms": readCPU, "load_cpu_ms": loadCPU, "beyond_read_cpu_ms": loadCPU - readCPU])
}

/// The checkpoint scripts/bench_pytorch.py writes in torch.save's legacy layout
/// (sgrvinod's encoder: a ResNet-101 as `resnet.N`), read whole: every tensor
/// in memory as Float32, beside the time to read the file's bytes.
func runTorchLoad(_ b: Bench, _ variant: String) throws -> RunResult {
    let path = b.ws.inputs + "/resnet101-legacy.pth.tar"
    guard FileManager.default.fileExists(atPath: path) else {
        var r = RunResult(scenario: "torch-load", variant: variant)
        r.error = "\(path) is written by scripts/bench_pytorch.py: run this scenario with PyTorch installed once"
        return r
    }
    let size = Double((try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
    Memory.resetPeak()
    let read = try measure(b.p) { _ = try Data(contentsOf: URL(fileURLWithPath: path)) }
    var count = 0
    let load = try measure(b.p) {
        let checkpoint = try TorchCheckpoint(path: path)
        count = try checkpoint.stateDict(of: checkpoint.pickle.root).values.reduce(0) { $0 + $1.count }
    }
    return RunResult(scenario: "torch-load", variant: variant, times: load, peak: Memory.peakMB(),
                     metrics: ["read_ms": median(read) * 1e3, "file_mb": size / 1e6, "values": Double(count),
                               "load_to_read": median(load) / median(read)])
}

/// A 12-megapixel photo-like JPEG (smooth gradients, edges and noise), made once.
func twelveMegapixelJPEG(_ ws: Workspace) throws -> String {
    let path = ws.inputs + "/12mp.jpg"
    if FileManager.default.fileExists(atPath: path) { return path }
    try FileManager.default.createDirectory(atPath: ws.inputs, withIntermediateDirectories: true)
    try photoLike(width: 4000, height: 3000, disc: 900, checker: 50, noise: 24, seed: 5).write(to: path, quality: 90)
    return path
}

func runJPEG(_ b: Bench, _ variant: String) throws -> RunResult {
    let path = try twelveMegapixelJPEG(b.ws)
    var image = RGBImage(width: 1, height: 1)
    Memory.resetPeak()
    let decode = try measure(b.p) { image = try RGBImage(contentsOf: path) }
    let peak = Memory.peakMB()
    var metrics: [String: Double] = ["decode_ms": median(decode) * 1e3, "megapixels": Double(image.width * image.height) / 1e6,
                                     "decode_cpu_ms": CPUUsage.lastPerRunMs]
    if FileManager.default.isExecutableFile(atPath: "/usr/bin/djpeg") {
        // djpeg's CPU time is its own, read from the children's usage.
        let before = CPUUsage.children
        var runs = 0
        let djpeg = try measure(b.p) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/djpeg")
            process.arguments = ["-outfile", "/dev/null", path]
            try process.run()
            process.waitUntilExit()
            runs += 1
        }
        metrics["djpeg_ms"] = median(djpeg) * 1e3
        metrics["djpeg_cpu_ms"] = (CPUUsage.children - before) / Double(runs) * 1e3
    }
    let stretch = try Preprocessing(width: 224, height: 224, resize: .stretch, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
    let crop = try Preprocessing(width: 224, height: 224, resize: .centerCrop, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
    metrics["resize_stretch_ms"] = median(measure(b.p) { _ = stretch.apply(to: image) }) * 1e3
    metrics["resize_center_crop_ms"] = median(measure(b.p) { _ = crop.apply(to: image) }) * 1e3
    metrics["thumbnail_area_ms"] = median(measure(b.p) { _ = image.resized(width: 224, height: 224) }) * 1e3
    return RunResult(scenario: "jpeg", variant: variant, times: decode, peak: peak, metrics: metrics)
}

func runExport(_ b: Bench, _ variant: String) throws -> RunResult {
    // A small captioner: the export's cost does not depend on the model.
    let config = try ModelConfig.parse(Data(#"""
        {"format": "gradcam-model/1", "task": "captioning", "input": \#(ModelSpec.input),
         "backbone": {"arch": "resnet18", "base_width": 8, "feature": "avgpool"},
         "decoder": {"embed": 32, "hidden": 32, "layers": 1, "max_length": 16, "image_activation": "none"},
         "explain_layer": "backbone.layer4"}
        """#.utf8), file: "export-bench")
    let vocabulary = try Vocabulary(tokens: ["<pad>", "<start>", "<end>", "<unk>"] + (4..<100).map { "word\($0)" })
    guard case let .captioning(cap, _) = ModelDirectory.build(config, [vocabulary], initializer: .random(seed: 6)) else {
        throw BenchError("export: no captioner")
    }
    let words = (0..<16).map { 4 + ($0 * 7) % 96 }
    let x = try b.ws.image()
    let e = try Explainer(root: cap, defaultLayer: "backbone.layer4", options: ExplainOptions())
        .explain(TargetSet.caption(cap, vocabulary: vocabulary, words: words, kind: .logprob), image: x)
    let doc = ExportDocument(task: .captioning, imagePath: "bench.jpg",
                             image: photoLike(width: 640, height: 480, disc: 150, checker: 40, noise: 16, seed: 7),
                             modelPath: "bench-model", weightsSHA256: String(repeating: "0", count: 64), explanation: e,
                             score: .logprob, text: words.map { vocabulary.token(at: $0)! }.joined(separator: " "),
                             logprobs: e.entries.map(\.score))
    let out = b.ws.out("export")
    var index = 0
    func once() throws -> Double {
        index += 1
        let target = out + "/export-\(index)"
        let t = try seconds { try writeExport(doc, to: target) }
        try FileManager.default.removeItem(atPath: target)
        return t
    }
    Memory.resetPeak()
    Profiler.enable()
    let before = CPUUsage.now
    let warm = try once()
    let n = b.p.repeats(afterWarmUp: warm)
    let times = n == 0 ? [warm] : try (0..<n).map { _ in try once() }
    let usage = CPUUsage.metrics(from: before, to: CPUUsage.now, runs: n + 1)
    Profiler.disable()
    return RunResult(scenario: "export", variant: variant, times: times, peak: Memory.peakMB(), metrics: usage)
}

/// Times one named phase of a scenario's auxiliary run into `metrics`: the median
/// wall time (`key_ms`) and CPU time per run (`key_cpu_ms`). Returns seconds.
func timePhase(_ b: Bench, _ key: String, into metrics: inout [String: Double],
               _ body: () throws -> Void) rethrows -> Double {
    Profiler.currentPhase = key
    defer { Profiler.currentPhase = nil }
    let t = median(try measure(b.p, body))
    metrics[key + "_ms"] = t * 1e3
    metrics[key + "_cpu_ms"] = CPUUsage.lastPerRunMs
    return t
}

// MARK: - the command, end to end

/// The `gradcam` command as a user runs it once, process start to exit, with
/// the real weights hash and outputs: `classify` (table only, and `classify-out`
/// with the default --out files), `caption --caption` of the 16 bench words, and
/// `export` of 16 images. Their PyTorch baselines are the resnet50-gradcam and
/// caption-gradcam scenarios' warm calls in the same run. The metrics split a run
/// into its phases, timed in this process: process start (`gradcam --version`),
/// model load with the hash, image decode, explanation, export writing.
func runCommand(_ b: Bench, _ variant: String) throws -> RunResult {
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        .appendingPathComponent("gradcam").path
    guard FileManager.default.isExecutableFile(atPath: exe) else {
        throw BenchError("\(exe) is missing: build it first (make bench builds it)")
    }
    let image = try benchPNG(b.ws)
    let out = b.ws.out("command-" + variant)
    let spec: ModelSpec = variant == "caption" ? .captioner : .resnet50
    let model = b.ws.model(spec)
    var arguments: [String]
    switch variant {
    case "classify": arguments = ["classify", image, "--model", model]
    case "classify-out": arguments = ["classify", image, "--model", model, "--out", out + "/run"]
    case "caption":
        let words = try b.ws.readInputs().caption.map { spec.vocabularies[0].token(at: $0)! }
        arguments = ["caption", image, "--model", model, "--caption", words.joined(separator: " ")]
    case "export16":
        let images = out + "/images"
        try? FileManager.default.removeItem(atPath: images)
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        for k in 0..<16 { try FileManager.default.copyItem(atPath: image, toPath: images + String(format: "/%02d.png", k)) }
        arguments = ["export", "--model", model, "--images", images, "--out", out + "/run", "--quiet"]
    default: throw BenchError("command: unknown variant \(variant)")
    }
    func run(_ arguments: [String]) throws {
        try? FileManager.default.removeItem(atPath: out + "/run")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchError("gradcam \(arguments.joined(separator: " ")) exited with status \(process.terminationStatus)")
        }
    }
    let before = CPUUsage.children
    var runs = 0
    let times = try measure(b.p) { try run(arguments); runs += 1 }
    var metrics: [String: Double] = ["cpu_ms_per_run": (CPUUsage.children - before) / Double(runs) * 1e3]
    metrics["start_ms"] = median(try measure(b.p) { try run(["--version"]) }) * 1e3
    // The phases in this process, as the command runs them.
    var dir: ModelDirectory!
    metrics["load_ms"] = median(try measure(b.p) { dir = try ModelDirectory(path: model) }) * 1e3
    metrics["hash_ms"] = median(try measure(b.p) { dir = try ModelDirectory(path: model); _ = dir.weightsSHA256 }) * 1e3
        - metrics["load_ms"]!
    var picture = RGBImage(width: 1, height: 1)
    metrics["decode_ms"] = median(try measure(b.p) { picture = try RGBImage(contentsOf: image) }) * 1e3
    let input = dir.input(for: picture)
    var sequence: ExplainedSequence!
    metrics["explain_ms"] = median(try measure(b.p) {
        if spec == .captioner {
            let words = try b.ws.readInputs().caption.map { spec.vocabularies[0].token(at: $0)! }.joined(separator: " ")
            sequence = try CaptionTask(model: dir).explain(image: input, caption: words, beam: 1, nbest: 1, maxLength: nil,
                                                           includeEnd: false, score: .logprob, options: ExplainOptions())[0]
        } else {
            sequence = try ClassifyTask(model: dir).explain(image: input, className: nil, top: 1, score: .logit,
                                                            options: ExplainOptions())
        }
    }) * 1e3
    let doc = ExportDocument(task: spec == .captioner ? .captioning : .classification, imagePath: image, image: picture,
                             modelPath: model, weightsSHA256: dir.weightsSHA256, explanation: sequence.explanation,
                             score: spec == .captioner ? .logprob : .logit, text: sequence.text, logprobs: sequence.logProbs,
                             probabilities: sequence.probabilities)
    metrics["write_ms"] = median(try measure(b.p) {
        try? FileManager.default.removeItem(atPath: out + "/phase")
        try writeExport(doc, to: out + "/phase")
    }) * 1e3
    return RunResult(scenario: "command", variant: variant, times: times, metrics: metrics)
}

/// A photo-like 224×224 PNG, made once.
func benchPNG(_ ws: Workspace) throws -> String {
    let path = ws.inputs + "/image.png"
    if FileManager.default.fileExists(atPath: path) { return path }
    try photoLike(width: 224, height: 224, disc: 60, checker: 16, noise: 16, seed: 8).write(to: path)
    return path
}

/// A picture that codecs treat like a photo, not like flat colour: a colour
/// ramp, a centred disc of `disc` pixels' radius, a checkerboard of
/// `checker`-pixel squares, and noise of up to `noise` levels.
func photoLike(width w: Int, height h: Int, disc: Int, checker: Int, noise: UInt64, seed: UInt64) -> RGBImage {
    var pixels = [UInt8](repeating: 0, count: w * h * 3)
    var rng = SeededGenerator(seed: seed)
    for y in 0..<h {
        for x in 0..<w {
            let i = (y * w + x) * 3, n = Int(rng.next() % noise)
            let inside = (x - w / 2) * (x - w / 2) + (y - h / 2) * (y - h / 2) < disc * disc
            pixels[i] = UInt8(min(255, x * 200 / w + n))
            pixels[i + 1] = UInt8(min(255, (inside ? 180 : 40) + y * 60 / h + n))
            pixels[i + 2] = UInt8(min(255, ((x / checker + y / checker) % 2 == 0 ? 160 : 60) + n))
        }
    }
    return RGBImage(width: w, height: h, pixels: pixels)
}

/// `gradcam serve` against the same work in this process: the shipped captioner
/// captions and explains the demo scene (9 words, beam 3, its own method) and
/// makes the export's manifest, as `POST /api/explain` does. Times are the
/// requests' after warm-up, sequential, over loopback; `server_over_in_process`
/// is the issue's ratio (≤ 1.2: no per-request load or hash).
func runServe(_ b: Bench, _ variant: String) throws -> RunResult {
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        .appendingPathComponent("gradcam").path
    let model = "Models/shapes-captioner", image = "notebooks-cli/images/scene-1.png"
    guard FileManager.default.isExecutableFile(atPath: exe), FileManager.default.fileExists(atPath: model + "/config.json") else {
        throw BenchError("serve: run from the repository with \(exe) built (make bench builds it)")
    }
    let dir = try ModelDirectory(path: model)
    let bytes = try Data(contentsOf: URL(fileURLWithPath: image))
    let inProcess = try measure(b.p) {
        let picture = try RGBImage.decode(data: Array(bytes))
        let s = try CaptionTask(model: dir).explain(image: dir.input(for: picture), caption: nil, beam: 3, nbest: 1, maxLength: nil,
                                                    includeEnd: false, score: .logprob, options: ExplainOptions(method: dir.defaultMethod))[0]
        let doc = ExportDocument(task: .captioning, imagePath: image, image: picture, modelPath: model, weightsSHA256: dir.weightsSHA256,
                                 explanation: s.explanation, score: .logprob, text: s.text, logprobs: s.logProbs)
        _ = try manifestValue(doc).rendered()
    }

    let log = b.ws.out("serve") + "/server.log"
    FileManager.default.createFile(atPath: log, contents: nil)
    let server = Process()
    server.executableURL = URL(fileURLWithPath: exe)
    server.arguments = ["serve", "--port", "0", "--models", "Models"]
    server.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    server.standardError = FileHandle.nullDevice
    try server.run()
    defer { server.terminate(); server.waitUntilExit() }
    var base = ""
    for _ in 0..<200 where base.isEmpty {
        Thread.sleep(forTimeInterval: 0.05)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        base = text.split(separator: "\n").first.map { String($0.dropFirst("listening on ".count)) } ?? ""
    }
    guard !base.isEmpty else { throw BenchError("serve: the server did not start") }
    let boundary = "gradcam-bench"
    var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nshapes-captioner\r\n".utf8)
    body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"image\"; filename=\"scene-1.png\"\r\n\r\n".utf8)
    body += bytes + Data("\r\n--\(boundary)--\r\n".utf8)
    var request = URLRequest(url: URL(string: base + "/api/explain")!)
    request.httpMethod = "POST"
    request.httpBody = body
    request.setValue("multipart/form-data; boundary=\(boundary)", forHTTPHeaderField: "Content-Type")
    func post() throws {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var status = 0
        URLSession.shared.dataTask(with: request) { _, response, _ in
            status = (response as? HTTPURLResponse)?.statusCode ?? 0
            done.signal()
        }.resume()
        done.wait()
        guard status == 200 else { throw BenchError("serve: POST /api/explain answered \(status)") }
    }
    try post()  // the first request loads the model
    let served = try measure(b.p) { try post() }
    let metrics = ["in_process_ms": median(inProcess) * 1e3, "server_ms": median(served) * 1e3,
                   "server_over_in_process": median(served) / median(inProcess)]
    return RunResult(scenario: "serve", variant: variant, times: served, metrics: metrics)
}
