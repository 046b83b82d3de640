// The result table, the targets of issue 9 (and earlier ones) with their
// verdicts, and the details a profile needs — as text and as Markdown.

import Foundation

struct Report {
    let results: [RunResult]
    let `protocol`: Protocol
    let pytorch: Bool
    let elapsed: Double
    var machine: [String] = []

    func ours(_ s: String, _ v: String) -> RunResult? { results.first { $0.side == "ours" && $0.scenario == s && $0.variant == v } }
    func torch(_ s: String, _ v: String) -> RunResult? { results.first { $0.side == "pytorch" && $0.scenario == s && $0.variant == v } }
    func metric(_ r: RunResult?, _ key: String) -> Double? { r?.metrics?[key] }

    /// The yardstick: the best sgemm rate of this run.
    var peak: Double? { metric(ours("sgemm", "sgemm"), "gflops") }

    struct Row {
        var label: String
        var ours: Double?
        var theirs: Double?
        var theirsLabel = ""
        var gflops: Double?
        var oursMB: Double?
        var theirsMB: Double?
        var check: String?
        /// CPU time per run (user + system, all threads), when both sides measured it.
        var oursCPU: Double?
        var theirsCPU: Double?
    }

    func cpu(_ r: RunResult?) -> Double? {
        guard let m = r?.metrics, let u = m["cpu_user_ms_per_run"], let s = m["cpu_system_ms_per_run"] else { return nil }
        return u + s
    }

    var rows: [Row] {
        var rows: [Row] = []
        func add(_ label: String, _ s: String, _ v: String, vs tv: String?, _ tl: String, continuation: Bool = false) {
            let o = ours(s, v), t = tv.flatMap { torch(s, $0) }
            guard o != nil || t != nil else { return }
            rows.append(Row(label: continuation ? "  " + label : label, ours: o?.median_ms,
                            theirs: t?.median_ms, theirsLabel: tl, gflops: continuation ? nil : metric(o, "gflops"),
                            oursMB: o?.peak_mb, theirsMB: t?.peak_mb, check: t?.check ?? t?.error ?? o?.error,
                            oursCPU: cpu(o), theirsCPU: cpu(t)))
        }
        add("sgemm 2048³ (yardstick: best of 1024³, 2048³)", "sgemm", "sgemm", vs: "mm", "torch.mm")
        add("conv2d, layer shapes (sum)", "conv", "conv", vs: "conv2d", "F.conv2d")
        add("ResNet-50 forward 224²", "resnet50-forward", "forward", vs: "forward", "no_grad")
        add("VGG-16 forward 224²", "vgg16-forward", "forward", vs: "forward", "no_grad")
        for (s, title) in [("resnet50-gradcam", "ResNet-50 Grad-CAM"), ("vgg16-gradcam", "VGG-16 Grad-CAM"),
                           ("vqa-gradcam", "VQA top-answer Grad-CAM")] {
            add(title, s, "gradcam", vs: "usual", "pytorch-grad-cam")
            add("same, vs PyTorch best", s, "gradcam", vs: "best", "autograd.grad", continuation: true)
        }
        add("caption per-word Grad-CAM T=16", "caption-gradcam", "one-pass", vs: "usual", "usual: 16 backward")
        add("same, vs PyTorch best", "caption-gradcam", "one-pass", vs: "best", "autograd.grad ×16", continuation: true)
        add("same, vs PyTorch batched", "caption-gradcam", "one-pass", vs: "batched", "our batching", continuation: true)
        add("attention caption per-word Grad-CAM T=16 (ResNet-101 256²)", "attention-caption-gradcam", "one-pass",
            vs: "best", "autograd.grad ×16")
        add("same, vs PyTorch batched", "attention-caption-gradcam", "one-pass", vs: "batched", "our batching", continuation: true)
        add("caption Guided Grad-CAM T=16", "caption-guided", "guided-gradcam", vs: "usual", "pytorch-grad-cam ×16")
        add("same, vs PyTorch best", "caption-guided", "guided-gradcam", vs: "best", "autograd.grad ×16", continuation: true)
        add("load ResNet-50 checkpoint", "load", "load", vs: "load", "meta + assign")
        add("beam search k=5, T≤16", "beam", "decode", vs: nil, "")
        add("12 MP JPEG decode", "jpeg", "jpeg", vs: nil, "")
        add("export 16 tokens, 640×480", "export", "export", vs: nil, "")
        add("gradcam serve: 9-word caption, POST /api/explain", "serve", "caption", vs: nil, "")
        for (label, v, baseline) in commandRows {
            let o = ours("command", v), t = baseline.flatMap { torch($0.scenario, $0.variant) }
            guard let o else { continue }
            let times = Double(baseline?.times ?? 1)
            rows.append(Row(label: label, ours: o.median_ms, theirs: t?.median_ms.map { $0 * times },
                            theirsLabel: baseline?.label ?? "", check: o.error, oursCPU: metric(o, "cpu_ms_per_run"),
                            theirsCPU: cpu(t).map { $0 * times }))
        }
        return rows
    }

