// Forward and backward of a soft-capped causal attention with grouped-query
// heads (8 query heads over 2 KV heads), f32, S = 200.
!q = tensor<2x8x200x32xf32>
!kv = tensor<2x2x200x32xf32>
!l = tensor<2x8x200xf32>
sparse_attn.score_mod @softcap(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  %c = arith.constant 20.0 : f32
  %x = arith.divf %s, %c : f32
  %t = math.tanh %x : f32
  %r = arith.mulf %t, %c : f32
  sparse_attn.yield %r : f32
}
func.func @grad(%q: !q, %k: !kv, %v: !kv, %do: !q) -> (!q, !kv, !kv) {
  %i0 = tensor.empty() : !q
  %i1 = tensor.empty() : !l
  %o, %lse = sparse_attn.attention %q, %k, %v outs(%i0, %i1 : !q, !l)
      {pattern = #sparse_attn.causal, score_mod = @softcap} : !q, !kv, !kv -> !q, !l
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do
      {pattern = #sparse_attn.causal, score_mod = @softcap}
      : !q, !kv, !kv, !q, !l, !q -> !q, !kv, !kv
  return %dq, %dk, %dv : !q, !kv, !kv
}
