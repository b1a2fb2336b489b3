// A 2 x 2 layout of 16 x 16 blocks on a dynamic sequence: positions past the
// layout are not allowed (no out-of-bounds table reads).
func.func @dyn_blocks(%q: tensor<1x1x?x16xf32>) -> tensor<1x1x?x16xf32> {
  %dc0_0_2 = arith.constant 2 : index
  %dd0_0_2 = tensor.dim %q, %dc0_0_2 : tensor<1x1x?x16xf32>
  %init0 = tensor.empty(%dd0_0_2) : tensor<1x1x?x16xf32>
  %o = sparse_attn.attention %q, %q, %q
      outs(%init0 : tensor<1x1x?x16xf32>) {pattern = #sparse_attn.union<[#sparse_attn.window<before = 1, after = 0>,
                                     #sparse_attn.blocks<block = [16, 16], layout = dense<[[true, false], [true, true]]> : tensor<2x2xi1>>]>}
      : tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32> -> tensor<1x1x?x16xf32>
  return %o : tensor<1x1x?x16xf32>
}
