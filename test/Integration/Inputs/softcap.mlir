// Tanh soft-capping (Gemma 2: 30 tanh(s / 30)) with a causal mask, f32:
// the score modification runs on vectors of rows with a polynomial tanh.
sparse_attn.score_mod @softcap(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  %inv = arith.constant 0.0333333351 : f32
  %cap = arith.constant 30.0 : f32
  %x = arith.mulf %s, %inv : f32
  %t = math.tanh %x : f32
  %r = arith.mulf %t, %cap : f32
  sparse_attn.yield %r : f32
}
func.func @attention(%q: tensor<2x3x77x32xf32>, %k: tensor<2x3x90x32xf32>, %v: tensor<2x3x90x16xf32>) -> tensor<2x3x77x16xf32> {
  %init = tensor.empty() : tensor<2x3x77x16xf32>
  %o = sparse_attn.attention %q, %k, %v outs(%init : tensor<2x3x77x16xf32>)
      {pattern = #sparse_attn.causal, score_mod = @softcap, scale = 4.0 : f32}
      : tensor<2x3x77x32xf32>, tensor<2x3x90x32xf32>, tensor<2x3x90x16xf32> -> tensor<2x3x77x16xf32>
  return %o : tensor<2x3x77x16xf32>
}
