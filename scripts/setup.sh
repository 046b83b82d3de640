#!/usr/bin/env bash
# Installs the Debian packages gradcam needs, when they are missing: the native
# libraries (zlib for the served zip), chromium for the browser tests of report.html and
# `gradcam serve`'s page, curl and wrk for the server's tests and load test.
set -euo pipefail
packages=(libopenblas-dev libjpeg-dev libutf8proc-dev libpng-dev zlib1g-dev pkg-config chromium curl wrk)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
