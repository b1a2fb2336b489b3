// The stock mlir-opt of Debian's mlir-22-tools loads the plugin (the same
// file for the dialect and the passes), parses sparse_attn IR, runs the block
// analysis and the CPU pipeline; the result runs under mlir-runner.
// UNSUPPORTED: asan
// (stock mlir-opt is uninstrumented; the sanitizer build's plugin needs the
// ASan runtime in the host process.)
// RUN: mlir-opt %s --load-dialect-plugin=%sparse_attn_plugin --load-pass-plugin=%sparse_attn_plugin \
// RUN:   --pass-pipeline="builtin.module(canonicalize,sparse-attn-block-analysis{block-q=4 block-k=4})" | FileCheck %s
// RUN: mlir-opt %s --load-dialect-plugin=%sparse_attn_plugin --load-pass-plugin=%sparse_attn_plugin \
// RUN:   --pass-pipeline="builtin.module(sparse-attn-to-llvm-cpu{block-q=4 block-k=4})" \
// RUN: | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s --check-prefix=EXEC

// CHECK: block_mask = #sparse_attn.block_mask<block = [4, 4], num_k_blocks = 2, partial_offsets = [0, 1, 2], partial_indices = [0, 1], full_offsets = [0, 0, 1], full_indices = [0]>
// CHECK-SAME: pattern = #sparse_attn.window<before = 8, after = 0>

// Equal scores: row i averages v[j] = j over the allowed keys (causal).
// EXEC: {{\[}}[{{\[}}[0],
// EXEC-NEXT: [0.5],
// EXEC-NEXT: [1],
// EXEC-NEXT: [1.5],
// EXEC-NEXT: [2],
// EXEC-NEXT: [2.5],
// EXEC-NEXT: [3],
// EXEC-NEXT: [3.5]]]]

!qk = tensor<1x1x8x4xf32>
!v = tensor<1x1x8x1xf32>
func.func @attention(%q: !qk, %v: !v) -> !v {
  %init0 = tensor.empty() : !v
  %o = sparse_attn.attention %q, %q, %v outs(%init0 : !v) {pattern = #sparse_attn.intersect<[#sparse_attn.causal, #sparse_attn.window<before = 8, after = 8>]>}
      : !qk, !qk, !v -> !v
  return %o : !v
}
func.func private @printMemrefF32(tensor<*xf32>)
func.func @main() {
  %q = arith.constant dense<0.0> : !qk
  %v = arith.constant dense<[[[[0.0], [1.0], [2.0], [3.0], [4.0], [5.0], [6.0], [7.0]]]]> : !v
  %o = call @attention(%q, %v) : (!qk, !v) -> !v
  %u = tensor.cast %o : !v to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}
