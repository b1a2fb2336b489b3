// RUN: sparse-attn-opt %s --convert-sparse-attn-to-linalg --split-input-file --verify-diagnostics

func.func @dynamic_heads(%q: tensor<1x?x8x4xf32>) -> tensor<1x?x8x4xf32> {
  %dc0_0_1 = arith.constant 1 : index
  %dd0_0_1 = tensor.dim %q, %dc0_0_1 : tensor<1x?x8x4xf32>
  %init0 = tensor.empty(%dd0_0_1) : tensor<1x?x8x4xf32>
  // expected-error @+1 {{the reference lowering needs static head counts and head dimensions}}
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x?x8x4xf32>) {pattern = #sparse_attn.causal} : tensor<1x?x8x4xf32>, tensor<1x?x8x4xf32>, tensor<1x?x8x4xf32> -> tensor<1x?x8x4xf32>
  return %o : tensor<1x?x8x4xf32>
}

// -----

!t = tensor<1x1x4294967296x64xf32>
func.func @huge_scores(%q: !t) -> !t {
  %init1 = tensor.empty() : !t
  // expected-error @+1 {{the reference lowering materialises the B x Hq x Sq x Sk scores, which do not fit a 64-bit size here}}
  %o = sparse_attn.attention %q, %q, %q outs(%init1 : !t) {pattern = #sparse_attn.causal} : !t, !t, !t -> !t
  return %o : !t
}

// -----

func.func @tables(%q: tensor<1x4x64x16xf32>, %n: tensor<1x1x4xi32>, %i: tensor<1x1x4x1xi32>) -> tensor<1x4x64x16xf32> {
  %init2 = tensor.empty() : tensor<1x4x64x16xf32>
  // expected-error @+1 {{the reference lowering does not take runtime block tables (sparse-attn-run --check compares with the float64 reference, which does)}}
  %o = sparse_attn.attention %q, %q, %q block_tables(%n, %i : tensor<1x1x4xi32>, tensor<1x1x4x1xi32>) outs(%init2 : tensor<1x4x64x16xf32>) {pattern = #sparse_attn.dense, table_block = array<i64: 16, 16>} : tensor<1x4x64x16xf32>, tensor<1x4x64x16xf32>, tensor<1x4x64x16xf32> -> tensor<1x4x64x16xf32>
  return %o : tensor<1x4x64x16xf32>
}

// -----

func.func @tile(%q: tensor<1x4x64x16xf32>, %i: index) -> tensor<1x4x64x16xf32> {
  %init = tensor.empty() : tensor<1x4x64x16xf32>
  // expected-error @+1 {{the reference lowering takes tiles (tile_of / at) with a constant problem Hq and head offset h0 (its key/value head map is an affine map); the fused CPU lowering runs the others}}
  %o = sparse_attn.attention %q, %q, %q tile_of(%i, %i, %i) at(%i, %i, %i, %i) outs(%init : tensor<1x4x64x16xf32>) {pattern = #sparse_attn.causal} : tensor<1x4x64x16xf32>, tensor<1x4x64x16xf32>, tensor<1x4x64x16xf32> -> tensor<1x4x64x16xf32>
  return %o : tensor<1x4x64x16xf32>
}

// -----

!q = tensor<1x2x64x16xf32>
!l = tensor<1x2x64xf32>
func.func @attention_grad(%q: !q, %o: !q, %lse: !l, %do: !q) -> !q {
  // expected-error @+1 {{'sparse_attn.attention_grad' op has no reference (linalg) lowering: the fused CPU pipeline lowers it, and sparse-attn-run --check compares it with the float64 gradient}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %q, %q, %o, %lse, %do {pattern = #sparse_attn.causal} : !q, !q, !q, !q, !l, !q -> !q, !q, !q
  return %dq : !q
}
