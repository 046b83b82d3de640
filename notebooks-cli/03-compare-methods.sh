#!/usr/bin/env bash
# One image, one caption, every explanation method side by side.
source "$(dirname "$0")/common.sh"

for method in gradcam gradcam++ hirescam layercam xgradcam eigencam scorecam guided-backprop guided-gradcam; do
  say "$method"
  run "$GRADCAM" caption "$IMAGES/scene-3.png" --method "$method" --out "$OUT/$method" --quiet
done
say "Contact sheets: $OUT/*/sheet.png"
ls "$OUT"
