// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu --split-input-file | FileCheck %s

// Causal at S = 2^20: 2^28 tiles of 64 x 64, more than a compile-time table
// should hold (kMaxCompileTimeTableTiles = 2^22; such tables took 15.8 s and
// 1.7 GB to compile). The kernel builds its tile list on the device instead,
// in chunks of 1024 key tiles (16384 of them here): compiling takes
// 0.3 s and 126 MB (sparse-attn-compile --target=cuda, 2026-12-06).
// CHECK-NOT: memref.global
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention blocks in (%c16384, %c2, %c1)
// CHECK-SAME: sparse_attn.kernel_args = ["query", "key", "value", "output"]
// CHECK: scf.for %{{.*}} = %c0 to %c16384 step %c1024 iter_args
// CHECK: nvvm.vote.sync ballot
// CHECK: memref.store %{{.*}}, %{{.*}}[%c1024] : memref<1025xi32, #gpu.address_space<workgroup>>
func.func @causal(%q: tensor<1x2x1048576x64xbf16>) -> tensor<1x2x1048576x64xbf16> {
  %init = tensor.empty() : tensor<1x2x1048576x64xbf16>
  %o = sparse_attn.attention %q, %q, %q outs(%init : tensor<1x2x1048576x64xbf16>) {pattern = #sparse_attn.causal} : tensor<1x2x1048576x64xbf16>, tensor<1x2x1048576x64xbf16>, tensor<1x2x1048576x64xbf16> -> tensor<1x2x1048576x64xbf16>
  return %o : tensor<1x2x1048576x64xbf16>
}

// -----

// Sq = Sk = 2^31 (issue 13, defect 4: LLVM ERROR: out of memory when the
// tables were built at compile time; then refused as too many tiles): one
// chunked device-built list, nothing proportional to the tiles at compile
// time.
// CHECK-LABEL: func.func @huge_seq
// CHECK-NOT: memref.global
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention blocks in (%c33554432, %c1, %c1)
// CHECK: scf.for %{{.*}} = %c0 to %c33554432 step %c1024 iter_args
func.func @huge_seq(%q: tensor<1x1x2147483648x64xbf16>) -> tensor<1x1x2147483648x64xbf16> {
  %init3 = tensor.empty() : tensor<1x1x2147483648x64xbf16>
  %o = sparse_attn.attention %q, %q, %q outs(%init3 : tensor<1x1x2147483648x64xbf16>) {pattern = #sparse_attn.causal}
      : tensor<1x1x2147483648x64xbf16>, tensor<1x1x2147483648x64xbf16>, tensor<1x1x2147483648x64xbf16> -> tensor<1x1x2147483648x64xbf16>
  return %o : tensor<1x1x2147483648x64xbf16>
}
