// f32, sizes that no tile divides, Sq != Sk, GQA (6 query heads over 2
// key/value heads), Dv != D, and the log-sum-exp result.
func.func @odd(%q: tensor<2x6x37x24xf32>, %k: tensor<2x2x53x24xf32>, %v: tensor<2x2x53x40xf32>)
    -> (tensor<2x6x37x40xf32>, tensor<2x6x37xf32>) {
  %init0 = tensor.empty() : tensor<2x6x37x40xf32>
  %linit0 = tensor.empty() : tensor<2x6x37xf32>
  %o, %l = sparse_attn.attention %q, %k, %v
      outs(%init0, %linit0 : tensor<2x6x37x40xf32>, tensor<2x6x37xf32>) {pattern = #sparse_attn.union<[#sparse_attn.window<before = 5, after = 3>, #sparse_attn.global<[0, 36, 52]>]>}
      : tensor<2x6x37x24xf32>, tensor<2x2x53x24xf32>, tensor<2x2x53x40xf32> -> tensor<2x6x37x40xf32>, tensor<2x6x37xf32>
  return %o, %l : tensor<2x6x37x40xf32>, tensor<2x6x37xf32>
}
