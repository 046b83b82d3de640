#!/usr/bin/env bash
# Runs the concurrency tests under Thread Sanitizer: several images explained at
# once from several threads (Tests/ExplainTests/ConcurrencyTests.swift), the
# export's overlays painted on several threads (ExportTests), and data-parallel
# training (TrainingTests: shares of a batch and Adam on two threads). Not part of CI:
# a TSan build of the package takes minutes; run it after changing the engine,
# the Explain module or anything that shares state between threads.
#
#   scripts/tsan.sh                         the default filter below
#   scripts/tsan.sh 'ConcurrencyTests'      any `swift test --filter` pattern
#
# OpenBLAS is not instrumented: its worker threads hand results back through
# spin-waits TSan cannot see. No race was reported with 1 or 2 OpenBLAS threads
# on Swift 6.3.1 / OpenBLAS 0.3.21 (and ConcurrencyTests sets 1 and 2 itself);
# should a report ever show only libopenblas frames, rerun with
# OPENBLAS_NUM_THREADS=1 to tell such a false report from a real race.
set -euo pipefail
cd "$(dirname "$0")/.."
filter="${1:-ConcurrencyTests|ExportTests|TrainingTests}"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:${TSAN_OPTIONS:-}"
swift build --scratch-path .build-tsan --build-tests --sanitize thread
swift test --scratch-path .build-tsan --skip-build --sanitize thread --filter "$filter"
echo "tsan: no data race reported"
