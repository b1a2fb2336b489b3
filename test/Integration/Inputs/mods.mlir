// A custom mask that depends on the head (head 0 causal, others a window),
// composed with global tokens, and ALiBi as a score modification.
sparse_attn.mask @per_head(%b: index, %h: index, %q: index, %k: index) {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %first = arith.cmpi eq, %h, %c0 : index
  %le = arith.cmpi sle, %k, %q : index
  %d = arith.subi %q, %k : index
  %ad = arith.maxsi %d, %c0 : index
  %nd = arith.subi %k, %q : index
  %bd = arith.maxsi %nd, %ad : index
  %near = arith.cmpi sle, %bd, %c4 : index
  %ok = arith.select %first, %le, %near : i1
  sparse_attn.yield %ok : i1
}
sparse_attn.score_mod @alibi(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  %d = arith.subi %q, %k : index
  %di = arith.index_cast %d : index to i64
  %df = arith.sitofp %di : i64 to f32
  %c1 = arith.constant 1 : index
  %h1 = arith.addi %h, %c1 : index
  %hi = arith.index_cast %h1 : index to i64
  %hf = arith.sitofp %hi : i64 to f32
  %neg = arith.negf %hf : f32
  %slope = math.exp2 %neg : f32
  %bias = arith.mulf %slope, %df : f32
  %r = arith.subf %s, %bias : f32
  sparse_attn.yield %r : f32
}
func.func @mods(%q: tensor<1x3x33x16xf32>) -> tensor<1x3x33x16xf32> {
  %init0 = tensor.empty() : tensor<1x3x33x16xf32>
  %o = sparse_attn.attention %q, %q, %q
      outs(%init0 : tensor<1x3x33x16xf32>) {pattern = #sparse_attn.union<[#sparse_attn.custom<@per_head>, #sparse_attn.global<[0]>]>, score_mod = @alibi}
      : tensor<1x3x33x16xf32>, tensor<1x3x33x16xf32>, tensor<1x3x33x16xf32> -> tensor<1x3x33x16xf32>
  return %o : tensor<1x3x33x16xf32>
}
