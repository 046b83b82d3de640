"""Show, Ask, Attend and Answer fixtures, built in PyTorch with the class
structure of Cyanogenoid's pytorch-vqa (model.py: Net.text = TextProcessor,
Net.attention = Attention with v_conv/q_lin/x_conv, Net.classifier = Classifier
with lin1/lin2, apply_attention's softmax glimpses), plus the model format's
two extensions for relations (docs/model-format-extensions.md): (x, y)
coordinate channels and further hops `attention_hop2`, … asked with the
question and the cells the hop before attended.

Run from the repository root after make_fixtures.py (it reuses its backbones):
    python3 Tests/ModelsTests/Fixtures/make_vqa_attention_fixtures.py
Needs torch and safetensors (PyPI) — only here, never to build or test.

Each fixture is a model directory plus expected.json: the input, the question's
ids, the answer logits [1, A], every glimpse [hops·G, h, w], the top three
answers and the signed Grad-CAM of each one's logit at the explained layer
[3, h, w] (hooks, one answer at a time) and at a layer inside the model.
"""
import importlib.util
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("models_fixtures", os.path.join(HERE, "make_fixtures.py"))
mf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mf)

QUESTIONS = ["<unk>", "what", "color", "is", "the", "circle", "left", "of", "square", "?"]
ANSWERS = ["red", "blue", "green", "two", "yes", "no", "circle"]


class TextProcessor(nn.Module):
    def __init__(self, tokens, embed, hidden, layers, drop):
        super().__init__()
        self.embedding = nn.Embedding(tokens, embed, padding_idx=0)
        self.drop = nn.Dropout(drop)
        self.tanh = nn.Tanh()
        self.lstm = nn.LSTM(input_size=embed, hidden_size=hidden, num_layers=layers)

    def forward(self, q):
        _, (_, c) = self.lstm(self.tanh(self.drop(self.embedding(q))).transpose(0, 1))
        return c[-1]


class Attention(nn.Module):
    def __init__(self, v_features, q_features, mid_features, glimpses, drop):
        super().__init__()
        self.v_conv = nn.Conv2d(v_features, mid_features, 1, bias=False)
        self.q_lin = nn.Linear(q_features, mid_features)
        self.x_conv = nn.Conv2d(mid_features, glimpses, 1)
        self.drop = nn.Dropout(drop)
        self.relu = nn.ReLU()

    def forward(self, v, q):
        v = self.v_conv(self.drop(v))
        q = self.q_lin(self.drop(q))
        return self.x_conv(self.drop(self.relu(v + q.view(*q.shape, 1, 1).expand_as(v))))


def apply_attention(v, attention):
    n, c = v.shape[:2]
    weights = F.softmax(attention.view(n, attention.shape[1], -1), dim=-1)          # [n, g, s]
    return (weights.unsqueeze(2) * v.view(n, 1, c, -1)).sum(dim=-1).view(n, -1), weights


class Classifier(nn.Sequential):
    def __init__(self, in_features, mid_features, out_features, drop):
        super().__init__()
        self.add_module("drop1", nn.Dropout(drop))
        self.add_module("lin1", nn.Linear(in_features, mid_features))
        self.add_module("relu", nn.ReLU())
        self.add_module("drop2", nn.Dropout(drop))
        self.add_module("lin2", nn.Linear(mid_features, out_features))