    /// The command's runs, process start to exit, and the warm PyTorch call each is held against.
    var commandRows: [(String, String, (scenario: String, variant: String, times: Int, label: String)?)] {
        [("gradcam classify, ResNet-50 (process)", "classify", ("resnet50-gradcam", "usual", 1, "pytorch-grad-cam, warm")),
         ("  the same with --out (npy, png, html)", "classify-out", ("resnet50-gradcam", "usual", 1, "pytorch-grad-cam, warm")),
         ("gradcam caption --caption, 16 words (process)", "caption", ("caption-gradcam", "best", 1, "autograd.grad, warm")),
         ("gradcam export, 16 images (process)", "export16", ("resnet50-gradcam", "usual", 16, "16 × pytorch-grad-cam, warm"))]
    }

    func f(_ x: Double?, _ format: String = "%.1f") -> String { x.map { String(format: format, $0) } ?? "-" }

    var header: [String] {
        ["scenario", "ours ms", "PyTorch ms", "PyTorch way", "ratio", "CPU ratio", "GFLOP/s", "% peak", "ours MB", "PyTorch MB", "check"]
    }

    func cells(_ r: Row) -> [String] {
        let ratio = r.ours.flatMap { o in r.theirs.map { o / $0 } }
        let pct = r.gflops.flatMap { g in peak.map { g / $0 * 100 } }
        let check = r.check.map { $0.hasPrefix("ok") ? "ok" : $0 } ?? ""
        let cpuRatio = r.oursCPU.flatMap { o in r.theirsCPU.map { o / $0 } }
        return [r.label, f(r.ours), f(r.theirs), r.theirsLabel, f(ratio, "%.2f×"), f(cpuRatio, "%.2f×"), f(r.gflops), f(pct, "%.0f%%"),
                f(r.oursMB, "%.0f"), f(r.theirsMB, "%.0f"), check]
    }

    // MARK: targets

    struct Verdict { let text: String; let met: Bool? }

