#!/usr/bin/env bash
# Builds the kernels bench/host_cpu_peers.py compares (fp32, 1 x 8 x 4096 x 64)
# into .artifacts/host-cpu/, with the OpenMP runtime they need, for a machine
# without LLVM: then run there
#   LD_LIBRARY_PATH=.artifacts/host-cpu python3 bench/host_cpu_peers.py .artifacts/host-cpu
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/.artifacts/host-cpu"
mkdir -p "$out"
t="tensor<1x8x4096x64xf32>"
for c in "dense|#sparse_attn.dense" "causal|#sparse_attn.causal" \
         "sliding256|#sparse_attn.window<before = 255, after = 0>" \
         "sliding1024|#sparse_attn.window<before = 1023, after = 0>"; do
  n=${c%%|*}; p=${c#*|}
  printf 'func.func @attention(%%q: %s, %%k: %s, %%v: %s) -> %s {\n  %%init = tensor.empty() : %s\n  %%o = sparse_attn.attention %%q, %%k, %%v outs(%%init : %s) {pattern = %s} : %s, %s, %s -> %s\n  return %%o : %s\n}\n' \
    "$t" "$t" "$t" "$t" "$t" "$t" "$p" "$t" "$t" "$t" "$t" "$t" > "$out/$n.mlir"
  "$root/build/bin/sparse-attn-compile" "$out/$n.mlir" -o "$out/lib$n.so" \
    --num-threads 0 --mcpu=x86-64-v4
done
cp /usr/lib/llvm-22/lib/libomp.so.5 "$out/"
