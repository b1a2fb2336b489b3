// What mma=wgmma needs (one or two warpgroups of 64 query rows, 64-element swizzled
// column blocks): a diagnostic at the op. mma=auto falls back to mma.sync
// for such ops instead.
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu="mma=wgmma" --split-input-file --verify-diagnostics
// RUN: not sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu="mma=wgmma warps=2" 2>&1 | FileCheck %s --check-prefix=WARPS
// RUN: not sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu="mma=wgmma block-k=32" 2>&1 | FileCheck %s --check-prefix=BLOCKK
// RUN: sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu="mma=auto" | FileCheck %s --check-prefix=AUTO

// WARPS: error: 'sparse_attn.attention' op mma=wgmma needs warps = 4 or 8 (one or two warpgroups of 64 query rows), got 2
// BLOCKK: error: 'sparse_attn.attention' op mma=wgmma needs block-k a multiple of 64, got 32
// AUTO: nvvm.mma.sync
// AUTO-NOT: nvvm.wgmma.mma_async
// AUTO: -----
// AUTO: nvvm.wgmma.mma_async

func.func @small_head(%q: tensor<1x1x64x32xbf16>) -> tensor<1x1x64x32xbf16> {
  %init0 = tensor.empty() : tensor<1x1x64x32xbf16>
  // expected-error @+1 {{mma=wgmma needs D and Dv multiples of 64 (Dv at most 256), got D = 32, Dv = 32}}
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x1x64x32xbf16>) {pattern = #sparse_attn.causal}
      : tensor<1x1x64x32xbf16>, tensor<1x1x64x32xbf16>, tensor<1x1x64x32xbf16> -> tensor<1x1x64x32xbf16>
  return %o : tensor<1x1x64x32xbf16>
}

// -----

func.func @token_tables(%q: tensor<1x4x64x64xbf16>, %k: tensor<1x1x64x64xbf16>, %n: tensor<1x1x64xi32>, %x: tensor<1x1x64x8xi32>) -> tensor<1x4x64x64xbf16> {
  %init = tensor.empty() : tensor<1x4x64x64xbf16>
  // expected-error @+1 {{mma=wgmma needs tables of at least 64 query rows per block (token tables, table_block [1, 1], run on mma.sync with the query heads as rows)}}
  %o = sparse_attn.attention %q, %k, %k block_tables(%n, %x : tensor<1x1x64xi32>, tensor<1x1x64x8xi32>) outs(%init : tensor<1x4x64x64xbf16>) {pattern = #sparse_attn.causal, table_block = array<i64: 1, 1>}
      : tensor<1x4x64x64xbf16>, tensor<1x1x64x64xbf16>, tensor<1x1x64x64xbf16> -> tensor<1x4x64x64xbf16>
  return %o : tensor<1x4x64x64xbf16>
}

// -----

func.func @fits(%q: tensor<1x1x128x64xbf16>) -> tensor<1x1x128x64xbf16> {
  %init1 = tensor.empty() : tensor<1x1x128x64xbf16>
  %o = sparse_attn.attention %q, %q, %q outs(%init1 : tensor<1x1x128x64xbf16>) {pattern = #sparse_attn.causal}
      : tensor<1x1x128x64xbf16>, tensor<1x1x128x64xbf16>, tensor<1x1x128x64xbf16> -> tensor<1x1x128x64xbf16>
  return %o : tensor<1x1x128x64xbf16>
}

