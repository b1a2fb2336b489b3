// What the backward's kernels on warpgroup MMAs (mma=wgmma) need: D and
// Dv multiples of 64 (at most 256), one warpgroup of 64 rows (warps = 4),
// block-k a multiple of 64 (the one measured: 64), deterministic dQ
// (atomic dQ reads the key block with ldmatrix, not from the swizzled
// layout); a diagnostic at the op otherwise, never a fallback.
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu="mma=wgmma" --split-input-file --verify-diagnostics
// RUN: not sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu="mma=wgmma warps=8" 2>&1 | FileCheck %s --check-prefix=WARPS
// RUN: not sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu="mma=wgmma grad-dq=atomic" 2>&1 | FileCheck %s --check-prefix=ATOMIC
// RUN: not sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu="mma=wgmma block-k=32" 2>&1 | FileCheck %s --check-prefix=BLOCKK
// RUN: not sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu="mma=wgmma block-k=128" 2>&1 | FileCheck %s --check-prefix=SMEM
// RUN: not sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu="mma=auto block-k=128" 2>&1 | FileCheck %s --check-prefix=AUTOSMEM

// WARPS: error: 'sparse_attn.attention_grad' op mma=wgmma (the backward's kernels on warpgroup MMAs) needs warps = 4 (one warpgroup of 64 keys), got 8
// BLOCKK: error: 'sparse_attn.attention_grad' op mma=wgmma (the backward's kernels on warpgroup MMAs) needs block-k a multiple of 64 (as the forward's), got 32
// D = 256 at block-k 128: the key kernel's 128-key K / V blocks and Q / dO
// tiles exceed a thread block's shared memory. mma=auto then measures the
// mma.sync plan, which (padded rows) needs more still: an error either way.
// SMEM: error: 'sparse_attn.attention_grad' op mma=wgmma (the backward's kernels on warpgroup MMAs) needs the tiles in at most 232448 bytes of shared memory, got 330752
// AUTOSMEM: error: 'sparse_attn.attention_grad' op the GPU backward would need 339968 bytes of shared memory at warps 4 and block-k 128
// ATOMIC: error: 'sparse_attn.attention_grad' op mma=wgmma (the backward's kernels on warpgroup MMAs) needs grad-dq=deterministic (atomic dQ reads the key block with ldmatrix, not from the swizzled layout)

!q = tensor<1x2x128x128xbf16>
!l = tensor<1x2x128xf32>
func.func @fits(%q: !q, %o: !q, %lse: !l, %do: !q) -> !q {
  // Lowered with mma=wgmma; refused by the option RUN lines above.
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %q, %q, %o, %lse, %do {pattern = #sparse_attn.causal} : !q, !q, !q, !q, !l, !q -> !q, !q, !q
  return %dq : !q
}

// -----

!q = tensor<1x2x128x32xbf16>
!l = tensor<1x2x128xf32>
func.func @small_head(%q: !q, %o: !q, %lse: !l, %do: !q) -> !q {
  // expected-error @+1 {{mma=wgmma (the backward's kernels on warpgroup MMAs) needs D and Dv multiples of 64, at most 256, got D = 32, Dv = 32}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %q, %q, %o, %lse, %do {pattern = #sparse_attn.causal} : !q, !q, !q, !q, !l, !q -> !q, !q, !q
  return %dq : !q
}

// -----

!q = tensor<1x2x128x64xbf16>
!v = tensor<1x2x128x320xbf16>
!l = tensor<1x2x128xf32>
func.func @wide_values(%q: !q, %v: !v, %o: !v, %lse: !l, %do: !v) -> !q {
  // expected-error @+1 {{mma=wgmma (the backward's kernels on warpgroup MMAs) needs D and Dv multiples of 64, at most 256, got D = 64, Dv = 320}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %q, %v, %o, %lse, %do {pattern = #sparse_attn.causal} : !q, !q, !v, !v, !l, !v -> !q, !q, !v
  return %dq : !q
}

// -----

!q = tensor<1x2x256x256xbf16>
!l = tensor<1x2x256xf32>
func.func @wide_head(%q: !q, %o: !q, %lse: !l, %do: !q) -> !q {
  // Fits at block-k 64 (lowered by the first RUN line); see SMEM.
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %q, %q, %o, %lse, %do {pattern = #sparse_attn.causal} : !q, !q, !q, !q, !l, !q -> !q, !q, !q
  return %dq : !q
}
