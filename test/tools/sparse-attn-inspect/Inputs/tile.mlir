func.func @f(%q: tensor<1x1x16x8xf32>, %k: tensor<1x1x64x8xf32>, %i: index) -> tensor<1x1x16x8xf32> {
  %init = tensor.empty() : tensor<1x1x16x8xf32>
  %o = sparse_attn.attention %q, %k, %k tile_of(%i, %i, %i) at(%i, %i, %i, %i) outs(%init : tensor<1x1x16x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x1x16x8xf32>, tensor<1x1x64x8xf32>, tensor<1x1x64x8xf32> -> tensor<1x1x16x8xf32>
  return %o : tensor<1x1x16x8xf32>
}
