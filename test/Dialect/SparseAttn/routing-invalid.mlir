// One case per diagnostic of the routing ops (sparse_attn.pool,
// sparse_attn.select_blocks, sparse_attn.select_tokens).
// RUN: sparse-attn-opt %s -split-input-file -verify-diagnostics

func.func @f(%k: tensor<1x2x64x8xf16>) {
  // expected-error @+1 {{kind must be "mean" or "max", got "sum"}}
  %p = sparse_attn.pool %k {kind = "sum", block = 16} : tensor<1x2x64x8xf16> -> tensor<1x2x4x8xf16>
  return
}

// -----

func.func @f(%k: tensor<1x2x64x8xf16>) {
  // expected-error @+1 {{block must be positive, got 0}}
  %p = sparse_attn.pool %k {kind = "mean", block = 0} : tensor<1x2x64x8xf16> -> tensor<1x2x4x8xf16>
  return
}

// -----

func.func @f(%k: tensor<1x2x64x8xf16>) {
  // expected-error @+1 {{stride must be between 1 and block (16), got 32 (a larger stride would skip rows)}}
  %p = sparse_attn.pool %k {kind = "mean", block = 16, stride = 32} : tensor<1x2x64x8xf16> -> tensor<1x2x4x8xf16>
  return
}

// -----

func.func @f(%k: tensor<1x2x64x8xf16>) {
  // expected-error @+1 {{stride must be between 1 and block (16), got 0}}
  %p = sparse_attn.pool %k {kind = "mean", block = 16, stride = 0} : tensor<1x2x64x8xf16> -> tensor<1x2x4x8xf16>
  return
}

// -----

func.func @f(%k: tensor<2x64x8xf16>) {
  // expected-error @+1 {{pools [B, H, S, D] tensors into [B, H, N, D] tensors, got}}
  %p = sparse_attn.pool %k {kind = "mean", block = 16} : tensor<2x64x8xf16> -> tensor<2x4x8xf16>
  return
}

// -----

func.func @f(%k: tensor<1x2x64x8xf64>) {
  // expected-error @+1 {{input must have f32, f16 or bf16 elements, got 'f64'}}
  %p = sparse_attn.pool %k {kind = "mean", block = 16} : tensor<1x2x64x8xf64> -> tensor<1x2x4x8xf64>
  return
}

// -----

func.func @f(%k: tensor<1x2x64x8xf16>) {
  // expected-error @+1 {{result element type must be the input's or f32, got 'bf16'}}
  %p = sparse_attn.pool %k {kind = "mean", block = 16} : tensor<1x2x64x8xf16> -> tensor<1x2x4x8xbf16>
  return
}

// -----

func.func @f(%k: tensor<1x2x64x8xf16>) {
  // expected-error @+1 {{result dimension 3 (4) must equal the input's (8)}}
  %p = sparse_attn.pool %k {kind = "mean", block = 16} : tensor<1x2x64x8xf16> -> tensor<1x2x4x4xf16>
  return
}

// -----

func.func @f(%k: tensor<1x2x64x8xf16>) {
  // expected-error @+1 {{pooling 64 rows in blocks of 32 every 16 gives 3 blocks, but the result has 4}}
  %p = sparse_attn.pool %k {kind = "max", block = 32, stride = 16} : tensor<1x2x64x8xf16> -> tensor<1x2x4x8xf16>
  return
}

// -----

func.func @f(%q: tensor<4x64x8xf16>, %kp: tensor<1x2x4x8xf16>, %sk: index) {
  // expected-error @+1 {{expects a [B, Hq, Sq, D] query and [B, Hkv, Nk, D] pooled keys, got}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.causal, top_k = 2, local = 1, table_block = array<i64: 16, 16>} : tensor<4x64x8xf16>, tensor<1x2x4x8xf16> -> tensor<1x2x4xi32>, tensor<1x2x4x3xi32>, tensor<1x2x4xi32>, tensor<1x2x4x3xi32>
  return
}

// -----

func.func @f(%q: tensor<1x4x64x8xf64>, %kp: tensor<1x2x4x8xf16>, %sk: index) {
  // expected-error @+1 {{query must have f32, f16 or bf16 elements, got 'f64'}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.causal, top_k = 2, local = 1, table_block = array<i64: 16, 16>} : tensor<1x4x64x8xf64>, tensor<1x2x4x8xf16> -> tensor<1x2x4xi32>, tensor<1x2x4x3xi32>, tensor<1x2x4xi32>, tensor<1x2x4x3xi32>
  return
}

