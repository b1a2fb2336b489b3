// The GPU backward with runtime block tables (FlexAttention's BlockMask
// tensors): the compile-time tables of the pattern (causal) still give the
// candidate tiles; each thread block marks the table blocks the runtime
// tables pair with its own in a bitmask in shared memory and compacts the
// listed candidates (full, then partial) into one list. The query-block
// kernel reads its table row; the key-block kernel scans every row for its
// key table block (the transposition, generated into the kernel).
// RUN: sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu | FileCheck %s

// Tables per KV head (H' = Hkv = 2, Hq = 4), table blocks of 128 x 128,
// tiles 64 x 64. Shared memory: the tiles, then the list (4 key tiles or
// 4 query tiles, and the count) and one word of bits.
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention_grad_query {{.*}} dynamic_shared_memory_size %c36888_i32
// CHECK-SAME: "delta", "grad_query", "kv_num_blocks", "kv_indices", "table:
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention_grad_key {{.*}} dynamic_shared_memory_size %c56344_i32
// CHECK-SAME: "grad_key", "grad_value", "kv_num_blocks", "kv_indices", "table:

// CHECK-LABEL: gpu.func @sparse_attention_grad_query
// CHECK-SAME: %[[NUM:[a-z0-9]+]]: memref<1x2x2xi32>, %[[IDX:[a-z0-9]+]]: memref<1x2x2x2xi32>
// CHECK: %[[BITS:.*]] = memref.view %{{.*}}[%c36884][] : {{.*}} to memref<1xi32, #gpu.address_space<workgroup>>
// The row of the block's query table block (query block / 2) of the KV
// head: its count clamped to [0, 2], each listed key table block below 2
// sets a bit.
// CHECK: %[[N:.*]] = memref.load %[[NUM]][%c0, %{{.*}}, %[[ROW:.*]]] :
// CHECK: arith.maxsi %[[N]], %c0_i32
// CHECK: arith.minsi %{{.*}}, %c2_i32
// CHECK: %[[BLK:.*]] = memref.load %[[IDX]][%c0, %{{.*}}, %[[ROW]], %{{.*}}]
// CHECK: arith.cmpi ult, %[[BLK]], %c2_i32
// CHECK: memref.atomic_rmw ori %{{.*}}, %[[BITS]]
// Warp 0 compacts the candidates whose key table block (tile / 2) is
// listed, by ballots.
// CHECK: arith.divui %{{.*}}, %c2_i32 : i32
// CHECK: memref.load %[[BITS]]
// CHECK: nvvm.vote.sync  ballot
// CHECK: gpu.barrier
// One loop over the list (no separate loop of unmasked full tiles).
// CHECK-NOT: memref.load %arg10

// CHECK-LABEL: gpu.func @sparse_attention_grad_key
// CHECK-SAME: %[[NUM:[a-z0-9]+]]: memref<1x2x2xi32>, %[[IDX:[a-z0-9]+]]: memref<1x2x2x2xi32>
// The transposition: thread i scans row i (of 2) for the key table block
// (key block / 2) and sets bit i when it is listed. Tables per KV head: the
// list is built once, before the loop over the group's query heads.
// CHECK: scf.for %[[ROW:.*]] = %{{.*}} to %c2 step %c128 {
// CHECK: memref.load %[[NUM]][%c0, %block_id_y, %[[ROW]]]
// CHECK: %[[HIT:.*]] = scf.for
// CHECK: %[[B:.*]] = memref.load %[[IDX]][%c0, %block_id_y, %[[ROW]], %{{.*}}]
// CHECK: arith.cmpi eq, %[[B]], %{{.*}} : i32
// CHECK: scf.if %[[HIT]]
// CHECK: memref.atomic_rmw ori
// CHECK: nvvm.vote.sync  ballot
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1 iter_args

!q = tensor<1x4x256x64xbf16>
!kv = tensor<1x2x256x64xbf16>
!l = tensor<1x4x256xf32>
func.func @per_kv_head(%q: !q, %k: !kv, %v: !kv, %o: !q, %lse: !l, %do: !q, %n: tensor<1x2x2xi32>, %x: tensor<1x2x2x2xi32>) -> (!q, !kv, !kv) {
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do block_tables(%n, %x : tensor<1x2x2xi32>, tensor<1x2x2x2xi32>) {pattern = #sparse_attn.causal, table_block = array<i64: 128, 128>} : !q, !kv, !kv, !q, !l, !q -> !q, !kv, !kv
  return %dq, %dk, %dv : !q, !kv, !kv
}

// -----

// Tables per query head (H' = Hq = 4, groups of 2) and full tables: the
// key-block kernel rebuilds the list for each query head of the group,
// scanning both tables.
// CHECK-LABEL: gpu.func @sparse_attention_grad_key
// CHECK-SAME: %[[NUM:[a-z0-9]+]]: memref<1x4x2xi32>, %[[IDX:[a-z0-9]+]]: memref<1x4x2x2xi32>, %[[FNUM:[a-z0-9]+]]: memref<1x4x2xi32>, %[[FIDX:[a-z0-9]+]]: memref<1x4x2x2xi32>
// CHECK: scf.for %[[H:.*]] = %c0 to %c2 step %c1 iter_args
// CHECK: %[[HEAD:.*]] = arith.addi %{{.*}}, %[[H]] : index
// CHECK: memref.load %[[NUM]][%c0, %[[HEAD]], %{{.*}}]
// CHECK: memref.load %[[IDX]][%c0, %[[HEAD]], %{{.*}}, %{{.*}}]
// CHECK: memref.load %[[FNUM]][%c0, %[[HEAD]], %{{.*}}]
// CHECK: memref.load %[[FIDX]][%c0, %[[HEAD]], %{{.*}}, %{{.*}}]
// CHECK: nvvm.vote.sync  ballot

!q = tensor<1x4x256x64xbf16>
!kv = tensor<1x2x256x64xbf16>
!l = tensor<1x4x256xf32>
!n = tensor<1x4x2xi32>
!x = tensor<1x4x2x2xi32>
func.func @per_query_head(%q: !q, %k: !kv, %v: !kv, %o: !q, %lse: !l, %do: !q, %n: !n, %x: !x, %fn: !n, %fx: !x) -> (!q, !kv, !kv) {
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do block_tables(%n, %x : !n, !x) full_tables(%fn, %fx : !n, !x) {pattern = #sparse_attn.dense, table_block = array<i64: 128, 128>} : !q, !kv, !kv, !q, !l, !q -> !q, !kv, !kv
  return %dq, %dk, %dv : !q, !kv, !kv
}
