// A tile of a larger problem (tile_of / at) on the fused CPU kernel: the
// tile's place is checked at run time, its tiles are classified at run time
// in the problem's positions (no compile-time table: the offsets are
// values), and query head h reads key/value head (h0 + h) / (Hq / Hkv).
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-loops | FileCheck %s

// CHECK-LABEL: func.func @tile
// CHECK-SAME:    %[[HQ:[^:]*]]: index, %[[SQ:[^:]*]]: index, %[[SK:[^:]*]]: index, %[[B0:[^:]*]]: index, %[[H0:[^:]*]]: index, %[[Q0:[^:]*]]: index, %[[K0:[^:]*]]: index
// CHECK-NOT:   __sparse_attn_partial_offsets
// Hkv = 2 is static.
// CHECK:       cf.assert %{{.*}}, "sparse-attn: a tile (tile_of / at) lies outside its problem, or the problem's query heads are not a multiple of the key/value heads"
// CHECK:       %[[G:.*]] = arith.divui %[[HQ]], %c2
// CHECK:       scf.parallel (%{{.*}}, %[[H:.*]], %{{.*}}) =
// CHECK:         %[[HABS:.*]] = arith.addi %[[H]], %[[H0]]
// CHECK:         arith.divui %[[HABS]], %[[G]]
func.func @tile(%q: tensor<1x2x32x16xf32>, %k: tensor<1x2x128x16xf32>, %hq: index, %sq: index, %sk: index,
                %b0: index, %h0: index, %q0: index, %k0: index) -> tensor<1x2x32x16xf32> {
  %init = tensor.empty() : tensor<1x2x32x16xf32>
  %o = sparse_attn.attention %q, %k, %k tile_of(%hq, %sq, %sk) at(%b0, %h0, %q0, %k0) outs(%init : tensor<1x2x32x16xf32>)
      {pattern = #sparse_attn.window<before = 8, after = 8>}
      : tensor<1x2x32x16xf32>, tensor<1x2x128x16xf32>, tensor<1x2x128x16xf32> -> tensor<1x2x32x16xf32>
  return %o : tensor<1x2x32x16xf32>
}