// -----

func.func @f(%q: tensor<1x4x64x8xf16>, %kp: tensor<1x2x4x8xi32>, %sk: index) {
  // expected-error @+1 {{pooled keys must have f32, f16 or bf16 elements, got 'i32'}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.causal, top_k = 2, local = 1, table_block = array<i64: 16, 16>} : tensor<1x4x64x8xf16>, tensor<1x2x4x8xi32> -> tensor<1x2x4xi32>, tensor<1x2x4x3xi32>, tensor<1x2x4xi32>, tensor<1x2x4x3xi32>
  return
}

// -----

func.func @f(%q: tensor<1x4x64x8xf16>, %kp: tensor<2x2x4x8xf16>, %sk: index) {
  // expected-error @+1 {{query and pooled keys have different batch sizes (1 and 2)}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.causal, top_k = 2, local = 1, table_block = array<i64: 16, 16>} : tensor<1x4x64x8xf16>, tensor<2x2x4x8xf16> -> tensor<1x2x4xi32>, tensor<1x2x4x3xi32>, tensor<1x2x4xi32>, tensor<1x2x4x3xi32>
  return
}

// -----

func.func @f(%q: tensor<1x4x64x8xf16>, %kp: tensor<1x2x4x16xf16>, %sk: index) {
  // expected-error @+1 {{query and pooled keys have different head dimensions (8 and 16)}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.causal, top_k = 2, local = 1, table_block = array<i64: 16, 16>} : tensor<1x4x64x8xf16>, tensor<1x2x4x16xf16> -> tensor<1x2x4xi32>, tensor<1x2x4x3xi32>, tensor<1x2x4xi32>, tensor<1x2x4x3xi32>
  return
}

// -----

func.func @f(%q: tensor<1x?x64x8xf16>, %kp: tensor<1x2x4x8xf16>, %sk: index) {
  // expected-error @+1 {{needs static head counts}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.causal, top_k = 2, local = 1, table_block = array<i64: 16, 16>} : tensor<1x?x64x8xf16>, tensor<1x2x4x8xf16> -> tensor<1x2x4xi32>, tensor<1x2x4x3xi32>, tensor<1x2x4xi32>, tensor<1x2x4x3xi32>
  return
}

// -----

func.func @f(%q: tensor<1x4x64x8xf16>, %kp: tensor<1x3x4x8xf16>, %sk: index) {
  // expected-error @+1 {{query heads (4) must be a multiple of the pooled keys' heads (3)}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.causal, top_k = 2, local = 1, table_block = array<i64: 16, 16>} : tensor<1x4x64x8xf16>, tensor<1x3x4x8xf16> -> tensor<1x2x4xi32>, tensor<1x2x4x3xi32>, tensor<1x2x4xi32>, tensor<1x2x4x3xi32>
  return
}

// -----

func.func @f(%q: tensor<1x4x64x8xf16>, %kp: tensor<1x2x4x8xf16>, %sk: index) {
  // expected-error @+1 {{table_block must be two positive sizes array<i64: BQ, BK>}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.causal, top_k = 2, table_block = array<i64: 0, 16>} : tensor<1x4x64x8xf16>, tensor<1x2x4x8xf16> -> tensor<1x2x4xi32>, tensor<1x2x4x3xi32>, tensor<1x2x4xi32>, tensor<1x2x4x3xi32>
  return
}

// -----

func.func @f(%q: tensor<1x4x64x8xf16>, %kp: tensor<1x2x4x8xf16>, %sk: index) {
  // expected-error @+1 {{top_k must be non-negative, got -1}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.causal, top_k = -1, table_block = array<i64: 16, 16>} : tensor<1x4x64x8xf16>, tensor<1x2x4x8xf16> -> tensor<1x2x4xi32>, tensor<1x2x4x3xi32>, tensor<1x2x4xi32>, tensor<1x2x4x3xi32>
  return
}

// -----

func.func @f(%q: tensor<1x4x64x8xf16>, %kp: tensor<1x2x4x8xf16>, %sk: index) {
  // expected-error @+1 {{sink must be non-negative, got -2}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.causal, top_k = 1, sink = -2, table_block = array<i64: 16, 16>} : tensor<1x4x64x8xf16>, tensor<1x2x4x8xf16> -> tensor<1x2x4xi32>, tensor<1x2x4x3xi32>, tensor<1x2x4xi32>, tensor<1x2x4x3xi32>
  return
}

