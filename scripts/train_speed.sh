#!/usr/bin/env bash
# Training throughput at 1 and 2 threads (data parallel), measured in the same
# run: steps per second of the second epoch (the first also decodes every
# image) on a fresh 3 000-scene ShapesWorld split, for the captioner (list
# captions, the shipped recipe) and the VQA model. Release build; run on a quiet
# machine. About 3 minutes.
#
#   scripts/train_speed.sh            # or COUNT=6000 scripts/train_speed.sh
set -euo pipefail
cd "$(dirname "$0")/.."
gradcam=.build/release/gradcam
swift build -c release --product gradcam >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$gradcam" shapes --out "$work/data" --count "${COUNT:-3000}" --seed 77 >/dev/null 2>&1

# The progress bar's last "epoch 2/2: 100% …" line gives the rate of that epoch.
rate() {
    local task=$1 threads=$2; shift 2
    "$gradcam" train "$task" --data "$work/data" --out "$work/$task-$threads" --epochs 2 --seed 1 \
        --threads "$threads" "$@" 2>&1 | tr '\r' '\n' | grep 'epoch 2/2: 100%' | tail -1 \
        | grep -o '[0-9.]*/s' | tr -d '/s'
}
printf '%-10s %12s %12s %8s\n' task '1 thread' '2 threads' speedup
for task in captioner vqa; do
    extra=()
    [ "$task" = captioner ] && extra=(--caption-forms list)
    one=$(rate "$task" 1 "${extra[@]}")
    two=$(rate "$task" 2 "${extra[@]}")
    awk -v t="$task" -v a="$one" -v b="$two" 'BEGIN { printf "%-10s %10s/s %10s/s %7.2fx\n", t, a, b, b / a }'
done
