// Everything but the head dimensions dynamic (fused lowering only).
func.func @dynamic_heads(%q: tensor<?x?x?x16xf32>, %k: tensor<?x?x?x16xf32>, %v: tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32> {
  %o = sparse_attn.attention %q, %k, %v {pattern = #sparse_attn.intersect<[#sparse_attn.causal, #sparse_attn.dilated<before = 12, after = 12, dilation = 3>]>}
      : tensor<?x?x?x16xf32>, tensor<?x?x?x16xf32>, tensor<?x?x?x8xf32> -> tensor<?x?x?x8xf32>
  return %o : tensor<?x?x?x8xf32>
}
