// Everything but the head dimensions dynamic (fused lowering only).
func.func @dynamic_heads(%q: tensor<?x?x?x16xf32>, %k: tensor<?x?x?x16xf32>, %v: tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32> {
  %dc0_0_0 = arith.constant 0 : index
  %dd0_0_0 = tensor.dim %q, %dc0_0_0 : tensor<?x?x?x16xf32>
  %dc0_0_1 = arith.constant 1 : index
  %dd0_0_1 = tensor.dim %q, %dc0_0_1 : tensor<?x?x?x16xf32>
  %dc0_0_2 = arith.constant 2 : index
  %dd0_0_2 = tensor.dim %q, %dc0_0_2 : tensor<?x?x?x16xf32>
  %init0 = tensor.empty(%dd0_0_0, %dd0_0_1, %dd0_0_2) : tensor<?x?x?x8xf32>
  %o = sparse_attn.attention %q, %k, %v outs(%init0 : tensor<?x?x?x8xf32>) {pattern = #sparse_attn.intersect<[#sparse_attn.causal, #sparse_attn.dilated<before = 12, after = 12, dilation = 3>]>}
      : tensor<?x?x?x16xf32>, tensor<?x?x?x16xf32>, tensor<?x?x?x8xf32> -> tensor<?x?x?x8xf32>
  return %o : tensor<?x?x?x8xf32>
}
