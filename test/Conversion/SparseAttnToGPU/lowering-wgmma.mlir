// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu="mma=wgmma" | FileCheck %s
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu="mma=wgmma warps=8" | FileCheck %s --check-prefix=W8
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu="mma=auto warps=8" | FileCheck %s --check-prefix=AUTO8

// mma=auto with warps = 8 is the two-warpgroup block (the op meets its
// requirements).
// AUTO8: threads in (%c256, %c1, %c1)
// AUTO8-NOT: nvvm.mma.sync
// AUTO8: nvvm.wgmma.mma_async
// AUTO8-NOT: nvvm.mma.sync

// warps = 8: two warpgroups share each K / V tile, 128 query rows per block
// (8 query blocks of the 1000 rows); one 64-row Q tile per warpgroup
// (rows q0 .. q0 + 63 at byte 0 of the aligned area, q0 + 64 .. at 16384),
// each warpgroup's Q K^T reading its own (warp / 4 x 16384). Dynamic shared
// memory 1024 + Q 2 x 16384 + 2 x K 16384 + 2 x V 16384.
// W8: gpu.launch_func @sparse_attn_kernels::@sparse_attention blocks in (%c8, %c8, %c1) threads in (%c256, %c1, %c1) dynamic_shared_memory_size %c99328_i32
// W8: gpu.func @sparse_attention
// W8: %[[WARP:.*]] = arith.divui %thread_id_x, %c32
// W8: memref.view {{.*}} to memref<8192xbf16, #gpu.address_space<workgroup>>
// W8-COUNT-4: nvgpu.device_async_copy
// W8: %[[ROWS:.*]] = arith.addi %{{.*}}, %c64 : index
// W8: %[[OFF:.*]] = arith.addi %{{.*}}, %c16384 : index
// W8: memref.view %{{.*}}[%[[OFF]]][] {{.*}} to memref<8192xbf16, #gpu.address_space<workgroup>>
// W8: arith.addi %[[ROWS]], %{{.*}} : index
// W8-COUNT-4: nvgpu.device_async_copy
// W8: %[[WG:.*]] = arith.divui %[[WARP]], %c4 : index
// W8: arith.muli %[[WG]], %c16384 : index
// W8: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>

// mma=wgmma, D = 128: one warpgroup per 64 query rows. Dynamic shared memory
// 1024 (alignment slack) + Q 16384 + 2 x K 16384 + 2 x V 16384.
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention blocks in (%c16, %c8, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c82944_i32
// CHECK: gpu.func @sparse_attention
// CHECK: gpu.dynamic_shared_memory
// The first 1024-byte boundary, for the 128-byte swizzle.
// CHECK: memref.extract_aligned_pointer_as_index
// Q to shared memory once, visible to the async proxy.
// CHECK: nvgpu.device_async_copy
// CHECK: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK: gpu.barrier
// Per tile: S = Q K^T, 8 k16 steps over D = 128, K read K-major (col).
// CHECK: nvvm.wgmma.fence.aligned
// CHECK: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>, D[<f32>, <zero>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>]
// CHECK-COUNT-7: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>]
// CHECK: nvvm.wgmma.commit.group.sync.aligned
// CHECK: nvvm.wgmma.wait.group.sync.aligned 0
// O += P V with P from registers (the PTX form with A in registers, as
// inline assembly: four packed registers per k16 step) and V read MN-major
// (transposed, last immediate 1): 4 k16 steps over 64 keys, N = Dv = 128.
// CHECK: nvvm.wgmma.fence.aligned
// CHECK-COUNT-4: llvm.inline_asm has_side_effects asm_dialect = att {{.*}}wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {$0, {{.*}}, $63}, {$128, $129, $130, $131}, $132, p, 1, 1, 1;
// CHECK: nvvm.wgmma.commit.group.sync.aligned
// CHECK: nvvm.wgmma.wait.group.sync.aligned 0
func.func @causal(%q: tensor<1x8x1000x128xbf16>, %k: tensor<1x2x1000x128xbf16>, %v: tensor<1x2x1000x128xbf16>) -> tensor<1x8x1000x128xbf16> {
  %init0 = tensor.empty() : tensor<1x8x1000x128xbf16>
  %o = sparse_attn.attention %q, %k, %v outs(%init0 : tensor<1x8x1000x128xbf16>) {pattern = #sparse_attn.causal}
      : tensor<1x8x1000x128xbf16>, tensor<1x2x1000x128xbf16>, tensor<1x2x1000x128xbf16> -> tensor<1x8x1000x128xbf16>
  return %o : tensor<1x8x1000x128xbf16>
}

// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu="mma=wgmma tma=true overlap=true" | FileCheck %s --check-prefix=OVERLAP
// overlap: four mbarriers (K and V buffers), Q K^T of tile 0 before the
// loop; in the loop the next tile's Q K^T is committed without a wait, then
// this tile's softmax (ex2), the wait for V, P V, and one wait for both.
// OVERLAP: dynamic_shared_memory_size %c82976_i32
// OVERLAP-COUNT-4: nvvm.mbarrier.init
// OVERLAP: nvvm.wgmma.commit.group.sync.aligned
// OVERLAP-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// OVERLAP: scf.for
// OVERLAP: nvvm.cp.async.bulk.tensor.shared.cluster.global
// OVERLAP: nvvm.wgmma.mma_async
// OVERLAP: nvvm.wgmma.commit.group.sync.aligned
// OVERLAP-NOT: nvvm.wgmma.wait.group.sync.aligned
// OVERLAP: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f32"
// OVERLAP: nvvm.mbarrier.try_wait.parity
// OVERLAP: llvm.inline_asm {{.*}}wgmma.mma_async.sync.aligned.m64n128k16
// OVERLAP: nvvm.wgmma.wait.group.sync.aligned 0
