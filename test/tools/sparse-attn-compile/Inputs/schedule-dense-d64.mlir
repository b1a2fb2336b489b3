// sparse-attn-compile's schedule selection (schedule.test): dense, D = 64
func.func @attention(%q: tensor<1x2x4096x64xbf16>, %k: tensor<1x2x4096x64xbf16>, %v: tensor<1x2x4096x64xbf16>) -> tensor<1x2x4096x64xbf16> {
  %init = tensor.empty() : tensor<1x2x4096x64xbf16>
  %o = sparse_attn.attention %q, %k, %v outs(%init : tensor<1x2x4096x64xbf16>) {pattern = #sparse_attn.dense}
      : tensor<1x2x4096x64xbf16>, tensor<1x2x4096x64xbf16>, tensor<1x2x4096x64xbf16> -> tensor<1x2x4096x64xbf16>
  return %o : tensor<1x2x4096x64xbf16>
}