// -----

func.func @f(%q: tensor<1x4x64x8xf16>, %kp: tensor<1x2x4x8xf16>, %sk: index) {
  // expected-error @+1 {{local must be non-negative, got -3}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.causal, top_k = 1, local = -3, table_block = array<i64: 16, 16>} : tensor<1x4x64x8xf16>, tensor<1x2x4x8xf16> -> tensor<1x2x4xi32>, tensor<1x2x4x3xi32>, tensor<1x2x4xi32>, tensor<1x2x4x3xi32>
  return
}

// -----

func.func @f(%q: tensor<1x4x64x8xf16>, %kp: tensor<1x2x4x8xf16>, %sk: index) {
  // expected-error @+1 {{results must be i32 counts [B, H', Mq] and i32 indices [B, H', Mq, N], got}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.causal, top_k = 2, local = 1, table_block = array<i64: 16, 16>} : tensor<1x4x64x8xf16>, tensor<1x2x4x8xf16> -> tensor<1x2x4xi64>, tensor<1x2x4x3xi32>, tensor<1x2x4xi64>, tensor<1x2x4x3xi32>
  return
}

// -----

func.func @f(%q: tensor<1x4x64x8xf16>, %kp: tensor<1x2x4x8xf16>, %sk: index) {
  // expected-error @+1 {{counts and indices disagree on dimension 2}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.causal, top_k = 2, local = 1, table_block = array<i64: 16, 16>} : tensor<1x4x64x8xf16>, tensor<1x2x4x8xf16> -> tensor<1x2x4xi32>, tensor<1x2x5x3xi32>, tensor<1x2x4xi32>, tensor<1x2x5x3xi32>
  return
}

// -----

func.func @f(%q: tensor<1x4x64x8xf16>, %kp: tensor<1x2x4x8xf16>, %sk: index) {
  // expected-error @+1 {{tables must have the query's batch size (1), got 2}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.causal, top_k = 2, local = 1, table_block = array<i64: 16, 16>} : tensor<1x4x64x8xf16>, tensor<1x2x4x8xf16> -> tensor<2x2x4xi32>, tensor<2x2x4x3xi32>, tensor<2x2x4xi32>, tensor<2x2x4x3xi32>
  return
}

// -----

func.func @f(%q: tensor<1x4x64x8xf16>, %kp: tensor<1x2x4x8xf16>, %sk: index) {
  // expected-error @+1 {{tables must be per query head (H' = 4) or per KV head (H' = 2), got H' = 3}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.causal, top_k = 2, local = 1, table_block = array<i64: 16, 16>} : tensor<1x4x64x8xf16>, tensor<1x2x4x8xf16> -> tensor<1x3x4xi32>, tensor<1x3x4x3xi32>, tensor<1x3x4xi32>, tensor<1x3x4x3xi32>
  return
}

// -----

func.func @f(%q: tensor<1x4x64x8xf16>, %kp: tensor<1x2x4x8xf16>, %sk: index) {
  // expected-error @+1 {{tables must have Mq = ceil(Sq / BQ) = 2 query-block rows, got 4}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.causal, top_k = 2, local = 1, table_block = array<i64: 32, 16>} : tensor<1x4x64x8xf16>, tensor<1x2x4x8xf16> -> tensor<1x2x4xi32>, tensor<1x2x4x3xi32>, tensor<1x2x4xi32>, tensor<1x2x4x3xi32>
  return
}

// -----

func.func @f(%q: tensor<1x4x64x8xf16>, %kp: tensor<1x2x4x8xf16>, %sk: index) {
  %c = arith.constant -5 : index
  // expected-error @+1 {{key_length must be non-negative, got -5}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp key_length(%c) {pattern = #sparse_attn.causal, top_k = 2, local = 1, table_block = array<i64: 16, 16>} : tensor<1x4x64x8xf16>, tensor<1x2x4x8xf16> -> tensor<1x2x4xi32>, tensor<1x2x4x3xi32>, tensor<1x2x4xi32>, tensor<1x2x4x3xi32>
  return
}

// -----

