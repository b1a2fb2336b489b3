#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite
# (lit regression tests, the brute-force pattern check and the unit tests).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/install-deps.sh
scripts/build.sh
ninja -C build check-sparse-attn
