// Tiling refuses what a tile cannot carry.
// RUN: sparse-attn-opt %s --transform-interpreter --split-input-file --verify-diagnostics

func.func @tables(%q: tensor<1x2x64x16xf32>, %n: tensor<1x1x1xi32>, %i: tensor<1x1x1x1xi32>) -> tensor<1x2x64x16xf32> {
  %init = tensor.empty() : tensor<1x2x64x16xf32>
  // expected-note @+4 {{when applied to this op}}
  // expected-error @+3 {{cannot tile an op with runtime block tables: they describe the whole problem's tiles}}
  // expected-error @+2 {{faild to tile operation}}
  // expected-error @+1 {{failed to generate tiling loops}}
  %o = sparse_attn.attention %q, %q, %q block_tables(%n, %i : tensor<1x1x1xi32>, tensor<1x1x1x1xi32>) outs(%init : tensor<1x2x64x16xf32>) {pattern = #sparse_attn.dense, table_block = array<i64: 64, 64>} : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32> -> tensor<1x2x64x16xf32>
  return %o : tensor<1x2x64x16xf32>
}
module attributes {transform.with_named_sequence} {
  transform.named_sequence @__transform_main(%root: !transform.any_op {transform.readonly}) {
    %op = transform.structured.match ops{["sparse_attn.attention"]} in %root : (!transform.any_op) -> !transform.any_op
    // expected-error @+1 {{transform.structured.tile_using_forall failed to apply}}
    %t, %f = transform.structured.tile_using_forall %op tile_sizes [1, 1, 16] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    transform.yield
  }
}

// -----

func.func @keys_in_parallel(%q: tensor<1x2x64x16xf32>) -> tensor<1x2x64x16xf32> {
  %init = tensor.empty() : tensor<1x2x64x16xf32>
  // expected-warning @+5 {{tiling is not thread safe at axis #3}}
  // expected-note @+4 {{when applied to this op}}
  // expected-error @+3 {{keys are a reduction: tile them as a partial reduction (transform.structured.tile_reduction_using_for), not as parallel tiles}}
  // expected-error @+2 {{faild to tile operation}}
  // expected-error @+1 {{failed to generate tiling loops}}
  %o = sparse_attn.attention %q, %q, %q outs(%init : tensor<1x2x64x16xf32>) {pattern = #sparse_attn.causal} : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32> -> tensor<1x2x64x16xf32>
  return %o : tensor<1x2x64x16xf32>
}
module attributes {transform.with_named_sequence} {
  transform.named_sequence @__transform_main(%root: !transform.any_op {transform.readonly}) {
    %op = transform.structured.match ops{["sparse_attn.attention"]} in %root : (!transform.any_op) -> !transform.any_op
    // expected-error @+1 {{transform.structured.tile_using_forall failed to apply}}
    %t, %f = transform.structured.tile_using_forall %op tile_sizes [0, 0, 0, 16] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    transform.yield
  }
}
