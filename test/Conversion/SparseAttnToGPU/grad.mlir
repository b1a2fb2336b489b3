// sparse_attn.attention_grad on the GPU: two launches on one stream, the
// query-block kernel (Delta, dQ) first, then the key-block kernel (dK, dV),
// which reads Delta (a temporary). Causal, Sq = Sk = 128, GQA 4 -> 2 heads,
// warps = 4, block-k = 64: both kernels' tiles are 64 x 64, 2 x 2 blocks.
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu | FileCheck %s
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu | grep -c nvvm.mma.sync | FileCheck %s --check-prefix=MMA
// RUN: sparse-attn-opt %s --sparse-attn-to-nvvm="binary=false mma=sync" | FileCheck %s --check-prefix=NVVM

// Compile-time tables. By query block (the forward's): block 0 has the
// diagonal tile (partial), block 1 key block 0 (full) and its diagonal.
// By key block (the transpose): key block 0 is seen fully by query block
// 1 and partially by block 0; key block 1 partially by block 1. Blocks by
// decreasing work: query blocks [1, 0], key blocks [0, 1] (tables with the
// same contents are one global).
// CHECK-DAG: memref.global "private" constant @__sparse_attn_grad_by_query_full_offsets : memref<3xi32> = dense<[0, 0, 1]>
// CHECK-DAG: memref.global "private" constant @__sparse_attn_grad_by_query_full_indices : memref<1xi32> = dense<0>
// CHECK-DAG: memref.global "private" constant @__sparse_attn_grad_by_query_partial_offsets : memref<3xi32> = dense<[0, 1, 2]>
// CHECK-DAG: memref.global "private" constant @__sparse_attn_grad_by_query_partial_indices : memref<2xi32> = dense<[0, 1]>
// CHECK-DAG: memref.global "private" constant @__sparse_attn_grad_by_query_order : memref<2xi32> = dense<[1, 0]>
// CHECK-DAG: memref.global "private" constant @__sparse_attn_grad_by_key_full_offsets : memref<3xi32> = dense<[0, 1, 1]>
// CHECK-DAG: memref.global "private" constant @__sparse_attn_grad_by_key_full_indices : memref<1xi32> = dense<1>

// CHECK-LABEL: func.func @grad
// CHECK: %[[DELTA:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1x4x128xf32>
// CHECK: %[[DQ:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1x4x128x64xbf16>
// CHECK: %[[DK:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1x2x128x64xbf16>
// CHECK: %[[DV:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1x2x128x64xbf16>
// Query-block kernel: grid (query blocks, Hq, B); shared memory: two K and
// two V tiles of 64 x (64 + 8) bf16.
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention_grad_query blocks in (%c2, %c4, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c36864_i32 args({{.*}}%[[DELTA]] : memref<1x4x128xf32>, %[[DQ]] : memref<1x4x128x64xbf16>
// CHECK-SAME: sparse_attn.kernel_args = ["query", "key", "value", "output", "lse", "grad_output", "delta", "grad_query", "table:__sparse_attn_grad_by_query_full_offsets", "table:__sparse_attn_grad_by_query_full_indices", "table:__sparse_attn_grad_by_query_partial_offsets", "table:__sparse_attn_grad_by_query_partial_indices", "table:__sparse_attn_grad_by_query_order"]
// Key-block kernel: grid (key blocks, Hkv, B); shared memory: the K and V
// block (64 x 72 each), two Q and two dO tiles (64 x 72), two LSE and two
// Delta rows (64 f32): 6 x 9216 + 4 x 256 = 56320 bytes.
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention_grad_key blocks in (%c2, %c2, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c56320_i32 args({{.*}}%[[DELTA]] : memref<1x4x128xf32>, %[[DK]] : memref<1x2x128x64xbf16>, %[[DV]] : memref<1x2x128x64xbf16>
// CHECK-SAME: sparse_attn.kernel_args = ["query", "key", "value", "lse", "grad_output", "delta", "grad_key", "grad_value", "table:__sparse_attn_grad_by_key_full_offsets", "table:__sparse_attn_grad_by_key_full_indices"
// CHECK: %[[RQ:.*]] = bufferization.to_tensor %[[DQ]]
// CHECK: %[[RK:.*]] = bufferization.to_tensor %[[DK]]
// CHECK: %[[RV:.*]] = bufferization.to_tensor %[[DV]]
// CHECK: return %[[RQ]], %[[RK]], %[[RV]]

// The query-block kernel: its block from the order table, Delta of its
// rows reduced over the quad and stored by lane t = 0 of rows < Sq, LSE
// -inf (a row without allowed keys) as +inf in the log2 domain (every P
// then 0).
// CHECK-LABEL: gpu.func @sparse_attention_grad_query
// CHECK: %[[QB:.*]] = memref.load %arg12[%block_id_x] : memref<2xi32>
// CHECK: gpu.shuffle  xor
// CHECK: gpu.shuffle  xor
// CHECK: memref.store %{{.*}}, %arg6[%block_id_z, %block_id_y, %{{.*}}] : memref<1x4x128xf32>
// CHECK: %[[L:.*]] = memref.load %arg4
// CHECK: %[[EMPTY:.*]] = arith.cmpf oeq, %[[L]], %cst
// CHECK: %[[L2:.*]] = arith.mulf %[[L]], %cst
// CHECK: arith.select %[[EMPTY]], %cst{{.*}}, %[[L2]]
// Two loops over K / V tiles (full, then partial), cp.async double buffer.
// CHECK: scf.for
// CHECK: nvgpu.device_async_wait
// CHECK: gpu.barrier
// CHECK: scf.for
// CHECK-LABEL: gpu.func @sparse_attention_grad_key
// The head loop over the group (2 query heads per KV head), then the
// tables' two loops.
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1
// CHECK: scf.for
// CHECK: scf.for

// Per tile body: query-block kernel S, dP, dQ (3 x 32 MMAs), key-block
// kernel S^T, dP^T, dV, dK (4 x 32), each body in two loops.
// MMA: 448

// NVVM: llvm.func @sparse_attention_grad_query
// NVVM: nvvm.ldmatrix
// NVVM: llvm.func @sparse_attention_grad_key

!q = tensor<1x4x128x64xbf16>
!kv = tensor<1x2x128x64xbf16>
!l = tensor<1x4x128xf32>
func.func @grad(%q: !q, %k: !kv, %v: !kv, %o: !q, %lse: !l, %do: !q) -> (!q, !kv, !kv) {
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do {pattern = #sparse_attn.causal} : !q, !kv, !kv, !q, !l, !q -> !q, !kv, !kv
  return %dq, %dk, %dv : !q, !kv, !kv
}
