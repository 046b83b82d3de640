"""Full-size import check, outside the quick tests (minutes, a few GB of memory):
sgrvinod's Show, Attend and Tell on a ResNet-101 and pytorch-vqa on the Caffe-layout
ResNet-152, random weights, saved with the originals' classes and save calls
(Tests/ImportersTests/Fixtures/make_import_fixtures.py holds them), imported with the
built `gradcam import`, explained with `gradcam caption` / `gradcam vqa --out`, and
compared with the original code run here in PyTorch: the greedy caption and each
word's log-probability, the top answers and the per-word / per-answer Grad-CAM at
encoder.resnet.7 / backbone.layer4 (the exports' raw.npy).

    python3 scripts/check_import_full_size.py [--gradcam .build/release/gradcam] [--work DIR]

Needs torch and torchvision (PyPI); never part of building or testing the project.
"""
import argparse
import json
import os
import runpy
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
originals = runpy.run_path(os.path.join(ROOT, "Tests/ImportersTests/Fixtures/make_import_fixtures.py"), run_name="full_size")


def gradcam(binary, *arguments):
    print("$ gradcam", " ".join(arguments), flush=True)
    subprocess.run([binary, *arguments], check=True, stdout=subprocess.DEVNULL)


def relative(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def tame(resnet):
    """A trained ResNet's features are of order one; a random one's grow to ~1e4 through its
    residual stages and saturate the decoder, whose gradients then vanish to rounding (in
    PyTorch as here). Each block's last batch norm scaled to 0.2 keeps them trained-like."""
    for m in resnet.modules():
        if isinstance(m, torchvision.models.resnet.Bottleneck):
            m.bn3.weight.data.fill_(0.2)
    return resnet


def check_captioner(binary, work):
    torch.manual_seed(101)
    words = ["<pad>"] + [f"w{i}" for i in range(96)] + ["<unk>", "<start>", "<end>"]
    word_map = {w: i for i, w in enumerate(words)}
    encoder = originals["Encoder"](tame(torchvision.models.resnet101(weights=None))).eval()
    decoder = originals["DecoderWithAttention"](attention_dim=512, embed_dim=512, decoder_dim=512,
                                                vocab_size=len(words), encoder_dim=2048).eval()
    image = os.path.join(work, "image256.png")
    originals["noise_png"](image, 256, 11)
    x = originals["image_tensor"](image, 256)
    with torch.no_grad():
        decoder.fc.weight.mul_(5)       # words of moderate probability (a near-certain word's gradient is rounding)
        decoder.fc.bias.copy_(2 * torch.randn(len(words)))
        for special in ("<pad>", "<unk>", "<start>"):      # never proposed by gradcam's search
            decoder.fc.bias[word_map[special]] = -100.0
        # Greedy decoding as caption.py's beam search with k = 1, cut at 20 words (a random
        # model need not end; caption.py would then find no caption at all).
        caption, previous = [], word_map["<start>"]
        for _ in range(20):
            logprobs = originals["teacher_forced"](encoder, decoder, x, caption + [0], word_map)[-1]
            word = int(logprobs.argmax())
            if word == word_map["<end>"]:
                break
            caption.append(word)
    checkpoint, word_map_path = os.path.join(work, "BEST_checkpoint_full.pth.tar"), os.path.join(work, "WORDMAP_full.json")
    torch.save({'epoch': 1, 'epochs_since_improvement': 0, 'bleu-4': 0.1, 'encoder': encoder, 'decoder': decoder,
                'encoder_optimizer': None, 'decoder_optimizer': None}, checkpoint)
    json.dump(word_map, open(word_map_path, "w"))
    reference = torch.stack([originals["grad_cam"](encoder.resnet[7], lambda t=t: originals["teacher_forced"](
        encoder, decoder, x, caption, word_map)[t, caption[t]]) for t in range(len(caption))]).detach().numpy()
    with torch.no_grad():
        logprobs = originals["teacher_forced"](encoder, decoder, x, caption, word_map)
    model, out = os.path.join(work, "sat-full"), os.path.join(work, "sat-full-explained")
    gradcam(binary, "import", "show-attend-tell", "--checkpoint", checkpoint, "--word-map", word_map_path, "--out", model, "--force")
    gradcam(binary, "caption", image, "--model", model, "--beam", "1", "--max-length", "20", "--layer", "encoder.resnet.7",
            "--out", out, "--force", "--quiet")
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    ours = [t["id"] for t in manifest["tokens"]]
    lp = max(abs(t["logprob"] - float(logprobs[i, caption[i]])) for i, t in enumerate(manifest["tokens"]))
    raw = np.load(os.path.join(out, "raw.npy"))
    np.save(os.path.join(work, "sat-reference.npy"), reference)
    rel = relative(raw, reference)
    print(f"ResNet-101 Show, Attend and Tell: caption {'identical' if ours == caption else 'DIFFERENT'} "
          f"({len(caption)} words), log-prob max abs diff {lp:.2e}, per-word raw Grad-CAM max rel diff {rel:.2e}")
    return ours == caption and lp <= 2e-4 and rel <= 2e-3


def check_vqa(binary, work):
    torch.manual_seed(152)
    resnet = originals["caffe_layout"](tame(torchvision.models.resnet152(weights=None))).eval()
    backbone = os.path.join(work, "resnet152-caffe.pth")
    torch.save(resnet.state_dict(), backbone)
    questions, answers = ["what", "color", "is", "the", "circle"], [f"a{i}" for i in range(50)]
    net = nn.DataParallel(originals["Net"](len(questions) + 1, 2048, len(answers)))
    net.eval()
    checkpoint = os.path.join(work, "2017-08-04_00.55.19.pth")
    torch.save({'name': "full", 'tracker': {}, 'config': {}, 'weights': net.state_dict(), 'eval': {},
                'vocab': {"question": {w: i + 1 for i, w in enumerate(questions)},
                          "answer": {a: i for i, a in enumerate(answers)}}}, checkpoint)
    image = os.path.join(work, "image512.png")
    originals["noise_png"](image, 512, 12)
    x = originals["image_tensor"](image, 512, crop=448)
    ids = [1, 2, 3, 4, 5]
    q, q_len = torch.tensor([ids]), torch.tensor([len(ids)])

    def run(answer=None):
        v = resnet.maxpool(resnet.relu(resnet.bn1(resnet.conv1(x))))
        v = resnet.layer4(resnet.layer3(resnet.layer2(resnet.layer1(v))))
        logits, _ = net.module(v, q, q_len)
        return logits if answer is None else logits[0, answer]

    with torch.no_grad():
        top = [int(i) for i in run()[0].argsort(descending=True)[:3]]
    reference = torch.stack([originals["grad_cam"](resnet.layer4, lambda a=a: run(a)) for a in top]).detach().numpy()
    model, out = os.path.join(work, "vqa-full"), os.path.join(work, "vqa-full-explained")
    gradcam(binary, "import", "pytorch-vqa", "--checkpoint", checkpoint, "--backbone", backbone, "--backbone-layout", "caffe",
            "--out", model, "--force")
    gradcam(binary, "vqa", image, "--model", model, "--question", "what color is the circle?", "--top", "3",
            "--score", "logit", "--method", "gradcam", "--out", out, "--force", "--quiet")
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    ours = [t["id"] for t in manifest["tokens"]]
    rel = relative(np.load(os.path.join(out, "raw.npy")), reference)
    print(f"Caffe ResNet-152 pytorch-vqa: top answers {'identical' if ours == top else 'DIFFERENT'}, "
          f"per-answer raw Grad-CAM max rel diff {rel:.2e}")
    return ours == top and rel <= 2e-3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gradcam", default=os.path.join(ROOT, ".build/release/gradcam"))
    ap.add_argument("--work", help="keep the checkpoints and outputs here (default: a temporary folder)")
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="import-full-")
    os.makedirs(work, exist_ok=True)
    ok = check_captioner(args.gradcam, work) & check_vqa(args.gradcam, work)
    print("full-size import check:", "passed" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
