# Shared by the walkthroughs: where gradcam is, where outputs go, how to narrate.
# GRADCAM may point at a built binary; by default the release build, else the debug one.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${GRADCAM:-}" ]; then
  if [ -x "$ROOT/.build/release/gradcam" ]; then GRADCAM="$ROOT/.build/release/gradcam"
  elif [ -x "$ROOT/.build/debug/gradcam" ]; then GRADCAM="$ROOT/.build/debug/gradcam"
  else echo "build gradcam first: make build" >&2; exit 1; fi
fi
OUT="${OUT:-$ROOT/out/notebooks/$(basename "$0" .sh)}"
IMAGES="$ROOT/notebooks-cli/images"
MODELS="$ROOT/Models"
# QUICK=1 (as CI runs them) makes the long steps small.
QUICK="${QUICK:-0}"
rm -rf "$OUT"
mkdir -p "$OUT"

# Bold headings on a terminal only, and never with NO_COLOR.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  say() { printf '\n\033[1m# %s\033[0m\n' "$*"; }
else
  say() { printf '\n# %s\n' "$*"; }
fi
run() { printf '$ %s\n' "$*"; "$@"; }
