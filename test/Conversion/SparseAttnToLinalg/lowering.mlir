// RUN: sparse-attn-opt %s --convert-sparse-attn-to-linalg --split-input-file | FileCheck %s

// The reference materialises the scores (B x Hq x Sq x Sk) and follows the
// definition step by step; GQA reads key head h floordiv (Hq / Hkv).
// CHECK-DAG: #[[Q:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
// CHECK-DAG: #[[K:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1 floordiv 2, d3, d4)>
// CHECK-DAG: #[[V:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1 floordiv 2, d4, d3)>
// CHECK-LABEL: func.func @causal
// The empty online-softmax state (acc 0, max -inf, sum 0).
// CHECK: %[[ACC0:.*]] = linalg.fill {{.*}} -> tensor<1x2x10x4xf32>
// CHECK: %[[MAX0:.*]] = linalg.fill {{.*}} -> tensor<1x2x10xf32>
// CHECK: %[[SUM0:.*]] = linalg.fill {{.*}} -> tensor<1x2x10xf32>
// 1. Scores.
// CHECK: %[[S:.*]] = linalg.generic {indexing_maps = [#[[Q]], #[[K]], {{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%{{.*}}, %{{.*}} : tensor<1x2x10x8xbf16>, tensor<1x1x12x8xbf16>) outs(%{{.*}} : tensor<1x2x10x12xf32>)
// CHECK:   arith.extf %{{.*}} : bf16 to f32
// 2. Scale and mask.
// CHECK: %[[M:.*]] = linalg.generic {{.*}} ins(%[[S]] : tensor<1x2x10x12xf32>)
// CHECK:   %[[I:.*]] = linalg.index 2
// CHECK:   %[[J:.*]] = linalg.index 3
// CHECK:   %[[SC:.*]] = arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK:   %[[OK:.*]] = arith.cmpi sle, %[[J]], %[[I]]
// CHECK:   arith.select %[[OK]], %[[SC]], %{{.*}} : f32
// 3.-7. The step of sparse_attn.online_attention from the empty state
// (its decomposition): row maximum, alpha from the old maximum, the new
// maximum in place, exp, row sum.
// CHECK: %[[RMAX:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[M]] : tensor<1x2x10x12xf32>) outs(%{{.*}} : tensor<1x2x10xf32>)
// CHECK:   arith.maximumf
// CHECK: %[[ALPHA:.*]] = linalg.generic {{.*}} ins(%[[MAX0]], %[[RMAX]] : tensor<1x2x10xf32>, tensor<1x2x10xf32>)
// CHECK:   math.exp
// CHECK: %[[MAX:.*]] = linalg.generic {{.*}} ins(%[[RMAX]] : tensor<1x2x10xf32>) outs(%[[MAX0]] : tensor<1x2x10xf32>)
// CHECK:   arith.maximumf
// CHECK: %[[P:.*]] = linalg.generic {{.*}} ins(%[[M]], %[[MAX]]
// CHECK:   math.exp
// CHECK: %[[RSUM:.*]] = linalg.generic {{.*}} ins(%[[P]] : tensor<1x2x10x12xf32>) outs(%{{.*}} : tensor<1x2x10xf32>)
// P V selects out keys whose masked score is -inf (NaN / Inf values of
// keys a row does not attend never reach it).
// CHECK: %[[PV:.*]] = linalg.generic {indexing_maps = [#[[Q]], #[[V]], {{.*}} ins(%[[P]], %{{.*}}, %[[M]] : tensor<1x2x10x12xf32>, tensor<1x1x12x4xbf16>, tensor<1x2x10x12xf32>)
// CHECK:   arith.cmpf une
// CHECK:   arith.select
// The state update in place: l' = alpha l + sum P, acc' = alpha acc + P V.
// CHECK: %[[L:.*]] = linalg.generic {{.*}} ins(%[[ALPHA]], %[[MAX]], %[[RSUM]] : {{.*}}) outs(%[[SUM0]] :
// CHECK: %[[U:.*]] = linalg.generic {{.*}} ins(%[[ALPHA]], %[[MAX]], %[[PV]] : {{.*}}) outs(%[[ACC0]] :
// 8. Normalise and narrow, LSE.
// CHECK: linalg.generic {{.*}} ins(%[[U]], %[[L]] : tensor<1x2x10x4xf32>, tensor<1x2x10xf32>) outs(%{{.*}} : tensor<1x2x10x4xbf16>)
// CHECK:   arith.divf
// CHECK:   arith.truncf %{{.*}} : f32 to bf16
// CHECK: linalg.generic {{.*}} ins(%[[MAX]], %[[L]]
// CHECK:   math.log
func.func @causal(%q: tensor<1x2x10x8xbf16>, %k: tensor<1x1x12x8xbf16>, %v: tensor<1x1x12x4xbf16>) -> (tensor<1x2x10x4xbf16>, tensor<1x2x10xf32>) {
  %init0 = tensor.empty() : tensor<1x2x10x4xbf16>
  %linit0 = tensor.empty() : tensor<1x2x10xf32>
  %o, %l = sparse_attn.attention %q, %k, %v outs(%init0, %linit0 : tensor<1x2x10x4xbf16>, tensor<1x2x10xf32>) {pattern = #sparse_attn.causal} : tensor<1x2x10x8xbf16>, tensor<1x1x12x8xbf16>, tensor<1x1x12x4xbf16> -> tensor<1x2x10x4xbf16>, tensor<1x2x10xf32>
  return %o, %l : tensor<1x2x10x4xbf16>, tensor<1x2x10xf32>
}

// -----

// Block layouts and random blocks read a constant table.
// CHECK-LABEL: func.func @tables
// CHECK: arith.constant dense<{{\[}}[true, false], [true, true]]> : tensor<2x2xi1>
// CHECK: tensor.extract
func.func @tables(%q: tensor<1x1x8x4xf32>) -> tensor<1x1x8x4xf32> {
  %init1 = tensor.empty() : tensor<1x1x8x4xf32>
  %o = sparse_attn.attention %q, %q, %q outs(%init1 : tensor<1x1x8x4xf32>) {pattern = #sparse_attn.blocks<block = [4, 4], layout = dense<[[true, false], [true, true]]> : tensor<2x2xi1>>} : tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32> -> tensor<1x1x8x4xf32>
  return %o : tensor<1x1x8x4xf32>
}
