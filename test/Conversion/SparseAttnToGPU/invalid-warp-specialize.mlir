// What the warp-specialised schedule does not lower: each refusal is a
// diagnostic at the op (never a kernel that could be wrong).
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu="mma=wgmma tma=true warp-specialize=true" --split-input-file --verify-diagnostics
// RUN: not sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu="mma=wgmma warp-specialize=true" 2>&1 | FileCheck %s --check-prefix=NOTMA
// RUN: not sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu="mma=sync tma=true warp-specialize=true" 2>&1 | FileCheck %s --check-prefix=SYNC

// RUN: not sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu="mma=wgmma tma=true warp-specialize=true warps=8 block-k=192" 2>&1 | FileCheck %s --check-prefix=SMEM

// The shared-memory check counts the schedule's eight mbarriers: this
// tile list fits exactly (232448 bytes) with four, not with eight.
// SMEM: error: 'sparse_attn.attention' op mma=wgmma needs Q, K and V tiles that fit in shared memory (232480 bytes at block-k 192, more than 232448)

// NOTMA: error: 'sparse_attn.attention' op warp-specialize needs the warpgroup kernel with TMA (mma=wgmma, or auto where wgmma applies, and tma=true)
// SYNC: error: 'sparse_attn.attention' op warp-specialize needs the warpgroup kernel with TMA (mma=wgmma, or auto where wgmma applies, and tma=true)

// Document masks whose tile list could outgrow shared memory (more than
// 4096 key tiles: the other schedules classify those tile by tile in the
// loop, with block barriers).
func.func @long_documents(%q: tensor<1x1x64x64xbf16>, %k: tensor<1x1x262208x64xbf16>, %qids: tensor<1x64xi32>, %kids: tensor<1x262208xi32>) -> tensor<1x1x64x64xbf16> {
  %init = tensor.empty() : tensor<1x1x64x64xbf16>
  // expected-error @+1 {{warp-specialize supports document masks up to 4096 key tiles (4096 x block-k keys), got 4097}}
  %o = sparse_attn.attention %q, %k, %k segments(%qids, %kids : tensor<1x64xi32>, tensor<1x262208xi32>) outs(%init : tensor<1x1x64x64xbf16>) {pattern = #sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>}
      : tensor<1x1x64x64xbf16>, tensor<1x1x262208x64xbf16>, tensor<1x1x262208x64xbf16> -> tensor<1x1x64x64xbf16>
  return %o : tensor<1x1x64x64xbf16>
}

// -----

func.func @dynamic_lengths(%q: tensor<1x2x?x64xbf16>) -> tensor<1x2x?x64xbf16> {
  %c2 = arith.constant 2 : index
  %s = tensor.dim %q, %c2 : tensor<1x2x?x64xbf16>
  %init = tensor.empty(%s) : tensor<1x2x?x64xbf16>
  // expected-error @+1 {{warp-specialize needs a static Sk of at most 4096 key tiles with runtime block tables or run-time lengths (longer or run-time key lengths are listed in chunks, each built by the whole block while the tiles run)}}
  %o = sparse_attn.attention %q, %q, %q outs(%init : tensor<1x2x?x64xbf16>) {pattern = #sparse_attn.causal}
      : tensor<1x2x?x64xbf16>, tensor<1x2x?x64xbf16>, tensor<1x2x?x64xbf16> -> tensor<1x2x?x64xbf16>
  return %o : tensor<1x2x?x64xbf16>
}

// -----

// Runtime tables over more than 4096 key tiles (a chunked list).
func.func @long_runtime_tables(%q: tensor<1x1x64x64xbf16>, %k: tensor<1x1x262208x64xbf16>, %n: tensor<1x1x1xi32>, %x: tensor<1x1x1x4xi32>) -> tensor<1x1x64x64xbf16> {
  %init = tensor.empty() : tensor<1x1x64x64xbf16>
  // expected-error @+1 {{warp-specialize needs a static Sk of at most 4096 key tiles with runtime block tables or run-time lengths}}
  %o = sparse_attn.attention %q, %k, %k block_tables(%n, %x : tensor<1x1x1xi32>, tensor<1x1x1x4xi32>) outs(%init : tensor<1x1x64x64xbf16>) {pattern = #sparse_attn.causal, table_block = array<i64: 64, 64>}
      : tensor<1x1x64x64xbf16>, tensor<1x1x262208x64xbf16>, tensor<1x1x262208x64xbf16> -> tensor<1x1x64x64xbf16>
  return %o : tensor<1x1x64x64xbf16>
}

// -----

// A compile-time table lowers (no diagnostic).
func.func @window(%q: tensor<1x2x256x64xbf16>) -> tensor<1x2x256x64xbf16> {
  %init = tensor.empty() : tensor<1x2x256x64xbf16>
  %o = sparse_attn.attention %q, %q, %q outs(%init : tensor<1x2x256x64xbf16>) {pattern = #sparse_attn.window<before = 127, after = 0>}
      : tensor<1x2x256x64xbf16>, tensor<1x2x256x64xbf16>, tensor<1x2x256x64xbf16> -> tensor<1x2x256x64xbf16>
  return %o : tensor<1x2x256x64xbf16>
}

// -----

func.func @shared_memory_edge(%q: tensor<1x2x?x128xbf16>, %k: tensor<1x2x96576x128xbf16>) -> tensor<1x2x?x128xbf16> {
  %c2 = arith.constant 2 : index
  %s = tensor.dim %q, %c2 : tensor<1x2x?x128xbf16>
  %init = tensor.empty(%s) : tensor<1x2x?x128xbf16>
  %o = sparse_attn.attention %q, %k, %k outs(%init : tensor<1x2x?x128xbf16>) {pattern = #sparse_attn.causal}
      : tensor<1x2x?x128xbf16>, tensor<1x2x96576x128xbf16>, tensor<1x2x96576x128xbf16> -> tensor<1x2x?x128xbf16>
  return %o : tensor<1x2x?x128xbf16>
}
