#!/usr/bin/env bash
# CPU cost of score modifications (issue #14): causal attention, f32, with
# no score_mod, a multiply, and tanh soft-capping (30 tanh(s / 30)), timed by
# `sparse-attn-run --bench` (all cores). With RUN_BEFORE=path/to/old/sparse-attn-run
# the same modules also run on that binary, interleaved, for a before/after
# table. Writes a Markdown table to stdout.
#   bench/score_mods_cpu.sh [S] [D] [H] > bench/results/score-mods-<date>.md
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
run="${RUN:-$root/build/bin/sparse-attn-run}"
S="${1:-4096}"; D="${2:-64}"; H="${3:-4}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
T="tensor<1x${H}x${S}x${D}xf32>"
for mod in none mul softcap; do
  {
    case $mod in
      mul) printf 'sparse_attn.score_mod @sm(%%s: f32, %%b: index, %%h: index, %%q: index, %%k: index) {\n  %%c = arith.constant 0.5 : f32\n  %%r = arith.mulf %%s, %%c : f32\n  sparse_attn.yield %%r : f32\n}\n' ;;
      softcap) printf 'sparse_attn.score_mod @sm(%%s: f32, %%b: index, %%h: index, %%q: index, %%k: index) {\n  %%inv = arith.constant 0.0333333351 : f32\n  %%cap = arith.constant 30.0 : f32\n  %%x = arith.mulf %%s, %%inv : f32\n  %%t = math.tanh %%x : f32\n  %%r = arith.mulf %%t, %%cap : f32\n  sparse_attn.yield %%r : f32\n}\n' ;;
    esac
    attr=""; [[ $mod != none ]] && attr=", score_mod = @sm"
    printf 'func.func @f(%%q: %s, %%k: %s, %%v: %s) -> %s {\n  %%init = tensor.empty() : %s\n  %%o = sparse_attn.attention %%q, %%k, %%v outs(%%init : %s) {pattern = #sparse_attn.causal%s} : %s, %s, %s -> %s\n  return %%o : %s\n}\n' "$T" "$T" "$T" "$T" "$T" "$T" "$attr" "$T" "$T" "$T" "$T" "$T"
  } > "$tmp/$mod.mlir"
done
ms() { "$1" "$2" --bench=5 --warmup=2 | sed -n 's/.*"median_ms": \([0-9.]*\).*/\1/p'; }
cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
echo "Machine: $(nproc) cores, $cpu. Date: $(date -u +%Y-%m-%d). Command: ${RUN_BEFORE:+RUN_BEFORE=$RUN_BEFORE }bench/score_mods_cpu.sh $S $D $H (causal, B = 1, H = $H, S = $S, D = $D, f32, median of 5 after 2 warm-up calls)"
echo
if [[ -n "${RUN_BEFORE:-}" ]]; then
  echo "| score_mod | before (ms) | after (ms) | before / none | after / none |"
  echo "|---|---:|---:|---:|---:|"
  declare -A b a
  for mod in none mul softcap; do
    b[$mod]=$(ms "$RUN_BEFORE" "$tmp/$mod.mlir"); a[$mod]=$(ms "$run" "$tmp/$mod.mlir")
  done
  for mod in none mul softcap; do
    echo "| $mod | ${b[$mod]} | ${a[$mod]} | $(python3 -c "print('%.2f' % (${b[$mod]}/${b[none]}))") | $(python3 -c "print('%.2f' % (${a[$mod]}/${a[none]}))") |"
  done
else
  echo "| score_mod | time (ms) | / none |"
  echo "|---|---:|---:|"
  declare -A a
  for mod in none mul softcap; do a[$mod]=$(ms "$run" "$tmp/$mod.mlir"); done
  for mod in none mul softcap; do
    echo "| $mod | ${a[$mod]} | $(python3 -c "print('%.2f' % (${a[$mod]}/${a[none]}))") |"
  done
fi
