// Regions that read the sequence lengths, at Sq != Sk: a bottom-right
// aligned causal mask (k <= q + Sk - Sq, the decode / chunked-prefill
// convention) and a bias by the distance from the last key, with log1p.
sparse_attn.mask @causal_br(%b: index, %h: index, %q: index, %k: index, %sq: index, %sk: index) {
  %off = arith.subi %sk, %sq : index
  %qs = arith.addi %q, %off : index
  %ok = arith.cmpi sle, %k, %qs : index
  sparse_attn.yield %ok : i1
}
sparse_attn.score_mod @recency(%s: f32, %b: index, %h: index, %q: index, %k: index, %sq: index, %sk: index) {
  %c1 = arith.constant 1 : index
  %last = arith.subi %sk, %c1 : index
  %d = arith.subi %last, %k : index
  %di = arith.index_cast %d : index to i64
  %df = arith.sitofp %di : i64 to f32
  %l = math.log1p %df : f32
  %w = arith.constant 0.25 : f32
  %bias = arith.mulf %l, %w : f32
  %r = arith.subf %s, %bias : f32
  sparse_attn.yield %r : f32
}
func.func @lengths(%q: tensor<1x2x40x16xf32>, %k: tensor<1x2x100x16xf32>, %v: tensor<1x2x100x8xf32>) -> tensor<1x2x40x8xf32> {
  %init = tensor.empty() : tensor<1x2x40x8xf32>
  %o = sparse_attn.attention %q, %k, %v outs(%init : tensor<1x2x40x8xf32>)
      {pattern = #sparse_attn.custom<@causal_br>, score_mod = @recency}
      : tensor<1x2x40x16xf32>, tensor<1x2x100x16xf32>, tensor<1x2x100x8xf32> -> tensor<1x2x40x8xf32>
  return %o : tensor<1x2x40x8xf32>
}
