// Both CPU pipelines take a module from sparse_attn to the LLVM dialect with
// the documented C ABI: one pointer to a strided memref descriptor per
// argument, then one per result (results become out-parameters).
// RUN: sparse-attn-opt %s --sparse-attn-to-llvm-cpu="block-q=32 block-k=16" | FileCheck %s
// RUN: sparse-attn-opt %s --sparse-attn-reference-to-llvm-cpu | FileCheck %s
// RUN: sparse-attn-opt %s --sparse-attn-to-llvm-cpu | mlir-translate --mlir-to-llvmir | FileCheck %s --check-prefix=LLVMIR
// With threads != 1 the loop over query blocks becomes an OpenMP
// work-sharing loop with a dynamic schedule (query blocks differ in work).
// RUN: sparse-attn-opt %s --sparse-attn-to-llvm-cpu="threads=2" | FileCheck %s --check-prefix=OMP
// RUN: sparse-attn-opt %s --sparse-attn-to-llvm-cpu="threads=2" | mlir-translate --mlir-to-llvmir | FileCheck %s --check-prefix=OMPIR

// CHECK-NOT: sparse_attn.
// CHECK-NOT: memref.
// CHECK-NOT: scf.
// CHECK: llvm.func @attention(
// CHECK: llvm.func @_mlir_ciface_attention(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr) attributes {llvm.emit_c_interface}
// LLVMIR: define void @_mlir_ciface_attention(ptr %0, ptr %1, ptr %2, ptr %3, ptr %4)
// LLVMIR-NOT: __kmpc
// OMP: omp.parallel num_threads(%{{.*}} : i32) {
// OMP:   omp.wsloop schedule(dynamic = %{{.*}} : i32) {
// OMPIR: call void (ptr, i32, ptr, ...) @__kmpc_fork_call
// OMPIR: call void @__kmpc_dispatch_init_8u

func.func @attention(%q: tensor<2x4x100x64xbf16>, %k: tensor<2x2x100x64xbf16>, %v: tensor<2x2x100x64xbf16>)
    -> (tensor<2x4x100x64xbf16>, tensor<2x4x100xf32>) {
  %init0 = tensor.empty() : tensor<2x4x100x64xbf16>
  %linit0 = tensor.empty() : tensor<2x4x100xf32>
  %o, %l = sparse_attn.attention %q, %k, %v outs(%init0, %linit0 : tensor<2x4x100x64xbf16>, tensor<2x4x100xf32>) {pattern = #sparse_attn.union<[#sparse_attn.window<before = 20, after = 0>, #sparse_attn.global<[0]>]>}
      : tensor<2x4x100x64xbf16>, tensor<2x2x100x64xbf16>, tensor<2x2x100x64xbf16> -> tensor<2x4x100x64xbf16>, tensor<2x4x100xf32>
  return %o, %l : tensor<2x4x100x64xbf16>, tensor<2x4x100xf32>
}
// The fused kernel's softmax computes exp of its non-positive arguments with
// its own vector arithmetic (2^n p(f), n by roundeven), not with math.exp, so
// there is no per-lane libm call with or without polynomial-math (which
// rewrites the remaining math.exp, e.g. in a score_mod body).
// RUN: sparse-attn-opt %s --sparse-attn-to-llvm-cpu | FileCheck %s --check-prefix=NOEXPF
// RUN: sparse-attn-opt %s --sparse-attn-to-llvm-cpu="polynomial-math=false" | FileCheck %s --check-prefix=NOEXPF
// NOEXPF-NOT: llvm.intr.exp
// NOEXPF: llvm.intr.roundeven
// NOEXPF-NOT: llvm.intr.exp
