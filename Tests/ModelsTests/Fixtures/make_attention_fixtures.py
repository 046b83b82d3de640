"""Show, Attend and Tell fixtures, built in PyTorch with the class structure of
the two tutorials the model format follows (docs/model-format-extensions.md):
sgrvinod's "a-PyTorch-Tutorial-to-Image-Captioning" (additive attention:
Attention.encoder_att/decoder_att/full_att, DecoderWithAttention.decode_step,
init_h, init_c, f_beta, fc) and AaronCCWong's "Show-Attend-and-Tell" (tanh
attention: Attention.W/U/v, Decoder.lstm, deep_output, tanh on init_h/init_c).

Run from the repository root after make_fixtures.py (it reuses its backbones):
    python3 Tests/ModelsTests/Fixtures/make_attention_fixtures.py
Needs torch and safetensors (PyPI) — only here, never to build or test.

Each fixture is a model directory plus expected.json: the input, a caption's
teacher-forced log-probabilities [1, T, V] and attention maps [T, S, S], the
signed Grad-CAM of each word's log-probability at the explained layer [T, h, w]
(hooks, one word at a time, as Grad-CAM implementations do), and the greedy
caption with nothing masked.
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


class Attention(nn.Module):
    """Additive (sgrvinod) or tanh (AaronCCWong) attention over the cells."""

    def __init__(self, encoder_dim, decoder_dim, attention_dim, kind):
        super().__init__()
        self.kind = kind
        enc, dec, full = nn.Linear(encoder_dim, attention_dim), nn.Linear(decoder_dim, attention_dim), nn.Linear(attention_dim, 1)
        if kind == "additive":
            self.encoder_att, self.decoder_att, self.full_att = enc, dec, full
        else:
            self.W, self.U, self.v = enc, dec, full

    def forward(self, encoder_out, h):
        if self.kind == "additive":
            att = self.full_att(F.relu(self.encoder_att(encoder_out) + self.decoder_att(h).unsqueeze(1))).squeeze(2)
        else:
            att = self.v(torch.tanh(self.W(encoder_out) + self.U(h).unsqueeze(1))).squeeze(2)
        alpha = F.softmax(att, dim=1)
        return (encoder_out * alpha.unsqueeze(2)).sum(dim=1), alpha


class ShowAttendTell(nn.Module):
    def __init__(self, cfg, vocab):
        super().__init__()
        b, d = cfg["backbone"], cfg["decoder"]
        self.cfg, self.start = cfg, vocab.index("<start>")
        backbone = dict(b)
        if b.get("last_pool") is False:
            backbone["cfg"] = b["cfg"][:-1]
        self.backbone = mf.make_backbone(backbone)
        if hasattr(self.backbone, "classifier"):
            del self.backbone.classifier
        c = self.backbone.out_channels if isinstance(self.backbone, mf.ResNet) else [v for v in backbone["cfg"] if v != "M"][-1]
        self.adaptive_pool = nn.AdaptiveAvgPool2d(b["adaptive_pool"]) if "adaptive_pool" in b else None
        self.kind = d.get("attention", "additive")
        self.attention = Attention(c, d["hidden"], d["attention_dim"], self.kind)
        self.embedding = nn.Embedding(len(vocab), d["embed"])
        cell, out = nn.LSTMCell(d["embed"] + c, d["hidden"]), nn.Linear(d["hidden"], len(vocab))
        if self.kind == "additive":
            self.decode_step, self.fc = cell, out
        else:
            self.lstm, self.deep_output = cell, out
        self.init_h = nn.Linear(c, d["hidden"])
        self.init_c = nn.Linear(c, d["hidden"])
        self.f_beta = nn.Linear(d["hidden"], c)
        self.dropout = nn.Dropout(d.get("dropout", 0.5))

    def cell(self):
        return self.decode_step if self.kind == "additive" else self.lstm

    def out(self):
        return self.fc if self.kind == "additive" else self.deep_output

    def feature_map(self, image):
        return self.backbone.feature_map(image) if isinstance(self.backbone, mf.ResNet) else self.backbone.features(image)

    def cells(self, m):
        """The encoder's output as both tutorials hand it to the decoder: [B, P, C]."""
        if self.adaptive_pool is not None:
            m = self.adaptive_pool(m)
        self.grid = m.shape[2:]
        return m.permute(0, 2, 3, 1).reshape(m.shape[0], -1, m.shape[1])

    def init_state(self, a):
        mean = a.mean(dim=1)
        h, c = self.init_h(mean), self.init_c(mean)
        return (torch.tanh(h), torch.tanh(c)) if self.kind == "tanh" else (h, c)

    def step(self, a, word, h, c):
        context, alpha = self.attention(a, h)
        gate = torch.sigmoid(self.f_beta(h))
        h, c = self.cell()(torch.cat([self.embedding(word), gate * context], dim=1), (h, c))
        return self.out()(self.dropout(h)), alpha, h, c

    def decode(self, m, words):
        """Teacher forcing from the backbone's map m [B, C, h, w], every row reading
        `words`: log-probabilities [B, T, V] and attention [B, T, P]."""
        a = self.cells(m)
        h, c = self.init_state(a)
        logps, alphas = [], []
        for w in [self.start] + words[:-1]:
            logits, alpha, h, c = self.step(a, torch.full((a.shape[0],), w), h, c)
            logps.append(F.log_softmax(logits, dim=1))
            alphas.append(alpha)
        return torch.stack(logps, dim=1), torch.stack(alphas, dim=1)

    def forward(self, image, words):
        """Teacher forcing: log-probabilities [1, T, V] and attention [T, P]."""
        logp, alpha = self.decode(self.feature_map(image), words)
        return logp, alpha[0]

    @torch.no_grad()
    def greedy(self, image, end, max_length):
        a = self.cells(self.feature_map(image))
        h, c = self.init_state(a)
        word, words = self.start, []
        for _ in range(max_length):
            logits, _, h, c = self.step(a, torch.tensor([word]), h, c)
            word = int(logits.argmax(dim=1))
            if word == end:
                break
            words.append(word)
        return words


