// The GPU backward of a document mask (segments & causal), Sq = Sk = 256,
// tiles 64 x 64: every tile on or below the diagonal is partial (its
// documents are known only at run time). Each kernel gets a partial_flags
// table (1: the tile is full when its rows and columns share one segment)
// and, before its loops, classifies the row's partial tiles from the
// segment-id ranges and compacts the ones that run (skipped tiles are not
// copied) into a list after the tiles in shared memory.
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu | FileCheck %s

// By query block: (1, 0), (2, 0), (2, 1), (3, 0..2) are below the diagonal
// (flag 1), the diagonal tiles are not full within a segment (flag 0).
// CHECK-DAG: memref.global "private" constant @__sparse_attn_grad_by_query_partial_indices : memref<10xi32> = dense<[0, 0, 1, 0, 1, 2, 0, 1, 2, 3]>
// CHECK-DAG: memref.global "private" constant @__sparse_attn_grad_by_query_partial_flags : memref<10xi32> = dense<[0, 1, 0, 1, 1, 0, 1, 1, 1, 0]>
// By key block (the transpose): key block 0 is seen by query blocks 0..3.
// CHECK-DAG: memref.global "private" constant @__sparse_attn_grad_by_key_partial_indices : memref<10xi32> = dense<[0, 1, 2, 3, 1, 2, 3, 2, 3, 3]>
// CHECK-DAG: memref.global "private" constant @__sparse_attn_grad_by_key_partial_flags : memref<10xi32> = dense<[0, 1, 1, 1, 0, 1, 1, 0, 1, 0]>

// Shared memory: the tiles, then 4 list entries and the count (20 bytes).
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention_grad_query {{.*}} dynamic_shared_memory_size %c36884_i32
// CHECK-SAME: "query_segment_ids", "key_segment_ids", "delta", "grad_query"
// CHECK-SAME: "table:__sparse_attn_grad_by_query_partial_flags"
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention_grad_key {{.*}} dynamic_shared_memory_size %c56340_i32
// CHECK-SAME: "table:__sparse_attn_grad_by_key_partial_flags"

// CHECK-LABEL: gpu.func @sparse_attention_grad_query
// CHECK: %[[LIST:.*]] = memref.view %{{.*}}[%c36864][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<5xi32, #gpu.address_space<workgroup>>
// The rows' segment range (a warp-wide min / max), the classification of
// each partial tile (warp w: tiles w, w + 4, ...), the compaction by
// ballots, then the loops.
// CHECK: arith.minsi
// CHECK: arith.maxsi
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c4
// CHECK: memref.store %{{.*}}, %[[LIST]]
// CHECK: gpu.barrier
// CHECK: nvvm.vote.sync ballot
// CHECK: memref.store %{{.*}}, %[[LIST]][%c4]
// CHECK-LABEL: gpu.func @sparse_attention_grad_key
// CHECK: memref.view %{{.*}}[%c56320][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<5xi32, #gpu.address_space<workgroup>>
// CHECK: nvvm.vote.sync ballot

!q = tensor<1x2x256x64xbf16>
!l = tensor<1x2x256xf32>
!ids = tensor<1x256xi32>
func.func @grad(%q: !q, %k: !q, %v: !q, %o: !q, %lse: !l, %do: !q, %ids: !ids) -> (!q, !q, !q) {
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do segments(%ids, %ids : !ids, !ids) {pattern = #sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>} : !q, !q, !q, !q, !l, !q -> !q, !q, !q
  return %dq, %dk, %dv : !q, !q, !q
}
