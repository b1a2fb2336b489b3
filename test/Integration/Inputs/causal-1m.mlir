// Causal at S = 2^20 (2^28 tiles of 64 x 64): compiled without tables.
func.func @attention(%q: tensor<1x1x1048576x64xf32>) -> tensor<1x1x1048576x64xf32> {
  %init0 = tensor.empty() : tensor<1x1x1048576x64xf32>
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x1x1048576x64xf32>) {pattern = #sparse_attn.causal}
      : tensor<1x1x1048576x64xf32>, tensor<1x1x1048576x64xf32>, tensor<1x1x1048576x64xf32> -> tensor<1x1x1048576x64xf32>
  return %o : tensor<1x1x1048576x64xf32>
}
