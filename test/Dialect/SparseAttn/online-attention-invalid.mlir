// What the decomposition of sparse_attn.online_attention refuses.
// RUN: sparse-attn-opt %s --split-input-file --verify-diagnostics --sparse-attn-decompose-online-attention

func.func @dynamic_heads(%q: tensor<1x?x16x8xf32>, %acc: tensor<1x?x16x8xf32>, %m: tensor<1x?x16xf32>) -> tensor<1x?x16x8xf32> {
  // expected-error @+1 {{decomposition needs static head counts and head dimensions}}
  %a, %mm, %l = sparse_attn.online_attention %q, %q, %q outs(%acc, %m, %m : tensor<1x?x16x8xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) {pattern = #sparse_attn.causal} : tensor<1x?x16x8xf32>, tensor<1x?x16x8xf32>, tensor<1x?x16x8xf32> -> tensor<1x?x16x8xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>
  return %a : tensor<1x?x16x8xf32>
}

// -----

func.func @head_offset(%q: tensor<1x2x16x8xf32>, %acc: tensor<1x2x16x8xf32>, %m: tensor<1x2x16xf32>, %h0: index) -> tensor<1x2x16x8xf32> {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %c16 = arith.constant 16 : index
  // expected-error @+1 {{decomposition of a tile needs a constant problem Hq and head offset h0 (the key/value head map is an affine map)}}
  %a, %mm, %l = sparse_attn.online_attention %q, %q, %q tile_of(%c4, %c16, %c16) at(%c0, %h0, %c0, %c0) outs(%acc, %m, %m : tensor<1x2x16x8xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>) {pattern = #sparse_attn.causal} : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>
  return %a : tensor<1x2x16x8xf32>
}