    var targets: [Verdict] {
        var v: [Verdict] = []
        func ratio(_ s: String, _ ov: String, _ tv: String) -> Double? {
            guard let o = ours(s, ov)?.median_ms, let t = torch(s, tv)?.median_ms else { return nil }
            return o / t
        }
        func add(_ what: String, _ value: Double?, _ format: String, _ ok: (Double) -> Bool) {
            v.append(Verdict(text: what + ": " + (value.map { String(format: format, $0) } ?? "not measured"), met: value.map(ok)))
        }
        /// Wall-time ratio decides; the CPU-time ratio is shown beside it.
        func versus(_ what: String, _ s: String, _ ov: String, _ tv: String, _ limit: Double) {
            let r = ratio(s, ov, tv)
            let c = cpu(ours(s, ov)).flatMap { o in cpu(torch(s, tv)).map { o / $0 } }
            v.append(Verdict(text: what + ": " + (r.map { String(format: "%.3f×", $0) } ?? "not measured")
                             + (c.map { String(format: " (CPU time %.3f×)", $0) } ?? ""), met: r.map { $0 <= limit }))
        }
        versus("ResNet-50 Grad-CAM ≤ 0.5× pytorch-grad-cam", "resnet50-gradcam", "gradcam", "usual", 0.5)
        versus("VGG-16 Grad-CAM ≤ 0.5× pytorch-grad-cam", "vgg16-gradcam", "gradcam", "usual", 0.5)
        versus("caption per-word T=16 ≤ 0.5× PyTorch best", "caption-gradcam", "one-pass", "best", 0.5)
        versus("caption per-word T=16 ≤ 0.05× PyTorch usual", "caption-gradcam", "one-pass", "usual", 0.05)
        versus("attention caption per-word T=16, ResNet-101 256² ≤ 0.5× PyTorch best", "attention-caption-gradcam",
               "one-pass", "best", 0.5)
        for (label, variant, baseline, limit) in [("gradcam classify (process) ≤ 1.0× one warm pytorch-grad-cam call", "classify-out",
                                              ("resnet50-gradcam", "usual", 1.0), 1.0),
                                             ("gradcam caption --caption T=16 (process) ≤ 1.0× PyTorch best, warm", "caption",
                                              ("caption-gradcam", "best", 1.0), 1.0),
                                             ("gradcam export of 16 images (process) ≤ 0.5× sixteen warm pytorch-grad-cam calls",
                                              "export16", ("resnet50-gradcam", "usual", 16.0), 0.5)] {
            let r = ours("command", variant)?.median_ms.flatMap { o in
                torch(baseline.0, baseline.1)?.median_ms.map { o / ($0 * baseline.2) }
            }
            v.append(Verdict(text: label + ": " + (r.map { String(format: "%.2f×", $0) } ?? "not measured"), met: r.map { $0 <= limit }))
        }
        let conv = metric(ours("conv", "conv"), "gflops").flatMap { g in peak.map { g / $0 * 100 } }
        add("forward convolution (layer shapes) ≥ 70% of the sgemm peak", conv, "%.0f%%") { $0 >= 70 }
        add("  the same against the 1024³ sgemm timed alternately with each shape (steadier under load)",
            metric(ours("conv", "conv"), "ratio_alternate_sgemm").map { $0 * 100 }, "%.0f%%") { $0 >= 70 }
        for s in ["resnet50-forward", "vgg16-forward"] {
            let pct = metric(ours(s, "forward"), "gflops").flatMap { g in peak.map { g / $0 * 100 } }
            add("  \(s) (whole network, for reference) of the sgemm peak", pct, "%.0f%%") { $0 >= 70 }
        }
        for (s, ov) in [("resnet50-forward", "forward"), ("vgg16-forward", "forward"), ("resnet50-gradcam", "gradcam"),
                        ("vgg16-gradcam", "gradcam"), ("caption-gradcam", "one-pass"), ("vqa-gradcam", "gradcam"),
                        ("caption-guided", "guided-gradcam")] {
            guard let o = ours(s, ov)?.peak_mb else { continue }
            let theirs = results.filter { $0.side == "pytorch" && $0.scenario == s && $0.variant != "batched" }
                .compactMap { r in r.peak_mb.map { (r.variant, $0) } }
            guard let least = theirs.map(\.1).min() else { continue }
            let list = theirs.map { String(format: "%@ %.0f", $0.0, $0.1) }.joined(separator: ", ")
            v.append(Verdict(text: String(format: "peak memory %@: ours %.0f MB vs PyTorch %@ MB", s, o, list), met: o <= least))
        }
        let load = ours("load", "load")
        add("load 100 MB checkpoint beyond reading the file ≪ 1 s (wall)", metric(load, "beyond_read_ms"), "%.0f ms") { $0 < 1000 }
        let torchLoad = ours("torch-load", "torch-load")
        add("read a 179 MB legacy torch.save checkpoint ≤ 1.5× reading the file", metric(torchLoad, "load_to_read"), "%.2f×") { $0 <= 1.5 }
        add("  the same against torch.load(weights_only=True)",
            torchLoad?.median_ms.flatMap { o in torch("torch-load", "torch.load")?.median_ms.map { o / $0 } }, "%.2f×") { $0 <= 1 }
        add("beam search k=5 < 2× greedy (wall)", metric(ours("beam", "decode"), "ratio"), "%.2f×") { $0 < 2 }
        add("beam search k=5 < 2× greedy (CPU time)", metric(ours("beam", "decode"), "cpu_ratio"), "%.2f×") { $0 < 2 }
        let cap = ours("caption-gradcam", "one-pass")?.median_ms, aux = ours("caption-gradcam", "aux")
        add("per-word T=16 < 1.5× (one forward + one decoder backward at batch 16)",
            cap.flatMap { c in metric(aux, "baseline_ms").map { c / $0 } }, "%.2f×") { $0 < 1.5 }
        let capCPU = cpu(ours("caption-gradcam", "one-pass"))
        add("  the same in CPU time", capCPU.flatMap { c in metric(aux, "baseline_cpu_ms").map { c / $0 } }, "%.2f×") { $0 < 1.5 }
        add("  per-word T=16 against the loop of 16 single-target passes",
            cap.flatMap { c in metric(aux, "loop16_ms").map { c / $0 } }, "%.2f×") { $0 < 1 }
        let jpeg = ours("jpeg", "jpeg")
        add("12 MP JPEG decode ≤ djpeg (wall)", metric(jpeg, "decode_ms").flatMap { d in metric(jpeg, "djpeg_ms").map { d / $0 } },
            "%.2f× djpeg") { $0 <= 1 }
        add("12 MP JPEG decode ≤ djpeg (CPU time)", metric(jpeg, "decode_cpu_ms").flatMap { d in metric(jpeg, "djpeg_cpu_ms").map { d / $0 } },
            "%.2f× djpeg") { $0 <= 1 }
        add("resize 12 MP → 224×224 (model input, stretch) < 20 ms", metric(jpeg, "resize_stretch_ms"), "%.1f ms") { $0 < 20 }
        add("export of 16 tokens for 640×480 < 300 ms", ours("export", "export")?.median_ms, "%.0f ms") { $0 < 300 }
        add("gradcam serve: a caption's explanation ≤ 1.2× in process", metric(ours("serve", "caption"), "server_over_in_process"),
            "%.2f× in process") { $0 <= 1.2 }
        return v
    }

