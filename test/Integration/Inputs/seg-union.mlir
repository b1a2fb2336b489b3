// segments inside a union: without ids at compile time the tiles must stay
// partial (a scan would see segments as "everything allowed").
func.func @seg_union(%q: tensor<1x2x64x16xf32>, %s: tensor<1x64xi32>) -> tensor<1x2x64x16xf32> {
  %init0 = tensor.empty() : tensor<1x2x64x16xf32>
  %o = sparse_attn.attention %q, %q, %q segments(%s : tensor<1x64xi32>)
      outs(%init0 : tensor<1x2x64x16xf32>) {pattern = #sparse_attn.union<[#sparse_attn.segments, #sparse_attn.global<[0]>]>}
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32> -> tensor<1x2x64x16xf32>
  return %o : tensor<1x2x64x16xf32>
}
