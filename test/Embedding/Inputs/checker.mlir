// A pattern defined outside sparse-attn (examples/downstream/ext), alone and
// composed with built-ins; odd lengths, GQA (4 query heads, 2 KV heads).
func.func @alone(%q: tensor<2x4x77x24xf32>, %k: tensor<2x2x93x24xf32>,
                 %v: tensor<2x2x93x16xf32>) -> tensor<2x4x77x16xf32> {
  %init0 = tensor.empty() : tensor<2x4x77x16xf32>
  %o = sparse_attn.attention %q, %k, %v outs(%init0 : tensor<2x4x77x16xf32>) {pattern = #sa_ext.checker<block = 8>}
      : tensor<2x4x77x24xf32>, tensor<2x2x93x24xf32>, tensor<2x2x93x16xf32>
      -> tensor<2x4x77x16xf32>
  return %o : tensor<2x4x77x16xf32>
}

func.func @composite(%q: tensor<2x4x77x24xf32>, %k: tensor<2x2x93x24xf32>,
                     %v: tensor<2x2x93x16xf32>)
    -> (tensor<2x4x77x16xf32>, tensor<2x4x77xf32>) {
  %init1 = tensor.empty() : tensor<2x4x77x16xf32>
  %linit1 = tensor.empty() : tensor<2x4x77xf32>
  %o, %lse = sparse_attn.attention %q, %k, %v outs(%init1, %linit1 : tensor<2x4x77x16xf32>, tensor<2x4x77xf32>) {pattern = #sparse_attn.union<[
        #sparse_attn.intersect<[#sparse_attn.causal, #sa_ext.checker<block = 5>]>,
        #sparse_attn.global<[0]>]>}
      : tensor<2x4x77x24xf32>, tensor<2x2x93x24xf32>, tensor<2x2x93x16xf32>
      -> tensor<2x4x77x16xf32>, tensor<2x4x77xf32>
  return %o, %lse : tensor<2x4x77x16xf32>, tensor<2x4x77xf32>
}
