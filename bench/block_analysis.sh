#!/usr/bin/env bash
# Times the analytical tile classification at S = 131072 with 128 x 128 tiles
# (1024 x 1024 = 1,048,576 tiles) for each built-in pattern, as printed by
# `sparse-attn-inspect --format=blocks --time` (classification only, not the
# printing). Writes a Markdown table to stdout.
#   bench/block_analysis.sh [S] [TILE] > bench/results/block-analysis-<date>.md
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
inspect="$root/build/bin/sparse-attn-inspect"
S="${1:-131072}"
T="${2:-128}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
docs=$(python3 -c "print(','.join([str($S // 8)] * 8))")
n=$(( (S + T - 1) / T ))

patterns=(
  "dense|#sparse_attn.dense"
  "causal|#sparse_attn.causal"
  "sliding window 1024|#sparse_attn.window<before = 1023, after = 0>"
  "dilated 512, 2|#sparse_attn.dilated<before = 512, after = 512, dilation = 2>"
  "strided 362|#sparse_attn.strided<stride = 362>"
  "fixed 128, 16 + causal|#sparse_attn.intersect<[#sparse_attn.causal, #sparse_attn.fixed<stride = 128, summary = 16>]>"
  "global (16 tokens)|#sparse_attn.global<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]>"
  "random 128, 3|#sparse_attn.random<block = 128, per_row = 3, seed = 1>"
  "blocks (splat layout)|#sparse_attn.blocks<block = [128, 128], layout = dense<true> : tensor<${n}x${n}xi1>>"
  "prefix 4096|#sparse_attn.prefix<length = 4096>"
  "BigBird (window 3 blocks + 2 global + 3 random)|#sparse_attn.union<[#sparse_attn.window<before = 192, after = 192>, #sparse_attn.global<[0, 1]>, #sparse_attn.random<block = 128, per_row = 3, seed = 0>]>"
  "Longformer (window 256 + 8 global)|#sparse_attn.union<[#sparse_attn.window<before = 256, after = 256>, #sparse_attn.global<[0, 1, 2, 3, 4, 5, 6, 7]>]>"
  "document, 8 docs (ids known)|#sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>"
)

echo "| pattern | tiles | non-empty tiles | classification time (ms) |"
echo "|---|---:|---:|---:|"
for entry in "${patterns[@]}"; do
  name="${entry%%|*}"
  pattern="${entry#*|}"
  segs="" sig="" extra=()
  if [[ "$pattern" == *segments* ]]; then
    segs=" segments(%s : tensor<1x${S}xi32>)"
    sig=", %s: tensor<1x${S}xi32>"
    extra=(--segment-lengths="$docs")
  fi
  f="$tmp/p.mlir"
  cat > "$f" <<MLIR
func.func @f(%q: tensor<1x1x${S}x64xbf16>${sig}) -> tensor<1x1x${S}x64xbf16> {
  %init = tensor.empty() : tensor<1x1x${S}x64xbf16>
  %o = sparse_attn.attention %q, %q, %q${segs} outs(%init : tensor<1x1x${S}x64xbf16>) {pattern = ${pattern}} : tensor<1x1x${S}x64xbf16>, tensor<1x1x${S}x64xbf16>, tensor<1x1x${S}x64xbf16> -> tensor<1x1x${S}x64xbf16>
  return %o : tensor<1x1x${S}x64xbf16>
}
MLIR
  "$inspect" "$f" --format=blocks --block="${T}x${T}" --time "${extra[@]}" > "$tmp/blocks.txt" 2> "$tmp/time.txt"
  ms=$(sed -n 's/classification time: \([0-9.]*\) ms/\1/p' "$tmp/time.txt")
  nonempty=$(tr -cd 'FP' < "$tmp/blocks.txt" | wc -c)
  echo "| $name | $((n * n)) | $nonempty | $ms |"
done
