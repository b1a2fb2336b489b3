// Results returned in another order than the op's: --check maps them back.
func.func @swapped(%q: tensor<1x1x16x8xf32>) -> (tensor<1x1x16xf32>, tensor<1x1x16x8xf32>) {
  %init0 = tensor.empty() : tensor<1x1x16x8xf32>
  %linit0 = tensor.empty() : tensor<1x1x16xf32>
  %o, %l = sparse_attn.attention %q, %q, %q outs(%init0, %linit0 : tensor<1x1x16x8xf32>, tensor<1x1x16xf32>) {pattern = #sparse_attn.causal}
      : tensor<1x1x16x8xf32>, tensor<1x1x16x8xf32>, tensor<1x1x16x8xf32> -> tensor<1x1x16x8xf32>, tensor<1x1x16xf32>
  return %l, %o : tensor<1x1x16xf32>, tensor<1x1x16x8xf32>
}
