// RUN: sparse-attn-inspect %s --format=bits --segment-lengths=2,3,1 | FileCheck %s
// RUN: not sparse-attn-inspect %s 2>&1 | FileCheck %s --check-prefix=NOSEG
// RUN: not sparse-attn-inspect %s --segment-lengths=2,3 2>&1 | FileCheck %s --check-prefix=SUM
// RUN: not sparse-attn-inspect %s --segment-lengths=6,0 2>&1 | FileCheck %s --check-prefix=ZERO

// CHECK:      100000
// CHECK-NEXT: 110000
// CHECK-NEXT: 001000
// CHECK-NEXT: 001100
// CHECK-NEXT: 001110
// CHECK-NEXT: 000001

// NOSEG: segments.mlir:[[@LINE+7]]:8: error: the pattern reads runtime segment ids: pass --segment-lengths=L1,L2,... to inspect it
// SUM: error: --segment-lengths add up to 5 but Sq = 6 and Sk = 6
// ZERO: error: --segment-lengths entries must be positive, got 0

!t = tensor<1x1x6x4xf32>
func.func @f(%q: !t, %s: tensor<1x6xi32>) -> !t {
  %init0 = tensor.empty() : !t
  %o = sparse_attn.attention %q, %q, %q segments(%s : tensor<1x6xi32>) outs(%init0 : !t) {pattern = #sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>} : !t, !t, !t -> !t
  return %o : !t
}
