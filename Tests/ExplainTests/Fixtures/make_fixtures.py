"""Explanation references for the Explain tests, computed in PyTorch and pytorch-grad-cam.

Run from the repository root after Tests/ModelsTests/Fixtures/make_fixtures.py:
    python3 Tests/ExplainTests/Fixtures/make_fixtures.py
Needs torch, safetensors and grad-cam (PyPI) — only here, never to build or test.

It loads the model directories of Tests/ModelsTests/Fixtures into the PyTorch
modules defined there and writes expected.json with, per model:
- raw Grad-CAM maps (signed, layer resolution) per caption word, per answer,
  per class — gradients taken with hooks, one target at a time;
- for classifiers, pytorch-grad-cam's normalised maps for Grad-CAM, Grad-CAM++,
  HiResCAM, LayerCAM, XGrad-CAM and Eigen-CAM, and its guided backpropagation;
- the same with its smoothing: `aug_smooth` (its default test-time
  augmentations) and `eigen_smooth`, keyed "METHOD aug", "METHOD eigen",
  "METHOD aug+eigen". A singular vector's sign is LAPACK's choice, so the
  library's own sign-corrected projection (`get_2d_projection_with_sign_correction`,
  the map flipped when |min| > |max|) stands in for `get_2d_projection`.
"""
import importlib.util
import json
import os

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "..", "..", "ModelsTests", "Fixtures")
spec = importlib.util.spec_from_file_location("models_fixtures", os.path.join(MODELS, "make_fixtures.py"))
mf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mf)


def load(name):
    d = os.path.join(MODELS, name)
    cfg = json.load(open(os.path.join(d, "config.json")))
    lines = lambda f: open(os.path.join(d, f)).read().splitlines()
    if cfg["task"] == "classification":
        model = mf.make_backbone(cfg["backbone"], classes=len(lines("classes.txt")))
    elif cfg["task"] == "captioning":
        model = mf.Captioner(cfg, lines("vocab.txt"))
    else:
        model = mf.VQA(cfg, lines("questions.txt"), lines("answers.txt"))
    model.load_state_dict(load_file(os.path.join(d, "weights.safetensors")))
    model.eval()
    expected = json.load(open(os.path.join(d, "expected.json")))
    x = torch.tensor(expected["input"]["data"]).reshape(expected["input"]["shape"])
    return cfg, model, x, expected


raw_gradcam = mf.raw_gradcam


def flat(t, digits=None):
    """A tensor for JSON: 8 significant digits, or `digits` decimals for maps in [0, 1]."""
    form = f".{digits}f" if digits else ".8g"
    return {"shape": list(t.shape), "data": [float(format(v, form)) for v in t.detach().reshape(-1).tolist()]}


out = {}

for name in ["classifier-vgg", "classifier-resnet18"]:
    from pytorch_grad_cam import (GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, XGradCAM, EigenCAM,
                                  GuidedBackpropReLUModel)
    import pytorch_grad_cam.base_cam, pytorch_grad_cam.eigen_cam, pytorch_grad_cam.hirescam, pytorch_grad_cam.layer_cam
    from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection_with_sign_correction
    for module in [pytorch_grad_cam.base_cam, pytorch_grad_cam.eigen_cam, pytorch_grad_cam.hirescam,
                   pytorch_grad_cam.layer_cam]:
        module.get_2d_projection = get_2d_projection_with_sign_correction
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    cfg, model, x, _ = load(name)
    layer = cfg["explain_layer"]
    logits = model(x)[0]
    top = logits.argsort(descending=True)[:3].tolist()
    raw = torch.stack([raw_gradcam(model, layer, x, lambda inp, c=c: model(inp)[0, c]) for c in top])
    entry = {"layer": layer, "classes": top, "raw": flat(raw), "cams": {}}
    module = dict(model.named_modules())[layer]
    for key, cls in [("gradcam", GradCAM), ("gradcam++", GradCAMPlusPlus), ("hirescam", HiResCAM),
                     ("layercam", LayerCAM), ("xgradcam", XGradCAM)]:
        with cls(model=model, target_layers=[module]) as cam:
            maps = [cam(input_tensor=x, targets=[ClassifierOutputTarget(c)])[0] for c in top]
        entry["cams"][key] = flat(torch.tensor(maps))
        smoothings = [("eigen", False, True)] + {"gradcam": [("aug", True, False), ("aug+eigen", True, True)],
                                                 "layercam": [("aug", True, False)]}.get(key, [])
        for smoothing, aug, eigen in smoothings:
            with cls(model=model, target_layers=[module]) as cam:
                maps = [cam(input_tensor=x, targets=[ClassifierOutputTarget(c)], aug_smooth=aug, eigen_smooth=eigen)[0]
                        for c in top]
            entry["cams"][key + " " + smoothing] = flat(torch.tensor(maps), digits=5)
    with EigenCAM(model=model, target_layers=[module]) as cam:
        entry["cams"]["eigencam"] = flat(torch.tensor(cam(input_tensor=x, targets=None)[:1]), digits=5)
        entry["cams"]["eigencam aug"] = flat(torch.tensor(cam(input_tensor=x, targets=None, aug_smooth=True)[:1]), digits=5)
    guided = GuidedBackpropReLUModel(model=model, device="cpu")(x, target_category=top[0])  # [H, W, 3]
    entry["guided"] = flat(torch.tensor(guided).permute(2, 0, 1))
    out[name] = entry

END = mf.VOCAB.index("<end>")
for name in ["captioner-vgg-fc7", "captioner-resnet-2layer"]:
    cfg, model, x, e = load(name)
    layer, words = cfg["explain_layer"], e["words"]
    per_word = torch.stack([raw_gradcam(model, layer, x, lambda inp, t=t: model(inp, words)[0, t, words[t]])
                            for t in range(len(words))])
    per_word_logit = []
    for t in range(len(words)):
        def logit(inp, t=t):
            inputs = torch.tensor([[model.start] + words[:-1]])
            seq = torch.cat([model.x0(inp).unsqueeze(1), model.embed(inputs)], dim=1)
            o, _ = model.lstm(seq)
            return model.head(o[:, 1:])[0, t, words[t]]
        per_word_logit.append(raw_gradcam(model, layer, x, logit))
    def whole_caption(inp):
        logp = model(inp, words)  # one forward: the hook must see a single activation
        # The words' log-probabilities, a last <end> excluded (the paper's released code).
        return sum(logp[0, t, words[t]] for t in range(len(words) - (1 if words[-1] == END else 0)))
    whole = raw_gradcam(model, layer, x, whole_caption)
    out[name] = {"layer": layer, "words": words, "raw_logprob": flat(per_word),
                 "raw_logit": flat(torch.stack(per_word_logit)), "raw_whole": flat(whole[None])}

for name in ["vqa-flat", "vqa-hidden"]:
    cfg, model, x, e = load(name)
    layer, q = cfg["explain_layer"], e["question"]
    top = model(x, q)[0].argsort(descending=True)[:3].tolist()
    raw = torch.stack([raw_gradcam(model, layer, x, lambda inp, a=a: model(inp, q)[0, a]) for a in top])
    raw_prob = torch.stack([raw_gradcam(model, layer, x, lambda inp, a=a: F.softmax(model(inp, q), dim=1)[0, a])
                            for a in top])
    out[name] = {"layer": layer, "answers": top, "raw": flat(raw), "raw_prob": flat(raw_prob)}

with open(os.path.join(HERE, "expected.json"), "w") as f:
    json.dump(out, f, separators=(",", ":"))
print("wrote", os.path.join(HERE, "expected.json"))
