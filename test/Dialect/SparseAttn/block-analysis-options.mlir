// RUN: not sparse-attn-opt %s --sparse-attn-block-analysis="block-q=0" 2>&1 | FileCheck %s
// CHECK: sparse-attn-block-analysis: block-q and block-k must be positive, got 0 and 128
// RUN: not sparse-attn-opt %s --sparse-attn-block-analysis="max-tiles=-1" 2>&1 | FileCheck %s --check-prefix=NEG
// NEG: sparse-attn-block-analysis: max-tiles must be non-negative, got -1

// max-tiles: 8x8 scores in 2x2 tiles are 16 tiles; at most 15 leaves the op
// unclassified, 16 classifies it.
// RUN: sparse-attn-opt %s --sparse-attn-block-analysis="block-q=2 block-k=2 max-tiles=15" | FileCheck %s --check-prefix=SKIP
// SKIP-NOT: block_mask
// RUN: sparse-attn-opt %s --sparse-attn-block-analysis="block-q=2 block-k=2 max-tiles=16" | FileCheck %s --check-prefix=KEEP
// KEEP: block_mask = #sparse_attn.block_mask<block = [2, 2]
func.func @f(%q: tensor<1x1x8x8xf32>) -> tensor<1x1x8x8xf32> {
  %init0 = tensor.empty() : tensor<1x1x8x8xf32>
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x1x8x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32> -> tensor<1x1x8x8xf32>
  return %o : tensor<1x1x8x8xf32>
}
