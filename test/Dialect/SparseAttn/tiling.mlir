// sparse_attn.attention through its TilingInterface: upstream's
// tile_using_forall makes tiles of (batch, query head, query row) that are
// the same op on slices, marked as tiles of the problem.
// RUN: sparse-attn-opt %s --transform-interpreter --split-input-file --canonicalize | FileCheck %s

// Query, destinations and query segment ids are sliced; keys, values and
// key segment ids keep every head and key; the tile names the problem
// (Hq = 4, Sq = 100, Sk = 90) and its offsets; a block_mask is dropped.
// CHECK-LABEL: func.func @tile
// CHECK-DAG:   %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG:   %[[C4:.*]] = arith.constant 4 : index
// CHECK-DAG:   %[[C100:.*]] = arith.constant 100 : index
// CHECK-DAG:   %[[C90:.*]] = arith.constant 90 : index
// CHECK:       scf.forall (%[[B:.*]], %[[H:.*]], %[[Q:.*]]) in (2, 2, 4) shared_outs(%[[O:.*]] = %{{.*}}, %[[L:.*]] = %{{.*}})
// CHECK:         %[[H0:.*]] = affine.apply #{{.*}}(%[[H]])
// CHECK:         %[[Q0:.*]] = affine.apply #{{.*}}(%[[Q]])
// CHECK:         %[[QS:.*]] = tensor.extract_slice %arg0[%[[B]], %[[H0]], %[[Q0]], 0] [1, %{{.*}}, %{{.*}}, 16]
// CHECK:         %[[KS:.*]] = tensor.extract_slice %arg1[%[[B]], 0, 0, 0] [1, 2, 90, 16]
// CHECK:         %[[VS:.*]] = tensor.extract_slice %arg2[%[[B]], 0, 0, 0] [1, 2, 90, 8]
// CHECK:         %[[QIDS:.*]] = tensor.extract_slice %arg3[%[[B]], %[[Q0]]] [1, %{{.*}}]
// CHECK:         %[[KIDS:.*]] = tensor.extract_slice %arg4[%[[B]], 0] [1, 90]
// CHECK:         %[[OS:.*]] = tensor.extract_slice %[[O]][%[[B]], %[[H0]], %[[Q0]], 0]
// CHECK:         %[[LS:.*]] = tensor.extract_slice %[[L]][%[[B]], %[[H0]], %[[Q0]]]
// CHECK:         sparse_attn.attention %[[QS]], %[[KS]], %[[VS]] segments(%[[QIDS]], %[[KIDS]] : tensor<1x?xi32>, tensor<1x90xi32>)
// CHECK-SAME:      tile_of(%[[C4]], %[[C100]], %[[C90]]) at(%[[B]], %[[H0]], %[[Q0]], %[[C0]])
// CHECK-SAME:      outs(%[[OS]], %[[LS]] : tensor<1x?x?x8xf32>, tensor<1x?x?xf32>)
// CHECK-NOT:       block_mask
// CHECK-SAME:      pattern = #sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.window<before = 20, after = 5>]>, scale = 2.500000e-01 : f32
// CHECK:         scf.forall.in_parallel
// CHECK:           tensor.parallel_insert_slice
// CHECK:           tensor.parallel_insert_slice
func.func @tile(%q: tensor<2x4x100x16xf32>, %k: tensor<2x2x90x16xf32>, %v: tensor<2x2x90x8xf32>,
                %qids: tensor<2x100xi32>, %kids: tensor<2x90xi32>) -> (tensor<2x4x100x8xf32>, tensor<2x4x100xf32>) {
  %oi = tensor.empty() : tensor<2x4x100x8xf32>
  %li = tensor.empty() : tensor<2x4x100xf32>
  %o, %l = sparse_attn.attention %q, %k, %v segments(%qids, %kids : tensor<2x100xi32>, tensor<2x90xi32>)
      outs(%oi, %li : tensor<2x4x100x8xf32>, tensor<2x4x100xf32>)
      {pattern = #sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.window<before = 20, after = 5>]>, scale = 0.25 : f32,
       block_mask = #sparse_attn.block_mask<block = [64, 64], num_k_blocks = 2, partial_offsets = [0, 2, 4], partial_indices = [0, 1, 0, 1], full_offsets = [0, 0, 0], full_indices = []>}
      : tensor<2x4x100x16xf32>, tensor<2x2x90x16xf32>, tensor<2x2x90x8xf32> -> tensor<2x4x100x8xf32>, tensor<2x4x100xf32>
  return %o, %l : tensor<2x4x100x8xf32>, tensor<2x4x100xf32>
}
module attributes {transform.with_named_sequence} {
  transform.named_sequence @__transform_main(%root: !transform.any_op {transform.readonly}) {
    %op = transform.structured.match ops{["sparse_attn.attention"]} in %root : (!transform.any_op) -> !transform.any_op
    %t, %f = transform.structured.tile_using_forall %op tile_sizes [1, 3, 32] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    transform.yield
  }
}

// -----

// A tile of a tile: the offsets add up, the problem stays the first op's;
// one segment operand (self-attention ids) becomes query and key ids.
// CHECK-LABEL: func.func @tile_of_tile
// CHECK:       scf.forall (%[[Q1:.*]]) in (4)
// CHECK:         %[[OUTER:.*]] = affine.apply #{{.*}}(%[[Q1]])
// CHECK:         scf.forall (%[[Q2:.*]]) in (4)
// CHECK:           %[[INNER:.*]] = affine.apply #{{.*}}(%[[Q2]])
// CHECK:           %[[SUM:.*]] = affine.apply #{{.*}}(%[[Q1]], %[[Q2]])
// CHECK:           sparse_attn.attention {{.*}} segments(%{{.*}}, %{{.*}} : tensor<1x16xi32>, tensor<1x256xi32>) tile_of(%{{.*}}, %{{.*}}, %{{.*}}) at(%{{.*}}, %{{.*}}, %[[SUM]], %{{.*}})
func.func @tile_of_tile(%q: tensor<1x1x256x16xf32>, %ids: tensor<1x256xi32>) -> tensor<1x1x256x16xf32> {
  %oi = tensor.empty() : tensor<1x1x256x16xf32>
  %o = sparse_attn.attention %q, %q, %q segments(%ids : tensor<1x256xi32>) outs(%oi : tensor<1x1x256x16xf32>)
      {pattern = #sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>}
      : tensor<1x1x256x16xf32>, tensor<1x1x256x16xf32>, tensor<1x1x256x16xf32> -> tensor<1x1x256x16xf32>
  return %o : tensor<1x1x256x16xf32>
}
module attributes {transform.with_named_sequence} {
  transform.named_sequence @__transform_main(%root: !transform.any_op {transform.readonly}) {
    %op = transform.structured.match ops{["sparse_attn.attention"]} in %root : (!transform.any_op) -> !transform.any_op
    %t, %f = transform.structured.tile_using_forall %op tile_sizes [0, 0, 64] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %t2, %f2 = transform.structured.tile_using_forall %t tile_sizes [0, 0, 16] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    transform.yield
  }
}

// -----

// Keys as a partial reduction (PartialReductionOpInterface): the empty
// softmax state, an scf.for over key tiles whose step is an
// online_attention at the tile's key offset, and the merge that normalises
// the state into the op's destinations.
// CHECK-LABEL: func.func @keys
// CHECK-DAG:   %[[C32:.*]] = arith.constant 32 : index
// CHECK-DAG:   %[[C90:.*]] = arith.constant 90 : index
// CHECK:       %[[ACC:.*]] = linalg.fill {{.*}} -> tensor<2x4x100x8xf32>
// CHECK:       %[[MAX:.*]] = linalg.fill ins(%{{.*}} : f32) {{.*}} -> tensor<2x4x100xf32>
// CHECK:       %[[SUM:.*]] = linalg.fill {{.*}} -> tensor<2x4x100xf32>
// CHECK:       %[[S:.*]]:3 = scf.for %[[K0:.*]] = %{{.*}} to %[[C90]] step %[[C32]] iter_args(%[[A:.*]] = %[[ACC]], %[[M:.*]] = %[[MAX]], %[[L:.*]] = %[[SUM]])
// CHECK:         %[[KS:.*]] = tensor.extract_slice %arg1[0, 0, %[[K0]], 0]
// CHECK:         %[[VS:.*]] = tensor.extract_slice %arg2[0, 0, %[[K0]], 0]
// CHECK:         sparse_attn.online_attention %arg0, %[[KS]], %[[VS]] tile_of(%{{.*}}, %{{.*}}, %[[C90]]) at(%{{.*}}, %{{.*}}, %{{.*}}, %[[K0]]) outs(%[[A]], %[[M]], %[[L]] :
// CHECK:         scf.yield
// CHECK:       linalg.generic {{.*}} ins(%[[S]]#0, %[[S]]#2 : {{.*}}) outs(%{{.*}} : tensor<2x4x100x8xf32>)
// CHECK:         arith.divf
// CHECK:       linalg.generic {{.*}} ins(%[[S]]#1, %[[S]]#2 : {{.*}}) outs(%{{.*}} : tensor<2x4x100xf32>)
// CHECK:         math.log
func.func @keys(%q: tensor<2x4x100x16xf32>, %k: tensor<2x2x90x16xf32>, %v: tensor<2x2x90x8xf32>) -> (tensor<2x4x100x8xf32>, tensor<2x4x100xf32>) {
  %oi = tensor.empty() : tensor<2x4x100x8xf32>
  %li = tensor.empty() : tensor<2x4x100xf32>
  %o, %l = sparse_attn.attention %q, %k, %v outs(%oi, %li : tensor<2x4x100x8xf32>, tensor<2x4x100xf32>)
      {pattern = #sparse_attn.window<before = 20, after = 5>}
      : tensor<2x4x100x16xf32>, tensor<2x2x90x16xf32>, tensor<2x2x90x8xf32> -> tensor<2x4x100x8xf32>, tensor<2x4x100xf32>
  return %o, %l : tensor<2x4x100x8xf32>, tensor<2x4x100xf32>
}
module attributes {transform.with_named_sequence} {
  transform.named_sequence @__transform_main(%root: !transform.any_op {transform.readonly}) {
    %op = transform.structured.match ops{["sparse_attn.attention"]} in %root : (!transform.any_op) -> !transform.any_op
    %fill:3, %split, %merge, %loop = transform.structured.tile_reduction_using_for %op by tile_sizes = [0, 0, 0, 32]
      : (!transform.any_op) -> (!transform.any_op, !transform.any_op, !transform.any_op, !transform.any_op, !transform.any_op, !transform.any_op)
    transform.yield
  }
}