    // MARK: details

    var details: [String] {
        var lines: [String] = []
        if let c = ours("conv", "conv"), let m = c.metrics {
            lines.append("conv2d forward per layer shape (batch 1; % of this run's sgemm peak; % of the 1024³ sgemm timed alternately; PyTorch F.conv2d):")
            let t = torch("conv", "conv2d")?.metrics ?? [:]
            for s in convShapes where m["ms:" + s.name] != nil {
                let g = m["gflops:" + s.name]!
                lines.append("  " + s.name.padding(toLength: 36, withPad: " ", startingAt: 0)
                             + String(format: "%8.2f ms %7.1f GFLOP/s %5.0f%% %5.0f%%   PyTorch %@ ms %@ GFLOP/s",
                                      m["ms:" + s.name]!, g, peak.map { g / $0 * 100 } ?? 0,
                                      m["local_sgemm_gflops:" + s.name].map { g / $0 * 100 } ?? 0,
                                      f(t["ms:" + s.name], "%.2f"), f(t["ms:" + s.name].map { s.flops / $0 / 1e6 })))
            }
        }
        if let a = ours("caption-gradcam", "aux")?.metrics {
            lines.append("caption per-word Grad-CAM, phases: wall ms (CPU ms per run, all threads):")
            if let m = ours("caption-gradcam", "one-pass")?.metrics, let t = ours("caption-gradcam", "one-pass")?.median_ms {
                lines.append(phaseLine("one-pass explain (the scenario)", t, m["cpu_user_ms_per_run"].flatMap { u in m["cpu_system_ms_per_run"].map { u + $0 } }))
            }
            for k in ["phase_cnn", "phase_decoder_forward_b16", "phase_decoder_forward_b1", "phase_head_forward_b16",
                      "phase_log_softmax_b16", "phase_decoder_backward_b16", "forward", "baseline", "loop16"] {
                if let x = a[k + "_ms"] { lines.append(phaseLine(k, x, a[k + "_cpu_ms"])) }
            }
        }
        if let a = ours("caption-guided", "aux")?.metrics {
            lines.append("caption Guided Grad-CAM, phases: wall ms (CPU ms per run, all threads):")
            for k in ["phase_gradcam", "phase_recorded_forward", "phase_one_guided_backward", "phase_one_plain_backward"] {
                if let x = a[k + "_ms"] { lines.append(phaseLine(k, x, a[k + "_cpu_ms"])) }
            }
            if let g = a["guided_backward_gflops"] { lines.append(String(format: "  one guided backward runs at %.1f GFLOP/s", g)) }
        }
        for (s, v, title) in [("load", "load", "load"), ("beam", "decode", "beam search"), ("jpeg", "jpeg", "JPEG"),
                              ("vqa-gradcam", "gradcam", "VQA"), ("resnet50-gradcam", "gradcam", "ResNet-50 Grad-CAM"),
                              ("vgg16-gradcam", "gradcam", "VGG-16 Grad-CAM")] {
            guard let m = ours(s, v)?.metrics else { continue }
            let shown = m.filter { !$0.key.hasPrefix("flops") && $0.key != "gflops" }.sorted { $0.key < $1.key }
                .map { ($0.key.replacingOccurrences(of: "_per_run", with: ""), $0.value) }
            guard !shown.isEmpty else { continue }
            lines.append("\(title): " + shown.map { String(format: "%@ %.1f", $0.0, $0.1) }.joined(separator: ", "))
        }
        for (s, v) in [("resnet50-gradcam", "usual"), ("vgg16-gradcam", "usual"), ("caption-gradcam", "usual"),
                       ("caption-gradcam", "best"), ("caption-gradcam", "batched"), ("caption-guided", "best")] {
            guard let m = torch(s, v)?.metrics, !m.isEmpty else { continue }
            lines.append("PyTorch \(s) \(v): " + m.sorted { $0.key < $1.key }.map { String(format: "%@ %.1f", $0.key, $0.value) }.joined(separator: ", "))
        }
        lines.append("FLOPs (2 per multiply-add; convolutions, linear layers, LSTM products) and the time they take at the sgemm peak:")
        for (s, v) in [("conv", "conv"), ("resnet50-forward", "forward"), ("vgg16-forward", "forward"), ("resnet50-gradcam", "gradcam"),
                       ("vgg16-gradcam", "gradcam"), ("caption-gradcam", "one-pass"), ("vqa-gradcam", "gradcam"),
                       ("caption-guided", "guided-gradcam")] {
            guard let m = ours(s, v)?.metrics, let fl = m["flops"] else { continue }
            var line = "  " + s.padding(toLength: 18, withPad: " ", startingAt: 0) + String(format: "%8.2f GFLOP", fl / 1e9)
            if let p = peak { line += String(format: "  → %7.1f ms at %.0f GFLOP/s", fl / p / 1e6, p) }
            if let ex = m["flops_executed"] { line += String(format: "  (our one-pass batching executes %.2f GFLOP)", ex / 1e9) }
            lines.append(line)
        }
        return lines
    }

