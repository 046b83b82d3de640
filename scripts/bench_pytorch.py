#!/usr/bin/env python3
"""The PyTorch side of gradcam-bench: the same scenarios on the same weights and inputs.

gradcam-bench (Sources/gradcam-bench) writes the model directories, the input
image and token ids, and its own outputs into a working directory, then runs
    python3 scripts/bench_pytorch.py --models DIR --scenario NAME [--quick]
which loads the same safetensors into PyTorch modules with the same parameter
names (torchvision for the classifiers; Tests/ModelsTests/Fixtures/make_fixtures.py
for the captioner and the VQA model), checks its outputs against ours (equal
within 1e-3 of the largest magnitude, else a FAIL), and times with the same
protocol: one warm-up, then the median of 5 (3 when a run takes over 2 s;
--quick: 3, and a run over 2 s is timed once by its warm-up), torch.set_num_threads(2)
(--threads). Each variant runs in a fresh
process, and its peak memory is the resident high-water mark (VmHWM) reset
after the model is loaded, as on our side. One JSON line per variant, prefixed
with RESULT, goes to stdout.

Needs torch, torchvision, safetensors and grad-cam (pytorch-grad-cam), from PyPI.
It is never a dependency of the project's build or tests.

OpenMP: PyTorch's OpenMP threads spin while they wait, and on a machine shared
with other work (ours: 2 cores and other people's builds) a spinning thread
that loses its core stalls every parallel region: a ResNet-50 forward then
takes 0.5–4 s instead of 0.15 s. OMP_WAIT_POLICY=PASSIVE (set here unless the
environment already sets it; --omp-wait-policy default leaves libgomp's own
policy) removes that collapse, so PyTorch is measured at its best.

Variants: "usual" is the ordinary way — pytorch-grad-cam, a forward and a full
backward (weight gradients included) per target; "best" is PyTorch at its best —
frozen weights, the CNN below the layer run once without a graph, and
torch.autograd.grad down to the layer only, once per target; "batched" (captions)
is our own one-pass batching done in PyTorch.
"""
import argparse
import ctypes
import importlib.util
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOLERANCE = 1e-3

SCENARIOS = {
    "sgemm": ["mm"],
    "conv": ["conv2d"],
    "resnet50-forward": ["forward"],
    "vgg16-forward": ["forward"],
    "resnet50-gradcam": ["usual", "best"],
    "vgg16-gradcam": ["usual", "best"],
    "caption-gradcam": ["usual", "best", "batched"],
    "attention-caption-gradcam": ["best", "batched"],
    "vqa-gradcam": ["usual", "best"],
    "caption-guided": ["usual", "best"],
    "load": ["load"],
    "torch-load": ["torch.load"],
}


# --- protocol: timing, memory, results -------------------------------------------

USAGE = {}


def measure(fn, quick):
    """The warm-up's output and the times (s) of the repeats after it. The CPU
    time and page faults per run (warm-up included) go to USAGE, as ours."""
    import resource
    before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    out = fn()
    warm = time.perf_counter() - t0
    n = (0 if quick else 3) if warm > 2.0 else (3 if quick else 5)
    times = [warm] if n == 0 else []  # --quick: a run over 2 s is timed once, by its warm-up
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    after = resource.getrusage(resource.RUSAGE_SELF)
    runs = max(n, 0) + 1
    USAGE.clear()
    USAGE.update({"cpu_user_ms_per_run": (after.ru_utime - before.ru_utime) / runs * 1e3,
                  "cpu_system_ms_per_run": (after.ru_stime - before.ru_stime) / runs * 1e3,
                  "page_faults_per_run": (after.ru_minflt - before.ru_minflt) / runs})
    return out, times


def median(xs):
    s = sorted(xs)
    k = len(s) // 2
    return s[k] if len(s) % 2 else (s[k - 1] + s[k]) / 2


