// The routing ops print and parse back, in the custom and the generic form.
// RUN: sparse-attn-opt %s | sparse-attn-opt | FileCheck %s
// RUN: sparse-attn-opt %s --mlir-print-op-generic | sparse-attn-opt | FileCheck %s

// CHECK-LABEL: func.func @moba
func.func @moba(%q: tensor<1x4x256x16xbf16>, %k: tensor<1x2x250x16xbf16>)
    -> (tensor<1x2x4x16xf32>, tensor<1x2x4x16xbf16>, tensor<1x4x4xi32>, tensor<1x4x4x3xi32>) {
  // CHECK: sparse_attn.pool %{{.*}} {block = 64 : i64, kind = "mean"} : tensor<1x2x250x16xbf16> -> tensor<1x2x4x16xf32>
  %kp = sparse_attn.pool %k {kind = "mean", block = 64} : tensor<1x2x250x16xbf16> -> tensor<1x2x4x16xf32>
  // CHECK: sparse_attn.pool %{{.*}} {block = 64 : i64, kind = "max", stride = 64 : i64}
  %km = sparse_attn.pool %k {kind = "max", block = 64, stride = 64} : tensor<1x2x250x16xbf16> -> tensor<1x2x4x16xbf16>
  %c250 = arith.constant 250 : index
  // CHECK: sparse_attn.select_blocks %{{.*}}, %{{.*}} key_length(%{{.*}}) {local = 1 : i64, pattern = #sparse_attn.causal, sink = 1 : i64, table_block = array<i64: 64, 64>, top_k = 1 : i64} : tensor<1x4x256x16xbf16>, tensor<1x2x4x16xf32> -> tensor<1x4x4xi32>, tensor<1x4x4x3xi32>, tensor<1x4x4xi32>, tensor<1x4x4x3xi32>
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp key_length(%c250)
      {pattern = #sparse_attn.causal, top_k = 1, sink = 1, local = 1, table_block = array<i64: 64, 64>}
      : tensor<1x4x256x16xbf16>, tensor<1x2x4x16xf32>
      -> tensor<1x4x4xi32>, tensor<1x4x4x3xi32>, tensor<1x4x4xi32>, tensor<1x4x4x3xi32>
  return %kp, %km, %n, %x : tensor<1x2x4x16xf32>, tensor<1x2x4x16xbf16>, tensor<1x4x4xi32>, tensor<1x4x4x3xi32>
}

// Per KV head, per query token (BQ = 1), dynamic batch; sink and local default to 0.
// CHECK-LABEL: func.func @per_token
// CHECK: sparse_attn.select_blocks %{{.*}}, %{{.*}} {pattern = #sparse_attn.window<before = 64, after = 0>, table_block = array<i64: 1, 32>, top_k = 2 : i64} : tensor<?x8x100x32xf16>, tensor<?x2x4x32xf16> -> tensor<?x2x100xi32>, tensor<?x2x100x2xi32>, tensor<?x2x100xi32>, tensor<?x2x100x2xi32>
func.func @per_token(%q: tensor<?x8x100x32xf16>, %kp: tensor<?x2x4x32xf16>) -> tensor<?x2x100x2xi32> {
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp
      {pattern = #sparse_attn.window<before = 64, after = 0>, top_k = 2, table_block = array<i64: 1, 32>}
      : tensor<?x8x100x32xf16>, tensor<?x2x4x32xf16>
      -> tensor<?x2x100xi32>, tensor<?x2x100x2xi32>, tensor<?x2x100xi32>, tensor<?x2x100x2xi32>
  return %x : tensor<?x2x100x2xi32>
}

// CHECK-LABEL: func.func @dsa
// CHECK: sparse_attn.select_tokens %{{.*}}, %{{.*}}, %{{.*}} {pattern = #sparse_attn.causal, top_k = 4 : i64} : tensor<2x32x2x8xbf16>, tensor<2x40x8xbf16>, tensor<2x32x2xf32> -> tensor<2x1x32xi32>, tensor<2x1x32x4xi32>
func.func @dsa(%iq: tensor<2x32x2x8xbf16>, %ik: tensor<2x40x8xbf16>, %w: tensor<2x32x2xf32>) -> tensor<2x1x32x4xi32> {
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w {pattern = #sparse_attn.causal, top_k = 4}
      : tensor<2x32x2x8xbf16>, tensor<2x40x8xbf16>, tensor<2x32x2xf32> -> tensor<2x1x32xi32>, tensor<2x1x32x4xi32>
  return %x : tensor<2x1x32x4xi32>
}
