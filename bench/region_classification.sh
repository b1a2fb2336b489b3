#!/usr/bin/env bash
# Times the compile-time tile classification of masks written as
# `sparse_attn.mask` regions (issue #14), each beside the built-in pattern
# that means the same thing where there is one, as printed by
# `sparse-attn-inspect --format=blocks --time` (classification only).
# Writes a Markdown table to stdout.
#   bench/region_classification.sh [S...] > bench/results/region-classification-<date>.md
# Default sizes: 8192 32768 131072; tiles 128 x 128.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
inspect="${INSPECT:-$root/build/bin/sparse-attn-inspect}"
sizes=("$@")
[[ ${#sizes[@]} -eq 0 ]] && sizes=(8192 32768 131072)
T=128
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# name | pattern | mask body (arguments %b %h %q %k : index)
cases=(
"chunked causal (region, divui) |custom|%c = arith.constant 8192 : index
  %qc = arith.divui %q, %c : index
  %kc = arith.divui %k, %c : index
  %same = arith.cmpi eq, %qc, %kc : index
  %causal = arith.cmpi ule, %k, %q : index
  %ok = arith.andi %same, %causal : i1"
"chunked causal (built-ins) |#sparse_attn.intersect<[#sparse_attn.causal, #sparse_attn.fixed<stride = 8192, summary = 0>]>|"
"sliding window 1024 (region) |custom|%w = arith.constant 1023 : index
  %d = arith.subi %q, %k : index
  %c0 = arith.constant 0 : index
  %lo = arith.cmpi sge, %d, %c0 : index
  %hi = arith.cmpi sle, %d, %w : index
  %ok = arith.andi %lo, %hi : i1"
"sliding window 1024 (built-in) |#sparse_attn.window<before = 1023, after = 0>|"
"prefix 4096 (region, select) |custom|%p = arith.constant 4096 : index
  %in = arith.cmpi ult, %k, %p : index
  %causal = arith.cmpi ule, %k, %q : index
  %t = arith.constant true
  %ok = arith.select %in, %t, %causal : i1"
"prefix 4096 (built-in) |#sparse_attn.prefix<length = 4096>|"
"parity (q xor k) & 1 == 0 (element evaluation) |custom|%x = arith.xori %q, %k : index
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %a = arith.andi %x, %c1 : index
  %ok = arith.cmpi eq, %a, %c0 : index"
"always true, unprovable: ((q+k)&1) + ((q+k+1)&1) == 1 (every element) |custom|%s = arith.addi %q, %k : index
  %c1 = arith.constant 1 : index
  %a = arith.andi %s, %c1 : index
  %s1 = arith.addi %s, %c1 : index
  %b1 = arith.andi %s1, %c1 : index
  %n = arith.addi %a, %b1 : index
  %ok = arith.cmpi eq, %n, %c1 : index"
)

cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
echo "Machine: $(nproc) cores, $cpu. Date: $(date -u +%Y-%m-%d). Command: bench/region_classification.sh ${sizes[*]}"
echo
echo "| S | mask | tiles | F | P | classification (ms) |"
echo "|---:|---|---:|---:|---:|---:|"
for S in "${sizes[@]}"; do
  n=$(( (S + T - 1) / T ))
  for entry in "${cases[@]}"; do
    name="${entry%%|*}"; rest="${entry#*|}"
    pattern="${rest%%|*}"; body="${rest#*|}"
    f="$tmp/p.mlir"
    {
      if [[ "$pattern" == custom ]]; then
        pattern="#sparse_attn.custom<@m>"
        printf 'sparse_attn.mask @m(%%b: index, %%h: index, %%q: index, %%k: index) {\n  %s\n  sparse_attn.yield %%ok : i1\n}\n' "$body"
      fi
      cat <<MLIR
func.func @f(%q: tensor<1x1x${S}x64xbf16>) -> tensor<1x1x${S}x64xbf16> {
  %init = tensor.empty() : tensor<1x1x${S}x64xbf16>
  %o = sparse_attn.attention %q, %q, %q outs(%init : tensor<1x1x${S}x64xbf16>) {pattern = ${pattern}} : tensor<1x1x${S}x64xbf16>, tensor<1x1x${S}x64xbf16>, tensor<1x1x${S}x64xbf16> -> tensor<1x1x${S}x64xbf16>
  return %o : tensor<1x1x${S}x64xbf16>
}
MLIR
    } > "$f"
    if ! timeout "${LIMIT:-3600}" "$inspect" "$f" --format=blocks --block="${T}x${T}" --time > "$tmp/blocks.txt" 2> "$tmp/time.txt"; then
      echo "| $S | $name | $((n * n)) | | | > ${LIMIT:-3600} s or failed |"; continue
    fi
    ms=$(sed -n 's/classification time: \([0-9.]*\) ms/\1/p' "$tmp/time.txt")
    full=$(tr -cd 'F' < "$tmp/blocks.txt" | wc -c)
    part=$(tr -cd 'P' < "$tmp/blocks.txt" | wc -c)
    echo "| $S | $name | $((n * n)) | $full | $part | $ms |"
  done
done
