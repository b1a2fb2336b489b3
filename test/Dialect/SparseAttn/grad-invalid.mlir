// One case per diagnostic of sparse_attn.attention_grad (its own checks;
// those shared with sparse_attn.attention are tested in invalid.mlir).
// RUN: sparse-attn-opt %s -split-input-file -verify-diagnostics

func.func @f(%q: tensor<1x2x32x8xf32>, %k: tensor<1x1x32x8xf32>, %v: tensor<1x1x32x8xf32>, %o: tensor<1x2x32x8xf32>, %lse: tensor<1x2x32xf32>, %do: tensor<1x2x32x8xf32>, %o4: tensor<1x2x32x4xf32>) {
  // expected-error @+1 {{output type 'tensor<1x2x32x4xf32>' must be [B, Hq, Sq, Dv] = [1, 2, 32, 8] of 'f32'}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o4, %lse, %do
      {pattern = #sparse_attn.causal}
      : tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x2x32x4xf32>, tensor<1x2x32xf32>, tensor<1x2x32x8xf32>
      -> tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x32x8xf32>, %k: tensor<1x1x32x8xf32>, %v: tensor<1x1x32x8xf32>, %o: tensor<1x2x32x8xf32>, %lse: tensor<1x2x32xf32>, %do: tensor<1x2x32x8xf32>, %l16: tensor<1x2x32xf16>) {
  // expected-error @+1 {{log-sum-exp type 'tensor<1x2x32xf16>' must be [B, Hq, Sq] = [1, 2, 32] of 'f32'}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %l16, %do
      {pattern = #sparse_attn.causal}
      : tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x2x32x8xf32>, tensor<1x2x32xf16>, tensor<1x2x32x8xf32>
      -> tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x32x8xf32>, %k: tensor<1x1x32x8xf32>, %v: tensor<1x1x32x8xf32>, %o: tensor<1x2x32x8xf32>, %lse: tensor<1x2x32xf32>, %do: tensor<1x2x32x8xf32>, %d16: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{output gradient type 'tensor<1x2x16x8xf32>' must be [B, Hq, Sq, Dv] = [1, 2, 32, 8] of 'f32'}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %d16
      {pattern = #sparse_attn.causal}
      : tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x2x32x8xf32>, tensor<1x2x32xf32>, tensor<1x2x16x8xf32>
      -> tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x32x8xf32>, %k: tensor<1x1x32x8xf32>, %v: tensor<1x1x32x8xf32>, %o: tensor<1x2x32x8xf32>, %lse: tensor<1x2x32xf32>, %do: tensor<1x2x32x8xf32>) {
  // expected-error @+1 {{query gradient type 'tensor<1x2x32x8xf16>' must be [B, Hq, Sq, D] = [1, 2, 32, 8] of 'f32'}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do
      {pattern = #sparse_attn.causal}
      : tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x2x32x8xf32>, tensor<1x2x32xf32>, tensor<1x2x32x8xf32>
      -> tensor<1x2x32x8xf16>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x32x8xf32>, %k: tensor<1x1x32x8xf32>, %v: tensor<1x1x32x8xf32>, %o: tensor<1x2x32x8xf32>, %lse: tensor<1x2x32xf32>, %do: tensor<1x2x32x8xf32>) {
  // expected-error @+1 {{key gradient type 'tensor<1x2x32x8xf32>' must be [B, Hkv, Sk, D] = [1, 1, 32, 8] of 'f32'}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do
      {pattern = #sparse_attn.causal}
      : tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x2x32x8xf32>, tensor<1x2x32xf32>, tensor<1x2x32x8xf32>
      -> tensor<1x2x32x8xf32>, tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x32x8xf32>, %k: tensor<1x1x32x8xf32>, %v: tensor<1x1x32x8xf32>, %o: tensor<1x2x32x8xf32>, %lse: tensor<1x2x32xf32>, %do: tensor<1x2x32x8xf32>) {
  // expected-error @+1 {{value gradient type 'tensor<1x1x16x8xf32>' must be [B, Hkv, Sk, Dv] = [1, 1, 32, 8] of 'f32'}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do
      {pattern = #sparse_attn.causal}
      : tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x2x32x8xf32>, tensor<1x2x32xf32>, tensor<1x2x32x8xf32>
      -> tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x32x8xf32>, %k: tensor<1x1x32x8xf32>, %v: tensor<1x1x32x8xf32>, %o: tensor<1x2x32x8xf32>, %lse: tensor<1x2x32xf32>, %do: tensor<1x2x32x8xf32>, %q3: tensor<2x32x8xf32>) {
  // expected-error @+1 {{query must be a rank-4 tensor [B, Hq, Sq, D], got 'tensor<2x32x8xf32>'}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q3, %k, %v, %o, %lse, %do
      {pattern = #sparse_attn.causal}
      : tensor<2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x2x32x8xf32>, tensor<1x2x32xf32>, tensor<1x2x32x8xf32>
      -> tensor<2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x32x8xf32>, %k: tensor<1x1x32x8xf32>, %v: tensor<1x1x32x8xf32>, %o: tensor<1x2x32x8xf32>, %lse: tensor<1x2x32xf32>, %do: tensor<1x2x32x8xf32>, %n: tensor<1x1x2xi32>) {
  // expected-error @+1 {{expects segment ids (rank 2) and then block tables (pairs of rank-3 counts and rank-4 indices) after the six operands, got 1 extra operands}}
  %g:3 = "sparse_attn.attention_grad"(%q, %k, %v, %o, %lse, %do, %n) {pattern = #sparse_attn.causal, table_block = array<i64: 16, 16>} : (tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x2x32x8xf32>, tensor<1x2x32xf32>, tensor<1x2x32x8xf32>, tensor<1x1x2xi32>) -> (tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x2x32x8xf32>, %k: tensor<1x1x32x8xf32>, %v: tensor<1x1x32x8xf32>, %o: tensor<1x2x32x8xf32>, %lse: tensor<1x2x32xf32>, %do: tensor<1x2x32x8xf32>, %n: tensor<1x1x2xi32>) {
  // expected-error @+1 {{extra operand 1 has rank 3}}
  %g:3 = "sparse_attn.attention_grad"(%q, %k, %v, %o, %lse, %do, %n, %n) {pattern = #sparse_attn.causal, table_block = array<i64: 16, 16>} : (tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x2x32x8xf32>, tensor<1x2x32xf32>, tensor<1x2x32x8xf32>, tensor<1x1x2xi32>, tensor<1x1x2xi32>) -> (tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x2x32x8xf32>, %k: tensor<1x1x32x8xf32>, %v: tensor<1x1x32x8xf32>, %o: tensor<1x2x32x8xf32>, %lse: tensor<1x2x32xf32>, %do: tensor<1x2x32x8xf32>) {
  // expected-error @+1 {{pattern #sparse_attn.segments needs segment ids: add segments(%ids : tensor<BxSxi32>)}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do
      {pattern = #sparse_attn.segments}
      : tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x2x32x8xf32>, tensor<1x2x32xf32>, tensor<1x2x32x8xf32>
      -> tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x32x8xf32>, %k: tensor<1x1x32x8xf32>, %v: tensor<1x1x32x8xf32>, %o: tensor<1x2x32x8xf32>, %lse: tensor<1x2x32xf32>, %do: tensor<1x2x32x8xf32>, %n: tensor<1x1x2xi32>, %i: tensor<1x1x2x2xi32>) {
  // expected-error @+1 {{block tables need table_block = array<i64: BQ, BK>}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do
      block_tables(%n, %i : tensor<1x1x2xi32>, tensor<1x1x2x2xi32>)
      {pattern = #sparse_attn.causal}
      : tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x2x32x8xf32>, tensor<1x2x32xf32>, tensor<1x2x32x8xf32>
      -> tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x32x8xf32>, %k: tensor<1x1x32x8xf32>, %v: tensor<1x1x32x8xf32>, %o: tensor<1x2x32x8xf32>, %lse: tensor<1x2x32xf32>, %do: tensor<1x2x32x8xf32>, %n: tensor<1x1x3xi32>, %i: tensor<1x1x3x2xi32>) {
  // expected-error @+1 {{block_tables: Mq must be ceil(Sq / BQ) = 2, got 3}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do
      block_tables(%n, %i : tensor<1x1x3xi32>, tensor<1x1x3x2xi32>)
      {pattern = #sparse_attn.dense, table_block = array<i64: 16, 16>}
      : tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x2x32x8xf32>, tensor<1x2x32xf32>, tensor<1x2x32x8xf32>
      -> tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x32x8xf32>, %k: tensor<1x1x32x8xf32>, %v: tensor<1x1x32x8xf32>, %o: tensor<1x2x32x8xf32>, %lse: tensor<1x2x32xf32>, %do: tensor<1x2x32x8xf32>) {
  // expected-error @+1 {{scale must be a finite number}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do
      {pattern = #sparse_attn.causal, scale = 0x7F800000 : f32}
      : tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x2x32x8xf32>, tensor<1x2x32xf32>, tensor<1x2x32x8xf32>
      -> tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x32x8xf32>, %k: tensor<1x1x32x8xf32>, %v: tensor<1x1x32x8xf32>, %o: tensor<1x2x32x8xf32>, %lse: tensor<1x2x32xf32>, %do: tensor<1x2x32x8xf32>) {
  // expected-error @+1 {{'sparse_attn.attention_grad' op score_mod @nowhere does not exist}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do
      {pattern = #sparse_attn.causal, score_mod = @nowhere}
      : tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x2x32x8xf32>, tensor<1x2x32xf32>, tensor<1x2x32x8xf32>
      -> tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x32x8xf32>, %k: tensor<1x1x32x8xf32>, %v: tensor<1x1x32x8xf32>, %o: tensor<1x2x32x8xf32>, %lse: tensor<1x2x32xf32>, %do: tensor<1x2x32x8xf32>) {
  // expected-error @+1 {{expects six operand types (query, key, value, output, lse, grad_output), got 5}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do {pattern = #sparse_attn.causal}
      : tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x2x32x8xf32>, tensor<1x2x32xf32>
      -> tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x32x8xf32>, %k: tensor<1x1x32x8xf32>, %v: tensor<1x1x32x8xf32>, %o: tensor<1x2x32x8xf32>, %lse: tensor<1x2x32xf32>, %do: tensor<1x2x32x8xf32>) {
  // expected-error @+1 {{expects three result types (dQ, dK, dV), got 2}}
  %dq, %dk = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do {pattern = #sparse_attn.causal}
      : tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x2x32x8xf32>, tensor<1x2x32xf32>, tensor<1x2x32x8xf32>
      -> tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x32x8xf32>, %k: tensor<1x1x32x8xf32>, %v: tensor<1x1x32x8xf32>, %o: tensor<1x2x32x8xf32>, %lse: tensor<1x2x32xf32>, %do: tensor<1x2x32x8xf32>, %n: tensor<1x1x2xi32>) {
  // expected-error @+1 {{block_tables(...) takes 2 operands and as many types}}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do block_tables(%n : tensor<1x1x2xi32>) {pattern = #sparse_attn.causal}
      : tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x2x32x8xf32>, tensor<1x2x32xf32>, tensor<1x2x32x8xf32>
      -> tensor<1x2x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>
  return
}
