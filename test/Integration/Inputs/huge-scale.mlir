// scale = 3e38 is finite, but scale * q . k overflows f32 for |q . k| > 1.1.
func.func @f(%q: tensor<1x1x64x16xf32>) -> tensor<1x1x64x16xf32> {
  %init0 = tensor.empty() : tensor<1x1x64x16xf32>
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x1x64x16xf32>) {pattern = #sparse_attn.causal, scale = 3.0e38 : f32}
      : tensor<1x1x64x16xf32>, tensor<1x1x64x16xf32>, tensor<1x1x64x16xf32> -> tensor<1x1x64x16xf32>
  return %o : tensor<1x1x64x16xf32>
}