class AttentionVQA(nn.Module):
    """pytorch-vqa's Net with the backbone in front of it (cut before its pool)."""

    def __init__(self, cfg):
        super().__init__()
        b, q, f = cfg["backbone"], cfg["question_encoder"], cfg["fusion"]
        self.backbone = mf.make_backbone(b)
        if hasattr(self.backbone, "classifier"):
            del self.backbone.classifier
        c = self.backbone.out_channels if isinstance(self.backbone, mf.ResNet) else [v for v in b["cfg"] if v != "M"][-1]
        self.adaptive_pool = nn.AdaptiveAvgPool2d(b["adaptive_pool"]) if "adaptive_pool" in b else None
        self.coordinates = f.get("coordinates", False)
        cells, g, drop = c + (2 if self.coordinates else 0), f.get("glimpses", 2), f.get("dropout", 0.5)
        self.text = TextProcessor(len(QUESTIONS), q["embed"], q["hidden"], q["layers"], drop)
        self.hops = f.get("hops", 1)
        self.attention = Attention(cells, q["hidden"], f["dim"], g, drop)
        for k in range(2, self.hops + 1):
            setattr(self, f"attention_hop{k}", Attention(cells, q["hidden"] + g * cells, f["dim"], g, drop))
        self.classifier = Classifier(self.hops * g * cells + q["hidden"], f["hidden"], len(ANSWERS), drop)

    def feature_map(self, image):
        m = self.backbone.feature_map(image) if isinstance(self.backbone, mf.ResNet) else self.backbone.features(image)
        return self.adaptive_pool(m) if self.adaptive_pool is not None else m

    def forward(self, image, question):
        """Answer logits [1, A] and every hop's glimpses [hops·G, h, w]."""
        v = self.feature_map(image)
        q = self.text(torch.tensor([question]))
        v = v / (v.norm(p=2, dim=1, keepdim=True).expand_as(v) + 1e-8)
        if self.coordinates:
            n, _, h, w = v.shape
            ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
            v = torch.cat([v, torch.stack([xs, ys]).unsqueeze(0).expand(n, 2, h, w)], dim=1)
        attended, weights, query = [], [], q
        for k in range(1, self.hops + 1):
            hop = self.attention if k == 1 else getattr(self, f"attention_hop{k}")
            a, w = apply_attention(v, hop(v, query))
            attended.append(a)
            weights.append(w)
            query = torch.cat([q, a], dim=1)
        logits = self.classifier(torch.cat(attended + [q], dim=1))
        return logits, torch.cat(weights, dim=1)[0].reshape(-1, *v.shape[2:])


@torch.no_grad()
def sharpen(model, factor):
    """Larger attention weights than PyTorch's defaults, so the random model's glimpses
    are far from uniform."""
    for name, m in model.named_modules():
        if name.startswith("attention") and isinstance(m, (nn.Conv2d, nn.Linear)):
            m.weight.mul_(factor)


def fixture(name, size, backbone, encoder, fusion, layer, inner, seed, sharpness):
    torch.manual_seed(seed)
    cfg = {"format": "gradcam-model/1", "task": "vqa", "input": dict(mf.INPUT, width=size, height=size),
           "backbone": dict(backbone, feature="map"), "question_encoder": encoder,
           "fusion": dict(fusion, kind="attention"), "explain_layer": layer}
    model = AttentionVQA(cfg).eval()
    mf.randomise_batch_norm(model)
    sharpen(model, sharpness)
    d = mf.write_dir(name, cfg, model, {"questions.txt": QUESTIONS, "answers.txt": ANSWERS})
    x = torch.randn(1, 3, size, size)
    ids = [1, 4, 6, 7, 4, 8, 9]
    logits, glimpses = model(x, ids)
    top = [int(i) for i in logits[0].argsort(descending=True)[:3]]

    def maps(at):
        return torch.stack([mf.raw_gradcam(model, at, x, lambda inp, a=a: model(inp, ids)[0][0, a]) for a in top])

    mf.write_expected(d, {"input": mf.flat(x), "question": ids, "logits": mf.flat(logits),
                          "glimpses": mf.flat(glimpses), "top": top, "layer": layer, "raw": mf.flat(maps(layer)),
                          "inner_layer": inner, "raw_inner": mf.flat(maps(inner))})


def main():
    # pytorch-vqa as published (one hop, two glimpses) on a ResNet-18 at 96²: a 3×3 layer4.
    fixture("saaa-resnet18", 96, {"arch": "resnet18", "base_width": 8},
            {"embed": 12, "hidden": 16, "layers": 1, "max_length": 26}, {"dim": 10, "hidden": 14},
            "backbone.layer4", "backbone.layer3.0.conv2", 21, 15)
    # The relations extensions on a batch-norm VGG: coordinates, two hops of three glimpses,
    # a two-layer question LSTM (the last layer's cell state) and the map pooled to 5×5.
    fixture("saaa-vgg-relations", 32, {"arch": "vgg", "cfg": [8, "M", 16, "M", 16], "batch_norm": True,
                                        "adaptive_pool": 5},
            {"embed": 10, "hidden": 12, "layers": 2, "max_length": 26},
            {"dim": 9, "hidden": 11, "glimpses": 3, "hops": 2, "coordinates": True, "dropout": 0.2},
            "backbone.features.10", "attention_hop2.v_conv", 22, 4)


if __name__ == "__main__":
    main()
