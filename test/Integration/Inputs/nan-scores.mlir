// A score modification that returns NaN for the first 5 queries: NaN
// propagates to those rows in every lowering and in the reference.
sparse_attn.score_mod @nan_early(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  %c5 = arith.constant 5 : index
  %early = arith.cmpi slt, %q, %c5 : index
  %nan = arith.constant 0x7FC00000 : f32
  %r = arith.select %early, %nan, %s : f32
  sparse_attn.yield %r : f32
}
func.func @nan_scores(%q: tensor<1x1x16x8xf32>) -> (tensor<1x1x16x8xf32>, tensor<1x1x16xf32>) {
  %init0 = tensor.empty() : tensor<1x1x16x8xf32>
  %linit0 = tensor.empty() : tensor<1x1x16xf32>
  %o, %l = sparse_attn.attention %q, %q, %q outs(%init0, %linit0 : tensor<1x1x16x8xf32>, tensor<1x1x16xf32>) {pattern = #sparse_attn.causal, score_mod = @nan_early}
      : tensor<1x1x16x8xf32>, tensor<1x1x16x8xf32>, tensor<1x1x16x8xf32> -> tensor<1x1x16x8xf32>, tensor<1x1x16xf32>
  return %o, %l : tensor<1x1x16x8xf32>, tensor<1x1x16xf32>
}
