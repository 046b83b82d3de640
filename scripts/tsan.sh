#!/usr/bin/env bash
# Runs the concurrency tests under Thread Sanitizer: several images explained at
# once from several threads (Tests/ExplainTests/ConcurrencyTests.swift), the
# export's overlays painted on several threads (ExportTests), data-parallel
# training (TrainingTests: shares of a batch and Adam on two threads) and large
# products split between threads (BLASTests). Not part of CI:
# a TSan build of the package takes minutes; run it after changing the engine,
# the Explain module or anything that shares state between threads.
#
#   scripts/tsan.sh                         the default filter below
#   scripts/tsan.sh 'ConcurrencyTests'      any `swift test --filter` pattern
#
# OpenBLAS is not instrumented, but it always runs on one thread: large
# products are split between our own threads (BLAS.gemm), which TSan sees
# (BLASTests); no race was reported on Swift 6.3.1.
set -euo pipefail
cd "$(dirname "$0")/.."
filter="${1:-ConcurrencyTests|ExportTests|TrainingTests|BLASTests}"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:${TSAN_OPTIONS:-}"
swift build --scratch-path .build-tsan --build-tests --sanitize thread
swift test --scratch-path .build-tsan --skip-build --sanitize thread --filter "$filter"
echo "tsan: no data race reported"
