#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite
# (lit regression tests, the brute-force pattern check and the unit tests)
# on the Release build, then again on the AddressSanitizer +
# UndefinedBehaviorSanitizer build with the fuzz targets' smoke runs
# (scripts/sanitize.sh). SPARSE_ATTN_SKIP_SANITIZE=1 skips the second part
# (for quick local iterations; CI runs both).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/install-deps.sh
scripts/build.sh
ninja -C build check-sparse-attn
if [ "${SPARSE_ATTN_SKIP_SANITIZE:-0}" != 1 ]; then
  scripts/sanitize.sh
fi
