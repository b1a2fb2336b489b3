// RUN: sparse-attn-opt %s --convert-sparse-attn-routing-to-loops --canonicalize --cse | FileCheck %s

// Causal over Sq = Sk = 100 in 32 x 32 blocks: the compile-time classes
// (0 empty, 1 partial, 2 full) of the 4 x 4 grid, row-major.
// CHECK-DAG: memref.global "private" constant @[[CAUSAL:__sparse_attn_select_kinds.*]] : memref<16xi8> = dense<[1, 0, 0, 0, 2, 1, 0, 0, 2, 2, 1, 0, 2, 2, 2, 1]>
// Dense: every block full.
// CHECK-DAG: memref.global "private" constant @[[DENSE:__sparse_attn_select_kinds.*]] : memref<16xi8> = dense<2>
// CHECK-LABEL: func.func @per_kv_head
// CHECK:       %[[KINDS:.*]] = memref.get_global @[[CAUSAL]]
// One iteration per (batch, KV head, query block).
// CHECK:       scf.parallel (%[[B:.*]], %[[HP:.*]], %[[I:.*]]) = (%c0, %c0, %c0) to (%{{.*}}, %c2, %c4)
// The block-mean queries of the group's 2 query heads, summed.
// CHECK:         %[[H0:.*]] = arith.muli %[[HP]], %c2 : index
// CHECK:         %[[QSUM:.*]] = scf.for %{{.*}} = %c0 to %c2 {{.*}} -> (vector<16xf32>)
// CHECK:           scf.for {{.*}} -> (vector<16xf32>)
// CHECK:           arith.divf
// Scores of the candidates only; NaN counts as -inf.
// CHECK:         scf.for %[[J:.*]] = %c0 to %c4
// CHECK:           memref.load %[[KINDS]]
// CHECK:           scf.if %{{.*}} -> (f32)
// CHECK:             arith.mulf %[[QSUM]]
// CHECK:             vector.reduction <add>
// CHECK:             arith.cmpf uno
// Sink: block 0 if it is a candidate; local: the last candidate, scanning down.
// CHECK:         memref.store %c1_i8, %{{.*}}[%c0]
// CHECK:         arith.subi %c3
// CHECK:         arith.cmpi ult, %{{.*}}, %c1
// Top-1 by arg-max, strictly greater (ties to the lower index).
// CHECK:         scf.for {{.*}} iter_args(%{{.*}} = %cst, %{{.*}} = %c-1) -> (f32, index)
// CHECK:           arith.cmpf ogt
// Selected blocks in order: full ones to full_indices, the others to kv_indices.
// CHECK:         arith.cmpi eq, %{{.*}}, %c2_i8
// CHECK:         memref.store {{.*}} : memref<?x2x4x3xi32>
// CHECK:         memref.store {{.*}} : memref<?x2x4x3xi32>
// CHECK:         memref.store {{.*}} : memref<?x2x4xi32>
// CHECK:         memref.store {{.*}} : memref<?x2x4xi32>
// The rest of each row is 0.
// CHECK:         scf.for
// CHECK:           memref.store %c0_i32
func.func @per_kv_head(%q: tensor<?x4x100x16xf16>, %kp: tensor<?x2x4x16xf16>)
    -> (tensor<?x2x4xi32>, tensor<?x2x4x3xi32>, tensor<?x2x4xi32>, tensor<?x2x4x3xi32>) {
  %c100 = arith.constant 100 : index
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp key_length(%c100)
      {pattern = #sparse_attn.causal, top_k = 1, sink = 1, local = 1, table_block = array<i64: 32, 32>}
      : tensor<?x4x100x16xf16>, tensor<?x2x4x16xf16>
      -> tensor<?x2x4xi32>, tensor<?x2x4x3xi32>, tensor<?x2x4xi32>, tensor<?x2x4x3xi32>
  return %n, %x, %fn, %fx : tensor<?x2x4xi32>, tensor<?x2x4x3xi32>, tensor<?x2x4xi32>, tensor<?x2x4x3xi32>
}

// Per query head: query head h reads pooled keys of KV head h / 2; one head
// per row (no loop over a group).
// CHECK-LABEL: func.func @per_query_head
// CHECK:       memref.get_global @[[DENSE]]
// CHECK:       scf.parallel (%[[HP:.*]], %{{.*}}) = (%c0, %c0) to (%c4, %c4)
// CHECK:         %[[G:.*]] = arith.divui %[[HP]], %c2 : index
// CHECK:         vector.load %{{.*}}[%c0, %[[G]], %{{.*}}, %c0] : memref<1x2x4x16xf32>
func.func @per_query_head(%q: tensor<1x4x128x16xf32>, %kp: tensor<1x2x4x16xf32>) -> tensor<1x4x4x2xi32> {
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp
      {pattern = #sparse_attn.dense, top_k = 2, table_block = array<i64: 32, 32>}
      : tensor<1x4x128x16xf32>, tensor<1x2x4x16xf32>
      -> tensor<1x4x4xi32>, tensor<1x4x4x2xi32>, tensor<1x4x4xi32>, tensor<1x4x4x2xi32>
  return %fx : tensor<1x4x4x2xi32>
}
