// Document masking with i32 segment ids (self-attention, one id tensor).
func.func @segments(%q: tensor<1x1x64x16xf32>, %ids: tensor<1x64xi32>) -> tensor<1x1x64x16xf32> {
  %init0 = tensor.empty() : tensor<1x1x64x16xf32>
  %o = sparse_attn.attention %q, %q, %q segments(%ids : tensor<1x64xi32>)
      outs(%init0 : tensor<1x1x64x16xf32>) {pattern = #sparse_attn.segments}
      : tensor<1x1x64x16xf32>, tensor<1x1x64x16xf32>, tensor<1x1x64x16xf32> -> tensor<1x1x64x16xf32>
  return %o : tensor<1x1x64x16xf32>
}
