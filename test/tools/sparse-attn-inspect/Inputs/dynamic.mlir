func.func @f(%q: tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32> {
  %dc0_0_2 = arith.constant 2 : index
  %dd0_0_2 = tensor.dim %q, %dc0_0_2 : tensor<1x1x?x4xf32>
  %init0 = tensor.empty(%dd0_0_2) : tensor<1x1x?x4xf32>
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x1x?x4xf32>) {pattern = #sparse_attn.causal} : tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32> -> tensor<1x1x?x4xf32>
  return %o : tensor<1x1x?x4xf32>
}
