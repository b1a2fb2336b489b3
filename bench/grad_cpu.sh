#!/usr/bin/env bash
# The CPU backward (issue #16) against the CPU forward of the same shapes:
# sparse_attn.attention (with LSE) and sparse_attn.attention_grad, each
# alone in a module, timed by `sparse-attn-run --bench` (all cores), for
# dense, causal, a causal sliding window of 1024 and 8 causal documents.
# Effective GFLOP/s count the allowed pairs only: forward 4 D per pair,
# backward 2.5x that (the convention of FlashAttention and FlexAttention).
# Writes a Markdown table to stdout.
#   bench/grad_cpu.sh [S] [B H D] [dtype] > bench/results/grad-cpu-<date>.md
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
run="${RUN:-$root/build/bin/sparse-attn-run}"
S="${1:-4096}"; B="${2:-1}"; H="${3:-8}"; D="${4:-64}"; T="${5:-f32}"
RUNS="${RUNS:-3}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 - "$tmp" "$S" "$B" "$H" "$D" "$T" <<'PY'
import sys
tmp, T = sys.argv[1], sys.argv[6]
S, B, H, D = map(int, sys.argv[2:6])
q = f"tensor<{B}x{H}x{S}x{D}x{T}>"
l = f"tensor<{B}x{H}x{S}xf32>"
ids = f"tensor<{B}x{S}xi32>"
patterns = {
    "dense": ("#sparse_attn.dense", False, S * S),
    "causal": ("#sparse_attn.causal", False, S * (S + 1) // 2),
    "sliding1024": ("#sparse_attn.window<before = 1023, after = 0>", False,
                    sum(min(i + 1, 1024) for i in range(S))),
    "document8": ("#sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>", True,
                  8 * ((S // 8) * (S // 8 + 1) // 2)),
}
with open(tmp + "/pairs", "w") as f:
    for name, (p, seg, pairs) in patterns.items():
        f.write(f"{name} {pairs}\n")
        sa = f", %ids: {ids}" if seg else ""
        so = f" segments(%ids : {ids})" if seg else ""
        open(f"{tmp}/{name}.fwd.mlir", "w").write(f"""func.func @fwd(%q: {q}, %k: {q}, %v: {q}{sa}) -> ({q}, {l}) {{
  %i0 = tensor.empty() : {q}
  %i1 = tensor.empty() : {l}
  %o, %lse = sparse_attn.attention %q, %k, %v{so} outs(%i0, %i1 : {q}, {l}) {{pattern = {p}}} : {q}, {q}, {q} -> {q}, {l}
  return %o, %lse : {q}, {l}
}}
""")
        open(f"{tmp}/{name}.bwd.mlir", "w").write(f"""func.func @bwd(%q: {q}, %k: {q}, %v: {q}, %o: {q}, %lse: {l}, %do: {q}{sa}) -> ({q}, {q}, {q}) {{
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do{so} {{pattern = {p}}} : {q}, {q}, {q}, {q}, {l}, {q} -> {q}, {q}, {q}
  return %dq, %dk, %dv : {q}, {q}, {q}
}}
""")
import numpy as np
np.save(tmp + "/ids.npy",
        np.repeat(np.arange(8, dtype=np.int32), S // 8)[None, :].repeat(B, 0))
PY
ms() { "$run" "$@" --bench="$RUNS" --warmup=1 | sed -n 's/.*"median_ms": \([0-9.]*\).*/\1/p'; }
cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
echo "Machine: $(nproc) cores, $cpu. Date: $(date -u +%Y-%m-%d). Command: bench/grad_cpu.sh $S $B $H $D $T (B = $B, H = $H, S = $S, D = $D, $T; median of $RUNS calls after 1 warm-up)"
echo
echo "| pattern | forward (ms) | backward (ms) | backward / forward | forward GFLOP/s | backward GFLOP/s |"
echo "|---|---:|---:|---:|---:|---:|"
while read -r name pairs; do
  extra=()
  # Inputs the generator cannot make: segment ids (8 equal documents).
  if [ "$name" = document8 ]; then
    /usr/bin/python3 - "$tmp" "$S" "$B" "$H" "$D" <<'PY'
import sys, numpy as np
tmp, S, B, H, D = sys.argv[1], *map(int, sys.argv[2:])
r = np.random.default_rng(0)
for n in ("q", "k", "v", "o", "do"):
    np.save(f"{tmp}/{n}.npy", r.standard_normal((B, H, S, D)).astype(np.float32))
np.save(f"{tmp}/lse.npy", np.full((B, H, S), 3.0, np.float32))
PY
    f=$(ms "$tmp/$name.fwd.mlir" --input "$tmp/q.npy" --input "$tmp/k.npy" --input "$tmp/v.npy" --input "$tmp/ids.npy")
    b=$(ms "$tmp/$name.bwd.mlir" --input "$tmp/q.npy" --input "$tmp/k.npy" --input "$tmp/v.npy" --input "$tmp/o.npy" --input "$tmp/lse.npy" --input "$tmp/do.npy" --input "$tmp/ids.npy")
  else
    f=$(ms "$tmp/$name.fwd.mlir"); b=$(ms "$tmp/$name.bwd.mlir")
  fi
  /usr/bin/python3 -c "
f, b, p, B, H, D = $f, $b, $pairs, $B, $H, $D
fl = 4.0 * D * p * B * H
print('| $name | %.1f | %.1f | %.2f | %.1f | %.1f |' % (f, b, b / f, fl / f / 1e6, 2.5 * fl / b / 1e6))"
done < "$tmp/pairs"
