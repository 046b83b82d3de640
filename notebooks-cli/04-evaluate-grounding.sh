#!/usr/bin/env bash
# Measure grounding on a fresh ShapesWorld split: does each word's map point at its object?
source "$(dirname "$0")/common.sh"
SEED="${SEED:-$RANDOM}"
COUNT=$([ "$QUICK" = 1 ] && echo 20 || echo 300)

say "A fresh test split ($COUNT scenes, seed $SEED) — scenes the models never saw."
run "$GRADCAM" shapes --out "$OUT/split" --count "$COUNT" --seed "$SEED" --split test --quiet

for model in shapes-captioner shapes-vqa shapes-classifier; do
  say "$model: task scores and grounding (pointing game, energy inside the mask, IoU at 15%) against baselines"
  run "$GRADCAM" eval "$MODELS/$model" --data "$OUT/split" --method gradcam,gradcam++ --chart "$OUT/$model.png"
  # Without --method, eval uses the model's explain_method (the captioner's: layercam).
  "$GRADCAM" eval "$MODELS/$model" --data "$OUT/split" --json --quiet > "$OUT/$model.json"
done
say "JSON in $OUT/*.json, bar charts in $OUT/*.png"
