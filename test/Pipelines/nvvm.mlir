// The whole GPU pipeline down to PTX; needs no GPU and no CUDA toolkit.
// RUN: sparse-attn-opt %s --sparse-attn-to-nvvm | FileCheck %s
// RUN: sparse-attn-opt %s --sparse-attn-to-nvvm="mma=sync" | FileCheck %s --check-prefix=SYNC
// RUN: sparse-attn-opt %s --sparse-attn-to-nvvm="chip=sm_80 features=+ptx70" | FileCheck %s --check-prefix=SM80
// RUN: sparse-attn-opt %s --sparse-attn-to-nvvm="binary=false" | FileCheck %s --check-prefix=NVVM

// Default on sm_90a (mma=auto): warpgroup MMAs on swizzled shared memory.
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention
// CHECK: gpu.binary @sparse_attn_kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx83">
// CHECK-SAME: .target sm_90a
// CHECK-SAME: .visible .entry sparse_attention(
// CHECK-SAME: .maxntid 128, 1, 1
// CHECK-SAME: cp.async.cg.shared.global
// CHECK-SAME: fence.proxy.async.shared::cta
// CHECK-SAME: wgmma.fence.sync.aligned
// CHECK-SAME: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
// CHECK-SAME: wgmma.commit_group.sync.aligned
// CHECK-SAME: wgmma.wait_group.sync.aligned
// CHECK-SAME: ex2.approx.ftz.f32
// CHECK-SAME: shfl.sync.bfly.b32

// SYNC: .target sm_90a
// SYNC-SAME: cp.async.cg.shared.global
// SYNC-SAME: cp.async.commit_group
// SYNC-SAME: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// SYNC-SAME: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// SYNC-SAME: ex2.approx.ftz.f32
// SYNC-SAME: shfl.sync.bfly.b32
// SYNC-SAME: ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16
// SYNC-NOT: wgmma

// mma=auto on another chip: mma.sync.
// SM80: .target sm_80
// SM80-SAME: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// SM80-NOT: wgmma

// NVVM: gpu.module @sparse_attn_kernels [#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx83">]
// NVVM: llvm.func @sparse_attention(%{{.*}}: !llvm.ptr
// NVVM: nvvm.wgmma.fence.aligned
func.func @attention(%q: tensor<1x4x256x64xbf16>, %k: tensor<1x4x256x64xbf16>, %v: tensor<1x4x256x64xbf16>) -> tensor<1x4x256x64xbf16> {
  %init0 = tensor.empty() : tensor<1x4x256x64xbf16>
  %o = sparse_attn.attention %q, %k, %v outs(%init0 : tensor<1x4x256x64xbf16>) {pattern = #sparse_attn.window<before = 100, after = 0>}
      : tensor<1x4x256x64xbf16>, tensor<1x4x256x64xbf16>, tensor<1x4x256x64xbf16> -> tensor<1x4x256x64xbf16>
  return %o : tensor<1x4x256x64xbf16>
}
