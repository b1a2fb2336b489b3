// RUN: not sparse-attn-opt %s --convert-sparse-attn-to-loops="block-q=0" 2>&1 | FileCheck %s
// RUN: not sparse-attn-opt %s --convert-sparse-attn-to-loops="block-k=1000000" 2>&1 | FileCheck %s
// CHECK: convert-sparse-attn-to-loops: block-q and block-k must be between 1 and 65536
func.func @f(%q: tensor<1x1x8x8xf32>) -> tensor<1x1x8x8xf32> {
  %init0 = tensor.empty() : tensor<1x1x8x8xf32>
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x1x8x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32> -> tensor<1x1x8x8xf32>
  return %o : tensor<1x1x8x8xf32>
}
