"""Model fixtures for the Models tests, built in PyTorch from spec/model-format.md.

Run from the repository root when the fixtures must change:
    python3 Tests/ModelsTests/Fixtures/make_fixtures.py
Needs torch and safetensors (PyPI); torchvision too for the full-size name lists.
PyTorch is needed only here, never to build or test the project.

Each fixture is a model directory (config.json, weights.safetensors, vocabulary
files) plus expected.json: a fixed input tensor, the model's outputs, and the
gradient of a chosen scalar with respect to a named layer's output, taken with
a forward hook as Grad-CAM implementations do.
"""
import json
import os
import shutil

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))


# --- torchvision's architectures, written out so small widths keep the names ---

def make_vgg_features(cfg, batch_norm):
    layers, c = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers.append(nn.Conv2d(c, v, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=False))
            c = v
    return nn.Sequential(*layers), c


class VGG(nn.Module):
    def __init__(self, cfg, batch_norm, hidden, classes):
        super().__init__()
        self.features, c = make_vgg_features(cfg, batch_norm)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        head = [nn.Linear(c * 49, hidden), nn.ReLU(), nn.Dropout(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout()]
        if classes is not None:
            head.append(nn.Linear(hidden, classes))
        self.classifier = nn.Sequential(*head)

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + (self.downsample(x) if self.downsample is not None else x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU()
        self.downsample = None
        if stride != 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes * 4))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (self.downsample(x) if self.downsample is not None else x))


class ResNet(nn.Module):
    def __init__(self, arch, base, classes):
        super().__init__()
        blocks, block = {"resnet18": ([2, 2, 2, 2], BasicBlock), "resnet34": ([3, 4, 6, 3], BasicBlock),
                         "resnet50": ([3, 4, 6, 3], Bottleneck), "resnet101": ([3, 4, 23, 3], Bottleneck),
                         "resnet152": ([3, 8, 36, 3], Bottleneck)}[arch]
        self.conv1 = nn.Conv2d(3, base, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = base
        for i, n in enumerate(blocks):
            layer = []
            for b in range(n):
                layer.append(block(inplanes, base << i, 2 if b == 0 and i > 0 else 1))
                inplanes = (base << i) * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*layer))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.out_channels = inplanes
        if classes is not None:
            self.fc = nn.Linear(inplanes, classes)

    def feature_map(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x):
        return self.fc(torch.flatten(self.avgpool(self.feature_map(x)), 1))


def make_backbone(b, classes=None):
    if b["arch"].startswith("resnet"):
        return ResNet(b["arch"], b.get("base_width", 64), classes)
    return VGG(b["cfg"], b.get("batch_norm", False), b.get("hidden", 4096),
               classes if classes is not None or b.get("feature") == "fc7" else None)


def backbone_feature(net, b, x):
    kind = b["feature"]
    if isinstance(net, ResNet):
        m = net.feature_map(x)
        return torch.flatten(net.avgpool(m), 1) if kind == "avgpool" else torch.flatten(m, 1)
    m = net.features(x)
    if kind == "avgpool":
        return m.mean(dim=(2, 3))
    if kind == "flatten":
        return torch.flatten(m, 1)
    h = torch.flatten(net.avgpool(m), 1)
    for i in range(6):
        h = net.classifier[i](h)
    return h


class Captioner(nn.Module):
    def __init__(self, cfg, vocab):
        super().__init__()
        d = cfg["decoder"]
        self.backbone = make_backbone(cfg["backbone"])
        if cfg["backbone"]["arch"].startswith("vgg") and cfg["backbone"]["feature"] != "fc7":
            del self.backbone.classifier
        if isinstance(self.backbone, ResNet) and hasattr(self.backbone, "fc"):
            del self.backbone.fc
        size = cfg["input"]["height"]
        with torch.no_grad():
            self.backbone.eval()
            f = backbone_feature(self.backbone, cfg["backbone"], torch.zeros(1, 3, size, cfg["input"]["width"])).shape[1]
        self.image_proj = nn.Linear(f, d["embed"])
        self.embed = nn.Embedding(len(vocab), d["embed"])
        self.lstm = nn.LSTM(d["embed"], d["hidden"], d["layers"], batch_first=True)
        self.head = nn.Linear(d["hidden"], len(vocab))
        self.cfg, self.start = cfg, vocab.index("<start>")

    def x0(self, image):
        x = self.image_proj(backbone_feature(self.backbone, self.cfg["backbone"], image))
        return F.relu(x) if self.cfg["decoder"].get("image_activation") == "relu" else x

    def forward(self, image, words):
        inputs = torch.tensor([[self.start] + words[:-1]]).expand(image.shape[0], -1)
        seq = torch.cat([self.x0(image).unsqueeze(1), self.embed(inputs)], dim=1)
        out, _ = self.lstm(seq)
        return F.log_softmax(self.head(out[:, 1:]), dim=-1)

    @torch.no_grad()
    def greedy(self, image, end, max_length):
        _, state = self.lstm(self.x0(image).unsqueeze(1))
        word, words = self.start, []
        for _ in range(max_length):
            out, state = self.lstm(self.embed(torch.tensor([[word]])), state)
            word = int(self.head(out[:, -1]).argmax(dim=-1))
            if word == end:
                break
            words.append(word)
        return words


