// One case per diagnostic of convert-sparse-attn-grad-to-loops.
// RUN: sparse-attn-opt %s --convert-sparse-attn-grad-to-loops --split-input-file --verify-diagnostics
// RUN: not sparse-attn-opt %s --split-input-file --convert-sparse-attn-grad-to-loops="block-q=0" 2>&1 | FileCheck %s --check-prefix=BLOCK
// BLOCK: error: convert-sparse-attn-grad-to-loops: block-q and block-k must be between 1 and 65536

func.func @dynamic_head_dim(%q: tensor<1x1x8x?xf32>, %lse: tensor<1x1x8xf32>) -> tensor<1x1x8x?xf32> {
  // expected-error @+1 {{'sparse_attn.attention_grad' op the CPU backward needs static head dimensions D and Dv}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %q, %q, %q, %lse, %q {pattern = #sparse_attn.causal} : tensor<1x1x8x?xf32>, tensor<1x1x8x?xf32>, tensor<1x1x8x?xf32>, tensor<1x1x8x?xf32>, tensor<1x1x8xf32>, tensor<1x1x8x?xf32> -> tensor<1x1x8x?xf32>, tensor<1x1x8x?xf32>, tensor<1x1x8x?xf32>
  return %dq : tensor<1x1x8x?xf32>
}

// -----

func.func @huge_head_dim(%q: tensor<1x1x8x2048xf32>, %lse: tensor<1x1x8xf32>) -> tensor<1x1x8x2048xf32> {
  // expected-error @+1 {{'sparse_attn.attention_grad' op the CPU backward supports head dimensions D and Dv up to 1024, got D = 2048, Dv = 2048}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %q, %q, %q, %lse, %q {pattern = #sparse_attn.causal} : tensor<1x1x8x2048xf32>, tensor<1x1x8x2048xf32>, tensor<1x1x8x2048xf32>, tensor<1x1x8x2048xf32>, tensor<1x1x8xf32>, tensor<1x1x8x2048xf32> -> tensor<1x1x8x2048xf32>, tensor<1x1x8x2048xf32>, tensor<1x1x8x2048xf32>
  return %dq : tensor<1x1x8x2048xf32>
}

// -----

sparse_attn.score_mod @atan(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  // expected-error @+1 {{'math.atan' op cannot be differentiated with respect to the score}}
  %r = math.atan %s : f32
  sparse_attn.yield %r : f32
}
func.func @not_differentiable(%q: tensor<1x1x8x4xf32>, %lse: tensor<1x1x8xf32>) -> tensor<1x1x8x4xf32> {
  // expected-error @+1 {{'sparse_attn.attention_grad' op needs the derivative of score_mod @atan with respect to the score}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %q, %q, %q, %lse, %q {pattern = #sparse_attn.causal, score_mod = @atan} : tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32>, tensor<1x1x8xf32>, tensor<1x1x8x4xf32> -> tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32>
  return %dq : tensor<1x1x8x4xf32>
}
