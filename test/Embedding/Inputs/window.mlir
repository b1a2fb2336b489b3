func.func @attention(%q: tensor<1x2x40x16xf32>) -> tensor<1x2x40x16xf32> {
  %init0 = tensor.empty() : tensor<1x2x40x16xf32>
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x2x40x16xf32>) {pattern = #sparse_attn.window<before = 4, after = 0>}
      : tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32> -> tensor<1x2x40x16xf32>
  return %o : tensor<1x2x40x16xf32>
}
