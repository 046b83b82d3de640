#!/usr/bin/env bash
# Import checkpoints as two popular codebases save them — sgrvinod's Show, Attend and Tell tutorial
# (pickled encoder and decoder modules, a word map) and Cyanogenoid's pytorch-vqa (a dict of weights
# and vocabularies, plus the ResNet's own checkpoint) — and explain them. Random weights stand in for
# trained ones; the classes are the originals' (as Tests/ImportersTests/Fixtures/make_import_fixtures.py
# writes them). Skips itself without PyTorch. QUICK=1 uses a narrow ResNet-18; otherwise the
# tutorial's full ResNet-101 (a 180 MB checkpoint).
source "$(dirname "$0")/common.sh"
if ! python3 -c "import torch, torchvision, PIL" 2>/dev/null; then
  say "skipped: PyTorch, torchvision or Pillow is not installed (pip install torch torchvision pillow)"
  exit 0
fi

say "Save a Show, Attend and Tell checkpoint and a pytorch-vqa one the way their train.py files do."
python3 - "$OUT" "$ROOT" "$QUICK" <<'PY'
import json, runpy, sys
import torch, torch.nn as nn, torchvision
out, root, quick = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
originals = runpy.run_path(f"{root}/Tests/ImportersTests/Fixtures/make_import_fixtures.py", run_name="walkthrough")
torch.manual_seed(0)
resnet = originals["mf"].ResNet("resnet18", 8, 10) if quick else torchvision.models.resnet101(weights=None)
words = ["<pad>", "a", "red", "blue", "green", "circle", "square", "and", "<unk>", "<start>", "<end>"]
encoder = originals["Encoder"](resnet).eval()
decoder = originals["DecoderWithAttention"](attention_dim=64, embed_dim=32, decoder_dim=64, vocab_size=len(words),
                                            encoder_dim=64 if quick else 2048).eval()
torch.save({"epoch": 3, "epochs_since_improvement": 0, "bleu-4": 0.2, "encoder": encoder, "decoder": decoder,
            "encoder_optimizer": None, "decoder_optimizer": None}, f"{out}/BEST_checkpoint_demo.pth.tar")
json.dump({w: i for i, w in enumerate(words)}, open(f"{out}/WORDMAP_demo.json", "w"))

backbone = originals["mf"].ResNet("resnet18", 8, 10) if quick else torchvision.models.resnet152(weights=None)
torch.save(backbone.state_dict(), f"{out}/resnet-backbone.pth")
questions, answers = ["what", "color", "is", "the", "circle", "square"], ["red", "blue", "green", "yes", "no"]
net = nn.DataParallel(originals["Net"](len(questions) + 1, 64 if quick else 2048, len(answers)))
torch.save({"name": "demo", "tracker": {}, "config": {"output_size": 14}, "weights": net.state_dict(), "eval": {},
            "vocab": {"question": {w: i + 1 for i, w in enumerate(questions)},
                      "answer": {a: i for i, a in enumerate(answers)}}}, f"{out}/2017-08-04_00.55.19.pth")
PY
if [ "$QUICK" = 1 ]; then
  say "QUICK=1: the checkpoints hold a narrow ResNet-18 (the tutorial's is a ResNet-101, read the same way)."
fi

say "Import the captioner: no Python runs, nothing in the pickle is executed."
run "$GRADCAM" import show-attend-tell --checkpoint "$OUT/BEST_checkpoint_demo.pth.tar" \
    --word-map "$OUT/WORDMAP_demo.json" --out "$OUT/sat"
say "Its layers keep the tutorial's module paths, and --layer takes them."
run "$GRADCAM" layers "$OUT/sat" | grep -E "^encoder\.resnet\.[0-7] |adaptive_pool|\*"
run "$GRADCAM" caption "$IMAGES/scene-1.png" --model "$OUT/sat" --layer encoder.resnet.7 --beam 3 --max-length 6 \
    --out "$OUT/sat-explained"

say "Import the VQA model with the ResNet its features came from, then ask it something."
run "$GRADCAM" import pytorch-vqa --checkpoint "$OUT/2017-08-04_00.55.19.pth" --backbone "$OUT/resnet-backbone.pth" \
    --backbone-layout torchvision \
    --out "$OUT/vqa"
run "$GRADCAM" vqa "$IMAGES/scene-1.png" --model "$OUT/vqa" --question "what color is the circle?" --top 2

say "A pickle that would run a program under torch.load is refused, and nothing is written."
printf 'cos\nsystem\n(S%secho owned%s\ntR.' "'" "'" > "$OUT/hostile.pth.tar"
if "$GRADCAM" import show-attend-tell --checkpoint "$OUT/hostile.pth.tar" --word-map "$OUT/WORDMAP_demo.json" --out "$OUT/hostile"; then
  echo "the hostile checkpoint was imported" >&2; exit 1
fi
[ ! -e "$OUT/hostile" ]
say "Done: $OUT/sat-explained/report.html"
