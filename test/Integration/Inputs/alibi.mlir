// ALiBi as a score modification (the tiling and online-attention checks).
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