class VQA(nn.Module):
    def __init__(self, cfg, questions, answers):
        super().__init__()
        q, fu = cfg["question_encoder"], cfg["fusion"]
        self.backbone = make_backbone(cfg["backbone"])
        if cfg["backbone"]["arch"].startswith("vgg") and cfg["backbone"]["feature"] != "fc7":
            del self.backbone.classifier
        if isinstance(self.backbone, ResNet) and hasattr(self.backbone, "fc"):
            del self.backbone.fc
        with torch.no_grad():
            self.backbone.eval()
            f = backbone_feature(self.backbone, cfg["backbone"],
                                 torch.zeros(1, 3, cfg["input"]["height"], cfg["input"]["width"])).shape[1]
        self.image_proj = nn.Linear(f, fu["dim"])
        self.embed = nn.Embedding(len(questions), q["embed"])
        self.lstm = nn.LSTM(q["embed"], q["hidden"], q["layers"], batch_first=True)
        self.question_proj = nn.Linear(2 * q["layers"] * q["hidden"], fu["dim"])
        if "hidden" in fu:
            self.classifier = nn.Sequential(nn.Linear(fu["dim"], fu["hidden"]), nn.Tanh(), nn.Linear(fu["hidden"], len(answers)))
        else:
            self.classifier = nn.Linear(fu["dim"], len(answers))
        self.cfg = cfg

    def forward(self, image, ids):
        feat = backbone_feature(self.backbone, self.cfg["backbone"], image)
        i = torch.tanh(self.image_proj(F.normalize(feat, dim=1)))
        e = self.embed(torch.tensor([ids]))
        if self.cfg["question_encoder"].get("embed_activation", "tanh") == "tanh":
            e = torch.tanh(e)
        _, (h, c) = self.lstm(e)
        state = torch.cat([t for k in range(h.shape[0]) for t in (c[k], h[k])], dim=1)
        q = torch.tanh(self.question_proj(state))
        return self.classifier(i * q)


# --- writing fixtures ---

def randomise_batch_norm(model):
    """Non-trivial running statistics, so inference-form batch norm is tested."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.normal_(1, 0.2)
            m.bias.data.normal_(0, 0.2)


def flat(x):
    return {"shape": list(x.shape), "data": [float(f"{v:.8g}") for v in x.detach().reshape(-1).tolist()]}


def module_by_name(model, name):
    return dict(model.named_modules())[name]


def grad_at(model, layer, run):
    """Output of `run()` (a scalar) and its gradient w.r.t. the layer's output."""
    store = {}

    def hook(_, __, out):
        out.retain_grad()
        store["a"] = out

    handle = module_by_name(model, layer).register_forward_hook(hook)
    y = run()
    y.backward()
    handle.remove()
    return y, store["a"].grad


def raw_gradcam(model, layer, x, score_fn):
    """Signed Grad-CAM at the layer: Σ_k mean(∂y/∂A_k) A_k."""
    store = {}

    def hook(_, __, out):
        out.retain_grad()
        store["a"] = out

    handle = module_by_name(model, layer).register_forward_hook(hook)
    y = score_fn(x)
    y.backward()
    handle.remove()
    a, g = store["a"][0], store["a"].grad[0]
    return (g.mean(dim=(1, 2))[:, None, None] * a).sum(0)


def write_dir(name, cfg, model, files):
    d = os.path.join(HERE, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(d, "weights.safetensors"))
    for fname, lines in files.items():
        with open(os.path.join(d, fname), "w") as f:
            f.write("\n".join(lines) + "\n")
    return d


def write_expected(d, expected):
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))


