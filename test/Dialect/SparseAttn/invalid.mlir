// One case per diagnostic of the sparse_attn dialect.
// RUN: sparse-attn-opt %s -split-input-file -verify-diagnostics

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init0 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.window: 'before' must be non-negative, got -1}}
  %o = sparse_attn.attention %q, %k, %v outs(%init0 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.window<before = -1, after = 0>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init1 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.window: 'after' must be non-negative, got -3}}
  %o = sparse_attn.attention %q, %k, %v outs(%init1 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.window<before = 2, after = -3>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init2 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.window: unknown key 'width' (expected 'before', 'after')}}
  %o = sparse_attn.attention %q, %k, %v outs(%init2 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.window<before = 2, after = 0, width = 3>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init3 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.window: missing key 'after'}}
  %o = sparse_attn.attention %q, %k, %v outs(%init3 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.window<before = 2>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init4 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.dilated: 'dilation' must be positive, got 0}}
  %o = sparse_attn.attention %q, %k, %v outs(%init4 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.dilated<before = 4, after = 4, dilation = 0>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init5 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.dilated: 'before' must be non-negative, got -4}}
  %o = sparse_attn.attention %q, %k, %v outs(%init5 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.dilated<before = -4, after = 4, dilation = 2>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init6 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.strided: 'stride' must be positive, got 0}}
  %o = sparse_attn.attention %q, %k, %v outs(%init6 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.strided<stride = 0>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init7 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.fixed: 'stride' must be positive, got 0}}
  %o = sparse_attn.attention %q, %k, %v outs(%init7 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.fixed<stride = 0, summary = 0>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init8 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.fixed: 'summary' must be non-negative, got -1}}
  %o = sparse_attn.attention %q, %k, %v outs(%init8 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.fixed<stride = 4, summary = -1>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init9 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.fixed: 'summary' (5) must not exceed 'stride' (4)}}
  %o = sparse_attn.attention %q, %k, %v outs(%init9 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.fixed<stride = 4, summary = 5>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init10 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.global: token -1 must be non-negative}}
  %o = sparse_attn.attention %q, %k, %v outs(%init10 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.global<[-1]>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init11 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.global: tokens must be strictly increasing, got 3 before 3}}
  %o = sparse_attn.attention %q, %k, %v outs(%init11 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.global<[3, 3]>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init12 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.global: needs at least one token}}
  %o = sparse_attn.attention %q, %k, %v outs(%init12 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.global<[]>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init13 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.random: 'block' must be positive, got 0}}
  %o = sparse_attn.attention %q, %k, %v outs(%init13 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.random<block = 0, per_row = 1, seed = 0>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init14 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.random: 'per_row' must be non-negative, got -1}}
  %o = sparse_attn.attention %q, %k, %v outs(%init14 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.random<block = 4, per_row = -1, seed = 0>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init15 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.random: 'seed' must be non-negative, got -5}}
  %o = sparse_attn.attention %q, %k, %v outs(%init15 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.random<block = 4, per_row = 1, seed = -5>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init16 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.blocks: 'block[0]' must be positive, got 0}}
  %o = sparse_attn.attention %q, %k, %v outs(%init16 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.blocks<block = [0, 8], layout = dense<true> : tensor<2x2xi1>>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init17 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.blocks: 'block[1]' must be positive, got -8}}
  %o = sparse_attn.attention %q, %k, %v outs(%init17 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.blocks<block = [8, -8], layout = dense<true> : tensor<2x2xi1>>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init18 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.blocks: 'layout' must be a rank-2 i1 tensor, got 'tensor<2x2xi32>'}}
  %o = sparse_attn.attention %q, %k, %v outs(%init18 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.blocks<block = [8, 8], layout = dense<1> : tensor<2x2xi32>>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init19 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.blocks: 'layout' must be a rank-2 i1 tensor, got 'tensor<4xi1>'}}
  %o = sparse_attn.attention %q, %k, %v outs(%init19 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.blocks<block = [8, 8], layout = dense<true> : tensor<4xi1>>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init20 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.blocks: 'layout' must be a dense i1 tensor, got [true]}}
  %o = sparse_attn.attention %q, %k, %v outs(%init20 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.blocks<block = [8, 8], layout = [true]>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init21 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.blocks: unknown key 'shape' (expected 'block' or 'layout')}}
  %o = sparse_attn.attention %q, %k, %v outs(%init21 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.blocks<block = [8, 8], shape = [2, 2]>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init22 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.blocks: duplicate key 'block'}}
  %o = sparse_attn.attention %q, %k, %v outs(%init22 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.blocks<block = [8, 8], block = [4, 4]>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init23 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.blocks: duplicate key 'layout'}}
  %o = sparse_attn.attention %q, %k, %v outs(%init23 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.blocks<layout = dense<true> : tensor<2x2xi1>, layout = dense<true> : tensor<2x2xi1>>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init24 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.blocks: missing key 'layout'}}
  %o = sparse_attn.attention %q, %k, %v outs(%init24 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.blocks<block = [8, 8]>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init25 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.blocks: missing key 'block'}}
  %o = sparse_attn.attention %q, %k, %v outs(%init25 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.blocks<layout = dense<true> : tensor<2x2xi1>>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init26 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.prefix: 'length' must be non-negative, got -2}}
  %o = sparse_attn.attention %q, %k, %v outs(%init26 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.prefix<length = -2>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init27 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.union: component #1 is not a sparsity pattern: 3 : i64}}
  %o = sparse_attn.attention %q, %k, %v outs(%init27 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.union<[#sparse_attn.causal, 3 : i64]>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init28 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.intersect: component #0 is not a sparsity pattern: "causal"}}
  %o = sparse_attn.attention %q, %k, %v outs(%init28 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.intersect<["causal"]>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init29 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.union: needs at least one component}}
  %o = sparse_attn.attention %q, %k, %v outs(%init29 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.union<[]>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init30 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{unknown attribute `sliding` in dialect `sparse_attn`}}
  %o = sparse_attn.attention %q, %k, %v outs(%init30 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.sliding<before = 3>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init31 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{'sparse_attn.attention' op attribute 'pattern' failed to satisfy constraint: sparsity pattern attribute}}
  %o = sparse_attn.attention %q, %k, %v outs(%init31 : tensor<1x4x16x8xf32>) {pattern = 3 : i64} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init32 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{query must be a rank-4 tensor [B, Hq, Sq, D], got 'tensor<4x16x8xf32>'}}
  %o = sparse_attn.attention %q, %k, %v outs(%init32 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal} : tensor<4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init33 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{key must be a rank-4 tensor [B, Hkv, Sk, D], got 'tensor<2x16x8xf32>'}}
  %o = sparse_attn.attention %q, %k, %v outs(%init33 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x4x16x8xf32>, tensor<2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<2x16x8xf32>) {
  %init34 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{value must be a rank-4 tensor [B, Hkv, Sk, Dv], got 'tensor<2x16x8xf32>'}}
  %o = sparse_attn.attention %q, %k, %v outs(%init34 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xi32>, %k: tensor<1x2x16x8xi32>, %v: tensor<1x2x16x8xi32>) {
  %init35 = tensor.empty() : tensor<1x4x16x8xi32>
  // expected-error @+1 {{query element type must be f32, f16 or bf16, got 'i32'}}
  %o = sparse_attn.attention %q, %k, %v outs(%init35 : tensor<1x4x16x8xi32>) {pattern = #sparse_attn.causal} : tensor<1x4x16x8xi32>, tensor<1x2x16x8xi32>, tensor<1x2x16x8xi32> -> tensor<1x4x16x8xi32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf16>, %v: tensor<1x2x16x8xf32>) {
  %init36 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{key element type 'f16' does not match query element type 'f32'}}
  %o = sparse_attn.attention %q, %k, %v outs(%init36 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf16>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xbf16>) {
  %init37 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{value element type 'bf16' does not match query element type 'f32'}}
  %o = sparse_attn.attention %q, %k, %v outs(%init37 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xbf16> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<2x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init38 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{key batch size 2 does not match query batch size 1}}
  %o = sparse_attn.attention %q, %k, %v outs(%init38 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x4x16x8xf32>, tensor<2x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<3x2x16x8xf32>) {
  %init39 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{value batch size 3 does not match query batch size 1}}
  %o = sparse_attn.attention %q, %k, %v outs(%init39 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<3x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x1x16x8xf32>) {
  %init40 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{value has 1 heads but key has 2}}
  %o = sparse_attn.attention %q, %k, %v outs(%init40 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x1x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x0x16x8xf32>, %v: tensor<1x0x16x8xf32>) {
  %init41 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{key/value must have at least one head}}
  %o = sparse_attn.attention %q, %k, %v outs(%init41 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x4x16x8xf32>, tensor<1x0x16x8xf32>, tensor<1x0x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x3x16x8xf32>, %v: tensor<1x3x16x8xf32>) {
  %init42 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{query heads (4) must be a multiple of key/value heads (3)}}
  %o = sparse_attn.attention %q, %k, %v outs(%init42 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x4x16x8xf32>, tensor<1x3x16x8xf32>, tensor<1x3x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x16xf32>, %v: tensor<1x2x16x8xf32>) {
  %init43 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{key head dimension 16 does not match query head dimension 8}}
  %o = sparse_attn.attention %q, %k, %v outs(%init43 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x4x16x8xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x0xf32>, %k: tensor<1x2x16x0xf32>, %v: tensor<1x2x16x8xf32>) {
  %init44 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{head dimension D must be positive}}
  %o = sparse_attn.attention %q, %k, %v outs(%init44 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x4x16x0xf32>, tensor<1x2x16x0xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x12x8xf32>) {
  %init45 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{value sequence length 12 does not match key sequence length 16}}
  %o = sparse_attn.attention %q, %k, %v outs(%init45 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x12x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init46 = tensor.empty() : tensor<1x4x16x8xf16>
  // expected-error @+1 {{output element type 'f16' does not match query element type 'f32'}}
  %o = sparse_attn.attention %q, %k, %v outs(%init46 : tensor<1x4x16x8xf16>) {pattern = #sparse_attn.causal} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf16>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init47 = tensor.empty() : tensor<1x4x16x4xf32>
  // expected-error @+1 {{output type 'tensor<1x4x16x4xf32>' does not match [B, Hq, Sq, Dv] = [1, 4, 16, 8]}}
  %o = sparse_attn.attention %q, %k, %v outs(%init47 : tensor<1x4x16x4xf32>) {pattern = #sparse_attn.causal} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x4xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x?x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %dc48_0_2 = arith.constant 2 : index
  %dd48_0_2 = tensor.dim %q, %dc48_0_2 : tensor<1x4x?x8xf32>
  %init48 = tensor.empty(%dd48_0_2) : tensor<1x2x?x8xf32>
  // expected-error @+1 {{output type 'tensor<1x2x?x8xf32>' does not match [B, Hq, Sq, Dv] = [1, 4, ?, 8]}}
  %o = sparse_attn.attention %q, %k, %v outs(%init48 : tensor<1x2x?x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x4x?x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x?x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init49 = tensor.empty() : tensor<1x4x16x8xf32>
  %linit49 = tensor.empty() : tensor<1x4x16xf16>
  // expected-error @+1 {{log-sum-exp type 'tensor<1x4x16xf16>' must be an f32 tensor [B, Hq, Sq] = [1, 4, 16]}}
  %o, %l = sparse_attn.attention %q, %k, %v outs(%init49, %linit49 : tensor<1x4x16x8xf32>, tensor<1x4x16xf16>) {pattern = #sparse_attn.causal} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>, tensor<1x4x16xf16>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init50 = tensor.empty() : tensor<1x4x16x8xf32>
  %linit50 = tensor.empty() : tensor<1x4x8xf32>
  // expected-error @+1 {{log-sum-exp type 'tensor<1x4x8xf32>' must be an f32 tensor [B, Hq, Sq] = [1, 4, 16]}}
  %o, %l = sparse_attn.attention %q, %k, %v outs(%init50, %linit50 : tensor<1x4x16x8xf32>, tensor<1x4x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>, tensor<1x4x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init51 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{scale must be a finite number}}
  %o = sparse_attn.attention %q, %k, %v outs(%init51 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal, scale = 0x7F800000 : f32} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init52 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{pattern #sparse_attn.segments needs segment ids: add segments(%ids : tensor<BxSxi32>)}}
  %o = sparse_attn.attention %q, %k, %v outs(%init52 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.segments} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>, %s: tensor<1x16xi32>) {
  %init53 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{segment ids are given but the pattern does not use #sparse_attn.segments}}
  %o = sparse_attn.attention %q, %k, %v segments(%s : tensor<1x16xi32>) outs(%init53 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>, %s: tensor<1x16xi32>) {
  %init54 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{expects one or two segment id operands, got 3}}
  %o = sparse_attn.attention %q, %k, %v segments(%s, %s, %s : tensor<1x16xi32>, tensor<1x16xi32>, tensor<1x16xi32>) outs(%init54 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.segments} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x24x8xf32>, %v: tensor<1x2x24x8xf32>, %s: tensor<1x16xi32>) {
  %init55 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{a single segment id operand needs Sq == Sk (got 16 and 24); pass segments(%qids, %kids : ...)}}
  %o = sparse_attn.attention %q, %k, %v segments(%s : tensor<1x16xi32>) outs(%init55 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.segments} : tensor<1x4x16x8xf32>, tensor<1x2x24x8xf32>, tensor<1x2x24x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>, %s: tensor<1x16xf32>) {
  %init56 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{query segment ids must be an integer tensor [B, Sq] = [1, 16], got 'tensor<1x16xf32>'}}
  %o = sparse_attn.attention %q, %k, %v segments(%s : tensor<1x16xf32>) outs(%init56 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.segments} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x24x8xf32>, %v: tensor<1x2x24x8xf32>, %s: tensor<1x16xi32>) {
  %init57 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{key segment ids must be an integer tensor [B, Sk] = [1, 24], got 'tensor<1x16xi32>'}}
  %o = sparse_attn.attention %q, %k, %v segments(%s, %s : tensor<1x16xi32>, tensor<1x16xi32>) outs(%init57 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.segments} : tensor<1x4x16x8xf32>, tensor<1x2x24x8xf32>, tensor<1x2x24x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init58 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.global: token 16 is out of range for Sq = 16, Sk = 16 (must be below 16)}}
  %o = sparse_attn.attention %q, %k, %v outs(%init58 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.global<[0, 16]>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init59 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.global: token 40 is out of range for Sq = 16, Sk = 16 (must be below 16)}}
  %o = sparse_attn.attention %q, %k, %v outs(%init59 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.union<[#sparse_attn.causal, #sparse_attn.global<[40]>]>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init60 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.blocks: layout shape 2x2 does not match Sq = 16, Sk = 16 with blocks 4x8 (expected 4x2)}}
  %o = sparse_attn.attention %q, %k, %v outs(%init60 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.blocks<block = [4, 8], layout = dense<true> : tensor<2x2xi1>>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x?x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %dc61_0_2 = arith.constant 2 : index
  %dd61_0_2 = tensor.dim %q, %dc61_0_2 : tensor<1x4x?x8xf32>
  %init61 = tensor.empty(%dd61_0_2) : tensor<1x4x?x8xf32>
  // expected-error @+1 {{block_mask requires static Sq and Sk}}
  %o = sparse_attn.attention %q, %k, %v outs(%init61 : tensor<1x4x?x8xf32>) {pattern = #sparse_attn.causal, block_mask = #sparse_attn.block_mask<block = [8, 8], num_k_blocks = 2, partial_offsets = [0, 0], partial_indices = [], full_offsets = [0, 2], full_indices = [0, 1]>} : tensor<1x4x?x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x?x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init62 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{block_mask has 1x2 blocks but Sq = 16, Sk = 16 with tiles 8x8 give 2x2}}
  %o = sparse_attn.attention %q, %k, %v outs(%init62 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal, block_mask = #sparse_attn.block_mask<block = [8, 8], num_k_blocks = 2, partial_offsets = [0, 0], partial_indices = [], full_offsets = [0, 2], full_indices = [0, 1]>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init63 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.block_mask: 'block[0]' must be positive, got 0}}
  %o = sparse_attn.attention %q, %k, %v outs(%init63 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal, block_mask = #sparse_attn.block_mask<block = [0, 8], num_k_blocks = 2, partial_offsets = [0], partial_indices = [], full_offsets = [0], full_indices = []>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init64 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.block_mask: 'num_k_blocks' must be non-negative, got -1}}
  %o = sparse_attn.attention %q, %k, %v outs(%init64 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal, block_mask = #sparse_attn.block_mask<block = [8, 8], num_k_blocks = -1, partial_offsets = [0], partial_indices = [], full_offsets = [0], full_indices = []>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init65 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.block_mask: 'partial_offsets' and 'full_offsets' must have the same length}}
  %o = sparse_attn.attention %q, %k, %v outs(%init65 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal, block_mask = #sparse_attn.block_mask<block = [8, 8], num_k_blocks = 2, partial_offsets = [0, 0], partial_indices = [], full_offsets = [0], full_indices = []>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init66 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.block_mask: 'partial_offsets' must start with 0}}
  %o = sparse_attn.attention %q, %k, %v outs(%init66 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal, block_mask = #sparse_attn.block_mask<block = [8, 8], num_k_blocks = 2, partial_offsets = [1, 1], partial_indices = [0], full_offsets = [0, 0], full_indices = []>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init67 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.block_mask: 'partial_offsets' must be non-decreasing}}
  %o = sparse_attn.attention %q, %k, %v outs(%init67 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal, block_mask = #sparse_attn.block_mask<block = [8, 8], num_k_blocks = 2, partial_offsets = [0, 2, 1], partial_indices = [0, 1], full_offsets = [0, 0, 0], full_indices = []>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init68 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.block_mask: 'partial_offsets' ends at 1 but 'partial_indices' has 2 entries}}
  %o = sparse_attn.attention %q, %k, %v outs(%init68 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal, block_mask = #sparse_attn.block_mask<block = [8, 8], num_k_blocks = 2, partial_offsets = [0, 1], partial_indices = [0, 1], full_offsets = [0, 0], full_indices = []>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init69 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.block_mask: 'full_indices' entry 2 is out of range [0, 2)}}
  %o = sparse_attn.attention %q, %k, %v outs(%init69 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal, block_mask = #sparse_attn.block_mask<block = [8, 8], num_k_blocks = 2, partial_offsets = [0, 0], partial_indices = [], full_offsets = [0, 1], full_indices = [2]>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init70 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.block_mask: 'partial_indices' must increase within query block 0}}
  %o = sparse_attn.attention %q, %k, %v outs(%init70 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal, block_mask = #sparse_attn.block_mask<block = [8, 8], num_k_blocks = 2, partial_offsets = [0, 2], partial_indices = [1, 0], full_offsets = [0, 0], full_indices = []>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init71 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.block_mask: key block 1 of query block 0 is listed as both partial and full}}
  %o = sparse_attn.attention %q, %k, %v outs(%init71 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal, block_mask = #sparse_attn.block_mask<block = [8, 8], num_k_blocks = 2, partial_offsets = [0, 1], partial_indices = [1], full_offsets = [0, 1], full_indices = [1]>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init72 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{custom mask @nowhere does not exist}}
  %o = sparse_attn.attention %q, %k, %v outs(%init72 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.union<[#sparse_attn.causal, #sparse_attn.custom<@nowhere>]>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init73 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{custom mask @f refers to 'func.func', not a sparse_attn.mask}}
  %o = sparse_attn.attention %q, %k, %v outs(%init73 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.custom<@f>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init74 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{score_mod @nowhere does not exist}}
  %o = sparse_attn.attention %q, %k, %v outs(%init74 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal, score_mod = @nowhere} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

sparse_attn.mask @m(%b: index, %h: index, %q: index, %k: index) {
  %t = arith.constant true
  sparse_attn.yield %t : i1
}
func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init75 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{score_mod @m refers to 'sparse_attn.mask', not a sparse_attn.score_mod}}
  %o = sparse_attn.attention %q, %k, %v outs(%init75 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal, score_mod = @m} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

// expected-error @+1 {{'sparse_attn.mask' op region must take (b: index, h: index, q: index, k: index) or (b: index, h: index, q: index, k: index, sq: index, sk: index), got 3 argument(s) of types ('index', 'index', 'index')}}
sparse_attn.mask @m(%h: index, %q: index, %k: index) {
  %t = arith.constant true
  sparse_attn.yield %t : i1
}

// -----

// expected-error @+1 {{'sparse_attn.mask' op region must take (b: index, h: index, q: index, k: index) or (b: index, h: index, q: index, k: index, sq: index, sk: index), got 4 argument(s) of types ('index', 'index', 'i32', 'index')}}
sparse_attn.mask @m(%b: index, %h: index, %q: i32, %k: index) {
  %t = arith.constant true
  sparse_attn.yield %t : i1
}

// -----

sparse_attn.mask @m(%b: index, %h: index, %q: index, %k: index) {
  // expected-error @+1 {{'sparse_attn.yield' op in a sparse_attn.mask must yield exactly one 'i1' value}}
  sparse_attn.yield %q : index
}

// -----

sparse_attn.mask @m(%b: index, %h: index, %q: index, %k: index) {
  // expected-error @+1 {{'sparse_attn.yield' op in a sparse_attn.mask must yield exactly one 'i1' value}}
  sparse_attn.yield
}

// -----

func.func private @log()
sparse_attn.mask @m(%b: index, %h: index, %q: index, %k: index) {
  // expected-error @+1 {{'func.call' op has side effects, which are not allowed in a sparse_attn.mask}}
  func.call @log() : () -> ()
  %t = arith.constant true
  sparse_attn.yield %t : i1
}

// -----

sparse_attn.mask @m(%b: index, %h: index, %q: index, %k: index) {
  // expected-error @+1 {{block with no terminator}}
  %t = arith.constant true
}

// -----

// expected-error @+1 {{'sparse_attn.score_mod' op region must take (score: f32, b: index, h: index, q: index, k: index) or (score: f32, b: index, h: index, q: index, k: index, sq: index, sk: index), got 4 argument(s) of types ('index', 'index', 'index', 'index')}}
sparse_attn.score_mod @s(%b: index, %h: index, %q: index, %k: index) {
  %c = arith.constant 0.0 : f32
  sparse_attn.yield %c : f32
}

// -----

sparse_attn.score_mod @s(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  %t = arith.constant true
  // expected-error @+1 {{'sparse_attn.yield' op in a sparse_attn.score_mod must yield exactly one 'f32' value}}
  sparse_attn.yield %t : i1
}

// -----

func.func @f() {
  // expected-error @+1 {{'sparse_attn.yield' op expects parent op to be one of 'sparse_attn.mask, sparse_attn.score_mod'}}
  sparse_attn.yield
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init76 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.fixed: duplicate key 'stride'}}
  %o = sparse_attn.attention %q, %k, %v outs(%init76 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.fixed<stride = 4, stride = 4>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  %init77 = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.random: expected a key ('block', 'per_row', 'seed')}}
  %o = sparse_attn.attention %q, %k, %v outs(%init77 : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.random<4, 1, 0>} : tensor<1x4x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----
// Integer division, remainder and shifts in regions (issue 13, defect 2):
// only constant right operands for which the op is defined everywhere.

sparse_attn.mask @m(%b: index, %h: index, %q: index, %k: index) {
  // expected-error @+1 {{'arith.remsi' op in a sparse_attn.mask needs a constant divisor: the region runs on every pair, and division by zero traps}}
  %r = arith.remsi %q, %k : index
  %c0 = arith.constant 0 : index
  %ok = arith.cmpi eq, %r, %c0 : index
  sparse_attn.yield %ok : i1
}

// -----

sparse_attn.score_mod @s(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  // expected-error @+1 {{'arith.remui' op in a sparse_attn.score_mod needs a constant divisor}}
  %r = arith.remui %q, %k : index
  %i = arith.index_cast %r : index to i64
  %f = arith.sitofp %i : i64 to f32
  %o = arith.addf %s, %f : f32
  sparse_attn.yield %o : f32
}

// -----

sparse_attn.mask @m(%b: index, %h: index, %q: index, %k: index) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{'arith.divui' op divides by zero}}
  %r = arith.divui %q, %c0 : index
  %ok = arith.cmpi eq, %r, %k : index
  sparse_attn.yield %ok : i1
}

// -----

sparse_attn.mask @m(%b: index, %h: index, %q: index, %k: index) {
  %m1 = arith.constant -1 : index
  // expected-error @+1 {{'arith.floordivsi' op divides by -1, which overflows for the most negative value (negate instead)}}
  %r = arith.floordivsi %q, %m1 : index
  %ok = arith.cmpi eq, %r, %k : index
  sparse_attn.yield %ok : i1
}

// -----

sparse_attn.mask @m(%b: index, %h: index, %q: index, %k: index) {
  %c64 = arith.constant 64 : index
  // expected-error @+1 {{'arith.shli' op shifts by 64, not below the bit width 64}}
  %r = arith.shli %q, %c64 : index
  %ok = arith.cmpi eq, %r, %k : index
  sparse_attn.yield %ok : i1
}

// -----

sparse_attn.mask @m(%b: index, %h: index, %q: index, %k: index) {
  // expected-error @+1 {{'arith.shrui' op in a sparse_attn.mask needs a constant shift amount: the region runs on every pair, and a shift by the bit width or more is undefined}}
  %r = arith.shrui %q, %k : index
  %ok = arith.cmpi eq, %r, %k : index
  sparse_attn.yield %ok : i1
}

// -----

sparse_attn.mask @m(%b: index, %h: index, %q: index, %k: index) {
  %t = arith.constant true
  %r = scf.if %t -> index {
    // expected-error @+1 {{'arith.ceildivui' op in a sparse_attn.mask needs a constant divisor}}
    %d = arith.ceildivui %q, %k : index
    scf.yield %d : index
  } else {
    scf.yield %q : index
  }
  %ok = arith.cmpi eq, %r, %k : index
  sparse_attn.yield %ok : i1
}

// -----

// Sizes in bytes must fit 64 bits (issue 13, defect 4: D = 2^63 - 1 aborted
// in the CPU lowering).
func.func @f(%q: tensor<1x1x64x9223372036854775807xf32>) {
  %init78 = tensor.empty() : tensor<1x1x64x9223372036854775807xf32>
  // expected-error @+1 {{query type 'tensor<1x1x64x9223372036854775807xf32>' has more bytes than a 64-bit size can count}}
  %o = sparse_attn.attention %q, %q, %q outs(%init78 : tensor<1x1x64x9223372036854775807xf32>) {pattern = #sparse_attn.causal} : tensor<1x1x64x9223372036854775807xf32>, tensor<1x1x64x9223372036854775807xf32>, tensor<1x1x64x9223372036854775807xf32> -> tensor<1x1x64x9223372036854775807xf32>
  return
}

// -----

// The output counts too: B x Hq x Sq x Dv can overflow where Q, K, V do not.
func.func @f(%q: tensor<1x1048576x1048576x1xf32>, %k: tensor<1x1x1x1xf32>, %v: tensor<1x1x1x1073741824xf32>) {
  %init79 = tensor.empty() : tensor<1x1048576x1048576x1073741824xf32>
  // expected-error @+1 {{output type 'tensor<1x1048576x1048576x1073741824xf32>' has more bytes than a 64-bit size can count}}
  %o = sparse_attn.attention %q, %k, %v outs(%init79 : tensor<1x1048576x1048576x1073741824xf32>) {pattern = #sparse_attn.dense} : tensor<1x1048576x1048576x1xf32>, tensor<1x1x1x1xf32>, tensor<1x1x1x1073741824xf32> -> tensor<1x1048576x1048576x1073741824xf32>
  return
}

// -----

// The index dialect's division and shifts follow the same rule.
sparse_attn.mask @m(%b: index, %h: index, %q: index, %k: index) {
  // expected-error @+1 {{'index.remu' op in a sparse_attn.mask needs a constant divisor}}
  %r = index.remu %q, %k
  %c0 = index.constant 0
  %ok = index.cmp eq(%r, %c0)
  sparse_attn.yield %ok : i1
}

// -----

sparse_attn.mask @m(%b: index, %h: index, %q: index, %k: index) {
  %c0 = index.constant 0
  // expected-error @+1 {{'index.divs' op divides by zero}}
  %r = index.divs %q, %c0
  %ok = index.cmp eq(%r, %k)
  sparse_attn.yield %ok : i1
}

// -----

sparse_attn.mask @m(%b: index, %h: index, %q: index, %k: index) {
  %c = arith.constant 300 : i128
  %x = arith.index_cast %q : index to i128
  // expected-error @+1 {{'arith.shli' op shifts by 300, not below the bit width 128}}
  %r = arith.shli %x, %c : i128
  %y = arith.index_cast %r : i128 to index
  %ok = arith.cmpi eq, %y, %k : index
  sparse_attn.yield %ok : i1
}

// -----

func.func @merge_rank(%o: tensor<4x16x8xf32>, %l: tensor<4x16xf32>) {
  // expected-error @+1 {{outputs must be [B, H, S, Dv] tensors, got 'tensor<4x16x8xf32>'}}
  %r:2 = sparse_attn.merge %o, %l, %o, %l : tensor<4x16x8xf32>, tensor<4x16xf32>
  return
}

// -----

func.func @merge_elt(%o: tensor<1x4x16x8xf64>, %l: tensor<1x4x16xf32>) {
  // expected-error @+1 {{outputs must have f32, f16 or bf16 elements, got 'f64'}}
  %r:2 = sparse_attn.merge %o, %l, %o, %l : tensor<1x4x16x8xf64>, tensor<1x4x16xf32>
  return
}

// -----

func.func @merge_lse_type(%o: tensor<1x4x16x8xf16>, %l: tensor<1x4x16xf16>) {
  // expected-error @+1 {{log-sum-exps must be [B, H, S] f32 tensors, got 'tensor<1x4x16xf16>'}}
  %r:2 = sparse_attn.merge %o, %l, %o, %l : tensor<1x4x16x8xf16>, tensor<1x4x16xf16>
  return
}

// -----

func.func @merge_lse_dims(%o: tensor<1x4x16x8xf32>, %l: tensor<1x4x15xf32>) {
  // expected-error @+1 {{log-sum-exp dimension 2 (15) does not match the output's (16)}}
  %r:2 = sparse_attn.merge %o, %l, %o, %l : tensor<1x4x16x8xf32>, tensor<1x4x15xf32>
  return
}

// -----

func.func @merge_types(%o: tensor<1x4x16x8xf32>, %o2: tensor<1x4x16x8xf16>, %l: tensor<1x4x16xf32>) {
  // expected-error @+1 {{all of {output_a, output_b, output} have same type}}
  %r:2 = "sparse_attn.merge"(%o, %l, %o2, %l) : (tensor<1x4x16x8xf32>, tensor<1x4x16xf32>, tensor<1x4x16x8xf16>, tensor<1x4x16xf32>) -> (tensor<1x4x16x8xf32>, tensor<1x4x16xf32>)
  return
}

// -----
// Runtime block tables.

func.func @f(%q: tensor<2x4x64x16xf32>, %k: tensor<2x2x64x16xf32>, %n: tensor<1x1x4xi32>, %i: tensor<1x1x4x2xi32>) {
  %init = tensor.empty() : tensor<2x4x64x16xf32>
  // expected-error @+1 {{block tables come in pairs of counts and indices}}
  %o = "sparse_attn.attention"(%q, %k, %k, %n, %init) <{operandSegmentSizes = array<i32: 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 1>, pattern = #sparse_attn.dense, table_block = array<i64: 16, 16>}> : (tensor<2x4x64x16xf32>, tensor<2x2x64x16xf32>, tensor<2x2x64x16xf32>, tensor<1x1x4xi32>, tensor<2x4x64x16xf32>) -> tensor<2x4x64x16xf32>
  return
}

// -----

func.func @f(%q: tensor<2x4x64x16xf32>, %k: tensor<2x2x64x16xf32>, %n: tensor<1x1x4xi32>, %i: tensor<1x1x4x2xi32>) {
  %init = tensor.empty() : tensor<2x4x64x16xf32>
  // expected-error @+1 {{full_tables needs block_tables}}
  %o = "sparse_attn.attention"(%q, %k, %k, %n, %i, %init) <{operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1>, pattern = #sparse_attn.dense, table_block = array<i64: 16, 16>}> : (tensor<2x4x64x16xf32>, tensor<2x2x64x16xf32>, tensor<2x2x64x16xf32>, tensor<1x1x4xi32>, tensor<1x1x4x2xi32>, tensor<2x4x64x16xf32>) -> tensor<2x4x64x16xf32>
  return
}

// -----

func.func @f(%q: tensor<2x4x64x16xf32>, %k: tensor<2x2x64x16xf32>) {
  %init80 = tensor.empty() : tensor<2x4x64x16xf32>
  // expected-error @+1 {{table_block is given but the op has no block tables}}
  %o = sparse_attn.attention %q, %k, %k outs(%init80 : tensor<2x4x64x16xf32>) {pattern = #sparse_attn.dense, table_block = array<i64: 16, 16>} : tensor<2x4x64x16xf32>, tensor<2x2x64x16xf32>, tensor<2x2x64x16xf32> -> tensor<2x4x64x16xf32>
  return
}

// -----

func.func @f(%q: tensor<2x4x64x16xf32>, %k: tensor<2x2x64x16xf32>, %n: tensor<1x1x4xi32>, %i: tensor<1x1x4x2xi32>) {
  %init81 = tensor.empty() : tensor<2x4x64x16xf32>
  // expected-error @+1 {{block tables need table_block = array<i64: BQ, BK>}}
  %o = sparse_attn.attention %q, %k, %k block_tables(%n, %i : tensor<1x1x4xi32>, tensor<1x1x4x2xi32>) outs(%init81 : tensor<2x4x64x16xf32>) {pattern = #sparse_attn.dense} : tensor<2x4x64x16xf32>, tensor<2x2x64x16xf32>, tensor<2x2x64x16xf32> -> tensor<2x4x64x16xf32>
  return
}

// -----

func.func @f(%q: tensor<2x4x64x16xf32>, %k: tensor<2x2x64x16xf32>, %n: tensor<1x1x4xi32>, %i: tensor<1x1x4x2xi32>) {
  %init82 = tensor.empty() : tensor<2x4x64x16xf32>
  // expected-error @+1 {{table_block must be two sizes [BQ, BK] between 1 and 65536, got array<i64: 0, 16>}}
  %o = sparse_attn.attention %q, %k, %k block_tables(%n, %i : tensor<1x1x4xi32>, tensor<1x1x4x2xi32>) outs(%init82 : tensor<2x4x64x16xf32>) {pattern = #sparse_attn.dense, table_block = array<i64: 0, 16>} : tensor<2x4x64x16xf32>, tensor<2x2x64x16xf32>, tensor<2x2x64x16xf32> -> tensor<2x4x64x16xf32>
  return
}

// -----

func.func @f(%q: tensor<2x4x64x16xf32>, %k: tensor<2x2x64x16xf32>, %n: tensor<1x1x4xi32>, %i: tensor<1x1x4x2xi32>) {
  %init83 = tensor.empty() : tensor<2x4x64x16xf32>
  // expected-error @+1 {{block tables and a block_mask attribute exclude each other}}
  %o = sparse_attn.attention %q, %k, %k block_tables(%n, %i : tensor<1x1x4xi32>, tensor<1x1x4x2xi32>) outs(%init83 : tensor<2x4x64x16xf32>) {pattern = #sparse_attn.dense, table_block = array<i64: 16, 16>, block_mask = #sparse_attn.block_mask<block = [64, 64], num_k_blocks = 1, partial_offsets = [0, 0], partial_indices = [], full_offsets = [0, 1], full_indices = [0]>} : tensor<2x4x64x16xf32>, tensor<2x2x64x16xf32>, tensor<2x2x64x16xf32> -> tensor<2x4x64x16xf32>
  return
}

// -----

func.func @f(%q: tensor<2x4x64x16xf32>, %k: tensor<2x2x64x16xf32>, %n: tensor<1x1x4xi64>, %i: tensor<1x1x4x2xi32>) {
  %init84 = tensor.empty() : tensor<2x4x64x16xf32>
  // expected-error @+1 {{block_tables counts must be an i32 tensor [B', H', Mq], got 'tensor<1x1x4xi64>'}}
  %o = sparse_attn.attention %q, %k, %k block_tables(%n, %i : tensor<1x1x4xi64>, tensor<1x1x4x2xi32>) outs(%init84 : tensor<2x4x64x16xf32>) {pattern = #sparse_attn.dense, table_block = array<i64: 16, 16>} : tensor<2x4x64x16xf32>, tensor<2x2x64x16xf32>, tensor<2x2x64x16xf32> -> tensor<2x4x64x16xf32>
  return
}

// -----

func.func @f(%q: tensor<2x4x64x16xf32>, %k: tensor<2x2x64x16xf32>, %n: tensor<1x1x4xi32>, %i: tensor<1x1x4xi32>, %i2: tensor<1x1x4x1xi32>) {
  %init85 = tensor.empty() : tensor<2x4x64x16xf32>
  // expected-error @+1 {{full_tables indices must be an i32 tensor [B', H', Mq, N], got 'tensor<1x1x4xi32>'}}
  %o = sparse_attn.attention %q, %k, %k block_tables(%n, %i2 : tensor<1x1x4xi32>, tensor<1x1x4x1xi32>) full_tables(%n, %i : tensor<1x1x4xi32>, tensor<1x1x4xi32>) outs(%init85 : tensor<2x4x64x16xf32>) {pattern = #sparse_attn.dense, table_block = array<i64: 16, 16>} : tensor<2x4x64x16xf32>, tensor<2x2x64x16xf32>, tensor<2x2x64x16xf32> -> tensor<2x4x64x16xf32>
  return
}

// -----

func.func @f(%q: tensor<2x4x64x16xf32>, %k: tensor<2x2x64x16xf32>, %n: tensor<1x1x4xi32>, %i: tensor<1x2x4x2xi32>) {
  %init86 = tensor.empty() : tensor<2x4x64x16xf32>
  // expected-error @+1 {{block_tables counts 'tensor<1x1x4xi32>' and indices 'tensor<1x2x4x2xi32>' disagree on [B', H', Mq]}}
  %o = sparse_attn.attention %q, %k, %k block_tables(%n, %i : tensor<1x1x4xi32>, tensor<1x2x4x2xi32>) outs(%init86 : tensor<2x4x64x16xf32>) {pattern = #sparse_attn.dense, table_block = array<i64: 16, 16>} : tensor<2x4x64x16xf32>, tensor<2x2x64x16xf32>, tensor<2x2x64x16xf32> -> tensor<2x4x64x16xf32>
  return
}

// -----

func.func @f(%q: tensor<2x4x64x16xf32>, %k: tensor<2x2x64x16xf32>, %n: tensor<3x1x4xi32>, %i: tensor<3x1x4x2xi32>) {
  %init87 = tensor.empty() : tensor<2x4x64x16xf32>
  // expected-error @+1 {{block_tables: B' must be 1 or B = 2, got 3}}
  %o = sparse_attn.attention %q, %k, %k block_tables(%n, %i : tensor<3x1x4xi32>, tensor<3x1x4x2xi32>) outs(%init87 : tensor<2x4x64x16xf32>) {pattern = #sparse_attn.dense, table_block = array<i64: 16, 16>} : tensor<2x4x64x16xf32>, tensor<2x2x64x16xf32>, tensor<2x2x64x16xf32> -> tensor<2x4x64x16xf32>
  return
}

// -----

func.func @f(%q: tensor<2x4x64x16xf32>, %k: tensor<2x2x64x16xf32>, %n: tensor<2x3x4xi32>, %i: tensor<2x3x4x2xi32>) {
  %init88 = tensor.empty() : tensor<2x4x64x16xf32>
  // expected-error @+1 {{block_tables: H' must be 1, Hkv = 2 or Hq = 4, got 3}}
  %o = sparse_attn.attention %q, %k, %k block_tables(%n, %i : tensor<2x3x4xi32>, tensor<2x3x4x2xi32>) outs(%init88 : tensor<2x4x64x16xf32>) {pattern = #sparse_attn.dense, table_block = array<i64: 16, 16>} : tensor<2x4x64x16xf32>, tensor<2x2x64x16xf32>, tensor<2x2x64x16xf32> -> tensor<2x4x64x16xf32>
  return
}

// -----

func.func @f(%q: tensor<2x4x64x16xf32>, %k: tensor<2x2x64x16xf32>, %n: tensor<1x1x5xi32>, %i: tensor<1x1x5x2xi32>) {
  %init89 = tensor.empty() : tensor<2x4x64x16xf32>
  // expected-error @+1 {{block_tables: Mq must be ceil(Sq / BQ) = 4, got 5}}
  %o = sparse_attn.attention %q, %k, %k block_tables(%n, %i : tensor<1x1x5xi32>, tensor<1x1x5x2xi32>) outs(%init89 : tensor<2x4x64x16xf32>) {pattern = #sparse_attn.dense, table_block = array<i64: 16, 16>} : tensor<2x4x64x16xf32>, tensor<2x2x64x16xf32>, tensor<2x2x64x16xf32> -> tensor<2x4x64x16xf32>
  return
}

// -----

func.func @f(%q: tensor<2x4x?x16xf32>, %k: tensor<2x2x64x16xf32>, %n: tensor<1x1x?xi32>, %i: tensor<1x1x?x2xi32>) {
  %dc90_0_2 = arith.constant 2 : index
  %dd90_0_2 = tensor.dim %q, %dc90_0_2 : tensor<2x4x?x16xf32>
  %init90 = tensor.empty(%dd90_0_2) : tensor<2x4x?x16xf32>
  // expected-error @+1 {{table_block must be two sizes [BQ, BK] between 1 and 65536, got array<i64: 4611686018427387904, 64>}}
  %o = sparse_attn.attention %q, %k, %k block_tables(%n, %i : tensor<1x1x?xi32>, tensor<1x1x?x2xi32>) outs(%init90 : tensor<2x4x?x16xf32>) {pattern = #sparse_attn.dense, table_block = array<i64: 4611686018427387904, 64>} : tensor<2x4x?x16xf32>, tensor<2x2x64x16xf32>, tensor<2x2x64x16xf32> -> tensor<2x4x?x16xf32>
  return
}

// -----
// Destinations (destination-passing style).

func.func @f(%q: tensor<1x2x16x8xf32>) {
  %init = tensor.empty() : tensor<1x2x16x8xf32>
  // expected-error @+1 {{expects one destination per result (outs(%o_init) or outs(%o_init, %lse_init)), got 1 for 2 results}}
  %o, %l = sparse_attn.attention %q, %q, %q outs(%init : tensor<1x2x16x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>, tensor<1x2x16xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x16x8xf32>) {
  %init = tensor.empty() : tensor<1x2x16x8xf16>
  // expected-error @+1 {{destination type 'tensor<1x2x16x8xf16>' does not match result type 'tensor<1x2x16x8xf32>'}}
  %o = sparse_attn.attention %q, %q, %q outs(%init : tensor<1x2x16x8xf16>) {pattern = #sparse_attn.causal} : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----
// Tiles of a larger problem (tile_of / at).

func.func @f(%q: tensor<1x2x16x8xf32>, %i: index) {
  %init = tensor.empty() : tensor<1x2x16x8xf32>
  // expected-error @+1 {{a tile names the problem's sizes (Hq, Sq, Sk) and its offsets (b0, h0, q0, k0): expects 3 and 4 operands, got 3 and 2}}
  %o = "sparse_attn.attention"(%q, %q, %q, %i, %i, %i, %i, %i, %init) <{operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0, 0, 3, 2, 1>, pattern = #sparse_attn.causal}> : (tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, index, index, index, index, index, tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x16x8xf32>, %n: tensor<1x1x1xi32>, %ix: tensor<1x1x1x1xi32>, %i: index) {
  %init = tensor.empty() : tensor<1x2x16x8xf32>
  // expected-error @+1 {{a tile (tile_of / at) cannot carry block tables: they describe the whole problem's tiles}}
  %o = sparse_attn.attention %q, %q, %q block_tables(%n, %ix : tensor<1x1x1xi32>, tensor<1x1x1x1xi32>) tile_of(%i, %i, %i) at(%i, %i, %i, %i) outs(%init : tensor<1x2x16x8xf32>) {pattern = #sparse_attn.causal, table_block = array<i64: 16, 16>} : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x16x8xf32>, %i: index) {
  %init = tensor.empty() : tensor<1x2x16x8xf32>
  // expected-error @+1 {{a tile (tile_of / at) cannot carry a block_mask: it describes the whole problem's tiles}}
  %o = sparse_attn.attention %q, %q, %q tile_of(%i, %i, %i) at(%i, %i, %i, %i) outs(%init : tensor<1x2x16x8xf32>) {pattern = #sparse_attn.causal, block_mask = #sparse_attn.block_mask<block = [16, 16], num_k_blocks = 1, partial_offsets = [0, 1], partial_indices = [0], full_offsets = [0, 0], full_indices = []>} : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x16x8xf32>, %ids: tensor<1x16xi32>, %i: index) {
  %init = tensor.empty() : tensor<1x2x16x8xf32>
  // expected-error @+1 {{a tile takes its query and key segment ids apart: segments(%qids, %kids : ...)}}
  %o = sparse_attn.attention %q, %q, %q segments(%ids : tensor<1x16xi32>) tile_of(%i, %i, %i) at(%i, %i, %i, %i) outs(%init : tensor<1x2x16x8xf32>) {pattern = #sparse_attn.segments} : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x16x8xf32>, %i: index) {
  %init = tensor.empty() : tensor<1x2x16x8xf32>
  %m1 = arith.constant -1 : index
  // expected-error @+1 {{tile offset q0 must be non-negative, got -1}}
  %o = sparse_attn.attention %q, %q, %q tile_of(%i, %i, %i) at(%i, %i, %m1, %i) outs(%init : tensor<1x2x16x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x16x8xf32>, %i: index) {
  %init = tensor.empty() : tensor<1x2x16x8xf32>
  %m1 = arith.constant -5 : index
  // expected-error @+1 {{problem size Sk must be non-negative, got -5}}
  %o = sparse_attn.attention %q, %q, %q tile_of(%i, %i, %m1) at(%i, %i, %i, %i) outs(%init : tensor<1x2x16x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x1x16x8xf32>, %k: tensor<1x2x16x8xf32>, %i: index) {
  %init = tensor.empty() : tensor<1x1x16x8xf32>
  %c3 = arith.constant 3 : index
  // expected-error @+1 {{the problem's query heads (3) must be a multiple of key/value heads (2)}}
  %o = sparse_attn.attention %q, %k, %k tile_of(%c3, %i, %i) at(%i, %i, %i, %i) outs(%init : tensor<1x1x16x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x1x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x1x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x32x8xf32>, %i: index) {
  %init = tensor.empty() : tensor<1x2x32x8xf32>
  %c96 = arith.constant 96 : index
  %c100 = arith.constant 100 : index
  // expected-error @+1 {{the tile's Sq range [96, 128) is outside the problem's 100}}
  %o = sparse_attn.attention %q, %q, %q tile_of(%i, %c100, %i) at(%i, %i, %c96, %i) outs(%init : tensor<1x2x32x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x2x32x8xf32>, tensor<1x2x32x8xf32>, tensor<1x2x32x8xf32> -> tensor<1x2x32x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x32x8xf32>, %i: index) {
  %init = tensor.empty() : tensor<1x2x32x8xf32>
  %big = arith.constant 9223372036854775800 : index
  // expected-error @+1 {{the tile's Sk range starts at 9223372036854775800 and ends past 2^63}}
  %o = sparse_attn.attention %q, %q, %q tile_of(%i, %i, %big) at(%i, %i, %i, %big) outs(%init : tensor<1x2x32x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x2x32x8xf32>, tensor<1x2x32x8xf32>, tensor<1x2x32x8xf32> -> tensor<1x2x32x8xf32>
  return
}

// -----
// sparse_attn.online_attention: the state.

func.func @f(%q: tensor<1x2x16x8xf32>, %acc: tensor<1x2x16x8xf16>, %m: tensor<1x2x16xf32>) {
  // expected-error @+1 {{accumulator must be an f32 tensor [B, Hq, Sq, Dv] = [1, 2, 16, 8], got 'tensor<1x2x16x8xf16>'}}
  %a, %mm, %l = sparse_attn.online_attention %q, %q, %q outs(%acc, %m, %m : tensor<1x2x16x8xf16>, tensor<1x2x16xf32>, tensor<1x2x16xf32>) {pattern = #sparse_attn.causal} : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf16>, tensor<1x2x16xf32>, tensor<1x2x16xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x16x8xf32>, %acc: tensor<1x2x16x8xf32>, %m: tensor<1x2x16xf32>, %s: tensor<1x2x15xf32>) {
  // expected-error @+1 {{running sum must be an f32 tensor [B, Hq, Sq] = [1, 2, 16], got 'tensor<1x2x15xf32>'}}
  %a, %mm, %l = sparse_attn.online_attention %q, %q, %q outs(%acc, %m, %s : tensor<1x2x16x8xf32>, tensor<1x2x16xf32>, tensor<1x2x15xf32>) {pattern = #sparse_attn.causal} : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>, tensor<1x2x16xf32>, tensor<1x2x15xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x16x8xf32>, %acc: tensor<1x2x16x8xf32>, %m: tensor<1x2x16xf32>) {
  // expected-error @+1 {{result 1 has type 'tensor<1x2x?xf32>' but its destination (the running maximum) has 'tensor<1x2x16xf32>'}}
  %a, %mm, %l = sparse_attn.online_attention %q, %q, %q outs(%acc, %m, %m : tensor<1x2x16x8xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>) {pattern = #sparse_attn.causal} : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>, tensor<1x2x?xf32>, tensor<1x2x16xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x200x8xf32>, %k: tensor<1x2x100x8xf32>, %i: index) {
  %init = tensor.empty() : tensor<1x2x200x8xf32>
  %c100 = arith.constant 100 : index
  // expected-error @+1 {{the tile's Sq (200) exceeds the problem's 100}}
  %o = sparse_attn.attention %q, %k, %k tile_of(%i, %c100, %i) at(%i, %i, %i, %i) outs(%init : tensor<1x2x200x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x2x200x8xf32>, tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32> -> tensor<1x2x200x8xf32>
  return
}

// -----
// Regions that read the sequence lengths need them known: a tile with
// non-constant tile_of lengths does not know them.

sparse_attn.mask @br(%b: index, %h: index, %q: index, %k: index, %sq: index, %sk: index) {
  %ok = arith.cmpi sle, %k, %sk : index
  sparse_attn.yield %ok : i1
}
func.func @f(%q: tensor<1x2x16x8xf32>, %i: index) {
  %init = tensor.empty() : tensor<1x2x16x8xf32>
  // expected-error @+1 {{custom mask @br reads the sequence lengths, which a tile with non-constant tile_of lengths does not know}}
  %o = sparse_attn.attention %q, %q, %q tile_of(%i, %i, %i) at(%i, %i, %i, %i) outs(%init : tensor<1x2x16x8xf32>) {pattern = #sparse_attn.custom<@br>} : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

sparse_attn.score_mod @late(%s: f32, %b: index, %h: index, %q: index, %k: index, %sq: index, %sk: index) {
  sparse_attn.yield %s : f32
}
func.func @f(%q: tensor<1x2x16x8xf32>, %i: index) {
  %init = tensor.empty() : tensor<1x2x16x8xf32>
  // expected-error @+1 {{score_mod @late reads the sequence lengths, which a tile with non-constant tile_of lengths does not know}}
  %o = sparse_attn.attention %q, %q, %q tile_of(%i, %i, %i) at(%i, %i, %i, %i) outs(%init : tensor<1x2x16x8xf32>) {pattern = #sparse_attn.causal, score_mod = @late} : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

// expected-error @+1 {{'sparse_attn.score_mod' op region must take (score: f32, b: index, h: index, q: index, k: index) or (score: f32, b: index, h: index, q: index, k: index, sq: index, sk: index), got 6 argument(s)}}
sparse_attn.score_mod @six(%s: f32, %b: index, %h: index, %q: index, %k: index, %sq: index) {
  sparse_attn.yield %s : f32
}

// -----
// Alignment of causal and window.

func.func @f(%q: tensor<1x4x16x8xf32>) {
  %init = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.window: 'align' must be top_left or bottom_right}}
  %o = sparse_attn.attention %q, %q, %q outs(%init : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.window<before = 2, after = 0, align = middle>} : tensor<1x4x16x8xf32>, tensor<1x4x16x8xf32>, tensor<1x4x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>) {
  %init = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.window: duplicate key 'align'}}
  %o = sparse_attn.attention %q, %q, %q outs(%init : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.window<before = 2, after = 0, align = top_left, align = bottom_right>} : tensor<1x4x16x8xf32>, tensor<1x4x16x8xf32>, tensor<1x4x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>) {
  %init = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.causal: 'align' must be top_left or bottom_right}}
  %o = sparse_attn.attention %q, %q, %q outs(%init : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal<align = 3>} : tensor<1x4x16x8xf32>, tensor<1x4x16x8xf32>, tensor<1x4x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x16x8xf32>) {
  %init = tensor.empty() : tensor<1x4x16x8xf32>
  // expected-error @+1 {{#sparse_attn.causal: expected a key ('align')}}
  %o = sparse_attn.attention %q, %q, %q outs(%init : tensor<1x4x16x8xf32>) {pattern = #sparse_attn.causal<diagonal = 1>} : tensor<1x4x16x8xf32>, tensor<1x4x16x8xf32>, tensor<1x4x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}
