func.func @f(%k: tensor<1x1x64x8xf32>) -> tensor<1x1x2x8xf32> {
  %p = sparse_attn.pool %k {kind = "mean", block = 32} : tensor<1x1x64x8xf32> -> tensor<1x1x2x8xf32>
  %c = arith.constant 2.0 : f32
  %f = linalg.fill ins(%c : f32) outs(%p : tensor<1x1x2x8xf32>) -> tensor<1x1x2x8xf32>
  return %f : tensor<1x1x2x8xf32>
}
