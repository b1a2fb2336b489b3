// A tile of a larger problem, as TilingInterface makes it.
func.func @attention(%q: tensor<1x2x32x16xf32>, %k: tensor<1x2x128x16xf32>, %qids: tensor<1x32xi32>, %kids: tensor<1x128xi32>) -> tensor<1x2x32x16xf32> {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %c2 = arith.constant 2 : index
  %c64 = arith.constant 64 : index
  %c128 = arith.constant 128 : index
  %init = tensor.empty() : tensor<1x2x32x16xf32>
  %o = sparse_attn.attention %q, %k, %k segments(%qids, %kids : tensor<1x32xi32>, tensor<1x128xi32>)
      tile_of(%c4, %c128, %c128) at(%c0, %c2, %c64, %c0) outs(%init : tensor<1x2x32x16xf32>)
      {pattern = #sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>}
      : tensor<1x2x32x16xf32>, tensor<1x2x128x16xf32>, tensor<1x2x128x16xf32> -> tensor<1x2x32x16xf32>
  return %o : tensor<1x2x32x16xf32>
}