INPUT = {"width": 32, "height": 32, "resize": "stretch", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


def input_for(backbone):
    """ResNets get 64×64 inputs, so that layer4's maps are 2×2 rather than a single cell."""
    size = 64 if backbone["arch"].startswith("resnet") else 32
    return dict(INPUT, width=size, height=size)
VOCAB = ["<pad>", "<start>", "<end>", "<unk>", "a", "red", "blue", "circle", "square", "left", "of", "small"]


def classifier_fixture(name, backbone, layer, seed):
    torch.manual_seed(seed)
    classes = [f"class{i}" for i in range(5)]
    model = make_backbone(backbone, classes=len(classes)).eval()
    randomise_batch_norm(model)
    cfg = {"format": "gradcam-model/1", "task": "classification", "input": input_for(backbone), "backbone": backbone,
           "explain_layer": layer}
    d = write_dir(name, cfg, model, {"classes.txt": classes})
    x = torch.randn(1, 3, cfg["input"]["height"], cfg["input"]["width"])
    logits = model(x)
    target = int(logits.argmax())
    _, g = grad_at(model, layer, lambda: model(x)[0, target])
    write_expected(d, {"input": flat(x), "logits": flat(logits), "layer": layer, "target": target, "grad": flat(g)})


def captioner_fixture(name, backbone, decoder, layer, seed):
    torch.manual_seed(seed)
    cfg = {"format": "gradcam-model/1", "task": "captioning", "input": input_for(backbone), "backbone": backbone,
           "decoder": decoder, "explain_layer": "backbone." + layer}
    model = Captioner(cfg, VOCAB).eval()
    randomise_batch_norm(model)
    d = write_dir(name, cfg, model, {"vocab.txt": VOCAB})
    x = torch.randn(1, 3, cfg["input"]["height"], cfg["input"]["width"])
    words = [4, 5, 7, 9, 10, 4, 6, 8, 2]
    logp = model(x, words)
    target_step = 2
    _, g = grad_at(model, "backbone." + layer, lambda: model(x, words)[0, target_step, words[target_step]])
    greedy = model.greedy(x, VOCAB.index("<end>"), decoder["max_length"])
    write_expected(d, {"input": flat(x), "words": words, "logprobs": flat(logp), "layer": "backbone." + layer,
                       "target_step": target_step, "grad": flat(g), "greedy": greedy})


def vqa_fixture(name, backbone, encoder, fusion, layer, seed):
    torch.manual_seed(seed)
    questions = ["<unk>", "what", "color", "is", "the", "circle", "how", "many", "?"]
    answers = ["red", "blue", "two", "yes", "no", "left of"]
    cfg = {"format": "gradcam-model/1", "task": "vqa", "input": input_for(backbone), "backbone": backbone,
           "question_encoder": encoder, "fusion": fusion, "explain_layer": "backbone." + layer}
    model = VQA(cfg, questions, answers).eval()
    randomise_batch_norm(model)
    d = write_dir(name, cfg, model, {"questions.txt": questions, "answers.txt": answers})
    x = torch.randn(1, 3, cfg["input"]["height"], cfg["input"]["width"])
    ids = [1, 2, 3, 4, 5, 8]
    logits = model(x, ids)
    target = int(logits.argmax())
    _, g = grad_at(model, "backbone." + layer, lambda: model(x, ids)[0, target])
    write_expected(d, {"input": flat(x), "question": ids, "logits": flat(logits), "layer": "backbone." + layer,
                       "target": target, "grad": flat(g)})


def main():
    classifier_fixture("classifier-vgg", {"arch": "vgg", "cfg": [8, "M", 16, 16, "M"], "hidden": 24},
                       "features.6", 1)
    classifier_fixture("classifier-vgg-bn", {"arch": "vgg", "cfg": [8, "M", 16, "M"], "batch_norm": True, "hidden": 16},
                       "features.6", 2)
    classifier_fixture("classifier-resnet18", {"arch": "resnet18", "base_width": 4}, "layer4", 3)
    classifier_fixture("classifier-resnet50", {"arch": "resnet50", "base_width": 2}, "layer3.1.conv2", 4)
    captioner_fixture("captioner-vgg-fc7",
                      {"arch": "vgg", "cfg": [8, "M", 16, "M"], "feature": "fc7", "hidden": 20},
                      {"embed": 12, "hidden": 16, "layers": 1, "max_length": 16, "image_activation": "none"},
                      "features.4", 5)
    captioner_fixture("captioner-resnet-2layer",
                      {"arch": "resnet18", "base_width": 4, "feature": "avgpool"},
                      {"embed": 10, "hidden": 14, "layers": 2, "max_length": 12, "image_activation": "relu"},
                      "layer4", 6)
    vqa_fixture("vqa-flat", {"arch": "vgg", "cfg": [8, "M", 8, "M"], "feature": "flatten"},
                {"embed": 10, "hidden": 12, "layers": 2, "max_length": 26, "embed_activation": "tanh"},
                {"dim": 16}, "features.4", 7)
    vqa_fixture("vqa-hidden", {"arch": "resnet18", "base_width": 4, "feature": "avgpool"},
                {"embed": 8, "hidden": 10, "layers": 1, "max_length": 26, "embed_activation": "none"},
                {"dim": 12, "hidden": 9}, "layer3", 8)

    # Full-size torchvision name lists (keys and shapes), to check that a user's
    # state_dict loads with no renaming. Weights are not committed.
    try:
        import torchvision
        names = {}
        for arch in ["vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg16_bn", "resnet18", "resnet34", "resnet50",
                     "resnet101", "resnet152"]:
            m = getattr(torchvision.models, arch)()
            names[arch] = {k: list(v.shape) for k, v in m.state_dict().items()}
        with open(os.path.join(HERE, "torchvision-names.json"), "w") as f:
            json.dump(names, f, separators=(",", ":"), sort_keys=True)
    except ImportError:
        print("torchvision not installed: torchvision-names.json left as it is")


if __name__ == "__main__":
    main()
