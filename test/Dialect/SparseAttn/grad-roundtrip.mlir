// sparse_attn.attention_grad: custom form round trip, the generic form of
// the issue parses, optional parts (segments, tables, score_mod) print back.
// RUN: sparse-attn-opt %s | sparse-attn-opt | FileCheck %s
// RUN: sparse-attn-opt %s -mlir-print-op-generic | sparse-attn-opt | FileCheck %s

// CHECK-LABEL: func.func @causal
// CHECK: = sparse_attn.attention_grad %arg0, %arg1, %arg2, %arg3, %arg4, %arg5 {pattern = #sparse_attn.causal} : tensor<1x8x128x64xbf16>, tensor<1x2x128x64xbf16>, tensor<1x2x128x64xbf16>, tensor<1x8x128x64xbf16>, tensor<1x8x128xf32>, tensor<1x8x128x64xbf16> -> tensor<1x8x128x64xbf16>, tensor<1x2x128x64xbf16>, tensor<1x2x128x64xbf16>
func.func @causal(%q: tensor<1x8x128x64xbf16>, %k: tensor<1x2x128x64xbf16>,
                  %v: tensor<1x2x128x64xbf16>, %o: tensor<1x8x128x64xbf16>,
                  %lse: tensor<1x8x128xf32>, %do: tensor<1x8x128x64xbf16>)
    -> (tensor<1x8x128x64xbf16>, tensor<1x2x128x64xbf16>, tensor<1x2x128x64xbf16>) {
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do
      {pattern = #sparse_attn.causal}
      : tensor<1x8x128x64xbf16>, tensor<1x2x128x64xbf16>, tensor<1x2x128x64xbf16>,
        tensor<1x8x128x64xbf16>, tensor<1x8x128xf32>, tensor<1x8x128x64xbf16>
      -> tensor<1x8x128x64xbf16>, tensor<1x2x128x64xbf16>, tensor<1x2x128x64xbf16>
  return %dq, %dk, %dv : tensor<1x8x128x64xbf16>, tensor<1x2x128x64xbf16>, tensor<1x2x128x64xbf16>
}

// The generic form, as the issue writes it.
// CHECK-LABEL: func.func @generic
// CHECK: sparse_attn.attention_grad %arg0, %arg1, %arg2, %arg3, %arg4, %arg5 {pattern = #sparse_attn.window<before = 16, after = 0>}
func.func @generic(%q: tensor<1x1x32x8xf32>, %k: tensor<1x1x32x8xf32>,
                   %v: tensor<1x1x32x8xf32>, %o: tensor<1x1x32x8xf32>,
                   %lse: tensor<1x1x32xf32>, %do: tensor<1x1x32x8xf32>)
    -> tensor<1x1x32x8xf32> {
  %g:3 = "sparse_attn.attention_grad"(%q, %k, %v, %o, %lse, %do)
      {pattern = #sparse_attn.window<before = 16, after = 0>}
      : (tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>,
         tensor<1x1x32x8xf32>, tensor<1x1x32xf32>, tensor<1x1x32x8xf32>)
      -> (tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>, tensor<1x1x32x8xf32>)
  return %g#0 : tensor<1x1x32x8xf32>
}

// Segment ids, runtime tables with full tables, scale and a score_mod;
// dynamic sequence lengths.
sparse_attn.score_mod @softcap(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  %c = arith.constant 30.0 : f32
  %x = arith.divf %s, %c : f32
  %t = math.tanh %x : f32
  %r = arith.mulf %t, %c : f32
  sparse_attn.yield %r : f32
}
// CHECK-LABEL: func.func @everything
// CHECK: sparse_attn.attention_grad %arg0, %arg1, %arg2, %arg3, %arg4, %arg5 segments(%arg6, %arg7 : tensor<2x?xi32>, tensor<2x?xi32>) block_tables(%arg8, %arg9 : tensor<1x4x?xi32>, tensor<1x4x?x3xi32>) full_tables(%arg10, %arg11 : tensor<1x4x?xi32>, tensor<1x4x?x3xi32>) {pattern = #sparse_attn.segments, scale = 2.500000e-01 : f32, score_mod = @softcap, table_block = array<i64: 16, 16>}
func.func @everything(%q: tensor<2x4x?x16xf16>, %k: tensor<2x2x?x16xf16>,
                      %v: tensor<2x2x?x8xf16>, %o: tensor<2x4x?x8xf16>,
                      %lse: tensor<2x4x?xf32>, %do: tensor<2x4x?x8xf16>,
                      %qids: tensor<2x?xi32>, %kids: tensor<2x?xi32>,
                      %n: tensor<1x4x?xi32>, %i: tensor<1x4x?x3xi32>,
                      %fn: tensor<1x4x?xi32>, %fi: tensor<1x4x?x3xi32>)
    -> tensor<2x2x?x8xf16> {
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do
      segments(%qids, %kids : tensor<2x?xi32>, tensor<2x?xi32>)
      block_tables(%n, %i : tensor<1x4x?xi32>, tensor<1x4x?x3xi32>)
      full_tables(%fn, %fi : tensor<1x4x?xi32>, tensor<1x4x?x3xi32>)
      {pattern = #sparse_attn.segments, scale = 0.25 : f32, score_mod = @softcap,
       table_block = array<i64: 16, 16>}
      : tensor<2x4x?x16xf16>, tensor<2x2x?x16xf16>, tensor<2x2x?x8xf16>,
        tensor<2x4x?x8xf16>, tensor<2x4x?xf32>, tensor<2x4x?x8xf16>
      -> tensor<2x4x?x16xf16>, tensor<2x2x?x16xf16>, tensor<2x2x?x8xf16>
  return %dv : tensor<2x2x?x8xf16>
}
