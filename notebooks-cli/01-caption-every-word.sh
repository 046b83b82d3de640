#!/usr/bin/env bash
# Every word of a caption, explained: where does "red" look, where does "circle"?
source "$(dirname "$0")/common.sh"

say "Caption an image with the shipped ShapesWorld captioner (beam 3) and explain each word."
say "Each word's map is the gradient of its log-probability, given the image and the words before it,"
say "at the last convolutional layer — all words in one batched backward pass."
run "$GRADCAM" caption "$IMAGES/scene-1.png" --out "$OUT/per-word"

say "The same caption with one normalisation for all words: now maps compare in strength."
run "$GRADCAM" caption "$IMAGES/scene-1.png" --normalize sequence --out "$OUT/per-word-sequence" --quiet

say "Explain a caption you write yourself (teacher-forced): a wrong colour shows where the evidence is missing."
run "$GRADCAM" caption "$IMAGES/scene-1.png" --caption "a large blue circle" --out "$OUT/given"

say "Three beam hypotheses, each explained (OUT/beam-0, beam-1, beam-2)."
run "$GRADCAM" caption "$IMAGES/scene-2.png" --beam 3 --nbest 3 --out "$OUT/beams" --quiet
ls "$OUT/beams"

say "Open $OUT/per-word/report.html: click a word to see its map."
