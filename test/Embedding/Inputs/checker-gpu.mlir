// The extension pattern through the GPU pipeline (bf16, static shapes).
func.func @attention(%q: tensor<1x2x256x64xbf16>, %k: tensor<1x2x256x64xbf16>,
                     %v: tensor<1x2x256x64xbf16>) -> tensor<1x2x256x64xbf16> {
  %init0 = tensor.empty() : tensor<1x2x256x64xbf16>
  %o = sparse_attn.attention %q, %k, %v outs(%init0 : tensor<1x2x256x64xbf16>) {pattern = #sparse_attn.intersect<[
        #sparse_attn.causal, #sa_ext.checker<block = 32>]>}
      : tensor<1x2x256x64xbf16>, tensor<1x2x256x64xbf16>, tensor<1x2x256x64xbf16>
      -> tensor<1x2x256x64xbf16>
  return %o : tensor<1x2x256x64xbf16>
}
