// A custom mask evaluated by the interpreter, for head 0 and head 1.
// RUN: sparse-attn-inspect %s --format=bits | FileCheck %s --check-prefix=H0
// RUN: sparse-attn-inspect %s --format=bits --head=1 | FileCheck %s --check-prefix=H1
// RUN: not sparse-attn-inspect %S/Inputs/bad-mask.mlir 2>&1 | FileCheck %s --check-prefix=BAD

// H0:      1000
// H0-NEXT: 1100
// H0-NEXT: 1110
// H0-NEXT: 1111
// H1:      1111
// H1-NEXT: 1111

// BAD: bad-mask.mlir:5:8: error: cannot evaluate this operation of custom mask @bad at (b, h, q, k) = (0, 0, 0, 0)

sparse_attn.mask @head_causal(%b: index, %h: index, %q: index, %k: index) {
  %c0 = arith.constant 0 : index
  %other = arith.cmpi ne, %h, %c0 : index
  %le = arith.cmpi sle, %k, %q : index
  %ok = arith.ori %other, %le : i1
  sparse_attn.yield %ok : i1
}
func.func @f(%q: tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %init0 = tensor.empty() : tensor<1x2x4x4xf32>
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x2x4x4xf32>) {pattern = #sparse_attn.custom<@head_causal>} : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32> -> tensor<1x2x4x4xf32>
  return %o : tensor<1x2x4x4xf32>
}
