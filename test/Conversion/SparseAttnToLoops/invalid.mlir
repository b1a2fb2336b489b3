// RUN: sparse-attn-opt %s --convert-sparse-attn-to-loops --split-input-file --verify-diagnostics

func.func @dynamic_head_dim(%q: tensor<1x1x8x?xf32>) -> tensor<1x1x8x?xf32> {
  // expected-error @+1 {{the fused CPU lowering needs static head dimensions D and Dv}}
  %o = sparse_attn.attention %q, %q, %q {pattern = #sparse_attn.causal} : tensor<1x1x8x?xf32>, tensor<1x1x8x?xf32>, tensor<1x1x8x?xf32> -> tensor<1x1x8x?xf32>
  return %o : tensor<1x1x8x?xf32>
}

// -----

func.func @dynamic_random(%q: tensor<1x1x?x8xf32>) -> tensor<1x1x?x8xf32> {
  // expected-error @+1 {{#sparse_attn.random needs static sequence lengths to build its block table}}
  %o = sparse_attn.attention %q, %q, %q {pattern = #sparse_attn.union<[#sparse_attn.causal, #sparse_attn.random<block = 4, per_row = 1, seed = 0>]>} : tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32> -> tensor<1x1x?x8xf32>
  return %o : tensor<1x1x?x8xf32>
}

// -----

// Head dimensions are limited (issue 13, defect 4: D = 2^31 ran out of
// memory, D = 32768 took 45 s).
func.func @huge_d(%q: tensor<1x1x64x2048xf32>) -> tensor<1x1x64x2048xf32> {
  // expected-error @+1 {{the fused CPU lowering supports head dimensions D and Dv up to 1024, got D = 2048, Dv = 2048}}
  %o = sparse_attn.attention %q, %q, %q {pattern = #sparse_attn.causal} : tensor<1x1x64x2048xf32>, tensor<1x1x64x2048xf32>, tensor<1x1x64x2048xf32> -> tensor<1x1x64x2048xf32>
  return %o : tensor<1x1x64x2048xf32>
}
