#!/usr/bin/env bash
# Bring your own PyTorch model: a torchvision ResNet-18's state_dict as safetensors, a config.json,
# and gradcam explains it. Skips itself without PyTorch.
source "$(dirname "$0")/common.sh"
if ! python3 -c "import torch, torchvision, safetensors" 2>/dev/null; then
  say "skipped: PyTorch, torchvision or safetensors is not installed (pip install torch torchvision safetensors)"
  exit 0
fi

say "Export a torchvision ResNet-18 (random weights here; use your trained one) in three lines of Python."
python3 - "$OUT/resnet18" "$IMAGES/scene-1.png" <<'PY'
import json, os, sys
import torch, torchvision
from safetensors.torch import save_file
out, image = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)
model = torchvision.models.resnet18(num_classes=10).eval()
save_file(model.state_dict(), f"{out}/weights.safetensors")                      # 1. the weights
json.dump({"format": "gradcam-model/1", "task": "classification",                # 2. the config
           "input": {"width": 224, "height": 224, "resize": "stretch",
                     "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
           "backbone": {"arch": "resnet18"}, "explain_layer": "layer4"}, open(f"{out}/config.json", "w"))
open(f"{out}/classes.txt", "w").write("".join(f"class{i}\n" for i in range(10)))  # 3. the class names
PY
run "$GRADCAM" classify "$IMAGES/scene-1.png" --model "$OUT/resnet18" --top 3 --out "$OUT/explained"
say "Done: $OUT/explained/report.html"
