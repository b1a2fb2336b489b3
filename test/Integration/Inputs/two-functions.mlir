func.func @scalar(%x: f32) -> f32 {
  return %x : f32
}
func.func @twice(%q: tensor<1x1x8x8xf32>) -> tensor<1x1x8x8xf32> {
  %init0 = tensor.empty() : tensor<1x1x8x8xf32>
  %a = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x1x8x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32> -> tensor<1x1x8x8xf32>
  %init1 = tensor.empty() : tensor<1x1x8x8xf32>
  %b = sparse_attn.attention %a, %q, %q outs(%init1 : tensor<1x1x8x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32> -> tensor<1x1x8x8xf32>
  return %b : tensor<1x1x8x8xf32>
}
