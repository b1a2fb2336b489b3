// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu --split-input-file --verify-diagnostics
// RUN: not sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu="warps=0" 2>&1 | FileCheck %s --check-prefix=WARPS
// RUN: not sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu="block-k=24" 2>&1 | FileCheck %s --check-prefix=BLOCKK

// RUN: not sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu="mma=hmma" 2>&1 | FileCheck %s --check-prefix=MMA

// MMA: error: convert-sparse-attn-to-gpu: mma must be sync, wgmma or auto
// WARPS: error: convert-sparse-attn-to-gpu: warps must be between 1 and 16, block-k a multiple of 16 between 16 and 256
// BLOCKK: error: convert-sparse-attn-to-gpu: warps must be between 1 and 16, block-k a multiple of 16 between 16 and 256

func.func @f32(%q: tensor<1x1x64x64xf32>) -> tensor<1x1x64x64xf32> {
  %init0 = tensor.empty() : tensor<1x1x64x64xf32>
  // expected-error @+1 {{the GPU lowering needs f16 or bf16 inputs (tensor cores), got 'f32'}}
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x1x64x64xf32>) {pattern = #sparse_attn.causal}
      : tensor<1x1x64x64xf32>, tensor<1x1x64x64xf32>, tensor<1x1x64x64xf32> -> tensor<1x1x64x64xf32>
  return %o : tensor<1x1x64x64xf32>
}

// -----

