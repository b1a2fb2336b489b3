// RUN: sparse-attn-opt %s --convert-sparse-attn-to-loops --split-input-file | FileCheck %s

// Dynamic table shapes: the kernel indexes counts and indices with the
// counts' sizes, so it checks at run time what the verifier could not see
// (a mismatch would read out of bounds): counts and indices agree on
// [B', H', Mq], B' is 1 or B, H' is 1, Hkv or Hq.
// CHECK-LABEL: func.func @dynamic_tables
// CHECK-DAG: cf.assert %{{.*}}, "sparse_attn.attention: block_tables counts and indices disagree on [B', H', Mq]"
// CHECK-DAG: cf.assert %{{.*}}, "sparse_attn.attention: block_tables: B' must be 1 or B"
// CHECK-DAG: cf.assert %{{.*}}, "sparse_attn.attention: block_tables: H' must be 1, Hkv or Hq"
// CHECK-DAG: cf.assert %{{.*}}, "sparse_attn.attention: full_tables counts and indices disagree on [B', H', Mq]"
func.func @dynamic_tables(%q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>,
                          %v: tensor<?x2x?x16xf32>,
                          %n: tensor<?x?x?xi32>, %i: tensor<?x?x?x?xi32>,
                          %fn: tensor<?x?x?xi32>, %fi: tensor<?x?x?x?xi32>)
    -> tensor<?x4x?x16xf32> {
  %dc0_0_0 = arith.constant 0 : index
  %dd0_0_0 = tensor.dim %q, %dc0_0_0 : tensor<?x4x?x16xf32>
  %dc0_0_2 = arith.constant 2 : index
  %dd0_0_2 = tensor.dim %q, %dc0_0_2 : tensor<?x4x?x16xf32>
  %init0 = tensor.empty(%dd0_0_0, %dd0_0_2) : tensor<?x4x?x16xf32>
  %o = sparse_attn.attention %q, %k, %v
      block_tables(%n, %i : tensor<?x?x?xi32>, tensor<?x?x?x?xi32>)
      full_tables(%fn, %fi : tensor<?x?x?xi32>, tensor<?x?x?x?xi32>)
      outs(%init0 : tensor<?x4x?x16xf32>) {pattern = #sparse_attn.causal, table_block = array<i64: 16, 16>}
      : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
      -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

// Static table shapes: the verifier proved them; no check is emitted.
// CHECK-LABEL: func.func @static_tables
// CHECK-NOT: cf.assert
func.func @static_tables(%q: tensor<1x4x32x16xf32>, %k: tensor<1x2x32x16xf32>,
                         %v: tensor<1x2x32x16xf32>,
                         %n: tensor<1x2x2xi32>, %i: tensor<1x2x2x2xi32>)
    -> tensor<1x4x32x16xf32> {
  %init1 = tensor.empty() : tensor<1x4x32x16xf32>
  %o = sparse_attn.attention %q, %k, %v
      block_tables(%n, %i : tensor<1x2x2xi32>, tensor<1x2x2x2xi32>)
      outs(%init1 : tensor<1x4x32x16xf32>) {pattern = #sparse_attn.dense, table_block = array<i64: 16, 16>}
      : tensor<1x4x32x16xf32>, tensor<1x2x32x16xf32>, tensor<1x2x32x16xf32>
      -> tensor<1x4x32x16xf32>
  return %o : tensor<1x4x32x16xf32>
}
