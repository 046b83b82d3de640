"""Writes a shipped model's MODEL_CARD.md from `gradcam eval --json` results.

    python3 scripts/model_card.py MODEL_DIR TITLE TRAINING_MD test.json heldout.json [METHODS]
TRAINING_MD is a Markdown file describing the data and the exact training commands; METHODS
the `--method` list the results were measured with (default gradcam,gradcam++).
"""
import json
import sys

model_dir, title, training, test, heldout = sys.argv[1:6]
methods = sys.argv[6] if len(sys.argv) > 6 else "gradcam,gradcam++"
config = json.load(open(f"{model_dir}/config.json"))
results = [("test", json.load(open(test))), ("test-heldout", json.load(open(heldout)))]
lines = [f"# {title}", "", open(training).read().strip(), "", "## Architecture", "",
         "```json", json.dumps(config, indent=2), "```", "", "## Measured scores", "",
         f"Measured with `gradcam eval MODEL --data SPLIT --method {methods} --json` on 500 scenes of",
         "each split (`test`: the training distribution; `test-heldout`: colour–shape combinations never",
         "seen in training). Scores are fractions in [0, 1].", ""]
keys = sorted(results[0][1]["scores"])
lines += ["| score | " + " | ".join(s for s, _ in results) + " |", "|---|" + "---:|" * len(results)]
for k in keys:
    lines.append(f"| {k} | " + " | ".join(f"{r['scores'].get(k, 0):.3f}" for _, r in results) + " |")
lines += ["", "Grounding (pointing game / energy inside the mask / IoU at 15% of the maximum; tokens counted):", "",
          "| method | " + " | ".join(s for s, _ in results) + " |", "|---|" + "---|" * len(results)]
for name in sorted(results[0][1]["grounding"], key=lambda n: (n.endswith("baseline"), n)):
    cells = []
    for _, r in results:
        g = r["grounding"].get(name)
        cells.append(f"{g['pointing_game']:.3f} / {g['energy']:.3f} / {g['iou']:.3f} ({g['count']})" if g else "-")
    lines.append(f"| {name} | " + " | ".join(cells) + " |")
if all("grounding_by_kind" in r for _, r in results):
    shown = [n for n in sorted(results[0][1]["grounding"], key=lambda n: (n.endswith("baseline"), n))
             if n != "random-baseline"]
    # VQA's count answers are read by energy (the counted objects are not one point).
    metrics = [("pointing_game", "Pointing game"), ("energy", "Energy inside the mask")] \
        if config["task"] == "vqa" else [("pointing_game", "Pointing game")]
    for metric, title in metrics:
        lines += ["", f"{title} per kind of token (`grounding_by_kind`: {' / '.join(shown)};",
                  "tokens counted):", "",
                  "| kind | " + " | ".join(s for s, _ in results) + " |", "|---|" + "---|" * len(results)]
        for kind in sorted(set().union(*(r["grounding_by_kind"] for _, r in results))):
            cells = []
            for _, r in results:
                g = r["grounding_by_kind"].get(kind, {})
                points = " / ".join(f"{g[m][metric]:.3f}" if m in g else "-" for m in shown)
                cells.append(f"{points} ({g[shown[0]]['count']})" if shown[0] in g else "-")
            lines.append(f"| {kind} | " + " | ".join(cells) + " |")
open(f"{model_dir}/MODEL_CARD.md", "w").write("\n".join(lines) + "\n")
print("wrote", f"{model_dir}/MODEL_CARD.md")