func.func @f(%q: tensor<1x4x64x8xf16>, %kp: tensor<1x2x4x8xf16>, %sk: index) {
  %c = arith.constant 40 : index
  // expected-error @+1 {{pooled keys must have Nk = ceil(Sk / BK) = 3 rows for Sk = 40, got 4}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp key_length(%c) {pattern = #sparse_attn.causal, top_k = 2, local = 1, table_block = array<i64: 16, 16>} : tensor<1x4x64x8xf16>, tensor<1x2x4x8xf16> -> tensor<1x2x4xi32>, tensor<1x2x4x3xi32>, tensor<1x2x4xi32>, tensor<1x2x4x3xi32>
  return
}

// -----

func.func @f(%q: tensor<1x4x64x8xf16>, %kp: tensor<1x2x4x8xf16>, %sk: index) {
  // expected-error @+1 {{tables must hold min(top_k + sink + local, Nk) = 4 blocks per row, got N = 3}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.causal, top_k = 2, sink = 1, local = 1, table_block = array<i64: 16, 16>} : tensor<1x4x64x8xf16>, tensor<1x2x4x8xf16> -> tensor<1x2x4xi32>, tensor<1x2x4x3xi32>, tensor<1x2x4xi32>, tensor<1x2x4x3xi32>
  return
}

// -----

func.func @f(%q: tensor<1x4x64x8xf16>, %kp: tensor<1x2x4x8xf16>, %sk: index) {
  // expected-error @+1 {{the static pattern of a block selection cannot read segment ids}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.segments, top_k = 2, table_block = array<i64: 16, 16>} : tensor<1x4x64x8xf16>, tensor<1x2x4x8xf16> -> tensor<1x2x4xi32>, tensor<1x2x4x3xi32>, tensor<1x2x4xi32>, tensor<1x2x4x3xi32>
  return
}

// -----

func.func @f(%q: tensor<1x4x64x8xf16>, %kp: tensor<1x2x4x8xf16>, %sk: index) {
  // expected-error @+1 {{custom mask @nope does not exist}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.custom<@nope>, top_k = 2, table_block = array<i64: 16, 16>} : tensor<1x4x64x8xf16>, tensor<1x2x4x8xf16> -> tensor<1x2x4xi32>, tensor<1x2x4x3xi32>, tensor<1x2x4xi32>, tensor<1x2x4x3xi32>
  return
}

// -----