def reset_peak():
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_mb():
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(scenario, variant, times=None, peak=None, check=None, metrics=None, error=None, median_ms=None):
    r = {"scenario": scenario, "variant": variant, "side": "pytorch"}
    if times is not None:
        r["times_ms"] = [t * 1e3 for t in times]
        r["median_ms"] = median(times) * 1e3
    if median_ms is not None:
        r["median_ms"] = median_ms
    if peak is not None:
        r["peak_mb"] = peak
    if check is not None:
        r["check"] = check
    metrics = dict(USAGE, **(metrics or {})) if times is not None else metrics
    if metrics:
        r["metrics"] = {k: float(v) for k, v in metrics.items()}
    if error is not None:
        r["error"] = error
    print("RESULT " + json.dumps(r, sort_keys=True), flush=True)


def compare(ours_path, theirs, what):
    """'ok …' or 'FAIL …': the largest difference relative to the largest magnitude."""
    import numpy as np
    import torch
    if not os.path.exists(ours_path):
        return f"FAIL {what}: {ours_path} missing (our side did not run?)"
    ours = torch.from_numpy(np.load(ours_path)).float()
    theirs = theirs.detach().float().reshape(ours.shape) if theirs.numel() == ours.numel() else theirs.detach().float()
    if ours.shape != theirs.shape:
        return f"FAIL {what}: shape {list(ours.shape)} (ours) vs {list(theirs.shape)} (PyTorch)"
    scale = float(theirs.abs().max())
    err = float((ours - theirs).abs().max()) / (scale if scale > 0 else 1.0)
    if not err <= TOLERANCE:
        return f"FAIL {what}: max difference {err:.2e} of the largest value (tolerance {TOLERANCE:g})"
    return f"ok {what} (max rel. difference {err:.1e})"


def join_checks(*checks):
    fails = [c for c in checks if c.startswith("FAIL")]
    return "; ".join(fails) if fails else "; ".join(checks)


# --- models and inputs -------------------------------------------------------------

