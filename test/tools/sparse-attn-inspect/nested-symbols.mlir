// Masks resolve from the attention op outwards, like the verifier: the
// inner module's @m (nothing allowed) wins over the outer one (everything).
// RUN: sparse-attn-inspect %s --format=bits | FileCheck %s
// CHECK:      00
// CHECK-NEXT: 00
sparse_attn.mask @m(%b: index, %h: index, %q: index, %k: index) {
  %t = arith.constant true
  sparse_attn.yield %t : i1
}
module @inner {
  sparse_attn.mask @m(%b: index, %h: index, %q: index, %k: index) {
    %f = arith.constant false
    sparse_attn.yield %f : i1
  }
  func.func @f(%q: tensor<1x1x2x4xf32>) -> tensor<1x1x2x4xf32> {
    %init0 = tensor.empty() : tensor<1x1x2x4xf32>
    %o = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x1x2x4xf32>) {pattern = #sparse_attn.custom<@m>} : tensor<1x1x2x4xf32>, tensor<1x1x2x4xf32>, tensor<1x1x2x4xf32> -> tensor<1x1x2x4xf32>
    return %o : tensor<1x1x2x4xf32>
  }
}
