// A score modification that divides by the key position (zero at k = 0):
// rejected by the verifier (it raised SIGFPE inside the JIT kernel).
sparse_attn.score_mod @s(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  %r = arith.remui %q, %k : index
  %i = arith.index_cast %r : index to i64
  %f = arith.sitofp %i : i64 to f32
  %o = arith.addf %s, %f : f32
  sparse_attn.yield %o : f32
}
func.func @f(%q: tensor<1x1x64x16xf32>) -> tensor<1x1x64x16xf32> {
  %init0 = tensor.empty() : tensor<1x1x64x16xf32>
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x1x64x16xf32>) {pattern = #sparse_attn.causal, score_mod = @s}
      : tensor<1x1x64x16xf32>, tensor<1x1x64x16xf32>, tensor<1x1x64x16xf32> -> tensor<1x1x64x16xf32>
  return %o : tensor<1x1x64x16xf32>
}
