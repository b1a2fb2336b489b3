// What the routing loop lowering cannot handle is diagnosed, never guessed.
// RUN: sparse-attn-opt %s -split-input-file --convert-sparse-attn-routing-to-loops -verify-diagnostics

func.func @pool_dynamic_d(%k: tensor<1x2x64x?xf32>) -> tensor<1x2x4x?xf32> {
  // expected-error @+1 {{the CPU lowering needs a static row length D}}
  %p = sparse_attn.pool %k {kind = "mean", block = 16} : tensor<1x2x64x?xf32> -> tensor<1x2x4x?xf32>
  return %p : tensor<1x2x4x?xf32>
}

// -----

func.func @pool_wide(%k: tensor<1x2x64x2048xf32>) -> tensor<1x2x4x2048xf32> {
  // expected-error @+1 {{the CPU lowering supports rows of up to 1024 elements, got D = 2048}}
  %p = sparse_attn.pool %k {kind = "mean", block = 16} : tensor<1x2x64x2048xf32> -> tensor<1x2x4x2048xf32>
  return %p : tensor<1x2x4x2048xf32>
}

// -----

func.func @select_dynamic_d(%q: tensor<1x2x64x?xf32>, %kp: tensor<1x2x4x?xf32>) -> tensor<1x2x4x2xi32> {
  // expected-error @+1 {{the CPU lowering needs a static head dimension D}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.causal, top_k = 2, table_block = array<i64: 16, 16>} : tensor<1x2x64x?xf32>, tensor<1x2x4x?xf32> -> tensor<1x2x4xi32>, tensor<1x2x4x2xi32>, tensor<1x2x4xi32>, tensor<1x2x4x2xi32>
  return %x : tensor<1x2x4x2xi32>
}

// -----

func.func @select_wide(%q: tensor<1x2x64x2048xf32>, %kp: tensor<1x2x4x2048xf32>) -> tensor<1x2x4x2xi32> {
  // expected-error @+1 {{the CPU lowering supports head dimensions up to 1024, got D = 2048}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.causal, top_k = 2, table_block = array<i64: 16, 16>} : tensor<1x2x64x2048xf32>, tensor<1x2x4x2048xf32> -> tensor<1x2x4xi32>, tensor<1x2x4x2xi32>, tensor<1x2x4xi32>, tensor<1x2x4x2xi32>
  return %x : tensor<1x2x4x2xi32>
}

// -----

func.func @select_key_length(%q: tensor<1x2x64x8xf32>, %kp: tensor<1x2x4x8xf32>, %sk: index) -> tensor<1x2x4x2xi32> {
  // expected-error @+1 {{the CPU lowering classifies the block grid at compile time: it needs a static Sq, a constant key_length (or static pooled keys) and a static table width N}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp key_length(%sk) {pattern = #sparse_attn.causal, top_k = 2, table_block = array<i64: 16, 16>} : tensor<1x2x64x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4xi32>, tensor<1x2x4x2xi32>, tensor<1x2x4xi32>, tensor<1x2x4x2xi32>
  return %x : tensor<1x2x4x2xi32>
}

// -----

func.func @select_many_blocks(%q: tensor<1x1x4194304x8xf32>, %kp: tensor<1x1x2x8xf32>) -> tensor<1x1x4194304x2xi32> {
  // expected-error @+1 {{the CPU lowering classifies at most 4194304 blocks at compile time; Sq = 4194304, Sk = 2 with blocks 1 x 1 have more}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.causal, top_k = 2, table_block = array<i64: 1, 1>} : tensor<1x1x4194304x8xf32>, tensor<1x1x2x8xf32> -> tensor<1x1x4194304xi32>, tensor<1x1x4194304x2xi32>, tensor<1x1x4194304xi32>, tensor<1x1x4194304x2xi32>
  return %x : tensor<1x1x4194304x2xi32>
}

// -----

sparse_attn.mask @per_head(%b: index, %h: index, %q: index, %k: index) {
  %c0 = arith.constant 0 : index
  %ok = arith.cmpi eq, %h, %c0 : index
  sparse_attn.yield %ok : i1
}
func.func @select_per_head_mask(%q: tensor<1x2x64x8xf32>, %kp: tensor<1x2x4x8xf32>) -> tensor<1x2x4x2xi32> {
  // expected-error @+1 {{the CPU lowering needs block classes that do not depend on batch or head, but custom mask @per_head reads its batch or head argument}}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp {pattern = #sparse_attn.custom<@per_head>, top_k = 2, table_block = array<i64: 16, 16>} : tensor<1x2x64x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4xi32>, tensor<1x2x4x2xi32>, tensor<1x2x4xi32>, tensor<1x2x4x2xi32>
  return %x : tensor<1x2x4x2xi32>
}

// -----

func.func @tokens_dynamic_di(%iq: tensor<1x64x2x?xf32>, %ik: tensor<1x64x?xf32>, %w: tensor<1x64x2xf32>) -> tensor<1x1x64x8xi32> {
  // expected-error @+1 {{the CPU lowering needs static indexer heads HI and dimension DI}}
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w {pattern = #sparse_attn.causal, top_k = 8} : tensor<1x64x2x?xf32>, tensor<1x64x?xf32>, tensor<1x64x2xf32> -> tensor<1x1x64xi32>, tensor<1x1x64x8xi32>
  return %x : tensor<1x1x64x8xi32>
}

// -----

func.func @tokens_wide(%iq: tensor<1x64x2x2048xf32>, %ik: tensor<1x64x2048xf32>, %w: tensor<1x64x2xf32>) -> tensor<1x1x64x8xi32> {
  // expected-error @+1 {{the CPU lowering supports indexer dimensions up to 1024, got DI = 2048}}
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w {pattern = #sparse_attn.causal, top_k = 8} : tensor<1x64x2x2048xf32>, tensor<1x64x2048xf32>, tensor<1x64x2xf32> -> tensor<1x1x64xi32>, tensor<1x1x64x8xi32>
  return %x : tensor<1x1x64x8xi32>
}

// -----

func.func @tokens_width(%iq: tensor<1x?x2x8xf32>, %ik: tensor<1x?x8xf32>, %w: tensor<1x?x2xf32>) -> tensor<1x1x?x?xi32> {
  // expected-error @+1 {{the CPU lowering needs a static table width N}}
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w {pattern = #sparse_attn.causal, top_k = 8} : tensor<1x?x2x8xf32>, tensor<1x?x8xf32>, tensor<1x?x2xf32> -> tensor<1x1x?xi32>, tensor<1x1x?x?xi32>
  return %x : tensor<1x1x?x?xi32>
}

// -----

sparse_attn.mask @by_head(%b: index, %h: index, %q: index, %k: index) {
  %c1 = arith.constant 1 : index
  %ok = arith.cmpi ult, %h, %c1 : index
  sparse_attn.yield %ok : i1
}
func.func @tokens_per_head(%iq: tensor<1x64x2x8xf32>, %ik: tensor<1x64x8xf32>, %w: tensor<1x64x2xf32>) -> tensor<1x1x64x8xi32> {
  // expected-error @+1 {{a token selection is shared by all heads: its pattern cannot depend on batch or head, but custom mask @by_head reads its batch or head argument}}
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w {pattern = #sparse_attn.custom<@by_head>, top_k = 8} : tensor<1x64x2x8xf32>, tensor<1x64x8xf32>, tensor<1x64x2xf32> -> tensor<1x1x64xi32>, tensor<1x1x64x8xi32>
  return %x : tensor<1x1x64x8xi32>
}
