// Rows 0..49 allow no key at all (k <= q and (q == 50 or k == 50)): their
// output must be 0 and their LSE -inf, never NaN.
func.func @masked(%q: tensor<1x2x64x16xf32>) -> (tensor<1x2x64x16xf32>, tensor<1x2x64xf32>) {
  %init0 = tensor.empty() : tensor<1x2x64x16xf32>
  %linit0 = tensor.empty() : tensor<1x2x64xf32>
  %o, %l = sparse_attn.attention %q, %q, %q
      outs(%init0, %linit0 : tensor<1x2x64x16xf32>, tensor<1x2x64xf32>) {pattern = #sparse_attn.intersect<[#sparse_attn.causal, #sparse_attn.global<[50]>]>}
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32> -> tensor<1x2x64x16xf32>, tensor<1x2x64xf32>
  return %o, %l : tensor<1x2x64x16xf32>, tensor<1x2x64xf32>
}
