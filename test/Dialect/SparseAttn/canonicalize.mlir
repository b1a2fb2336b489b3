// Pattern canonicalisation: every rewrite keeps the allowed set exactly
// (checked by evaluation in unittests/PatternTest.cpp).
// RUN: sparse-attn-opt %s --canonicalize --split-input-file | FileCheck %s

!t = tensor<1x1x64x16xf32>
#w = #sparse_attn.window<before = 8, after = 8>

// CHECK-LABEL: @causal_window
// CHECK: {pattern = #sparse_attn.window<before = 8, after = 0>}
func.func @causal_window(%q: !t) -> !t {
  %init0 = tensor.empty() : !t
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : !t) {pattern = #sparse_attn.intersect<[#sparse_attn.causal, #w]>} : !t, !t, !t -> !t
  return %o : !t
}

// -----
!t = tensor<1x1x64x16xf32>
// Nested unions flatten, duplicates go, global lists merge.
// CHECK-LABEL: @flatten
// CHECK: {pattern = #sparse_attn.union<[#sparse_attn.strided<stride = 8>, #sparse_attn.global<[0, 3, 9]>, #sparse_attn.fixed<stride = 4, summary = 1>]>}
func.func @flatten(%q: !t) -> !t {
  %init1 = tensor.empty() : !t
  %o = sparse_attn.attention %q, %q, %q outs(%init1 : !t) {pattern = #sparse_attn.union<[#sparse_attn.strided<stride = 8>, #sparse_attn.global<[0, 9]>, #sparse_attn.union<[#sparse_attn.fixed<stride = 4, summary = 1>, #sparse_attn.strided<stride = 8>, #sparse_attn.global<[3]>]>]>} : !t, !t, !t -> !t
  return %o : !t
}

// -----
!t = tensor<1x1x64x16xf32>
// Components contained in another one are dropped from a union.
// CHECK-LABEL: @dominated_union
// CHECK: {pattern = #sparse_attn.union<[#sparse_attn.prefix<length = 4>, #sparse_attn.global<[1]>]>}
func.func @dominated_union(%q: !t) -> !t {
  %init2 = tensor.empty() : !t
  %o = sparse_attn.attention %q, %q, %q outs(%init2 : !t) {pattern = #sparse_attn.union<[#sparse_attn.causal, #sparse_attn.window<before = 3, after = 0>, #sparse_attn.prefix<length = 4>, #sparse_attn.strided<stride = 5>, #sparse_attn.global<[1]>]>} : !t, !t, !t -> !t
  return %o : !t
}

// -----
!t = tensor<1x1x64x16xf32>
// Two windows merge (both contain the diagonal, so their union is a window).
// CHECK-LABEL: @window_union
// CHECK: {pattern = #sparse_attn.window<before = 6, after = 5>}
func.func @window_union(%q: !t) -> !t {
  %init3 = tensor.empty() : !t
  %o = sparse_attn.attention %q, %q, %q outs(%init3 : !t) {pattern = #sparse_attn.union<[#sparse_attn.window<before = 6, after = 0>, #sparse_attn.window<before = 2, after = 5>]>} : !t, !t, !t -> !t
  return %o : !t
}

// -----
!t = tensor<1x1x64x16xf32>
// dense absorbs a union and disappears from an intersection.
// CHECK-LABEL: @dense
// CHECK: {pattern = #sparse_attn.dense}
// CHECK: {pattern = #sparse_attn.causal}
// CHECK: {pattern = #sparse_attn.dense}
func.func @dense(%q: !t) -> (!t, !t, !t) {
  %init4 = tensor.empty() : !t
  %a = sparse_attn.attention %q, %q, %q outs(%init4 : !t) {pattern = #sparse_attn.union<[#sparse_attn.causal, #sparse_attn.dense]>} : !t, !t, !t -> !t
  %init5 = tensor.empty() : !t
  %b = sparse_attn.attention %q, %q, %q outs(%init5 : !t) {pattern = #sparse_attn.intersect<[#sparse_attn.dense, #sparse_attn.causal]>} : !t, !t, !t -> !t
  %init6 = tensor.empty() : !t
  %c = sparse_attn.attention %q, %q, %q outs(%init6 : !t) {pattern = #sparse_attn.intersect<[#sparse_attn.dense]>} : !t, !t, !t -> !t
  return %a, %b, %c : !t, !t, !t
}

// -----
!t = tensor<1x1x64x16xf32>
// Intersections keep the smaller component and fold windows and dilations.
// CHECK-LABEL: @intersections
// CHECK: {pattern = #sparse_attn.causal}
// CHECK: {pattern = #sparse_attn.window<before = 2, after = 1>}
// CHECK: {pattern = #sparse_attn.dilated<before = 8, after = 0, dilation = 2>}
// CHECK: {pattern = #sparse_attn.dilated<before = 4, after = 3, dilation = 3>}
// CHECK: {pattern = #sparse_attn.intersect<[#sparse_attn.strided<stride = 4>, #sparse_attn.fixed<stride = 8, summary = 2>]>}
func.func @intersections(%q: !t) -> (!t, !t, !t, !t, !t) {
  %init7 = tensor.empty() : !t
  %a = sparse_attn.attention %q, %q, %q outs(%init7 : !t) {pattern = #sparse_attn.intersect<[#sparse_attn.prefix<length = 9>, #sparse_attn.causal]>} : !t, !t, !t -> !t
  %init8 = tensor.empty() : !t
  %b = sparse_attn.attention %q, %q, %q outs(%init8 : !t) {pattern = #sparse_attn.intersect<[#sparse_attn.window<before = 2, after = 7>, #sparse_attn.window<before = 5, after = 1>]>} : !t, !t, !t -> !t
  %init9 = tensor.empty() : !t
  %c = sparse_attn.attention %q, %q, %q outs(%init9 : !t) {pattern = #sparse_attn.intersect<[#sparse_attn.causal, #sparse_attn.dilated<before = 8, after = 8, dilation = 2>]>} : !t, !t, !t -> !t
  %init10 = tensor.empty() : !t
  %d = sparse_attn.attention %q, %q, %q outs(%init10 : !t) {pattern = #sparse_attn.intersect<[#sparse_attn.window<before = 4, after = 3>, #sparse_attn.dilated<before = 9, after = 9, dilation = 3>]>} : !t, !t, !t -> !t
  %init11 = tensor.empty() : !t
  %e = sparse_attn.attention %q, %q, %q outs(%init11 : !t) {pattern = #sparse_attn.intersect<[#sparse_attn.causal, #sparse_attn.intersect<[#sparse_attn.strided<stride = 4>, #sparse_attn.fixed<stride = 8, summary = 2>]>]>} : !t, !t, !t -> !t
  return %a, %b, %c, %d, %e : !t, !t, !t, !t, !t
}

// -----
!t = tensor<1x1x64x16xf32>
// Nothing to simplify: the pattern stays as written.
// CHECK-LABEL: @unchanged
// CHECK: {pattern = #sparse_attn.union<[#sparse_attn.window<before = 8, after = 8>, #sparse_attn.global<[0]>, #sparse_attn.random<block = 16, per_row = 1, seed = 3>]>}
func.func @unchanged(%q: !t) -> !t {
  %init12 = tensor.empty() : !t
  %o = sparse_attn.attention %q, %q, %q outs(%init12 : !t) {pattern = #sparse_attn.union<[#sparse_attn.window<before = 8, after = 8>, #sparse_attn.global<[0]>, #sparse_attn.random<block = 16, per_row = 1, seed = 3>]>} : !t, !t, !t -> !t
  return %o : !t
}

// -----
!t = tensor<1x1x64x16xf32>
// Three spellings of the diagonal: one stays (never an empty union).
// CHECK-LABEL: @equivalent_diagonals
// CHECK: {pattern = #sparse_attn.dilated<before = 0, after = 0, dilation = 2>}
func.func @equivalent_diagonals(%q: !t) -> !t {
  %init13 = tensor.empty() : !t
  %o = sparse_attn.attention %q, %q, %q outs(%init13 : !t) {pattern = #sparse_attn.union<[#sparse_attn.dilated<before = 0, after = 0, dilation = 6>, #sparse_attn.window<before = 0, after = 0>, #sparse_attn.dilated<before = 0, after = 0, dilation = 2>]>} : !t, !t, !t -> !t
  return %o : !t
}

// -----
// Regression (issue 13, defect 3): when the canonical form drops
// #sparse_attn.segments, the segment-id operands go too (the verifier
// requires them exactly when the pattern uses them).
!t = tensor<1x1x64x16xf32>
// CHECK-LABEL: @segments_simplified_away
// CHECK: sparse_attn.attention %{{.*}}, %{{.*}}, %{{.*}} {pattern = #sparse_attn.dense}
// CHECK-NOT: segments(
func.func @segments_simplified_away(%q: !t, %ids: tensor<1x64xi32>) -> !t {
  %init14 = tensor.empty() : !t
  %o = sparse_attn.attention %q, %q, %q segments(%ids : tensor<1x64xi32>)
      outs(%init14 : !t) {pattern = #sparse_attn.union<[#sparse_attn.dense, #sparse_attn.segments]>} : !t, !t, !t -> !t
  return %o : !t
}

// -----
// Two id tensors, an intersection that becomes empty of segments.
!t = tensor<1x1x64x16xf32>
// CHECK-LABEL: @segments_pair_simplified_away
// CHECK: {pattern = #sparse_attn.causal}
// CHECK-NOT: segments(
func.func @segments_pair_simplified_away(%q: !t, %a: tensor<1x64xi32>, %b: tensor<1x64xi32>) -> !t {
  %init15 = tensor.empty() : !t
  %o = sparse_attn.attention %q, %q, %q segments(%a, %b : tensor<1x64xi32>, tensor<1x64xi32>)
      outs(%init15 : !t) {pattern = #sparse_attn.intersect<[#sparse_attn.causal, #sparse_attn.union<[#sparse_attn.segments, #sparse_attn.dense]>]>} : !t, !t, !t -> !t
  return %o : !t
}
