#!/usr/bin/env bash
# Ask a question and see where the answer is grounded; then ask "why not blue?".
source "$(dirname "$0")/common.sh"

say "The shipped VQA model answers; LayerCAM (its explain_method) shows the evidence for the top answer, and the sheet, below it, where each of its four glimpses looked."
run "$GRADCAM" vqa "$IMAGES/scene-1.png" --question "what color is the circle?" --out "$OUT/answer"

say "The three most probable answers, each explained."
run "$GRADCAM" vqa "$IMAGES/scene-1.png" --question "how many shapes are there?" --top 3 --out "$OUT/top3"

say "A counterfactual (the paper's section 5): negated gradients show what speaks AGAINST an answer."
say "Why not blue? The map lights up where the evidence contradicts 'blue'."
run "$GRADCAM" vqa "$IMAGES/scene-1.png" --question "what color is the circle?" --answer blue --counterfactual --out "$OUT/why-not-blue"

say "Reports: $OUT/answer/report.html, $OUT/why-not-blue/report.html"
