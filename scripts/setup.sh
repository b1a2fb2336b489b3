#!/usr/bin/env bash
# Fresh Debian 12 -> installed dependencies, a build, and the default example:
# the BigBird-style pattern of examples/bigbird.mlir, shown by
# sparse-attn-inspect (summary and tile map) and analysed by sparse-attn-opt.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/install-deps.sh
scripts/build.sh
example="${1:-examples/bigbird.mlir}"
echo
echo "== sparse-attn-inspect $example"
build/bin/sparse-attn-inspect "$example" --block=64x64
echo
echo "== tile map (64x64 tiles: F full, P partial, . empty)"
build/bin/sparse-attn-inspect "$example" --format=blocks --block=64x64
echo
echo "== sparse-attn-opt --canonicalize --sparse-attn-block-analysis $example"
build/bin/sparse-attn-opt "$example" --canonicalize \
  --sparse-attn-block-analysis="block-q=64 block-k=64"
