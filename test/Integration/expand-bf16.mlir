// bf16 <-> f32 conversions expanded into integer arithmetic
// (sparse-attn-expand-bf16, what the pipelines use for CPUs without
// avx512bf16) give bit-identical results to LLVM's own fptrunc / fpext,
// and leave no bf16 fptrunc for LLVM to turn into a __truncsfbf2 call.
// RUN: sparse-attn-opt %s --sparse-attn-to-llvm-cpu="block-q=4 block-k=4" \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils > %t.native
// RUN: sparse-attn-opt %s --sparse-attn-to-llvm-cpu="block-q=4 block-k=4 expand-bf16=true" \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils > %t.expanded
// RUN: tail -n +2 %t.native > %t.a && tail -n +2 %t.expanded > %t.b && diff %t.a %t.b
// RUN: FileCheck %s --input-file=%t.expanded
// RUN: sparse-attn-opt %s --sparse-attn-to-llvm-cpu="block-q=4 block-k=4 expand-bf16=true" \
// RUN: | FileCheck %s --check-prefix=IR
// IR-NOT: llvm.fptrunc {{.*}}bf16
// IR-NOT: llvm.fpext {{.*}}bf16
// IR: llvm.func @attention
// CHECK: rank = 4 offset = 0 sizes = [1, 1, 8, 2]
// Row 0 of causal attention is value row 0.
// CHECK-NEXT: {{\[\[\[\[}}0, -1.10156]

!qk = tensor<1x1x8x4xbf16>
!v = tensor<1x1x8x2xbf16>

func.func @attention(%q: !qk, %k: !qk, %v: !v) -> !v {
  %init0 = tensor.empty() : !v
  %o = sparse_attn.attention %q, %k, %v outs(%init0 : !v) {pattern = #sparse_attn.causal} : !qk, !qk, !v -> !v
  return %o : !v
}

func.func private @printMemrefF32(tensor<*xf32>)

func.func @main() {
  %q = arith.constant dense<[[[[0.0000, 0.6442, 0.9854, 0.8632], [0.9636, 0.9093, 0.4274, -0.2555], [0.5155, -0.1577, -0.7568, -0.9999], [-0.6878, -0.9937, -0.8323, -0.2794], [-0.8835, -0.3739, 0.3115, 0.8504], [0.2151, 0.7937, 0.9989, 0.7344], [0.9985, 0.7985, 0.2229, -0.4575], [0.3191, -0.3665, -0.8797, -0.9792]]]]> : !qk
  %k = arith.constant dense<[[[[1.0000, 0.9211, 0.6967, 0.3624], [0.6216, 0.8776, 0.9950, 0.9553], [-0.2272, 0.1700, 0.5403, 0.8253], [-0.9041, -0.6663, -0.3233, 0.0707], [-0.8968, -0.9983, -0.9422, -0.7374], [-0.2108, -0.5748, -0.8481, -0.9875], [0.6347, 0.2837, -0.1122, -0.4903], [0.9999, 0.9275, 0.7087, 0.3780]]]]> : !qk
  %v = arith.constant dense<[[[[0.0000, -1.1000], [0.3800, -0.7200], [0.7800, -0.3200], [1.2000, 0.1000], [1.6400, 0.5400], [2.1000, 1.0000], [2.5800, 1.4800], [3.0800, 1.9800]]]]> : !v
  %o = call @attention(%q, %k, %v) : (!qk, !qk, !v) -> !v
  %e = tensor.empty() : tensor<1x1x8x2xf32>
  %f = linalg.generic {indexing_maps = [affine_map<(a, b, c, d) -> (a, b, c, d)>, affine_map<(a, b, c, d) -> (a, b, c, d)>],
                       iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%o : !v) outs(%e : tensor<1x1x8x2xf32>) {
  ^bb0(%x: bf16, %y: f32):
    %w = arith.extf %x : bf16 to f32
    linalg.yield %w : f32
  } -> tensor<1x1x8x2xf32>
  %u = tensor.cast %f : tensor<1x1x8x2xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}
