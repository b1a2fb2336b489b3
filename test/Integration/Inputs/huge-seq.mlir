// S = 10^9: 256 GB per argument; sparse-attn-run reports the failed allocation.
func.func @f(%q: tensor<1x1x1000000000x64xf32>, %k: tensor<1x1x1000000000x64xf32>, %v: tensor<1x1x1000000000x64xf32>) -> tensor<1x1x1000000000x64xf32> {
  %init0 = tensor.empty() : tensor<1x1x1000000000x64xf32>
  %o = sparse_attn.attention %q, %k, %v outs(%init0 : tensor<1x1x1000000000x64xf32>) {pattern = #sparse_attn.causal} : tensor<1x1x1000000000x64xf32>, tensor<1x1x1000000000x64xf32>, tensor<1x1x1000000000x64xf32> -> tensor<1x1x1000000000x64xf32>
  return %o : tensor<1x1x1000000000x64xf32>
}
