// BigBird (Zaheer et al., 2020): sliding window + global tokens + random blocks, GQA with 8 query and 2 key/value heads.
// Inspect:  sparse-attn-inspect examples/bigbird.mlir --block=64x64
//           sparse-attn-inspect examples/bigbird.mlir --format=blocks --block=64x64
func.func @attention(%q: tensor<1x8x1024x64xf16>, %k: tensor<1x2x1024x64xf16>, %v: tensor<1x2x1024x64xf16>) -> tensor<1x8x1024x64xf16> {
  %init0 = tensor.empty() : tensor<1x8x1024x64xf16>
  %o = sparse_attn.attention %q, %k, %v outs(%init0 : tensor<1x8x1024x64xf16>) {pattern = #sparse_attn.union<[#sparse_attn.window<before = 96, after = 96>,
                                             #sparse_attn.global<[0, 1, 2, 3]>,
                                             #sparse_attn.random<block = 64, per_row = 2, seed = 0>]>}
      : tensor<1x8x1024x64xf16>, tensor<1x2x1024x64xf16>, tensor<1x2x1024x64xf16> -> tensor<1x8x1024x64xf16>
  return %o : tensor<1x8x1024x64xf16>
}
