// Document masking (packed sequences): causal attention inside each document, from runtime segment ids.
// Inspect:  sparse-attn-inspect examples/document.mlir --block=64x64
//           sparse-attn-inspect examples/document.mlir --format=blocks --block=64x64 --segment-lengths=100,300,24,600
func.func @attention(%q: tensor<1x8x1024x64xf16>, %k: tensor<1x2x1024x64xf16>, %v: tensor<1x2x1024x64xf16>, %ids: tensor<1x1024xi32>) -> tensor<1x8x1024x64xf16> {
  %init0 = tensor.empty() : tensor<1x8x1024x64xf16>
  %o = sparse_attn.attention %q, %k, %v segments(%ids : tensor<1x1024xi32>) outs(%init0 : tensor<1x8x1024x64xf16>) {pattern = #sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>}
      : tensor<1x8x1024x64xf16>, tensor<1x2x1024x64xf16>, tensor<1x2x1024x64xf16> -> tensor<1x8x1024x64xf16>
  return %o : tensor<1x8x1024x64xf16>
}
