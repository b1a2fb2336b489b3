// Causal attention, S = 256, f32: with V[255] NaN only row 255 may be NaN.
func.func @causal(%q: tensor<1x1x256x16xf32>, %k: tensor<1x1x256x16xf32>, %v: tensor<1x1x256x16xf32>) -> tensor<1x1x256x16xf32> {
  %init0 = tensor.empty() : tensor<1x1x256x16xf32>
  %o = sparse_attn.attention %q, %k, %v outs(%init0 : tensor<1x1x256x16xf32>) {pattern = #sparse_attn.causal}
      : tensor<1x1x256x16xf32>, tensor<1x1x256x16xf32>, tensor<1x1x256x16xf32> -> tensor<1x1x256x16xf32>
  return %o : tensor<1x1x256x16xf32>
}