def fixtures(script="make_fixtures.py"):
    """The PyTorch modules of spec/model-format.md (make_fixtures.py) or of Show, Attend
    and Tell (make_attention_fixtures.py), from the Models test fixtures scripts."""
    path = os.path.join(ROOT, "Tests", "ModelsTests", "Fixtures", script)
    spec = importlib.util.spec_from_file_location(script[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Workspace:
    def __init__(self, d):
        self.dir = d

    def model_dir(self, name):
        return os.path.join(self.dir, name)

    def out(self, scenario, name=""):
        return os.path.join(self.dir, "out", scenario, name)

    def image(self):
        import numpy as np
        import torch
        return torch.from_numpy(np.load(os.path.join(self.dir, "inputs", "image.npy")))

    def inputs(self):
        return json.load(open(os.path.join(self.dir, "inputs", "inputs.json")))

    def targets(self, scenario):
        return json.load(open(self.out(scenario, "targets.json")))["ids"]

    def config(self, name):
        return json.load(open(os.path.join(self.model_dir(name), "config.json")))

    def lines(self, name, file):
        return open(os.path.join(self.model_dir(name), file)).read().splitlines()

    def weights(self, name):
        from safetensors.torch import load_file
        return load_file(os.path.join(self.model_dir(name), "weights.safetensors"))


def classifier(ws, name):
    import torchvision
    cfg = ws.config(name)
    model = getattr(torchvision.models, cfg["backbone"]["arch"])(weights=None, num_classes=len(ws.lines(name, "classes.txt")))
    model.load_state_dict(ws.weights(name))
    return cfg, model.eval()


def captioner(ws):
    name = "captioner-resnet50"
    cfg = ws.config(name)
    model = fixtures().Captioner(cfg, ws.lines(name, "vocab.txt"))
    model.load_state_dict(ws.weights(name))
    return cfg, model.eval()


def attention_captioner(ws):
    name = "sat-resnet101"
    cfg = ws.config(name)
    model = fixtures("make_attention_fixtures.py").ShowAttendTell(cfg, ws.lines(name, "vocab.txt"))
    model.load_state_dict(ws.weights(name))
    return cfg, model.eval()


def vqa_model(ws):
    name = "vqa-resnet50"
    cfg = ws.config(name)
    model = fixtures().VQA(cfg, ws.lines(name, "questions.txt"), ws.lines(name, "answers.txt"))
    model.load_state_dict(ws.weights(name))
    return cfg, model.eval()


def caption_logprobs_from_map(model, a, words):
    """The captioner above backbone.layer4: log p [B, n, V] from the feature map a [B, C, h, w]."""
    import torch
    import torch.nn.functional as F
    x0 = model.image_proj(torch.flatten(model.backbone.avgpool(a), 1))
    if model.cfg["decoder"].get("image_activation") == "relu":
        x0 = F.relu(x0)
    inputs = torch.tensor([[model.start] + words[:-1]]).expand(a.shape[0], -1)
    out, _ = model.lstm(torch.cat([x0.unsqueeze(1), model.embed(inputs)], dim=1))
    return F.log_softmax(model.head(out[:, 1:]), dim=-1)


def vqa_logits_from_map(model, a, ids):
    """The VQA model above backbone.layer4: answer logits [B, A] from the feature map a."""
    import torch
    import torch.nn.functional as F
    i = torch.tanh(model.image_proj(F.normalize(torch.flatten(model.backbone.avgpool(a), 1), dim=1)))
    e = model.embed(torch.tensor([ids]))
    if model.cfg["question_encoder"].get("embed_activation", "tanh") == "tanh":
        e = torch.tanh(e)
    _, (h, c) = model.lstm(e)
    q = torch.tanh(model.question_proj(torch.cat([t for k in range(h.shape[0]) for t in (c[k], h[k])], dim=1)))
    return model.classifier(i * q)


def raw_maps(a, g):
    """Signed Grad-CAM maps [T, h, w]: Σ_k mean(∂y/∂A_k) A_k."""
    return (g.mean(dim=(2, 3), keepdim=True) * a).sum(dim=1)


def raw_from_cam(cam):
    """The signed map of pytorch-grad-cam's last call, from the activations and gradients it kept."""
    ag = cam.activations_and_grads
    return raw_maps(ag.activations[0], ag.gradients[0])


def cams_from_raw(raw, height, width):
    """ReLU, bilinear upsampling (half-pixel centres), per-map min-max: our `cams`."""
    import torch.nn.functional as F
    up = F.interpolate(raw.clamp(min=0)[:, None], size=(height, width), mode="bilinear", align_corners=False)[:, 0]
    lo = up.amin(dim=(1, 2), keepdim=True)
    span = up.amax(dim=(1, 2), keepdim=True) - lo
    return (up - lo) / span.clamp(min=1e-30) * (span > 0)


def grad_cam_tools():
    from pytorch_grad_cam import GradCAM, GuidedBackpropReLUModel
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    return GradCAM, GuidedBackpropReLUModel, ClassifierOutputTarget


# --- scenarios ---------------------------------------------------------------------

def run_sgemm(ws, variant, quick):
    import torch
    metrics, best = {}, 0.0
    reset_peak()
    for n in (1024, 2048):
        a, b = torch.randn(n, n), torch.randn(n, n)
        _, ts = measure(lambda: torch.mm(a, b), quick)
        g = 2 * n ** 3 / median(ts) / 1e9
        metrics[f"gflops_{n}"] = g
        best = max(best, g)
    metrics["gflops"] = best
    emit("sgemm", variant, ts, peak_mb(), metrics=metrics)  # the times of 2048³, as ours


def run_conv(ws, variant, quick):
    import torch
    import torch.nn.functional as F
    shapes = json.load(open(ws.out("conv", "shapes.json")))
    metrics, total, flops = {}, 0.0, 0.0
    reset_peak()
    with torch.no_grad():
        for s in shapes:
            x = torch.randn(1, s["c"], s["size"], s["size"])
            w = torch.randn(s["o"], s["c"], s["k"], s["k"]) * 0.05
            b = torch.randn(s["o"]) if s["bias"] else None
            _, ts = measure(lambda: F.conv2d(x, w, b, stride=s["stride"], padding=s["pad"]), quick)
            out = (s["size"] + 2 * s["pad"] - s["k"]) // s["stride"] + 1
            f = 2 * s["o"] * s["c"] * s["k"] ** 2 * out ** 2
            metrics["ms:" + s["name"]] = median(ts) * 1e3
            total += median(ts)
            flops += f
    metrics["gflops"] = flops / total / 1e9
    emit("conv", variant, peak=peak_mb(), metrics=metrics, median_ms=total * 1e3)


def run_forward(ws, scenario, variant, quick):
    import torch
    name = scenario.replace("-forward", "-classifier")
    _, model = classifier(ws, name)
    x = ws.image()
    reset_peak()
    with torch.no_grad():
        logits, ts = measure(lambda: model(x), quick)
    emit(scenario, variant, ts, peak_mb(), check=compare(ws.out(scenario, "ours_logits.npy"), logits, "logits"))


def run_class_gradcam(ws, scenario, variant, quick):
    import torch
    name = scenario.replace("-gradcam", "-classifier")
    cfg, model = classifier(ws, name)
    x = ws.image()
    top = ws.targets(scenario)[0]
    layer = dict(model.named_modules())[cfg["explain_layer"]]
    if variant == "usual":
        GradCAM, _, ClassifierOutputTarget = grad_cam_tools()
        cam = GradCAM(model=model, target_layers=[layer])

        def run():
            cam(input_tensor=x, targets=[ClassifierOutputTarget(top)])
            return raw_from_cam(cam)
    else:
        model.requires_grad_(False)
        store = {}

        def hook(_, __, out):
            store["a"] = out.detach().requires_grad_(True)
            return store["a"]
        layer.register_forward_hook(hook)

        def run():
            logits = model(x)
            a = store["a"]
            g, = torch.autograd.grad(logits[0, top], a)
            raw = raw_maps(a.detach(), g)
            cams_from_raw(raw, x.shape[2], x.shape[3])
            return raw
    reset_peak()
    raw, ts = measure(run, quick)
    emit(scenario, variant, ts, peak_mb(), check=compare(ws.out(scenario, "ours_raw.npy"), raw, "raw maps"))


class WordScores:
    """A module whose output [B, n] is each word's log-probability: what a caption's targets index."""

    @staticmethod
    def make(model, words):
        import torch

        class M(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = model
                self.index = torch.arange(len(words))
                self.ids = torch.tensor(words)

            def forward(self, x):
                return self.model(x, words)[:, self.index, self.ids]
        return M()


def run_caption_gradcam(ws, variant, quick):
    import torch
    scenario = "caption-gradcam"
    _, model = captioner(ws)
    x, words = ws.image(), ws.inputs()["caption"]
    n, index, ids = len(words), torch.arange(len(words)), torch.tensor(words)
    metrics = {}
    if variant == "usual":
        GradCAM, _, ClassifierOutputTarget = grad_cam_tools()
        wrapper = WordScores.make(model, words).eval()
        cam = GradCAM(model=wrapper, target_layers=[model.backbone.layer4])

        def run():
            raws = []
            for t in range(n):
                cam(input_tensor=x, targets=[ClassifierOutputTarget(t)])
                raws.append(raw_from_cam(cam))
            return torch.cat(raws)
    elif variant == "best":
        model.requires_grad_(False)

        def run():
            with torch.no_grad():
                a0 = model.backbone.feature_map(x)
            a = a0.requires_grad_(True)
            s = caption_logprobs_from_map(model, a, words)[0, index, ids]
            g = torch.cat([torch.autograd.grad(s[t], a, retain_graph=t < n - 1)[0] for t in range(n)])
            raw = raw_maps(a0.detach(), g)
            cams_from_raw(raw, x.shape[2], x.shape[3])
            return raw
    else:  # batched: our one-pass trick, T copies of the activation on the batch axis
        model.requires_grad_(False)

        def run():
            with torch.no_grad():
                a0 = model.backbone.feature_map(x)
            a = a0.expand(n, -1, -1, -1).contiguous().requires_grad_(True)
            s = caption_logprobs_from_map(model, a, words)[index, index, ids]
            g, = torch.autograd.grad(s.sum(), a)
            raw = raw_maps(a0, g)
            cams_from_raw(raw, x.shape[2], x.shape[3])
            return raw
    reset_peak()
    raw, ts = measure(run, quick)
    peak, usage = peak_mb(), dict(USAGE)
    if variant != "usual":
        # Phases, for the profile: the CNN alone.
        with torch.no_grad():
            _, tc = measure(lambda: model.backbone.feature_map(x), quick)
        metrics["phase_cnn_ms"] = median(tc) * 1e3
        metrics["phase_cnn_cpu_ms"] = USAGE["cpu_user_ms_per_run"] + USAGE["cpu_system_ms_per_run"]
        USAGE.clear()
        USAGE.update(usage)
    emit(scenario, variant, ts, peak, check=compare(ws.out(scenario, "ours_raw.npy"), raw, "raw maps"), metrics=metrics)


def run_attention_caption_gradcam(ws, variant, quick):
    """Show, Attend and Tell at 256², 16 words: "best" differentiates each word's
    log-probability down to layer4 (the CNN below it run once, without a graph);
    "batched" is our one-pass batching (16 copies of layer4's output)."""
    import numpy as np
    import torch
    scenario = "attention-caption-gradcam"
    _, model = attention_captioner(ws)
    model.requires_grad_(False)
    x = torch.from_numpy(np.load(os.path.join(ws.dir, "inputs", "image256.npy")))
    words = ws.inputs()["caption"]
    n, index, ids = len(words), torch.arange(len(words)), torch.tensor(words)

    def run():
        with torch.no_grad():
            a0 = model.feature_map(x)
        if variant == "best":
            a = a0.requires_grad_(True)
            s = model.decode(a, words)[0][0, index, ids]
            g = torch.cat([torch.autograd.grad(s[t], a, retain_graph=t < n - 1)[0] for t in range(n)])
        else:
            a = a0.expand(n, -1, -1, -1).contiguous().requires_grad_(True)
            s = model.decode(a, words)[0][index, index, ids]
            g, = torch.autograd.grad(s.sum(), a)
        raw = raw_maps(a0.detach(), g)
        cams_from_raw(raw, x.shape[2], x.shape[3])
        return raw
    reset_peak()
    raw, ts = measure(run, quick)
    emit(scenario, variant, ts, peak_mb(), check=compare(ws.out(scenario, "ours_raw.npy"), raw, "raw maps"))


def run_vqa_gradcam(ws, variant, quick):
    import torch
    scenario = "vqa-gradcam"
    _, model = vqa_model(ws)
    x, question = ws.image(), ws.inputs()["question"]
    top = ws.targets(scenario)[0]
    if variant == "usual":
        GradCAM, _, ClassifierOutputTarget = grad_cam_tools()

        class AnswerScores(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = model

            def forward(self, image):
                return self.model(image, question)
        cam = GradCAM(model=AnswerScores().eval(), target_layers=[model.backbone.layer4])

        def run():
            cam(input_tensor=x, targets=[ClassifierOutputTarget(top)])
            return raw_from_cam(cam)
    else:
        model.requires_grad_(False)

        def run():
            with torch.no_grad():
                a0 = model.backbone.feature_map(x)
            a = a0.requires_grad_(True)
            g, = torch.autograd.grad(vqa_logits_from_map(model, a, question)[0, top], a)
            raw = raw_maps(a0.detach(), g)
            cams_from_raw(raw, x.shape[2], x.shape[3])
            return raw
    reset_peak()
    raw, ts = measure(run, quick)
    emit(scenario, variant, ts, peak_mb(), check=compare(ws.out(scenario, "ours_raw.npy"), raw, "raw maps"))


def run_caption_guided(ws, variant, quick):
    import torch
    scenario = "caption-guided"
    _, model = captioner(ws)
    x, words = ws.image(), ws.inputs()["caption"]
    n, index, ids = len(words), torch.arange(len(words)), torch.tensor(words)
    H, W = x.shape[2], x.shape[3]
    if variant == "usual":
        # pytorch-grad-cam's Guided Grad-CAM recipe, once per word.
        GradCAM, GuidedBackpropReLUModel, ClassifierOutputTarget = grad_cam_tools()
        wrapper = WordScores.make(model, words).eval()
        cam = GradCAM(model=wrapper, target_layers=[model.backbone.layer4])
        guided_model = GuidedBackpropReLUModel(model=wrapper, device="cpu")

        def run():
            raws, products = [], []
            for t in range(n):
                grayscale = cam(input_tensor=x, targets=[ClassifierOutputTarget(t)])[0]
                raws.append(raw_from_cam(cam))
                gb = guided_model(x.clone(), target_category=t)
                products.append(torch.from_numpy(gb * grayscale[..., None]).permute(2, 0, 1))
            return torch.cat(raws), torch.stack(products)
    else:
        # Frozen weights, guided ReLUs, one recorded forward, one autograd.grad per word
        # to both the layer and the image.
        model.requires_grad_(False)

        class GuidedReLU(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x.clamp(min=0)

            @staticmethod
            def backward(ctx, g):
                x, = ctx.saved_tensors
                return g * ((x > 0) & (g > 0))

        class GuidedReLUModule(torch.nn.Module):
            def forward(self, x):
                return GuidedReLU.apply(x)

        for parent in list(model.modules()):
            for child_name, child in list(parent.named_children()):
                if isinstance(child, torch.nn.ReLU):
                    setattr(parent, child_name, GuidedReLUModule())

        def run():
            xi = x.clone().requires_grad_(True)
            a = model.backbone.feature_map(xi)
            s = caption_logprobs_from_map(model, a, words)[0, index, ids]
            ga, gx = [], []
            for t in range(n):
                g1, g2 = torch.autograd.grad(s[t], [a, xi], retain_graph=t < n - 1)
                ga.append(g1)
                gx.append(g2)
            raw = raw_maps(a.detach(), torch.cat(ga))
            cams = cams_from_raw(raw, H, W)
            return raw, torch.cat(gx) * cams[:, None]
    reset_peak()
    (raw, guided), ts = measure(run, quick)
    check = join_checks(compare(ws.out(scenario, "ours_raw.npy"), raw, "raw maps"),
                        compare(ws.out(scenario, "ours_guided.npy"), guided, "guided Grad-CAM"))
    emit(scenario, variant, ts, peak_mb(), check=check)


def run_load(ws, variant, quick):
    """A model from its checkpoint, PyTorch's fastest way: built on the meta device
    (no random initialisation), then the safetensors assigned."""
    import torch
    import torchvision
    from safetensors.torch import load_file
    path = os.path.join(ws.model_dir("resnet50-classifier"), "weights.safetensors")
    reset_peak()

    def read():
        with open(path, "rb") as f:
            f.read()
    _, tr = measure(read, quick)

    def load():
        with torch.device("meta"):
            model = torchvision.models.resnet50(weights=None)
        model.load_state_dict(load_file(path), assign=True)
        return model
    _, ts = measure(load, quick)
    emit("load", variant, ts, peak_mb(), metrics={"read_ms": median(tr) * 1e3,
                                                  "beyond_read_ms": (median(ts) - median(tr)) * 1e3})


def run_variant(ws, scenario, variant, quick):
    if scenario == "sgemm":
        run_sgemm(ws, variant, quick)
    elif scenario == "conv":
        run_conv(ws, variant, quick)
    elif scenario.endswith("-forward"):
        run_forward(ws, scenario, variant, quick)
    elif scenario in ("resnet50-gradcam", "vgg16-gradcam"):
        run_class_gradcam(ws, scenario, variant, quick)
    elif scenario == "caption-gradcam":
        run_caption_gradcam(ws, variant, quick)
    elif scenario == "vqa-gradcam":
        run_vqa_gradcam(ws, variant, quick)
    elif scenario == "attention-caption-gradcam":
        run_attention_caption_gradcam(ws, variant, quick)
    elif scenario == "caption-guided":
        run_caption_guided(ws, variant, quick)
    elif scenario == "load":
        run_load(ws, variant, quick)
    elif scenario == "torch-load":
        run_torch_load(ws, variant, quick)


def run_torch_load(ws, variant, quick):
    """A checkpoint in torch.save's legacy layout as sgrvinod's tutorial's encoder holds
    it (a ResNet-101 as `resnet.N`, 179 MB), written here once for both sides, then read
    by torch.load with weights_only (its allowlisting unpickler, the safe way)."""
    import collections
    import torch
    import torchvision
    path = os.path.join(ws.dir, "inputs", "resnet101-legacy.pth.tar")
    if not os.path.exists(path):
        model = torchvision.models.resnet101(weights=None)
        children = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
        state = collections.OrderedDict()
        for name, t in model.state_dict().items():
            head, rest = name.split(".", 1)
            if head in children:
                state[f"resnet.{children.index(head)}.{rest}"] = t
        torch.save({"epoch": 1, "encoder": state}, path + ".partial", _use_new_zipfile_serialization=False)
        os.replace(path + ".partial", path)
    reset_peak()

    def read():
        with open(path, "rb") as f:
            f.read()
    _, tr = measure(read, quick)
    _, ts = measure(lambda: torch.load(path, weights_only=True), quick)
    emit("torch-load", variant, ts, peak_mb(), metrics={"read_ms": median(tr) * 1e3,
                                                        "file_mb": os.path.getsize(path) / 1e6})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", required=True, help="gradcam-bench's working directory")
    ap.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    ap.add_argument("--variant", help="one variant, in this process (default: each in a fresh process)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--omp-wait-policy", default="PASSIVE",
                    help="OMP_WAIT_POLICY for PyTorch (default PASSIVE; 'default' leaves it unset)")
    args = ap.parse_args()
    if args.omp_wait_policy != "default":
        os.environ.setdefault("OMP_WAIT_POLICY", args.omp_wait_policy)
    if args.variant is None:
        for v in SCENARIOS[args.scenario]:
            cmd = [sys.executable, os.path.abspath(__file__), "--models", args.models, "--scenario", args.scenario,
                   "--variant", v, "--threads", str(args.threads), "--omp-wait-policy", args.omp_wait_policy] \
                + (["--quick"] if args.quick else [])
            p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
            lines = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
            for line in lines:
                print(line, flush=True)
            if not lines:
                emit(args.scenario, v, error=f"bench_pytorch.py --variant {v} exited with status {p.returncode}")
        return
    import torch
    torch.set_num_threads(args.threads)
    try:
        run_variant(Workspace(args.models), args.scenario, args.variant, args.quick)
    except Exception as e:  # reported, not raised: the suite goes on
        import traceback
        traceback.print_exc()
        emit(args.scenario, args.variant, error=f"{type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
