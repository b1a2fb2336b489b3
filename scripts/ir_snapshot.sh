#!/usr/bin/env bash
# Writes the generated code of a build for a byte-identity check of a
# mechanical change:
#   scripts/ir_snapshot.sh BUILD OUT
#   (build the old and the new tree, snapshot both, `diff -r OLD NEW`)
# OUT/cpu/<example>.<variant>.mlir: the LLVM dialect that
# --sparse-attn-to-llvm-cpu makes of every examples/*.mlir (f32, bf16, and
# the bf16-dot / AMX options); OUT/gpu: bench/gpu/make_artifacts.py's
# modules and artifacts (PTX included) for every configuration.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "$1" && pwd)"
out="$2"
mkdir -p "$out/cpu"
opt="$build/bin/sparse-attn-opt"
for f in "$root"/examples/*.mlir; do
  n="$(basename "$f" .mlir)"
  "$opt" "$f" --sparse-attn-to-llvm-cpu > "$out/cpu/$n.f32.mlir" 2>&1 || true
  sed 's/xf32>/xbf16>/g' "$f" > "$out/cpu/$n.bf16.in"
  for v in "" "bf16-dot=true" "amx=true"; do
    "$opt" "$out/cpu/$n.bf16.in" --sparse-attn-to-llvm-cpu="$v" \
      > "$out/cpu/$n.bf16.${v:-default}.mlir" 2>&1 || true
  done
  rm "$out/cpu/$n.bf16.in"
done
/usr/bin/python3 "$root/bench/gpu/make_artifacts.py" --build "$build" \
  --out "$out/gpu" all > "$out/gpu.log" 2>&1
echo "snapshot of $build in $out"
