// Score modifications in the GPU kernel: tanh soft-capping becomes the
// hardware tanh.approx.f32 (approx-tanh, default on), or the accurate
// libdevice-style call with approx-tanh=false; a region that reads the
// sequence lengths gets the kernel's lengths (static constants here).
// RUN: sparse-attn-opt %s --sparse-attn-to-nvvm="binary=false" | FileCheck %s --check-prefix=APPROX
// RUN: sparse-attn-opt %s --sparse-attn-to-nvvm="binary=false approx-tanh=false" | FileCheck %s --check-prefix=ACCURATE
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu=approx-tanh=false | FileCheck %s --check-prefix=LEN

// APPROX: llvm.inline_asm asm_dialect = att "tanh.approx.f32 $0, $1;", "=f,f"
// APPROX-NOT: __nv_tanhf
// ACCURATE-NOT: tanh.approx
// ACCURATE: llvm.call @__nv_tanhf

sparse_attn.score_mod @softcap(%s: f32, %b: index, %h: index, %q: index, %k: index, %sq: index, %sk: index) {
  %inv = arith.constant 0.0333333351 : f32
  %cap = arith.constant 30.0 : f32
  %x = arith.mulf %s, %inv : f32
  %t = math.tanh %x : f32
  %r = arith.mulf %t, %cap : f32
  // A length-dependent term: + (sk - sq) * 0 keeps the value.
  %d = arith.subi %sk, %sq : index
  %di = arith.index_cast %d : index to i64
  %df = arith.sitofp %di : i64 to f32
  %z = arith.constant 0.0 : f32
  %e = arith.mulf %df, %z : f32
  %r2 = arith.addf %r, %e : f32
  sparse_attn.yield %r2 : f32
}
// LEN-LABEL: gpu.func @sparse_attention
// LEN-DAG: arith.constant 256 : index
// LEN-DAG: arith.constant 384 : index
// LEN: math.tanh
func.func @attention(%q: tensor<1x2x256x64xbf16>, %k: tensor<1x2x384x64xbf16>) -> tensor<1x2x256x64xbf16> {
  %init = tensor.empty() : tensor<1x2x256x64xbf16>
  %o = sparse_attn.attention %q, %k, %k outs(%init : tensor<1x2x256x64xbf16>)
      {pattern = #sparse_attn.causal, score_mod = @softcap}
      : tensor<1x2x256x64xbf16>, tensor<1x2x384x64xbf16>, tensor<1x2x384x64xbf16> -> tensor<1x2x256x64xbf16>
  return %o : tensor<1x2x256x64xbf16>
}
