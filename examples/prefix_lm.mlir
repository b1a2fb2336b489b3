// Prefix LM: the first 300 positions see each other, the rest is causal.
// Inspect:  sparse-attn-inspect examples/prefix_lm.mlir --block=64x64
//           sparse-attn-inspect examples/prefix_lm.mlir --format=blocks --block=64x64
func.func @attention(%q: tensor<1x8x1024x64xf16>, %k: tensor<1x2x1024x64xf16>, %v: tensor<1x2x1024x64xf16>) -> tensor<1x8x1024x64xf16> {
  %init0 = tensor.empty() : tensor<1x8x1024x64xf16>
  %o = sparse_attn.attention %q, %k, %v outs(%init0 : tensor<1x8x1024x64xf16>) {pattern = #sparse_attn.prefix<length = 300>}
      : tensor<1x8x1024x64xf16>, tensor<1x2x1024x64xf16>, tensor<1x2x1024x64xf16> -> tensor<1x8x1024x64xf16>
  return %o : tensor<1x8x1024x64xf16>
}
