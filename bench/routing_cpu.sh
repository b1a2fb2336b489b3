#!/usr/bin/env bash
# The routing layer of issue #15 on the CPU: mean-pooled keys, top-k key
# blocks per query block and KV head (scores summed over the group), the
# diagonal block forced, causal attention through the selected blocks --
# one module, timed whole and without the attention (routing alone) --
# against dense causal attention of the same shapes, by
# `sparse-attn-run --bench` (all cores). Writes a Markdown table to stdout.
#   bench/routing_cpu.sh [S] [top_k] [B H Hkv D] > bench/results/routing-cpu-<date>.md
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
run="${RUN:-$root/build/bin/sparse-attn-run}"
S="${1:-32768}"; K="${2:-16}"; B="${3:-1}"; H="${4:-16}"; HKV="${5:-2}"; D="${6:-128}"
RUNS="${RUNS:-3}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$root"
/usr/bin/python3 - "$tmp" "$S" "$K" "$B" "$H" "$HKV" "$D" <<'PY'
import sys
sys.path.insert(0, "bench/gpu")
import routing
tmp, S, K, B, H, HKV, D = sys.argv[1], *map(int, sys.argv[2:])
c = routing.base("cpu", S, B=B, H=H, Hkv=HKV, D=D, top_k=K)
text = routing.select_module(c)
open(tmp + "/select.mlir", "w").write(text)
open(tmp + "/routing.mlir", "w").write(routing.select_module(c, attention=False))
q = "tensor<%dx%dx%dx%dxbf16>" % (B, H, S, D)
kv = "tensor<%dx%dx%dx%dxbf16>" % (B, HKV, S, D)
open(tmp + "/causal.mlir", "w").write(
    "func.func @causal(%%q: %s, %%k: %s, %%v: %s) -> %s {\n  %%init = tensor.empty() : %s\n"
    "  %%o = sparse_attn.attention %%q, %%k, %%v outs(%%init : %s) {pattern = #sparse_attn.causal}\n"
    "      : %s, %s, %s -> %s\n  return %%o : %s\n}\n" % (q, kv, kv, q, q, q, q, kv, kv, q, q))
PY
ms() { "$run" "$1" --bench="$RUNS" --warmup=1 | sed -n 's/.*"median_ms": \([0-9.]*\).*/\1/p'; }
cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
echo "Machine: $(nproc) cores, $cpu. Date: $(date -u +%Y-%m-%d). Command: bench/routing_cpu.sh $S $K $B $H $HKV $D (bf16, B = $B, Hq = $H, Hkv = $HKV, S = $S, D = $D, top-$K of 128-key blocks per 128-row query block and KV head plus the diagonal block, causal; median of $RUNS after 1 warm-up call)"
echo
r=$(ms "$tmp/routing.mlir"); s=$(ms "$tmp/select.mlir"); c=$(ms "$tmp/causal.mlir")
echo "| program | time (ms) | dense causal / this |"
echo "|---|---:|---:|"
echo "| routing alone (pool + select_blocks) | $r | |"
echo "| routing + attention over the selected blocks | $s | $(/usr/bin/python3 -c "print('%.2f' % ($c/$s))") |"
echo "| dense causal attention | $c | 1.00 |"
