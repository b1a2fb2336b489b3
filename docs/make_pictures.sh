#!/usr/bin/env bash
# Regenerates the pattern pictures of docs/patterns.md (64 x 64 masks, rows are
# queries, columns keys, dark = allowed) with sparse-attn-inspect.
#   docs/make_pictures.sh   (after scripts/build.sh)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
inspect="$root/build/bin/sparse-attn-inspect"
out="$root/docs/images"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
S=64
draw() { # name pattern [segment-lengths]
  local name="$1" pattern="$2" segs="" sig="" extra=()
  if [ $# -ge 3 ]; then
    segs=" segments(%s : tensor<1x${S}xi32>)"; sig=", %s: tensor<1x${S}xi32>"
    extra=(--segment-lengths="$3")
  fi
  cat > "$tmp/$name.mlir" <<MLIR
sparse_attn.mask @checker(%b: index, %h: index, %q: index, %k: index) {
  %c8 = arith.constant 8 : index
  %qb = arith.divsi %q, %c8 : index
  %kb = arith.divsi %k, %c8 : index
  %s = arith.addi %qb, %kb : index
  %c2 = arith.constant 2 : index
  %r = arith.remsi %s, %c2 : index
  %c0 = arith.constant 0 : index
  %ok = arith.cmpi eq, %r, %c0 : index
  sparse_attn.yield %ok : i1
}
func.func @f(%q: tensor<1x1x${S}x16xf32>${sig}) -> tensor<1x1x${S}x16xf32> {
  %init = tensor.empty() : tensor<1x1x${S}x16xf32>
  %o = sparse_attn.attention %q, %q, %q${segs} outs(%init : tensor<1x1x${S}x16xf32>) {pattern = ${pattern}} : tensor<1x1x${S}x16xf32>, tensor<1x1x${S}x16xf32>, tensor<1x1x${S}x16xf32> -> tensor<1x1x${S}x16xf32>
  return %o : tensor<1x1x${S}x16xf32>
}
MLIR
  "$inspect" "$tmp/$name.mlir" --format=png --scale=4 -o "$out/$name.png" "${extra[@]}"
}
draw dense "#sparse_attn.dense"
draw causal "#sparse_attn.causal"
draw window "#sparse_attn.window<before = 8, after = 4>"
draw dilated "#sparse_attn.dilated<before = 16, after = 16, dilation = 3>"
draw strided "#sparse_attn.strided<stride = 8>"
draw fixed "#sparse_attn.fixed<stride = 16, summary = 4>"
draw global "#sparse_attn.global<[0, 1, 40]>"
draw random "#sparse_attn.random<block = 8, per_row = 2, seed = 1>"
draw blocks "#sparse_attn.blocks<block = [16, 16], layout = dense<[[true, false, false, false], [true, true, false, false], [false, true, true, true], [true, false, false, true]]> : tensor<4x4xi1>>"
draw prefix "#sparse_attn.prefix<length = 20>"
draw segments "#sparse_attn.segments" "10,22,16,16"
draw custom "#sparse_attn.custom<@checker>"
draw bigbird "#sparse_attn.union<[#sparse_attn.window<before = 8, after = 8>, #sparse_attn.global<[0, 1]>, #sparse_attn.random<block = 8, per_row = 1, seed = 5>]>"
draw longformer "#sparse_attn.union<[#sparse_attn.window<before = 6, after = 6>, #sparse_attn.global<[0, 32]>]>"
draw causal_sliding "#sparse_attn.intersect<[#sparse_attn.causal, #sparse_attn.window<before = 12, after = 12>]>"
draw document_causal "#sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>" "10,22,16,16"
