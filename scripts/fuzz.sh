#!/usr/bin/env bash
# Builds the libFuzzer harnesses of Fuzz/ with the address sanitizer and runs
# each for FUZZ_SECONDS (default 20) from its seed corpus in Fuzz/corpus/NAME.
# Fails when any harness finds a crash, a sanitizer report, a timeout or an
# out-of-memory; the input that did it is saved as out/fuzz/crashes/NAME-*.
# Every crash found becomes a regression test in the crashing module's
# <Module>RegressionTests.swift before the fix lands.
#
#   scripts/fuzz.sh                      all harnesses, 20 s each
#   FUZZ_SECONDS=300 scripts/fuzz.sh fuzz-png fuzz-jpeg
#   SWIFT_BACKTRACE=enable=no Fuzz/.build/debug/fuzz-png out/fuzz/crashes/fuzz-png-crash-…
#                                        replay one input
#
# New inputs found go to out/fuzz/corpus/NAME (not committed); copy the small,
# interesting ones into Fuzz/corpus/NAME to keep them as seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-20}"
all=(fuzz-jpeg fuzz-png fuzz-safetensors fuzz-config fuzz-tokenizer fuzz-coco fuzz-vqa fuzz-torch)
if [ $# -gt 0 ]; then harnesses=("$@"); else harnesses=("${all[@]}"); fi

# Debug builds: the fuzzer's coverage is clearest without optimisation. SwiftPM's --sanitize
# flags reach swiftc as two separate -sanitize= options, of which it keeps only
# the last (address): the Swift code would get no coverage counters and the
# fuzzer would run blind. The -Xswiftc and -Xcc flags give every Swift and C
# file both; --sanitize fuzzer still tells SwiftPM that libFuzzer supplies main.
start=$(date +%s)
mkdir -p out/fuzz/crashes
if ! swift build --package-path Fuzz --scratch-path Fuzz/.build -c debug \
    --sanitize fuzzer --sanitize address \
    -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address >out/fuzz/build.log 2>&1; then
  tail -n 40 out/fuzz/build.log
  echo "fuzz: the harnesses did not build"
  exit 1
fi
echo "fuzz: built ${#harnesses[@]} harnesses in $(( $(date +%s) - start )) s"
# A harness whose Swift code carries no coverage counters would fuzz blind.
hex=$(objdump -h "Fuzz/.build/debug/${harnesses[0]}" | awk '$2 == "__sancov_cntrs" { print $3 }')
counters=$((16#${hex:-0}))
if [ "$counters" -lt 5000 ]; then
  echo "fuzz: ${harnesses[0]} has $counters coverage counters; its Swift code was not instrumented"
  exit 1
fi

failed=()
for h in "${harnesses[@]}"; do
  corpus="out/fuzz/corpus/$h"
  mkdir -p "$corpus"
  log="out/fuzz/$h.log"
  # -rss_limit_mb: a decoder that allocates gigabytes for a small file is a bug too.
  # -detect_leaks=0: Foundation's Data(contentsOf:) in Swift 6.3 leaks a 4 KB
  # read buffer on every call (reproduced outside this project), which would
  # stop the dataset harnesses at once; leaks are not what these runs look for.
  # SWIFT_BACKTRACE=enable=no: Swift's own crash backtracer, reading the crashed
  # process's memory, trips ASan and buries the real report.
  if SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}" "Fuzz/.build/debug/$h" "$corpus" "Fuzz/corpus/$h" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -detect_leaks=0 -artifact_prefix="out/fuzz/crashes/$h-" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz: $h: $runs executions in ${seconds} s, no crash"
  else
    echo "fuzz: $h FAILED; the input is in out/fuzz/crashes/; the end of its log:"
    tail -n 40 "$log"
    failed+=("$h")
  fi
  # The dataset harnesses write each input to a file in a folder of their own.
  rm -rf /dev/shm/gradcam-"$h"-* "${TMPDIR:-/tmp}"/gradcam-"$h"-*
done
echo "fuzz: total $(( $(date +%s) - start )) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]}"
  exit 1
fi
