// Rows 0..49 allow no key (k <= q and (q == 50 or k == 50)); with V[3]
// NaN they must still be exactly 0 with LSE -inf.
func.func @empty(%q: tensor<1x1x256x16xf32>, %k: tensor<1x1x256x16xf32>, %v: tensor<1x1x256x16xf32>) -> (tensor<1x1x256x16xf32>, tensor<1x1x256xf32>) {
  %init0 = tensor.empty() : tensor<1x1x256x16xf32>
  %linit0 = tensor.empty() : tensor<1x1x256xf32>
  %o, %l = sparse_attn.attention %q, %k, %v
      outs(%init0, %linit0 : tensor<1x1x256x16xf32>, tensor<1x1x256xf32>) {pattern = #sparse_attn.intersect<[#sparse_attn.causal, #sparse_attn.global<[50]>]>}
      : tensor<1x1x256x16xf32>, tensor<1x1x256x16xf32>, tensor<1x1x256x16xf32> -> tensor<1x1x256x16xf32>, tensor<1x1x256xf32>
  return %o, %l : tensor<1x1x256x16xf32>, tensor<1x1x256xf32>
}
