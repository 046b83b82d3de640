#!/usr/bin/env bash
# The paper's section 6.3 on our world: a spurious cue that always comes with one shape.
# A classifier trained where every circle has a corner mark learns to look at the mark;
# one trained where the mark is random looks at the shape. Grad-CAM shows the difference.
source "$(dirname "$0")/common.sh"
COUNT=$([ "$QUICK" = 1 ] && echo 300 || echo 3000)
EPOCHS=$([ "$QUICK" = 1 ] && echo 2 || echo 6)

say "Biased training set: every image with a circle, and only those, has a checker mark in the corner."
run "$GRADCAM" shapes --out "$OUT/biased" --count "$COUNT" --seed 21 --bias circle --quiet
say "Control: the mark on a random half of the images, whatever their shapes."
run "$GRADCAM" shapes --out "$OUT/control" --count "$COUNT" --seed 21 --mark-at-random --quiet

say "Train a classifier on each ($EPOCHS epochs)."
run "$GRADCAM" train classifier --data "$OUT/biased" --out "$OUT/biased-model" --epochs "$EPOCHS" --quiet
run "$GRADCAM" train classifier --data "$OUT/control" --out "$OUT/control-model" --epochs "$EPOCHS" --quiet

say "A test split where the mark is random: the biased model's shortcut no longer works."
run "$GRADCAM" shapes --out "$OUT/test" --count 100 --seed 22 --split test --mark-at-random --quiet
for m in biased control; do
  say "$m model on the random-mark test split"
  run "$GRADCAM" eval "$OUT/$m-model" --data "$OUT/test"
done

say "Where does each model look when it says 'circle'? (an image with a circle and the mark)"
IMG=$(python3 - "$OUT/test" <<'PY' 2>/dev/null || ls "$OUT/test/images" | head -1
import json, sys
d = sys.argv[1]
labels = {i["id"]: i for i in json.load(open(d + "/labels.json"))["images"]}
caps = json.load(open(d + "/captions.json"))["images"]
for img in caps:
    if img.get("corner_mark") and labels[img["id"]]["label"] == "circle":
        print(img["file_name"]); break
PY
)
for m in biased control; do
  run "$GRADCAM" classify "$OUT/test/images/$(basename "$IMG")" --model "$OUT/$m-model" --class circle --out "$OUT/$m-circle"
done
say "Compare $OUT/biased-circle/report.html (the corner) with $OUT/control-circle/report.html (the circle)."
