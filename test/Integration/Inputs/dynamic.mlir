// Dynamic batch and sequence lengths: sizes come from the .npy inputs.
func.func @dynamic(%q: tensor<?x3x?x16xf32>, %k: tensor<?x1x?x16xf32>, %v: tensor<?x1x?x8xf32>) -> tensor<?x3x?x8xf32> {
  %o = sparse_attn.attention %q, %k, %v {pattern = #sparse_attn.window<before = 7, after = 2>}
      : tensor<?x3x?x16xf32>, tensor<?x1x?x16xf32>, tensor<?x1x?x8xf32> -> tensor<?x3x?x8xf32>
  return %o : tensor<?x3x?x8xf32>
}
