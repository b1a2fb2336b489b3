// RUN: sparse-attn-opt %s --convert-sparse-attn-to-loops --split-input-file --verify-diagnostics

func.func @dynamic_head_dim(%q: tensor<1x1x8x?xf32>) -> tensor<1x1x8x?xf32> {
  %dc0_0_3 = arith.constant 3 : index
  %dd0_0_3 = tensor.dim %q, %dc0_0_3 : tensor<1x1x8x?xf32>
  %init0 = tensor.empty(%dd0_0_3) : tensor<1x1x8x?xf32>
  // expected-error @+1 {{the fused CPU lowering needs static head dimensions D and Dv}}
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x1x8x?xf32>) {pattern = #sparse_attn.causal} : tensor<1x1x8x?xf32>, tensor<1x1x8x?xf32>, tensor<1x1x8x?xf32> -> tensor<1x1x8x?xf32>
  return %o : tensor<1x1x8x?xf32>
}

// -----

func.func @dynamic_random(%q: tensor<1x1x?x8xf32>) -> tensor<1x1x?x8xf32> {
  %dc1_0_2 = arith.constant 2 : index
  %dd1_0_2 = tensor.dim %q, %dc1_0_2 : tensor<1x1x?x8xf32>
  %init1 = tensor.empty(%dd1_0_2) : tensor<1x1x?x8xf32>
  // expected-error @+1 {{#sparse_attn.random needs static sequence lengths to build its block table}}
  %o = sparse_attn.attention %q, %q, %q outs(%init1 : tensor<1x1x?x8xf32>) {pattern = #sparse_attn.union<[#sparse_attn.causal, #sparse_attn.random<block = 4, per_row = 1, seed = 0>]>} : tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32> -> tensor<1x1x?x8xf32>
  return %o : tensor<1x1x?x8xf32>
}

// -----

// Head dimensions are limited (issue 13, defect 4: D = 2^31 ran out of
// memory, D = 32768 took 45 s).
func.func @huge_d(%q: tensor<1x1x64x2048xf32>) -> tensor<1x1x64x2048xf32> {
  %init2 = tensor.empty() : tensor<1x1x64x2048xf32>
  // expected-error @+1 {{the fused CPU lowering supports head dimensions D and Dv up to 1024, got D = 2048, Dv = 2048}}
  %o = sparse_attn.attention %q, %q, %q outs(%init2 : tensor<1x1x64x2048xf32>) {pattern = #sparse_attn.causal} : tensor<1x1x64x2048xf32>, tensor<1x1x64x2048xf32>, tensor<1x1x64x2048xf32> -> tensor<1x1x64x2048xf32>
  return %o : tensor<1x1x64x2048xf32>
}
