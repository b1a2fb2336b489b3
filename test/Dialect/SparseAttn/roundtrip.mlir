// Every pattern parses, verifies and prints; the printed form parses back to
// the same IR, and so does the generic form.
// RUN: sparse-attn-opt %s | FileCheck %s
// RUN: sparse-attn-opt %s | sparse-attn-opt | FileCheck %s
// RUN: sparse-attn-opt %s --mlir-print-op-generic | sparse-attn-opt | FileCheck %s

!q = tensor<2x8x64x32xf16>
!kv = tensor<2x2x64x32xf16>

// CHECK-LABEL: func.func @patterns
func.func @patterns(%q: !q, %k: !kv, %v: !kv) {
  // CHECK: %[[I0:.*]] = tensor.empty() : tensor<2x8x64x32xf16>
  // CHECK: sparse_attn.attention %arg0, %arg1, %arg2 outs(%[[I0]] : tensor<2x8x64x32xf16>) {pattern = #sparse_attn.dense} : tensor<2x8x64x32xf16>, tensor<2x2x64x32xf16>, tensor<2x2x64x32xf16> -> tensor<2x8x64x32xf16>
  %init0 = tensor.empty() : !q
  %0 = sparse_attn.attention %q, %k, %v outs(%init0 : !q) {pattern = #sparse_attn.dense} : !q, !kv, !kv -> !q
  // CHECK: {pattern = #sparse_attn.causal}
  %init1 = tensor.empty() : !q
  %1 = sparse_attn.attention %q, %k, %v outs(%init1 : !q) {pattern = #sparse_attn.causal} : !q, !kv, !kv -> !q
  // CHECK: {pattern = #sparse_attn.window<before = 16, after = 0>}
  %init2 = tensor.empty() : !q
  %2 = sparse_attn.attention %q, %k, %v outs(%init2 : !q) {pattern = #sparse_attn.window<before = 16, after = 0>} : !q, !kv, !kv -> !q
  // Keys in any order.
  // CHECK: {pattern = #sparse_attn.window<before = 4, after = 8>}
  %init3 = tensor.empty() : !q
  %3 = sparse_attn.attention %q, %k, %v outs(%init3 : !q) {pattern = #sparse_attn.window<after = 8, before = 4>} : !q, !kv, !kv -> !q
  // Alignment: bottom_right prints, top_left (the default) does not.
  // CHECK: {pattern = #sparse_attn.causal<align = bottom_right>}
  %ia = tensor.empty() : !q
  %a = sparse_attn.attention %q, %k, %v outs(%ia : !q) {pattern = #sparse_attn.causal<align = bottom_right>} : !q, !kv, !kv -> !q
  // CHECK: {pattern = #sparse_attn.causal}
  %ib = tensor.empty() : !q
  %b = sparse_attn.attention %q, %k, %v outs(%ib : !q) {pattern = #sparse_attn.causal<align = top_left>} : !q, !kv, !kv -> !q
  // CHECK: {pattern = #sparse_attn.window<before = 4, after = 0, align = bottom_right>}
  %ic = tensor.empty() : !q
  %c = sparse_attn.attention %q, %k, %v outs(%ic : !q) {pattern = #sparse_attn.window<align = bottom_right, after = 0, before = 4>} : !q, !kv, !kv -> !q
  // CHECK: {pattern = #sparse_attn.window<before = 4, after = 1>}
  %id = tensor.empty() : !q
  %d = sparse_attn.attention %q, %k, %v outs(%id : !q) {pattern = #sparse_attn.window<before = 4, after = 1, align = top_left>} : !q, !kv, !kv -> !q
  // CHECK: {pattern = #sparse_attn.dilated<before = 8, after = 8, dilation = 2>}
  %init4 = tensor.empty() : !q
  %4 = sparse_attn.attention %q, %k, %v outs(%init4 : !q) {pattern = #sparse_attn.dilated<before = 8, after = 8, dilation = 2>} : !q, !kv, !kv -> !q
  // CHECK: {pattern = #sparse_attn.strided<stride = 8>}
  %init5 = tensor.empty() : !q
  %5 = sparse_attn.attention %q, %k, %v outs(%init5 : !q) {pattern = #sparse_attn.strided<stride = 8>} : !q, !kv, !kv -> !q
  // CHECK: {pattern = #sparse_attn.fixed<stride = 16, summary = 2>}
  %init6 = tensor.empty() : !q
  %6 = sparse_attn.attention %q, %k, %v outs(%init6 : !q) {pattern = #sparse_attn.fixed<stride = 16, summary = 2>} : !q, !kv, !kv -> !q
  // CHECK: {pattern = #sparse_attn.global<[0, 1, 63]>}
  %init7 = tensor.empty() : !q
  %7 = sparse_attn.attention %q, %k, %v outs(%init7 : !q) {pattern = #sparse_attn.global<[0, 1, 63]>} : !q, !kv, !kv -> !q
  // CHECK: {pattern = #sparse_attn.random<block = 16, per_row = 2, seed = 42>}
  %init8 = tensor.empty() : !q
  %8 = sparse_attn.attention %q, %k, %v outs(%init8 : !q) {pattern = #sparse_attn.random<block = 16, per_row = 2, seed = 42>} : !q, !kv, !kv -> !q
  // CHECK: {pattern = #sparse_attn.blocks<block = [32, 32], layout = dense<{{\[}}[true, false], [true, true]]> : tensor<2x2xi1>>}
  %init9 = tensor.empty() : !q
  %9 = sparse_attn.attention %q, %k, %v outs(%init9 : !q) {pattern = #sparse_attn.blocks<block = [32, 32], layout = dense<[[true, false], [true, true]]> : tensor<2x2xi1>>} : !q, !kv, !kv -> !q
  // CHECK: {pattern = #sparse_attn.blocks<block = [32, 16], layout = dense<true> : tensor<2x4xi1>>}
  %init10 = tensor.empty() : !q
  %10 = sparse_attn.attention %q, %k, %v outs(%init10 : !q) {pattern = #sparse_attn.blocks<layout = dense<true> : tensor<2x4xi1>, block = [32, 16]>} : !q, !kv, !kv -> !q
  // CHECK: {pattern = #sparse_attn.prefix<length = 10>}
  %init11 = tensor.empty() : !q
  %11 = sparse_attn.attention %q, %k, %v outs(%init11 : !q) {pattern = #sparse_attn.prefix<length = 10>} : !q, !kv, !kv -> !q
  // CHECK: {pattern = #sparse_attn.union<[#sparse_attn.window<before = 8, after = 8>, #sparse_attn.global<[0]>, #sparse_attn.random<block = 16, per_row = 1, seed = 0>]>}
  %init12 = tensor.empty() : !q
  %12 = sparse_attn.attention %q, %k, %v outs(%init12 : !q) {pattern = #sparse_attn.union<[#sparse_attn.window<before = 8, after = 8>, #sparse_attn.global<[0]>, #sparse_attn.random<block = 16, per_row = 1, seed = 0>]>} : !q, !kv, !kv -> !q
  // CHECK: {pattern = #sparse_attn.intersect<[#sparse_attn.causal, #sparse_attn.union<[#sparse_attn.strided<stride = 8>, #sparse_attn.custom<@even>]>]>}
  %init13 = tensor.empty() : !q
  %13 = sparse_attn.attention %q, %k, %v outs(%init13 : !q) {pattern = #sparse_attn.intersect<[#sparse_attn.causal, #sparse_attn.union<[#sparse_attn.strided<stride = 8>, #sparse_attn.custom<@even>]>]>} : !q, !kv, !kv -> !q
  // CHECK: {pattern = #sparse_attn.custom<@even>, scale = 1.250000e-01 : f32, score_mod = @softcap}
  %init14 = tensor.empty() : !q
  %14 = sparse_attn.attention %q, %k, %v outs(%init14 : !q) {pattern = #sparse_attn.custom<@even>, scale = 0.125 : f32, score_mod = @softcap} : !q, !kv, !kv -> !q
  return
}

// CHECK-LABEL: func.func @segments_and_lse
func.func @segments_and_lse(%q: tensor<1x4x128x64xbf16>, %k: tensor<1x4x96x64xbf16>,
                            %v: tensor<1x4x96x32xbf16>, %qs: tensor<1x128xi32>,
                            %ks: tensor<1x96xi32>, %s: tensor<1x96xi64>) {
  // CHECK: %{{.*}}, %{{.*}} = sparse_attn.attention %{{.*}}, %{{.*}}, %{{.*}} segments(%{{.*}}, %{{.*}} : tensor<1x128xi32>, tensor<1x96xi32>) outs(%{{.*}}, %{{.*}} : tensor<1x4x128x32xbf16>, tensor<1x4x128xf32>) {pattern = #sparse_attn.segments} : tensor<1x4x128x64xbf16>, tensor<1x4x96x64xbf16>, tensor<1x4x96x32xbf16> -> tensor<1x4x128x32xbf16>, tensor<1x4x128xf32>
  %init15 = tensor.empty() : tensor<1x4x128x32xbf16>
  %linit15 = tensor.empty() : tensor<1x4x128xf32>
  %o, %lse = sparse_attn.attention %q, %k, %v segments(%qs, %ks : tensor<1x128xi32>, tensor<1x96xi32>) outs(%init15, %linit15 : tensor<1x4x128x32xbf16>, tensor<1x4x128xf32>) {pattern = #sparse_attn.segments} : tensor<1x4x128x64xbf16>, tensor<1x4x96x64xbf16>, tensor<1x4x96x32xbf16> -> tensor<1x4x128x32xbf16>, tensor<1x4x128xf32>
  // CHECK: segments(%{{.*}} : tensor<1x96xi64>) outs(%{{.*}} : tensor<1x4x96x32xbf16>) {pattern = #sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>}
  %init16 = tensor.empty() : tensor<1x4x96x32xbf16>
  %o2 = sparse_attn.attention %k, %k, %v segments(%s : tensor<1x96xi64>) outs(%init16 : tensor<1x4x96x32xbf16>) {pattern = #sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>} : tensor<1x4x96x64xbf16>, tensor<1x4x96x64xbf16>, tensor<1x4x96x32xbf16> -> tensor<1x4x96x32xbf16>
  return
}

// Dynamic dimensions and f32; multi-query attention (Hkv = 1).
// CHECK-LABEL: func.func @dynamic
func.func @dynamic(%q: tensor<?x8x?x64xf32>, %k: tensor<?x1x?x64xf32>, %v: tensor<?x1x?x64xf32>) -> tensor<?x8x?x64xf32> {
  // CHECK: {pattern = #sparse_attn.global<[0, 100000]>} : tensor<?x8x?x64xf32>, tensor<?x1x?x64xf32>, tensor<?x1x?x64xf32> -> tensor<?x8x?x64xf32>
  %dc17_0_0 = arith.constant 0 : index
  %dd17_0_0 = tensor.dim %q, %dc17_0_0 : tensor<?x8x?x64xf32>
  %dc17_0_2 = arith.constant 2 : index
  %dd17_0_2 = tensor.dim %q, %dc17_0_2 : tensor<?x8x?x64xf32>
  %init17 = tensor.empty(%dd17_0_0, %dd17_0_2) : tensor<?x8x?x64xf32>
  %o = sparse_attn.attention %q, %k, %v outs(%init17 : tensor<?x8x?x64xf32>) {pattern = #sparse_attn.global<[0, 100000]>} : tensor<?x8x?x64xf32>, tensor<?x1x?x64xf32>, tensor<?x1x?x64xf32> -> tensor<?x8x?x64xf32>
  return %o : tensor<?x8x?x64xf32>
}

// The generic form parses too.
// CHECK-LABEL: func.func @generic
func.func @generic(%q: !q, %k: !kv, %v: !kv) -> !q {
  // CHECK: %[[INIT:.*]] = tensor.empty()
  // CHECK: sparse_attn.attention %{{.*}}, %{{.*}}, %{{.*}} outs(%[[INIT]] : tensor<2x8x64x32xf16>) {pattern = #sparse_attn.causal} :
  %init = tensor.empty() : !q
  %o = "sparse_attn.attention"(%q, %k, %v, %init) <{operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1>, pattern = #sparse_attn.causal}> : (!q, !kv, !kv, !q) -> !q
  return %o : !q
}

// CHECK-LABEL: sparse_attn.mask @even(%{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index) {
// CHECK: arith.remsi
// CHECK: sparse_attn.yield %{{.*}} : i1
sparse_attn.mask @even(%b: index, %h: index, %q: index, %k: index) {
  %d = arith.subi %q, %k : index
  %c2 = arith.constant 2 : index
  %r = arith.remsi %d, %c2 : index
  %c0 = arith.constant 0 : index
  %ok = arith.cmpi eq, %r, %c0 : index
  sparse_attn.yield %ok : i1
}

// Tanh soft-capping at 30: s' = 30 * tanh(s / 30).
// CHECK-LABEL: sparse_attn.score_mod @softcap(%{{.*}}: f32, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index) {
// CHECK: math.tanh
// CHECK: sparse_attn.yield %{{.*}} : f32
sparse_attn.score_mod @softcap(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  %cap = arith.constant 30.0 : f32
  %x = arith.divf %s, %cap : f32
  %t = math.tanh %x : f32
  %r = arith.mulf %t, %cap : f32
  sparse_attn.yield %r : f32
}

// ALiBi: s' = s - slope(h) * |q - k| with slope(h) = 2^-(h + 1).
// CHECK-LABEL: sparse_attn.score_mod @alibi
sparse_attn.score_mod @alibi(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  %d = arith.subi %q, %k : index
  %c0 = arith.constant 0 : index
  %nd = arith.subi %c0, %d : index
  %ad = arith.maxsi %d, %nd : index
  %adi = arith.index_cast %ad : index to i64
  %adf = arith.sitofp %adi : i64 to f32
  %c1 = arith.constant 1 : index
  %h1 = arith.addi %h, %c1 : index
  %h1i = arith.index_cast %h1 : index to i64
  %h1f = arith.sitofp %h1i : i64 to f32
  %neg = arith.negf %h1f : f32
  %slope = math.exp2 %neg : f32
  %bias = arith.mulf %slope, %adf : f32
  %r = arith.subf %s, %bias : f32
  sparse_attn.yield %r : f32
}

// CHECK-LABEL: func.func @merge
// CHECK: %output, %lse = sparse_attn.merge %arg0, %arg1, %arg2, %arg3 : tensor<?x8x?x64xbf16>, tensor<?x8x?xf32>
func.func @merge(%o1: tensor<?x8x?x64xbf16>, %l1: tensor<?x8x?xf32>, %o2: tensor<?x8x?x64xbf16>, %l2: tensor<?x8x?xf32>) -> (tensor<?x8x?x64xbf16>, tensor<?x8x?xf32>) {
  %o, %l = sparse_attn.merge %o1, %l1, %o2, %l2 : tensor<?x8x?x64xbf16>, tensor<?x8x?xf32>
  return %o, %l : tensor<?x8x?x64xbf16>, tensor<?x8x?xf32>
}

// Runtime block tables (FlexAttention's BlockMask tensors), GQA-shared.
// CHECK-LABEL: func.func @tables
// CHECK: sparse_attn.attention %arg0, %arg1, %arg2 block_tables(%arg3, %arg4 : tensor<1x2x8xi32>, tensor<1x2x8x4xi32>) full_tables(%arg5, %arg6 : tensor<1x2x8xi32>, tensor<1x2x8x4xi32>) outs(%{{.*}} : tensor<1x8x1024x64xbf16>) {pattern = #sparse_attn.causal, table_block = array<i64: 128, 128>}
func.func @tables(%q: tensor<1x8x1024x64xbf16>, %k: tensor<1x2x1024x64xbf16>, %v: tensor<1x2x1024x64xbf16>,
                  %n: tensor<1x2x8xi32>, %i: tensor<1x2x8x4xi32>, %fn: tensor<1x2x8xi32>, %fi: tensor<1x2x8x4xi32>) -> tensor<1x8x1024x64xbf16> {
  %init18 = tensor.empty() : tensor<1x8x1024x64xbf16>
  %o = sparse_attn.attention %q, %k, %v block_tables(%n, %i : tensor<1x2x8xi32>, tensor<1x2x8x4xi32>)
      full_tables(%fn, %fi : tensor<1x2x8xi32>, tensor<1x2x8x4xi32>)
      outs(%init18 : tensor<1x8x1024x64xbf16>) {pattern = #sparse_attn.causal, table_block = array<i64: 128, 128>}
      : tensor<1x8x1024x64xbf16>, tensor<1x2x1024x64xbf16>, tensor<1x2x1024x64xbf16> -> tensor<1x8x1024x64xbf16>
  return %o : tensor<1x8x1024x64xbf16>
}
