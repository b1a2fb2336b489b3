// The GPU backward with grad-dq=atomic: three launches. The prepare kernel
// computes Delta and zeroes an f32 dQ accumulator; the key-block kernel,
// besides dK and dV, stores each warp's dS^T transposed into a dS tile in
// shared memory and adds dS K into the accumulator with f32 atomics (no
// query-block kernel recomputing S and dP); the dQ kernel scales and
// rounds. The default (deterministic) lowering is in grad.mlir.
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu="grad-dq=atomic" | FileCheck %s
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu | FileCheck %s --check-prefix=DET

// CHECK: %[[ACC:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1x4x256x64xf32>
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention_grad_prepare blocks in (%c4, %c4, %c1) {{.*}} dynamic_shared_memory_size %c0_i32
// CHECK-SAME: ["output", "grad_output", "delta", "dq_accumulator"]
// Shared memory of the key-block kernel: the deterministic plan (56320
// bytes) and the dS tile, 64 query rows x (64 + 8) keys of bf16 (9216).
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention_grad_key blocks in (%c4, %c2, %c1) {{.*}} dynamic_shared_memory_size %c65536_i32 {{.*}}%[[ACC]] : memref<1x4x256x64xf32>
// CHECK-SAME: "grad_key", "grad_value", "dq_accumulator", "table:
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention_grad_dq blocks in (%c4, %c4, %c1) {{.*}} args(%[[ACC]] : memref<1x4x256x64xf32>
// CHECK-SAME: ["dq_accumulator", "grad_query"]
// CHECK-NOT: sparse_attention_grad_query

// CHECK-LABEL: gpu.func @sparse_attention_grad_prepare
// CHECK: gpu.shuffle xor
// CHECK: memref.store %{{.*}}, %arg2
// CHECK: vector.store %cst{{.*}}, %arg3
// CHECK-LABEL: gpu.func @sparse_attention_grad_key
// The dS tile at byte 56320 (after the deterministic plan), written by
// scalar stores, read by ldmatrix after a barrier.
// CHECK: %[[OFF:.*]] = arith.addi %{{.*}}, %c56320 : index
// CHECK: %[[DS:.*]] = memref.view %{{.*}}[%[[OFF]]][] : {{.*}} to memref<64x72xbf16, #gpu.address_space<workgroup>>
// CHECK: memref.store %{{.*}}, %[[DS]]
// CHECK: gpu.barrier
// CHECK: nvgpu.ldmatrix %[[DS]]
// CHECK: nvvm.mma.sync
// CHECK: memref.atomic_rmw addf %{{.*}}, %arg8
// CHECK-LABEL: gpu.func @sparse_attention_grad_dq
// CHECK: vector.load %arg0
// CHECK: arith.mulf
// CHECK: arith.truncf %{{.*}} : vector<4xf32> to vector<4xbf16>
// CHECK: vector.store %{{.*}}, %arg1

// DET: gpu.launch_func @sparse_attn_kernels::@sparse_attention_grad_query
// DET: gpu.launch_func @sparse_attn_kernels::@sparse_attention_grad_key
// DET-NOT: atomic_rmw addf

!q = tensor<1x4x256x64xbf16>
!kv = tensor<1x2x256x64xbf16>
!l = tensor<1x4x256xf32>
func.func @grad(%q: !q, %k: !kv, %v: !kv, %o: !q, %lse: !l, %do: !q) -> (!q, !kv, !kv) {
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do {pattern = #sparse_attn.causal} : !q, !kv, !kv, !q, !l, !q -> !q, !kv, !kv
  return %dq, %dk, %dv : !q, !kv, !kv
}
