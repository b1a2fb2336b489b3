func.func @f(%q: tensor<1x1x16384x16xf32>) -> tensor<1x1x16384x16xf32> {
  %init0 = tensor.empty() : tensor<1x1x16384x16xf32>
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x1x16384x16xf32>) {pattern = #sparse_attn.causal} : tensor<1x1x16384x16xf32>, tensor<1x1x16384x16xf32>, tensor<1x1x16384x16xf32> -> tensor<1x1x16384x16xf32>
  return %o : tensor<1x1x16384x16xf32>
}
