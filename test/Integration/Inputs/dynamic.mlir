// Dynamic batch and sequence lengths: sizes come from the .npy inputs.
func.func @dynamic(%q: tensor<?x3x?x16xf32>, %k: tensor<?x1x?x16xf32>, %v: tensor<?x1x?x8xf32>) -> tensor<?x3x?x8xf32> {
  %dc0_0_0 = arith.constant 0 : index
  %dd0_0_0 = tensor.dim %q, %dc0_0_0 : tensor<?x3x?x16xf32>
  %dc0_0_2 = arith.constant 2 : index
  %dd0_0_2 = tensor.dim %q, %dc0_0_2 : tensor<?x3x?x16xf32>
  %init0 = tensor.empty(%dd0_0_0, %dd0_0_2) : tensor<?x3x?x8xf32>
  %o = sparse_attn.attention %q, %k, %v outs(%init0 : tensor<?x3x?x8xf32>) {pattern = #sparse_attn.window<before = 7, after = 2>}
      : tensor<?x3x?x16xf32>, tensor<?x1x?x16xf32>, tensor<?x1x?x8xf32> -> tensor<?x3x?x8xf32>
  return %o : tensor<?x3x?x8xf32>
}
