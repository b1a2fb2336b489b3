// Causal sliding window written as a composition; --canonicalize folds it to window<before = 255, after = 0>.
// Inspect:  sparse-attn-inspect examples/causal_sliding_intersect.mlir --block=64x64
//           sparse-attn-inspect examples/causal_sliding_intersect.mlir --format=blocks --block=64x64
func.func @attention(%q: tensor<1x8x1024x64xf16>, %k: tensor<1x2x1024x64xf16>, %v: tensor<1x2x1024x64xf16>) -> tensor<1x8x1024x64xf16> {
  %init0 = tensor.empty() : tensor<1x8x1024x64xf16>
  %o = sparse_attn.attention %q, %k, %v outs(%init0 : tensor<1x8x1024x64xf16>) {pattern = #sparse_attn.intersect<[#sparse_attn.causal, #sparse_attn.window<before = 255, after = 255>]>}
      : tensor<1x8x1024x64xf16>, tensor<1x2x1024x64xf16>, tensor<1x2x1024x64xf16> -> tensor<1x8x1024x64xf16>
  return %o : tensor<1x8x1024x64xf16>
}
