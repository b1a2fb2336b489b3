// Explicit block-sparse layout (DeepSpeed / Triton style): 128 x 128 blocks, diagonal + first column + random.
// Inspect:  sparse-attn-inspect examples/blocks.mlir --block=64x64
//           sparse-attn-inspect examples/blocks.mlir --format=blocks --block=64x64
func.func @attention(%q: tensor<1x8x1024x64xf16>, %k: tensor<1x2x1024x64xf16>, %v: tensor<1x2x1024x64xf16>) -> tensor<1x8x1024x64xf16> {
  %init0 = tensor.empty() : tensor<1x8x1024x64xf16>
  %o = sparse_attn.attention %q, %k, %v outs(%init0 : tensor<1x8x1024x64xf16>) {pattern = #sparse_attn.blocks<block = [128, 128],
                  layout = dense<[[true, false, false, false, false, false, false, true],
                              [true, true, false, false, false, false, true, false],
                              [true, false, true, false, false, true, false, false],
                              [true, false, false, true, true, false, true, false],
                              [true, true, true, false, true, false, false, false],
                              [true, false, false, false, false, true, false, false],
                              [true, false, false, false, false, false, true, false],
                              [true, true, true, true, false, false, true, true]]> : tensor<8x8xi1>>}
      : tensor<1x8x1024x64xf16>, tensor<1x2x1024x64xf16>, tensor<1x2x1024x64xf16> -> tensor<1x8x1024x64xf16>
  return %o : tensor<1x8x1024x64xf16>
}
