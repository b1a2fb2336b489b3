// warp-specialize-ptxas.test: causal, D = 256 (O alone is 128 floats per consumer thread)
func.func @attention(%q: tensor<1x2x1024x256xbf16>, %k: tensor<1x2x1024x256xbf16>, %v: tensor<1x2x1024x256xbf16>) -> tensor<1x2x1024x256xbf16> {
  %init = tensor.empty() : tensor<1x2x1024x256xbf16>
  %o = sparse_attn.attention %q, %k, %v outs(%init : tensor<1x2x1024x256xbf16>) {pattern = #sparse_attn.causal}
      : tensor<1x2x1024x256xbf16>, tensor<1x2x1024x256xbf16>, tensor<1x2x1024x256xbf16> -> tensor<1x2x1024x256xbf16>
  return %o : tensor<1x2x1024x256xbf16>
}
