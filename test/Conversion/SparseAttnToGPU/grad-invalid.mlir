// What the GPU backward (two kernels over compile-time tables, restricted
// at run time by runtime block tables; mma=wgmma: grad-invalid-wgmma.mlir)
// refuses, with a diagnostic at the op and a failing pass.
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu --split-input-file --verify-diagnostics
// RUN: not sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu="warps=16 block-k=256" 2>&1 | FileCheck %s --check-prefix=SHARED
// RUN: not sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu="grad-dq=sometimes" 2>&1 | FileCheck %s --check-prefix=GRADDQ

// GRADDQ: 'sparse_attn.attention_grad' op grad-dq must be deterministic or atomic, got 'sometimes'
// SHARED: 'sparse_attn.attention_grad' op the GPU backward would need 421888 bytes of shared memory at warps 16 and block-k 256, more than the 232448 of a thread block; use fewer warps or a smaller block-k

!q = tensor<1x2x128x128xbf16>
!l = tensor<1x2x128xf32>
func.func @fits(%q: !q, %o: !q, %lse: !l, %do: !q) -> !q {
  // Lowered at the default options; refused by the option RUN lines above.
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %q, %q, %o, %lse, %do {pattern = #sparse_attn.causal} : !q, !q, !q, !q, !l, !q -> !q, !q, !q
  return %dq : !q
}

// -----

!q = tensor<1x2x64x64xf32>
!l = tensor<1x2x64xf32>
func.func @f32(%q: !q, %o: !q, %lse: !l, %do: !q) -> !q {
  // expected-error @+1 {{the GPU lowering needs f16 or bf16 inputs (tensor cores), got 'f32'}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %q, %q, %o, %lse, %do {pattern = #sparse_attn.causal} : !q, !q, !q, !q, !l, !q -> !q, !q, !q
  return %dq : !q
}

// -----

!q = tensor<1x2x?x64xbf16>
!l = tensor<1x2x?xf32>
func.func @dynamic(%q: !q, %o: !q, %lse: !l, %do: !q) -> !q {
  // expected-error @+1 {{the GPU backward needs static shapes, got 'tensor<1x2x?x64xbf16>'}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %q, %q, %o, %lse, %do {pattern = #sparse_attn.causal} : !q, !q, !q, !q, !l, !q -> !q, !q, !q
  return %dq : !q
}

// -----

!q = tensor<1x2x128x64xbf16>
!l = tensor<1x2x128xf32>
func.func @table_block(%q: !q, %o: !q, %lse: !l, %do: !q, %n: tensor<1x2x4xi32>, %x: tensor<1x2x4x4xi32>) -> !q {
  // Table blocks of 32 rows: the key-block kernel's query tiles (block-k 64)
  // would straddle two.
  // expected-error @+1 {{the GPU backward needs a table_block whose sides are multiples of 16 x warps (64) and of block-k (64), got [32, 128]}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %q, %q, %o, %lse, %do block_tables(%n, %x : tensor<1x2x4xi32>, tensor<1x2x4x4xi32>) {pattern = #sparse_attn.causal, table_block = array<i64: 32, 128>} : !q, !q, !q, !q, !l, !q -> !q, !q, !q
  return %dq : !q
}

// -----

!q = tensor<1x2x64x40xbf16>
!l = tensor<1x2x64xf32>
func.func @head_dim(%q: !q, %o: !q, %lse: !l, %do: !q) -> !q {
  // expected-error @+1 {{the GPU lowering needs head dimensions D and Dv that are multiples of 16, got D = 40, Dv = 40}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %q, %q, %o, %lse, %do {pattern = #sparse_attn.causal} : !q, !q, !q, !q, !l, !q -> !q, !q, !q
  return %dq : !q
}

// -----

!q = tensor<1x1x1048576x16xbf16>
!l = tensor<1x1x1048576xf32>
func.func @too_many_tiles(%q: !q, %o: !q, %lse: !l, %do: !q) -> !q {
  // expected-error @+1 {{has more tiles than the GPU backward's compile-time tables hold (4194304)}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %q, %q, %o, %lse, %do {pattern = #sparse_attn.dense} : !q, !q, !q, !q, !l, !q -> !q, !q, !q
  return %dq : !q
}

// -----

sparse_attn.score_mod @atan(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  // expected-error @+1 {{'math.atan' op cannot be differentiated with respect to the score (no derivative rule}}
  %r = math.atan %s : f32
  sparse_attn.yield %r : f32
}
!q = tensor<1x1x64x16xbf16>
!l = tensor<1x1x64xf32>
func.func @no_derivative(%q: !q, %o: !q, %lse: !l, %do: !q) -> !q {
  // expected-error @+1 {{'sparse_attn.attention_grad' op needs the derivative of score_mod @atan with respect to the score}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %q, %q, %o, %lse, %do {pattern = #sparse_attn.causal, score_mod = @atan} : !q, !q, !q, !q, !l, !q -> !q, !q, !q
  return %dq : !q
}
