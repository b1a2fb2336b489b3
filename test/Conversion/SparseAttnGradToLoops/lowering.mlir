// The structure of the CPU backward: compile-time tile lists both ways
// (per query block and, transposed, per key block), the key-block kernel
// (dK, dV) and the query-block kernel (dQ), each one scf.parallel.
// RUN: sparse-attn-opt %s --convert-sparse-attn-grad-to-loops="block-q=16 block-k=16" | FileCheck %s
// RUN: sparse-attn-opt %s --convert-sparse-attn-grad-to-loops="block-q=16 block-k=16" --split-input-file | FileCheck %s --check-prefix=TABLES

// Causal, 3 x 3 tiles: per key block kb, the full query blocks kb+1 .. 2
// and the partial one kb (the diagonal).
// CHECK-DAG: memref.global "private" constant @__sparse_attn_grad_full_by_q_offsets : memref<4xi32> = dense<[0, 0, 1, 3]>
// CHECK-DAG: memref.global "private" constant @__sparse_attn_grad_partial_by_q_indices : memref<3xi32> = dense<[0, 1, 2]>
// CHECK-DAG: memref.global "private" constant @__sparse_attn_grad_full_by_k_offsets : memref<4xi32> = dense<[0, 2, 3, 3]>
// CHECK-DAG: memref.global "private" constant @__sparse_attn_grad_full_by_k_indices : memref<3xi32> = dense<[1, 2, 2]>
// CHECK-LABEL: func.func @causal
// CHECK: memref.get_global @__sparse_attn_grad_full_by_q_offsets
// CHECK: memref.get_global @__sparse_attn_grad_full_by_k_offsets
// The key-block kernel over (B, Hkv, key blocks) = (1, 1, 3), then the
// query-block one over (B, Hq, query blocks) = (1, 2, 3):
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}) = (%c0, %c0, %c0) to (%c1, %c1, %c3)
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}) = (%c0, %c0, %c0) to (%c1, %c2, %c3)
// CHECK-NOT: scf.parallel
// CHECK: bufferization.to_tensor
// CHECK-NOT: sparse_attn.attention_grad
!q = tensor<1x2x48x8xf32>
!kv = tensor<1x1x48x8xf32>
!l = tensor<1x2x48xf32>
func.func @causal(%q: !q, %k: !kv, %v: !kv, %o: !q, %lse: !l, %do: !q) -> (!q, !kv, !kv) {
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do {pattern = #sparse_attn.causal} : !q, !kv, !kv, !q, !l, !q -> !q, !kv, !kv
  return %dq, %dk, %dv : !q, !kv, !kv
}

// -----

// Runtime tables: no compile-time lists; the transpose is built at run
// time, one byte map per table, in its own parallel loop over (B', H').
// TABLES-LABEL: func.func @tables
// TABLES-NOT: __sparse_attn_grad_full
// TABLES: memref.alloc({{.*}}) {alignment = 64 : i64} : memref<?x?x?x?xi8>
// TABLES: scf.parallel
// TABLES: scf.parallel
// TABLES: scf.parallel
!q2 = tensor<1x2x48x8xf32>
!l2 = tensor<1x2x48xf32>
func.func @tables(%q: !q2, %o: !q2, %lse: !l2, %do: !q2, %n: tensor<1x2x3xi32>, %x: tensor<1x2x3x2xi32>) -> !q2 {
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %q, %q, %o, %lse, %do block_tables(%n, %x : tensor<1x2x3xi32>, tensor<1x2x3x2xi32>) {pattern = #sparse_attn.dense, table_block = array<i64: 16, 16>} : !q2, !q2, !q2, !q2, !l2, !q2 -> !q2, !q2, !q2
  return %dq : !q2
}