func.func @f(%iq: tensor<64x2x16xf16>, %ik: tensor<1x64x16xf16>, %w: tensor<1x64x2xf16>) {
  // expected-error @+1 {{expects index queries [B, Sq, HI, DI], index keys [B, Sk, DI] and weights [B, Sq, HI], got}}
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w {pattern = #sparse_attn.causal, top_k = 8} : tensor<64x2x16xf16>, tensor<1x64x16xf16>, tensor<1x64x2xf16> -> tensor<1x1x64xi32>, tensor<1x1x64x8xi32>
  return
}

// -----

func.func @f(%iq: tensor<1x64x2x16xf16>, %ik: tensor<1x64x16xi8>, %w: tensor<1x64x2xf16>) {
  // expected-error @+1 {{index keys must have f32, f16 or bf16 elements, got 'i8'}}
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w {pattern = #sparse_attn.causal, top_k = 8} : tensor<1x64x2x16xf16>, tensor<1x64x16xi8>, tensor<1x64x2xf16> -> tensor<1x1x64xi32>, tensor<1x1x64x8xi32>
  return
}

// -----

func.func @f(%iq: tensor<1x64x2x16xf16>, %ik: tensor<2x64x16xf16>, %w: tensor<1x64x2xf16>) {
  // expected-error @+1 {{index queries, index keys and weights must have one batch size}}
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w {pattern = #sparse_attn.causal, top_k = 8} : tensor<1x64x2x16xf16>, tensor<2x64x16xf16>, tensor<1x64x2xf16> -> tensor<1x1x64xi32>, tensor<1x1x64x8xi32>
  return
}

// -----

func.func @f(%iq: tensor<1x64x2x16xf16>, %ik: tensor<1x64x32xf16>, %w: tensor<1x64x2xf16>) {
  // expected-error @+1 {{index queries and keys have different dimensions (16 and 32)}}
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w {pattern = #sparse_attn.causal, top_k = 8} : tensor<1x64x2x16xf16>, tensor<1x64x32xf16>, tensor<1x64x2xf16> -> tensor<1x1x64xi32>, tensor<1x1x64x8xi32>
  return
}

// -----

func.func @f(%iq: tensor<1x64x2x16xf16>, %ik: tensor<1x64x16xf16>, %w: tensor<1x64x3xf16>) {
  // expected-error @+1 {{weights must be [B, Sq, HI] of the index queries}}
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w {pattern = #sparse_attn.causal, top_k = 8} : tensor<1x64x2x16xf16>, tensor<1x64x16xf16>, tensor<1x64x3xf16> -> tensor<1x1x64xi32>, tensor<1x1x64x8xi32>
  return
}

// -----

func.func @f(%iq: tensor<1x64x2x16xf16>, %ik: tensor<1x64x16xf16>, %w: tensor<1x64x2xf16>) {
  // expected-error @+1 {{top_k must be non-negative, got -1}}
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w {pattern = #sparse_attn.causal, top_k = -1} : tensor<1x64x2x16xf16>, tensor<1x64x16xf16>, tensor<1x64x2xf16> -> tensor<1x1x64xi32>, tensor<1x1x64x8xi32>
  return
}

// -----

func.func @f(%iq: tensor<1x64x2x16xf16>, %ik: tensor<1x64x16xf16>, %w: tensor<1x64x2xf16>) {
  // expected-error @+1 {{results must be i32 counts [B, 1, Sq] and i32 indices [B, 1, Sq, N], got}}
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w {pattern = #sparse_attn.causal, top_k = 8} : tensor<1x64x2x16xf16>, tensor<1x64x16xf16>, tensor<1x64x2xf16> -> tensor<1x1x64xi64>, tensor<1x1x64x8xi32>
  return
}

// -----

func.func @f(%iq: tensor<1x64x2x16xf16>, %ik: tensor<1x64x16xf16>, %w: tensor<1x64x2xf16>) {
  // expected-error @+1 {{counts and indices disagree on dimension 2}}
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w {pattern = #sparse_attn.causal, top_k = 8} : tensor<1x64x2x16xf16>, tensor<1x64x16xf16>, tensor<1x64x2xf16> -> tensor<1x1x64xi32>, tensor<1x1x32x8xi32>
  return
}

// -----

func.func @f(%iq: tensor<1x64x2x16xf16>, %ik: tensor<1x64x16xf16>, %w: tensor<1x64x2xf16>) {
  // expected-error @+1 {{tables must be [B, 1, Sq] (one list per query token, shared by all heads), got}}
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w {pattern = #sparse_attn.causal, top_k = 8} : tensor<1x64x2x16xf16>, tensor<1x64x16xf16>, tensor<1x64x2xf16> -> tensor<1x2x64xi32>, tensor<1x2x64x8xi32>
  return
}

// -----

func.func @f(%iq: tensor<1x64x2x16xf16>, %ik: tensor<1x64x16xf16>, %w: tensor<1x64x2xf16>) {
  // expected-error @+1 {{tables must hold min(top_k, Sk) = 8 keys per row, got N = 4}}
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w {pattern = #sparse_attn.causal, top_k = 8} : tensor<1x64x2x16xf16>, tensor<1x64x16xf16>, tensor<1x64x2xf16> -> tensor<1x1x64xi32>, tensor<1x1x64x4xi32>
  return
}

// -----

func.func @f(%iq: tensor<1x64x2x16xf16>, %ik: tensor<1x64x16xf16>, %w: tensor<1x64x2xf16>) {
  // expected-error @+1 {{the static pattern of a token selection cannot read segment ids}}
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w {pattern = #sparse_attn.segments, top_k = 8} : tensor<1x64x2x16xf16>, tensor<1x64x16xf16>, tensor<1x64x2xf16> -> tensor<1x1x64xi32>, tensor<1x1x64x8xi32>
  return
}

// -----

func.func @f(%iq: tensor<1x64x2x16xf16>, %ik: tensor<1x64x16xf16>, %w: tensor<1x64x2xf16>) {
  // expected-error @+1 {{custom mask @nope does not exist}}
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w {pattern = #sparse_attn.custom<@nope>, top_k = 8} : tensor<1x64x2x16xf16>, tensor<1x64x16xf16>, tensor<1x64x2xf16> -> tensor<1x1x64xi32>, tensor<1x1x64x8xi32>
  return
}