    func phaseLine(_ name: String, _ ms: Double, _ cpu: Double?) -> String {
        "  " + name.padding(toLength: 34, withPad: " ", startingAt: 0) + String(format: "%9.1f", ms) + (cpu.map { String(format: "   (%.1f)", $0) } ?? "")
    }

    func text() -> String {
        var out = ["", "gradcam-bench — \(`protocol`.description); ratio = ours ÷ PyTorch wall time (lower is better);"
                   + " CPU ratio = the same for CPU time per run (user + system, all threads)" + (pytorch ? "" : "; PyTorch not run")]
        let table = [header] + rows.map(cells)
        let widths = header.indices.map { i in table.map { $0[i].count }.max()! }
        for (n, r) in table.enumerated() {
            out.append(r.enumerated().map { i, c in i == 0 || i == 3 || i == 10 ? c.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                : String(repeating: " ", count: widths[i] - c.count) + c }.joined(separator: "  "))
            if n == 0 { out.append(String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1))) }
        }
        out.append("")
        out.append("targets:")
        for t in targets { out.append("  [\(t.met.map { $0 ? "MET " : "MISS" } ?? " -  ")] \(t.text)") }
        out.append("")
        out += details
        let failures = results.filter { ($0.check ?? "").hasPrefix("FAIL") || $0.error != nil }
        if !failures.isEmpty {
            out.append("")
            for r in failures { out.append("FAIL \(r.scenario) \(r.side) \(r.variant): \(r.error ?? r.check ?? "")") }
        }
        out.append("")
        out += machine
        out.append(String(format: "(suite: %.0f s)", elapsed))
        return out.joined(separator: "\n")
    }

    func markdown() -> String {
        var out = ["| " + header.joined(separator: " | ") + " |", "|" + header.map { _ in "---|" }.joined()]
        for r in rows { out.append("| " + cells(r).joined(separator: " | ") + " |") }
        out.append("")
        for t in targets { out.append("- \(t.met.map { $0 ? "**met**" : "**missed**" } ?? "—"): \(t.text)") }
        out.append("")
        out.append("```")
        out += details
        out += machine
        out.append("```")
        return out.joined(separator: "\n") + "\n"
    }
}
