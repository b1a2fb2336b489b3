// sparse-attn-compile's schedule selection (schedule.test): sliding window of 1024 keys, D = 128: 18-19 key tiles per 128-row block
func.func @attention(%q: tensor<1x2x8192x128xbf16>, %k: tensor<1x2x8192x128xbf16>, %v: tensor<1x2x8192x128xbf16>) -> tensor<1x2x8192x128xbf16> {
  %init = tensor.empty() : tensor<1x2x8192x128xbf16>
  %o = sparse_attn.attention %q, %k, %v outs(%init : tensor<1x2x8192x128xbf16>) {pattern = #sparse_attn.window<before = 1024, after = 0>}
      : tensor<1x2x8192x128xbf16>, tensor<1x2x8192x128xbf16>, tensor<1x2x8192x128xbf16> -> tensor<1x2x8192x128xbf16>
  return %o : tensor<1x2x8192x128xbf16>
}