@torch.no_grad()
def sharpen(model):
    """Larger attention and output weights than PyTorch's defaults, so that the random
    model's attention is far from uniform and its greedy caption varies."""
    for m in model.attention.children():
        m.weight.normal_(0, 1.5)
    model.out().weight.mul_(4)
    model.f_beta.weight.mul_(3)


def fixture(name, size, backbone, decoder, layer, seed, inner=None):
    torch.manual_seed(seed)
    cfg = {"format": "gradcam-model/1", "task": "captioning", "input": dict(mf.INPUT, width=size, height=size),
           "backbone": backbone, "decoder": dict(decoder, kind="show-attend-tell"), "explain_layer": layer}
    model = ShowAttendTell(cfg, mf.VOCAB).eval()
    mf.randomise_batch_norm(model)
    sharpen(model)
    d = mf.write_dir(name, cfg, model, {"vocab.txt": mf.VOCAB})
    x = torch.randn(1, 3, size, size)
    words = [4, 5, 7, 9, 10, 4, 6, 8, 2]
    logp, alpha = model(x, words)
    raw = torch.stack([mf.raw_gradcam(model, layer, x, lambda inp, t=t: model(inp, words)[0][0, t, words[t]])
                       for t in range(len(words))])
    greedy = model.greedy(x, mf.VOCAB.index("<end>"), decoder["max_length"])
    expected = {"input": mf.flat(x), "words": words, "logprobs": mf.flat(logp),
                "attention": mf.flat(alpha.reshape(len(words), *model.grid)),
                "layer": layer, "raw_logprob": mf.flat(raw), "greedy": greedy}
    if inner:  # a layer inside the encoder: the gradient also crosses the blocks above it
        expected["inner_layer"] = inner
        expected["raw_inner"] = mf.flat(torch.stack([
            mf.raw_gradcam(model, inner, x, lambda inp, t=t: model(inp, words)[0][0, t, words[t]]) for t in range(len(words))]))
    mf.write_expected(d, expected)


def main():
    # ResNet-18 at 96²: a 3×3 layer4 pooled to 2×2 (PyTorch's overlapping bins).
    fixture("sat-resnet18", 96, {"arch": "resnet18", "base_width": 8, "feature": "map", "adaptive_pool": 2},
            {"embed": 12, "hidden": 16, "attention_dim": 10, "layers": 1, "max_length": 16},
            "backbone.layer4", 11, inner="backbone.layer3.0.conv2")
    # VGG cut before its last pool: an 8×8 map pooled up to 10×10 (S larger than the map).
    fixture("sat-vgg", 32, {"arch": "vgg", "cfg": [8, "M", 16, "M", 16, "M"], "last_pool": False, "feature": "map",
                            "adaptive_pool": 10},
            {"embed": 10, "hidden": 14, "attention_dim": 9, "layers": 1, "max_length": 16, "dropout": 0.3},
            "backbone.features.7", 12)
    # AaronCCWong's tanh variant on a batch-norm VGG, the map unpooled.
    fixture("sat-vgg-tanh", 32, {"arch": "vgg", "cfg": [8, "M", 16, "M", 16], "batch_norm": True, "feature": "map"},
            {"embed": 10, "hidden": 12, "attention_dim": 8, "layers": 1, "max_length": 16, "attention": "tanh"},
            "backbone.features.10", 13)


if __name__ == "__main__":
    main()