func.func @dynamic_heads(%q: tensor<1x?x64x64xbf16>) -> tensor<1x?x64x64xbf16> {
  %c1 = arith.constant 1 : index
  %h = tensor.dim %q, %c1 : tensor<1x?x64x64xbf16>
  %init1 = tensor.empty(%h) : tensor<1x?x64x64xbf16>
  // expected-error @+1 {{the GPU lowering needs static head counts and head dimensions, got 'tensor<1x?x64x64xbf16>'}}
  %o = sparse_attn.attention %q, %q, %q outs(%init1 : tensor<1x?x64x64xbf16>) {pattern = #sparse_attn.causal}
      : tensor<1x?x64x64xbf16>, tensor<1x?x64x64xbf16>, tensor<1x?x64x64xbf16> -> tensor<1x?x64x64xbf16>
  return %o : tensor<1x?x64x64xbf16>
}

// -----

func.func @dynamic_batch_mixed(%q: tensor<?x2x64x64xbf16>, %k: tensor<1x2x64x64xbf16>) -> tensor<?x2x64x64xbf16> {
  %c0 = arith.constant 0 : index
  %b = tensor.dim %q, %c0 : tensor<?x2x64x64xbf16>
  %init1 = tensor.empty(%b) : tensor<?x2x64x64xbf16>
  // expected-error @+1 {{the GPU lowering needs the batch size static or dynamic in all of query, key and value, and Sk likewise in key and value}}
  %o = sparse_attn.attention %q, %k, %k outs(%init1 : tensor<?x2x64x64xbf16>) {pattern = #sparse_attn.causal}
      : tensor<?x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16> -> tensor<?x2x64x64xbf16>
  return %o : tensor<?x2x64x64xbf16>
}

// -----

func.func @dynamic_segments(%q: tensor<1x2x?x64xbf16>, %ids: tensor<1x64xi32>) -> tensor<1x2x?x64xbf16> {
  %c2 = arith.constant 2 : index
  %s = tensor.dim %q, %c2 : tensor<1x2x?x64xbf16>
  %init1 = tensor.empty(%s) : tensor<1x2x?x64xbf16>
  // expected-error @+1 {{the GPU lowering needs segment ids whose sizes are static exactly where the query's / key's are, got 'tensor<1x64xi32>'}}
  %o = sparse_attn.attention %q, %q, %q segments(%ids : tensor<1x64xi32>) outs(%init1 : tensor<1x2x?x64xbf16>) {pattern = #sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>}
      : tensor<1x2x?x64xbf16>, tensor<1x2x?x64xbf16>, tensor<1x2x?x64xbf16> -> tensor<1x2x?x64xbf16>
  return %o : tensor<1x2x?x64xbf16>
}

// -----

func.func @dynamic_batch_tables(%q: tensor<?x4x64x64xbf16>, %n: tensor<2x1x1xi32>, %i: tensor<2x1x1x1xi32>) -> tensor<?x4x64x64xbf16> {
  %c0 = arith.constant 0 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x64x64xbf16>
  %init1 = tensor.empty(%b) : tensor<?x4x64x64xbf16>
  // expected-error @+1 {{the GPU lowering needs block tables with B' = 1 when the batch size is dynamic}}
  %o = sparse_attn.attention %q, %q, %q block_tables(%n, %i : tensor<2x1x1xi32>, tensor<2x1x1x1xi32>) outs(%init1 : tensor<?x4x64x64xbf16>) {pattern = #sparse_attn.dense, table_block = array<i64: 64, 64>}
      : tensor<?x4x64x64xbf16>, tensor<?x4x64x64xbf16>, tensor<?x4x64x64xbf16> -> tensor<?x4x64x64xbf16>
  return %o : tensor<?x4x64x64xbf16>
}

// -----

func.func @head_dim(%q: tensor<1x1x64x40xbf16>) -> tensor<1x1x64x40xbf16> {
  %init2 = tensor.empty() : tensor<1x1x64x40xbf16>
  // expected-error @+1 {{the GPU lowering needs head dimensions D and Dv that are multiples of 16, got D = 40, Dv = 40}}
  %o = sparse_attn.attention %q, %q, %q outs(%init2 : tensor<1x1x64x40xbf16>) {pattern = #sparse_attn.dense}
      : tensor<1x1x64x40xbf16>, tensor<1x1x64x40xbf16>, tensor<1x1x64x40xbf16> -> tensor<1x1x64x40xbf16>
  return %o : tensor<1x1x64x40xbf16>
}

// -----

// D = 2^31: the shared-memory plan refuses it.
func.func @huge_d(%q: tensor<1x1x64x2147483648xbf16>) -> tensor<1x1x64x2147483648xbf16> {
  %init4 = tensor.empty() : tensor<1x1x64x2147483648xbf16>
  // expected-error @+1 {{the GPU kernel would need up to 1099511648260 bytes of shared memory at block-k 64, more than the 232448 of a thread block; use a smaller block-k}}
  %o = sparse_attn.attention %q, %q, %q outs(%init4 : tensor<1x1x64x2147483648xbf16>) {pattern = #sparse_attn.causal}
      : tensor<1x1x64x2147483648xbf16>, tensor<1x1x64x2147483648xbf16>, tensor<1x1x64x2147483648xbf16> -> tensor<1x1x64x2147483648xbf16>
  return %o : tensor<1x1x64x2147483648xbf16>
}

// -----

func.func @merge(%o: tensor<1x4x?x64xbf16>, %l: tensor<1x4x?xf32>) -> (tensor<1x4x?x64xbf16>, tensor<1x4x?xf32>) {
  // expected-error @+1 {{'sparse_attn.merge' op the GPU lowering needs static shapes}}
  %r, %s = sparse_attn.merge %o, %l, %o, %l : tensor<1x4x?x64xbf16>, tensor<1x4x?xf32>
  return %r, %s : tensor<1x4x?x64xbf16>, tensor<1x4x?xf32>
}

// -----

func.func @pool_dynamic(%k: tensor<1x2x?x64xbf16>) -> tensor<1x2x?x64xbf16> {
  // expected-error @+1 {{'sparse_attn.pool' op the GPU lowering needs static shapes}}
  %p = sparse_attn.pool %k {kind = "mean", block = 64} : tensor<1x2x?x64xbf16> -> tensor<1x2x?x64xbf16>
  return %p : tensor<1x2x?x64xbf16>
}

// -----

func.func @select_dynamic(%q: tensor<?x4x256x64xbf16>, %kp: tensor<?x2x4x64xbf16>) -> tensor<?x2x4x2xi32> {
  // expected-error @+1 {{'sparse_attn.select_blocks' op the GPU lowering needs static shapes}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.causal, top_k = 2, table_block = array<i64: 64, 64>} : tensor<?x4x256x64xbf16>, tensor<?x2x4x64xbf16> -> tensor<?x2x4xi32>, tensor<?x2x4x2xi32>, tensor<?x2x4xi32>, tensor<?x2x4x2xi32>
  return %x : tensor<?x2x4x2xi32>
}

// -----

func.func @select_wide(%q: tensor<1x2x16x2048xbf16>, %kp: tensor<1x2x4x2048xbf16>) -> tensor<1x2x1x2xi32> {
  // expected-error @+1 {{'sparse_attn.select_blocks' op the GPU lowering supports head dimensions up to 1024, got D = 2048}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.causal, top_k = 2, table_block = array<i64: 16, 16>} : tensor<1x2x16x2048xbf16>, tensor<1x2x4x2048xbf16> -> tensor<1x2x1xi32>, tensor<1x2x1x2xi32>, tensor<1x2x1xi32>, tensor<1x2x1x2xi32>
  return %x : tensor<1x2x1x2xi32>
}

// -----

func.func @select_many_blocks(%q: tensor<1x2x16x16xbf16>, %kp: tensor<1x2x5000x16xbf16>) -> tensor<1x2x1x2xi32> {
  // expected-error @+1 {{'sparse_attn.select_blocks' op the GPU lowering keeps at most 4096 key blocks in shared memory, got Nk = 5000}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.dense, top_k = 2, table_block = array<i64: 16, 1>} : tensor<1x2x16x16xbf16>, tensor<1x2x5000x16xbf16> -> tensor<1x2x1xi32>, tensor<1x2x1x2xi32>, tensor<1x2x1xi32>, tensor<1x2x1x2xi32>
  return %x : tensor<1x2x1x2xi32>
}

// -----

func.func @select_key_length(%q: tensor<1x2x64x16xbf16>, %kp: tensor<1x2x4x16xbf16>, %sk: index) -> tensor<1x2x4x2xi32> {
  // expected-error @+1 {{'sparse_attn.select_blocks' op the GPU lowering classifies the block grid at compile time: it needs a static Sq, a constant key_length (or static pooled keys) and a static table width N}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp key_length(%sk) {pattern = #sparse_attn.causal, top_k = 2, table_block = array<i64: 16, 16>} : tensor<1x2x64x16xbf16>, tensor<1x2x4x16xbf16> -> tensor<1x2x4xi32>, tensor<1x2x4x2xi32>, tensor<1x2x4xi32>, tensor<1x2x4x2xi32>
  return %x : tensor<1x2x4x2xi32>
}

// -----

func.func @tables_dynamic(%q: tensor<1x4x64x64xbf16>, %n: tensor<1x1x?xi32>, %i: tensor<1x1x?x1xi32>) -> tensor<1x4x64x64xbf16> {
  %init5 = tensor.empty() : tensor<1x4x64x64xbf16>
  // expected-error @+1 {{the GPU lowering needs block tables of static shapes, got 'tensor<1x1x?xi32>'}}
  %o = sparse_attn.attention %q, %q, %q block_tables(%n, %i : tensor<1x1x?xi32>, tensor<1x1x?x1xi32>) outs(%init5 : tensor<1x4x64x64xbf16>) {pattern = #sparse_attn.dense, table_block = array<i64: 64, 64>} : tensor<1x4x64x64xbf16>, tensor<1x4x64x64xbf16>, tensor<1x4x64x64xbf16> -> tensor<1x4x64x64xbf16>
  return %o : tensor<1x4x64x64xbf16>
}

// -----

func.func @tables_block(%q: tensor<1x4x64x64xbf16>, %n: tensor<1x1x2xi32>, %i: tensor<1x1x2x2xi32>) -> tensor<1x4x64x64xbf16> {
  %init5 = tensor.empty() : tensor<1x4x64x64xbf16>
  // expected-error @+1 {{the GPU kernel needs a table_block that is a multiple of its tile [64, 64] (16 x warps query rows, block-k keys), got [32, 32]}}
  %o = sparse_attn.attention %q, %q, %q block_tables(%n, %i : tensor<1x1x2xi32>, tensor<1x1x2x2xi32>) outs(%init5 : tensor<1x4x64x64xbf16>) {pattern = #sparse_attn.dense, table_block = array<i64: 32, 32>} : tensor<1x4x64x64xbf16>, tensor<1x4x64x64xbf16>, tensor<1x4x64x64xbf16> -> tensor<1x4x64x64xbf16>
  return %o : tensor<1x4x64x64xbf16>
}

// -----

func.func @tile(%q: tensor<1x4x64x64xbf16>, %i: index) -> tensor<1x4x64x64xbf16> {
  %init = tensor.empty() : tensor<1x4x64x64xbf16>
  // expected-error @+1 {{tiles (tile_of / at) are not lowered by the GPU pipeline yet (the fused CPU lowering runs them)}}
  %o = sparse_attn.attention %q, %q, %q tile_of(%i, %i, %i) at(%i, %i, %i, %i) outs(%init : tensor<1x4x64x64xbf16>) {pattern = #sparse_attn.causal} : tensor<1x4x64x64xbf16>, tensor<1x4x64x64xbf16>, tensor<1x4x64x64xbf16> -> tensor<1x4x64x64xbf16>
  return %o : tensor<1x4x64x64xbf16>
}

// -----

func.func @online(%q: tensor<1x4x64x64xbf16>, %acc: tensor<1x4x64x64xf32>, %m: tensor<1x4x64xf32>) -> tensor<1x4x64x64xf32> {
  // expected-error @+1 {{is not lowered by the GPU pipeline yet (the CPU pipelines lower it)}}
  %a, %mm, %l = sparse_attn.online_attention %q, %q, %q outs(%acc, %m, %m : tensor<1x4x64x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>) {pattern = #sparse_attn.causal} : tensor<1x4x64x64xbf16>, tensor<1x4x64x64xbf16>, tensor<1x4x64x64xbf16> -> tensor<1x4x64x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>
  return %a : tensor<1x4x64x64xf32>
}

// -----

func.func @select_tokens_long(%iq: tensor<1x64x2x16xbf16>, %ik: tensor<1x5000x16xbf16>, %w: tensor<1x64x2xbf16>) -> tensor<1x1x64x8xi32> {
  // expected-error @+1 {{'sparse_attn.select_tokens' op the GPU lowering keeps at most 4096 keys in shared memory, got Sk = 5000}}
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w {pattern = #sparse_attn.causal, top_k = 8} : tensor<1x64x2x16xbf16>, tensor<1x5000x16xbf16>, tensor<1x64x2xbf16> -> tensor<1x1x64xi32>, tensor<1x1x64x8xi32>
  return %x : tensor<1x1x64x8xi32>
}

// -----

func.func @select_tokens_dynamic(%iq: tensor<1x?x2x16xbf16>, %ik: tensor<1x64x16xbf16>, %w: tensor<1x?x2xbf16>) -> tensor<1x1x?x8xi32> {
  // expected-error @+1 {{'sparse_attn.select_tokens' op the GPU lowering needs static shapes}}
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w {pattern = #sparse_attn.causal, top_k = 8} : tensor<1x?x2x16xbf16>, tensor<1x64x16xbf16>, tensor<1x?x2xbf16> -> tensor<1x1x?xi32>, tensor<1x1x?x8xi32>
  return %x : tensor<1x1x?x8xi32>
}

// -----

sparse_attn.mask @by_head(%b: index, %h: index, %q: index, %k: index) {
  %c1 = arith.constant 1 : index
  %ok = arith.cmpi uge, %h, %c1 : index
  sparse_attn.yield %ok : i1
}
func.func @select_tokens_per_head(%iq: tensor<1x64x2x16xbf16>, %ik: tensor<1x64x16xbf16>, %w: tensor<1x64x2xbf16>) -> tensor<1x1x64x8xi32> {
  // expected-error @+1 {{a token selection is shared by all heads: its pattern cannot depend on batch or head, but custom mask @by_head reads its batch or head argument}}
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w {pattern = #sparse_attn.custom<@by_head>, top_k = 8} : tensor<1x64x2x16xbf16>, tensor<1x64x16xbf16>, tensor<1x64x2xbf16> -> tensor<1x1x64xi32>, tensor<1x1x64x8xi32>
  return %x : tensor<1x1x64x8xi32>
}

// -----

func.func @token_tables_dynamic_sk(%q: tensor<1x4x64x32xbf16>, %k: tensor<1x1x?x32xbf16>, %n: tensor<1x1x64xi32>, %x: tensor<1x1x64x8xi32>) -> tensor<1x4x64x32xbf16> {
  %init = tensor.empty() : tensor<1x4x64x32xbf16>
  // expected-error @+1 {{the GPU kernel for token tables (table_block [1, 1]) needs a static Sk (one bit per key position in shared memory)}}
  %o = sparse_attn.attention %q, %k, %k block_tables(%n, %x : tensor<1x1x64xi32>, tensor<1x1x64x8xi32>) outs(%init : tensor<1x4x64x32xbf16>) {pattern = #sparse_attn.causal, table_block = array<i64: 1, 1>}
      : tensor<1x4x64x32xbf16>, tensor<1x1x?x32xbf16>, tensor<1x1x?x32xbf16> -> tensor<1x4x64x32xbf16>
  return %o : tensor<1x4x64x32xbf16>
}
