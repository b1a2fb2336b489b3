// RUN: sparse-attn-opt %s --convert-sparse-attn-to-linalg --verify-diagnostics

func.func @dynamic_heads(%q: tensor<1x?x8x4xf32>) -> tensor<1x?x8x4xf32> {
  // expected-error @+1 {{the reference lowering needs static head counts and head dimensions}}
  %o = sparse_attn.attention %q, %q, %q {pattern = #sparse_attn.causal} : tensor<1x?x8x4xf32>, tensor<1x?x8x4xf32>, tensor<1x?x8x4xf32> -> tensor<1x?x8x4xf32>
  return %o : tensor<1x?x8x4xf32>
}
