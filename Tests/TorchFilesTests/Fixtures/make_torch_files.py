"""Small files written by PyTorch's and Python's own save calls, for the
TorchFiles tests: the zip layout, the legacy layout, a plain pickle of a
vocabulary object (protocols 0, 2 and 4), pickled modules beside an
optimiser, and hostile or damaged files.

Run from the repository root (needs torch from PyPI, only here):
    python3 Tests/TorchFilesTests/Fixtures/make_torch_files.py

expected.json lists, for every file that should load, each tensor by the
path the reader is asked for, with its shape and values.
"""
import collections
import io
import json
import os
import pickle
import sys
import types
import zipfile

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)


def module(name):
    """A module of that name, so that pickles name classes as the tutorials' do."""
    m = types.ModuleType(name)
    sys.modules[name] = m
    return m


models = module("models")
build_vocab = module("build_vocab")


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.resnet = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU())
        self.adaptive_pool = nn.AdaptiveAvgPool2d((14, 14))


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_dim = 5
        self.embedding = nn.Embedding(7, 5)
        self.fc = nn.Linear(5, 7)
        self.dropout = nn.Dropout(p=0.25)


class Vocabulary(object):
    def __init__(self):
        self.word2idx = {}
        self.idx2word = {}
        self.idx = 0

    def add_word(self, word):
        if word not in self.word2idx:
            self.word2idx[word] = self.idx
            self.idx2word[self.idx] = word
            self.idx += 1


Encoder.__module__ = Decoder.__module__ = "models"
models.Encoder, models.Decoder = Encoder, Decoder
Vocabulary.__module__ = "build_vocab"
build_vocab.Vocabulary = Vocabulary

expected = {}


def record(file, tensors):
    expected[file] = {name: {"shape": list(t.shape), "values": t.detach().double().flatten().tolist()}
                      for name, t in tensors.items()}


def state():
    base = torch.arange(12, dtype=torch.float32).view(3, 4) / 7
    return collections.OrderedDict([
        ("float", torch.randn(2, 3)),
        ("half", torch.randn(4).half()),
        ("bfloat", torch.randn(3, 2).bfloat16()),
        ("double", torch.randn(5, dtype=torch.float64)),
        ("long", torch.tensor([3, -1, 7], dtype=torch.int64)),
        ("scalar", torch.tensor(2.5)),
        ("empty", torch.zeros(0, 3)),
        ("shared.whole", base),
        ("shared.rows", base[1:]),          # a view at an offset of the same storage
        ("shared.transposed", base.t()),    # a view with other strides
        ("shared.column", base[:, 2]),
        ("param", nn.Parameter(torch.randn(2, 2))),
    ])


def save(name, obj, **kwargs):
    torch.save(obj, os.path.join(HERE, name), **kwargs)


# The zip layout (PyTorch >= 1.6) and the legacy one, of the same state dict plus metadata.
tensors = state()
checkpoint = {"state": tensors, "epoch": 3, "best": 0.125, "name": "fixture", "flags": [True, None, (1, 2)]}
save("zip-state.pt", checkpoint)
save("legacy-state.pt", checkpoint, _use_new_zipfile_serialization=False)
for file in ["zip-state.pt", "legacy-state.pt"]:
    record(file, {"state." + k: v for k, v in tensors.items()})

# Whole modules and an optimiser, as sgrvinod's tutorial saves them.
encoder, decoder = Encoder().eval(), Decoder()
optimizer = torch.optim.Adam(decoder.parameters(), lr=4e-4)
decoder.fc(torch.randn(1, 5)).sum().backward()
optimizer.step()
modules = {"epoch": 2, "encoder": encoder, "decoder": decoder, "decoder_optimizer": optimizer, "bleu-4": 0.25}
save("modules.pth.tar", modules)
save("modules-legacy.pth.tar", modules, _use_new_zipfile_serialization=False)
for file in ["modules.pth.tar", "modules-legacy.pth.tar"]:
    record(file, {"encoder." + k: v for k, v in encoder.state_dict().items()} |
           {"decoder." + k: v for k, v in decoder.state_dict().items()})

# A vocabulary pickled by Python itself, at three protocols.
vocab = Vocabulary()
for word in ["<pad>", "<start>", "<end>", "<unk>", "a", "café", "dog"]:
    vocab.add_word(word)
for protocol in [0, 2, 4]:
    with open(os.path.join(HERE, f"vocab-p{protocol}.pkl"), "wb") as f:
        pickle.dump(vocab, f, protocol=protocol)

# Hostile pickles: they name functions that would run code under pickle.load.
with open(os.path.join(HERE, "os-system.pkl"), "wb") as f:
    f.write(b"cos\nsystem\n(S'echo owned'\ntR.")
with open(os.path.join(HERE, "builtins-eval.pkl"), "wb") as f:
    f.write(b"\x80\x02cbuiltins\neval\nX\x0b\x00\x00\x00print('hi')\x85R.")


# A zip whose storage holds fewer bytes than its tensor's view needs.
def rewrite(source, target, change):
    with zipfile.ZipFile(os.path.join(HERE, source)) as zin, \
            zipfile.ZipFile(os.path.join(HERE, target), "w", zipfile.ZIP_STORED) as zout:
        for item in zin.infolist():
            zout.writestr(item, change(item.filename, zin.read(item.filename)))


small = {"weight": torch.randn(4, 4)}
save("small.pt", small)
rewrite("small.pt", "short-storage.pt", lambda name, data: data[:-8] if "/data/" in name else data)
# A view of 5×4 elements of a storage of 16: size (4, 4) rewritten as (5, 4) in data.pkl.
rewrite("small.pt", "bad-view.pt",
        lambda name, data: data.replace(b"K\x04K\x04\x86", b"K\x05K\x04\x86", 1) if name.endswith("data.pkl") else data)
os.remove(os.path.join(HERE, "small.pt"))

with open(os.path.join(HERE, "expected.json"), "w") as f:
    json.dump(expected, f)
print("wrote", sorted(os.listdir(HERE)))
