// User-authored mask and score modification as IR.
// Inspect:  sparse-attn-inspect examples/custom.mlir --block=64x64
// A user-authored mask: keys within 64 positions, or every 128th key,
// causal; plus ALiBi as a score modification.
sparse_attn.mask @local_or_landmark(%b: index, %h: index, %q: index, %k: index) {
  %c64 = arith.constant 64 : index
  %c128 = arith.constant 128 : index
  %c0 = arith.constant 0 : index
  %d = arith.subi %q, %k : index
  %causal = arith.cmpi sge, %d, %c0 : index
  %near = arith.cmpi slt, %d, %c64 : index
  %r = arith.remsi %k, %c128 : index
  %landmark = arith.cmpi eq, %r, %c0 : index
  %either = arith.ori %near, %landmark : i1
  %ok = arith.andi %causal, %either : i1
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

func.func @attention(%q: tensor<1x8x1024x64xf16>, %k: tensor<1x2x1024x64xf16>, %v: tensor<1x2x1024x64xf16>) -> tensor<1x8x1024x64xf16> {
  %init0 = tensor.empty() : tensor<1x8x1024x64xf16>
  %o = sparse_attn.attention %q, %k, %v
      outs(%init0 : tensor<1x8x1024x64xf16>) {pattern = #sparse_attn.custom<@local_or_landmark>, score_mod = @alibi}
      : tensor<1x8x1024x64xf16>, tensor<1x2x1024x64xf16>, tensor<1x2x1024x64xf16> -> tensor<1x8x1024x64xf16>
  return %o : tensor<1x8x1024x64xf16>
}
