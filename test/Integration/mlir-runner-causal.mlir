// The fused CPU pipeline's output runs under upstream mlir-runner.
// With q = k = 0 every allowed score is equal, so causal attention averages
// the allowed value rows: with v[j] = j, row i of the output is i / 2; the
// LSE is log(i + 1).
// RUN: sparse-attn-opt %s --sparse-attn-to-llvm-cpu="block-q=4 block-k=4" \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

!qk = tensor<1x1x10x8xf32>
!v = tensor<1x1x10x2xf32>

func.func @attention(%q: !qk, %k: !qk, %v: !v) -> (!v, tensor<1x1x10xf32>) {
  %init0 = tensor.empty() : !v
  %linit0 = tensor.empty() : tensor<1x1x10xf32>
  %o, %lse = sparse_attn.attention %q, %k, %v outs(%init0, %linit0 : !v, tensor<1x1x10xf32>) {pattern = #sparse_attn.causal}
      : !qk, !qk, !v -> !v, tensor<1x1x10xf32>
  return %o, %lse : !v, tensor<1x1x10xf32>
}

func.func private @printMemrefF32(tensor<*xf32>)

func.func @main() {
  %zero = arith.constant dense<0.0> : !qk
  %v = arith.constant dense<[[[[0.0, 0.0], [1.0, -1.0], [2.0, -2.0], [3.0, -3.0], [4.0, -4.0],
                               [5.0, -5.0], [6.0, -6.0], [7.0, -7.0], [8.0, -8.0], [9.0, -9.0]]]]> : !v
  %o, %lse = call @attention(%zero, %zero, %v) : (!qk, !qk, !v) -> (!v, tensor<1x1x10xf32>)
  %u = tensor.cast %o : !v to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  %l = tensor.cast %lse : tensor<1x1x10xf32> to tensor<*xf32>
  call @printMemrefF32(%l) : (tensor<*xf32>) -> ()
  return
}

// CHECK: Unranked Memref base@ = {{.*}} rank = 4 offset = 0 sizes = [1,{{ +}}1,{{ +}}10,{{ +}}2] strides = [20,{{ +}}20,{{ +}}2,{{ +}}1] data =
// CHECK: {{\[}}[{{\[}}[0,{{ +}}0],
// CHECK-NEXT: [0.5,{{ +}}-0.5],
// CHECK-NEXT: [1,{{ +}}-1],
// CHECK-NEXT: [1.5,{{ +}}-1.5],
// CHECK-NEXT: [2,{{ +}}-2],
// CHECK-NEXT: [2.5,{{ +}}-2.5],
// CHECK-NEXT: [3,{{ +}}-3],
// CHECK-NEXT: [3.5,{{ +}}-3.5],
// CHECK-NEXT: [4,{{ +}}-4],
// CHECK-NEXT: [4.5,{{ +}}-4.5]]]]
// CHECK: Unranked Memref base@ = {{.*}} rank = 3 offset = 0 sizes = [1,{{ +}}1,{{ +}}10] strides = [10,{{ +}}10,{{ +}}1] data =
// CHECK-NEXT: {{\[}}[0,{{ +}}0.693147,{{ +}}1.09861,{{ +}}1.38629,{{ +}}1.60944,{{ +}}1.79176,{{ +}}1.94591,{{ +}}2.07944,{{ +}}2.19722,{{ +}}2.30259]]]
