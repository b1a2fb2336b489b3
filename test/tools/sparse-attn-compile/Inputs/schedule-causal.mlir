// sparse-attn-compile's schedule selection (schedule.test): causal, S = 8192, D = 128: 65 key tiles per 128-row block on average
func.func @attention(%q: tensor<1x2x8192x128xbf16>, %k: tensor<1x2x8192x128xbf16>, %v: tensor<1x2x8192x128xbf16>) -> tensor<1x2x8192x128xbf16> {
  %init = tensor.empty() : tensor<1x2x8192x128xbf16>
  %o = sparse_attn.attention %q, %k, %v outs(%init : tensor<1x2x8192x128xbf16>) {pattern = #sparse_attn.causal}
      : tensor<1x2x8192x128xbf16>, tensor<1x2x8192x128xbf16>, tensor<1x2x8192x128xbf16> -> tensor<1x2x8192x128xbf16>
  return %o : tensor<1x2x8192x128xbf16>
}
