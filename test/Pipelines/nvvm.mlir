// The whole GPU pipeline down to PTX; needs no GPU and no CUDA toolkit.
// RUN: sparse-attn-opt %s --sparse-attn-to-nvvm | FileCheck %s
// RUN: sparse-attn-opt %s --sparse-attn-to-nvvm="binary=false" | FileCheck %s --check-prefix=NVVM

// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention
// CHECK: gpu.binary @sparse_attn_kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">
// CHECK-SAME: .target sm_90a
// CHECK-SAME: .visible .entry sparse_attention(
// CHECK-SAME: .maxntid 128, 1, 1
// CHECK-SAME: .shared .align 16 .b8
// CHECK-SAME: cp.async.cg.shared.global
// CHECK-SAME: cp.async.commit_group
// CHECK-SAME: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// CHECK-SAME: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// CHECK-SAME: ex2.approx.ftz.f32
// CHECK-SAME: shfl.sync.bfly.b32
// CHECK-SAME: ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16

// NVVM: gpu.module @sparse_attn_kernels [#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">]
// NVVM: llvm.func @sparse_attention(%{{.*}}: !llvm.ptr
// NVVM: nvvm.mma.sync
func.func @attention(%q: tensor<1x4x256x64xbf16>, %k: tensor<1x4x256x64xbf16>, %v: tensor<1x4x256x64xbf16>) -> tensor<1x4x256x64xbf16> {
  %o = sparse_attn.attention %q, %k, %v {pattern = #sparse_attn.window<before = 100, after = 0>}
      : tensor<1x4x256x64xbf16>, tensor<1x4x256x64xbf16>, tensor<1x4x256x64xbf16> -> tensor<1x4x256x64xbf16>
  return %o : tensor<1x4x256x64xbf16>
}
