func.func @f(%q: tensor<1x1x8x4xf32>) -> tensor<1x1x8x4xf32> {
  %init0 = tensor.empty() : tensor<1x1x8x4xf32>
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x1x8x4xf32>) {pattern = #sparse_attn.window<before = 2>} : tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32> -> tensor<1x1x8x4xf32>
  return %o : tensor<1x1x8x4xf32>
}
