// mma=wgmma: both kernels of the backward multiply on warpgroup MMAs. The
// key-block kernel: S^T = K Q^T and dP^T = V dO^T with both operands in
// swizzled shared memory (the NVVM op, 64 keys x 64 queries), dV += P^T dO
// and dK += dS^T Q with P^T / dS^T from registers (the PTX instruction
// inline, 64 x 128). The query-block kernel: S = Q K^T and dP = dO V^T
// (64 queries x 64 keys), dQ += dS K (64 x 128). Each tile's copies are
// made visible to the async proxy before the barrier that publishes it.
// With overlap=true (opt-in) the query-block kernel makes P while dP =
// dO V^T runs, and in the key-block kernel the tensor cores run while the
// CUDA cores work: S^T and dP^T are issued together, S^T is waited for
// alone (P^T is made while dP^T runs), dV += P^T dO is issued, dP^T is
// waited for (dS^T is made while dV runs), dK += dS^T Q is issued, and
// both are waited for. mma=auto picks the default wgmma kernels (the op
// meets every requirement), and mma.sync where one is not met (warps = 8).
// Causal, Sq = Sk = 128, D = 128, GQA 4 -> 2 heads.
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu="mma=wgmma" | FileCheck %s
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu="mma=wgmma overlap=true" | FileCheck %s --check-prefix=OVERLAP
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu="mma=auto" | FileCheck %s
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu="mma=auto warps=8" | FileCheck %s --check-prefix=SYNC
// RUN: sparse-attn-opt %s --sparse-attn-to-nvvm="binary=false mma=wgmma" | FileCheck %s --check-prefix=NVVM

// The key kernel's shared memory: K, V blocks and two Q, two dO tiles of
// 64 x 128 bf16 (16 KiB each, swizzled, no padding), two LSE and two
// Delta rows of 64 f32, and 1024 bytes to reach a 1024-byte boundary.
// The query kernel's: Q and dO rows (64 x 128 each), two K and two V tiles
// (64 x 128), the slack.
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention_grad_query blocks in (%c2, %c4, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c99328_i32
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention_grad_key blocks in (%c2, %c2, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c100352_i32

// CHECK-LABEL: gpu.func @sparse_attention_grad_query
// CHECK-NOT: nvvm.mma.sync
// CHECK: nvgpu.device_async_wait
// CHECK-NEXT: nvvm.fence.proxy
// CHECK-NEXT: gpu.barrier
// CHECK: nvvm.wgmma.mma_async {{.*}}m = 64, n = 64, k = 16
// CHECK: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// CHECK-NOT: nvvm.mma.sync
// CHECK: gpu.return
// CHECK-LABEL: gpu.func @sparse_attention_grad_key
// CHECK-NOT: nvvm.mma.sync
// CHECK: nvgpu.device_async_wait
// CHECK-NEXT: nvvm.fence.proxy
// CHECK-NEXT: gpu.barrier
// CHECK: nvvm.wgmma.mma_async {{.*}}m = 64, n = 64, k = 16
// CHECK: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// CHECK-NOT: nvvm.mma.sync
// CHECK: gpu.return

// OVERLAP-LABEL: gpu.func @sparse_attention_grad_query
// OVERLAP-NOT: nvvm.mma.sync
// OVERLAP: nvgpu.device_async_wait
// OVERLAP-NEXT: nvvm.fence.proxy
// OVERLAP-NEXT: gpu.barrier
// OVERLAP: nvvm.wgmma.mma_async {{.*}}m = 64, n = 64, k = 16
// OVERLAP: nvvm.wgmma.commit.group.sync.aligned
// OVERLAP-NOT: nvvm.wgmma.wait.group
// OVERLAP: nvvm.wgmma.mma_async {{.*}}m = 64, n = 64, k = 16
// OVERLAP: nvvm.wgmma.commit.group.sync.aligned
// OVERLAP-NEXT: nvvm.wgmma.wait.group.sync.aligned 1
// OVERLAP: nvvm.ex2.approx
// OVERLAP: nvvm.wgmma.wait.group.sync.aligned 0
// OVERLAP: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// OVERLAP-NOT: nvvm.mma.sync
// OVERLAP: gpu.return
// OVERLAP-LABEL: gpu.func @sparse_attention_grad_key
// OVERLAP-NOT: nvvm.mma.sync
// OVERLAP: nvgpu.device_async_wait
// OVERLAP-NEXT: nvvm.fence.proxy
// OVERLAP-NEXT: gpu.barrier
// OVERLAP: nvvm.wgmma.mma_async {{.*}}m = 64, n = 64, k = 16
// OVERLAP: nvvm.wgmma.commit.group.sync.aligned
// OVERLAP-NOT: nvvm.wgmma.wait.group
// OVERLAP: nvvm.wgmma.mma_async {{.*}}m = 64, n = 64, k = 16
// OVERLAP: nvvm.wgmma.commit.group.sync.aligned
// OVERLAP-NEXT: nvvm.wgmma.wait.group.sync.aligned 1
// OVERLAP: nvvm.ex2.approx
// OVERLAP: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// OVERLAP: nvvm.wgmma.commit.group.sync.aligned
// OVERLAP-NEXT: nvvm.wgmma.wait.group.sync.aligned 1
// OVERLAP: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// OVERLAP: nvvm.wgmma.commit.group.sync.aligned
// OVERLAP-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// OVERLAP-NOT: nvvm.mma.sync
// OVERLAP: gpu.return

// SYNC-LABEL: gpu.func @sparse_attention_grad_query
// SYNC-NOT: wgmma
// SYNC: nvvm.mma.sync
// SYNC-LABEL: gpu.func @sparse_attention_grad_key
// SYNC-NOT: wgmma
// SYNC: nvvm.mma.sync

// NVVM: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16

!q = tensor<1x4x128x128xbf16>
!kv = tensor<1x2x128x128xbf16>
!l = tensor<1x4x128xf32>
func.func @grad(%q: !q, %k: !kv, %v: !kv, %o: !q, %lse: !l, %do: !q) -> (!q, !kv, !kv) {
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do {pattern = #sparse_attn.causal} : !q, !kv, !kv, !q, !l, !q -> !q, !kv, !kv
  return %dq, %dk, %dv : !q, !kv, !kv
}
