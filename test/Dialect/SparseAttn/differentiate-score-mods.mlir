// d score_mod / d score, generated for the backward pass.
// RUN: sparse-attn-opt %s --sparse-attn-differentiate-score-mods | FileCheck %s

// Soft-capping c * tanh(s / c): derivative (1 - tanh(s / c)^2) (through the
// chain and product rules, before any folding).
sparse_attn.score_mod @softcap(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  %c = arith.constant 30.0 : f32
  %x = arith.divf %s, %c : f32
  %t = math.tanh %x : f32
  %r = arith.mulf %t, %c : f32
  sparse_attn.yield %r : f32
}
// CHECK-LABEL: sparse_attn.score_mod @softcap(
// CHECK-LABEL: sparse_attn.score_mod @softcap_dscore(%{{.*}}: f32, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index) attributes {sparse_attn.derivative_of = @softcap} {
// CHECK:   %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK:   %[[C:.*]] = arith.constant 3.000000e+01 : f32
// CHECK:   %[[X:.*]] = arith.divf %{{.*}}, %[[C]] : f32
// CHECK:   %[[DX:.*]] = arith.divf %[[ONE]], %[[C]] : f32
// CHECK:   %[[T:.*]] = math.tanh %[[X]] : f32
// CHECK:   %[[T2:.*]] = arith.mulf %[[T]], %[[T]] : f32
// CHECK:   %[[D:.*]] = arith.subf %{{.*}}, %[[T2]] : f32
// CHECK:   %[[DT:.*]] = arith.mulf %[[D]], %[[DX]] : f32
// CHECK:   %[[R:.*]] = arith.mulf %[[T]], %[[C]] : f32
// CHECK:   %[[DR:.*]] = arith.mulf %[[DT]], %[[C]] : f32
// CHECK:   sparse_attn.yield %[[DR]] : f32

// ALiBi: the score enters once, added: derivative 1 (the position terms
// have no tangent).
sparse_attn.score_mod @alibi(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  %d = arith.subi %q, %k : index
  %i = arith.index_cast %d : index to i64
  %f = arith.sitofp %i : i64 to f32
  %a = math.absf %f : f32
  %m = arith.constant 0.25 : f32
  %p = arith.mulf %a, %m : f32
  %r = arith.subf %s, %p : f32
  sparse_attn.yield %r : f32
}
// CHECK-LABEL: sparse_attn.score_mod @alibi_dscore(
// CHECK:   %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NOT: math.absf {{.*}}%[[ONE]]
// CHECK:   sparse_attn.yield %[[ONE]] : f32

// A clamp (select on the score) and a floor: the tangent of the chosen
// side, and 0 through the floor.
sparse_attn.score_mod @clamp(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  %c = arith.constant 5.0 : f32
  %big = arith.cmpf ogt, %s, %c : f32
  %r = arith.select %big, %c, %s : f32
  %f = math.floor %s : f32
  %z = arith.addf %r, %f : f32
  sparse_attn.yield %z : f32
}
// CHECK-LABEL: sparse_attn.score_mod @clamp_dscore(
// CHECK:   %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK:   %[[BIG:.*]] = arith.cmpf ogt
// CHECK:   %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK:   %[[D:.*]] = arith.select %[[BIG]], %[[ZERO]], %[[ONE]] : f32
// CHECK:   math.floor
// CHECK:   sparse_attn.yield %[[D]] : f32

// Not differentiated twice; a name in use is not reused.
sparse_attn.score_mod @plain_dscore(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  sparse_attn.yield %s : f32
}
sparse_attn.score_mod @plain(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  %two = arith.constant 2.0 : f32
  %r = arith.mulf %s, %two : f32
  sparse_attn.yield %r : f32
}
// CHECK-LABEL: sparse_attn.score_mod @plain(
// CHECK: sparse_attn.score_mod @plain_dscore_{{[0-9]+}}({{.*}}) attributes {sparse_attn.derivative_of = @plain}
// CHECK-NOT: derivative_of = @plain}

!q = tensor<1x1x16x8xf32>
!l = tensor<1x1x16xf32>
func.func @grads(%q: !q, %k: !q, %v: !q, %o: !q, %lse: !l, %do: !q) -> (!q, !q, !q, !q) {
  %a:3 = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do {pattern = #sparse_attn.causal, score_mod = @softcap} : !q, !q, !q, !q, !l, !q -> !q, !q, !q
  %b:3 = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do {pattern = #sparse_attn.causal, score_mod = @softcap} : !q, !q, !q, !q, !l, !q -> !q, !q, !q
  %c:3 = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do {pattern = #sparse_attn.causal, score_mod = @alibi} : !q, !q, !q, !q, !l, !q -> !q, !q, !q
  %d:3 = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do {pattern = #sparse_attn.causal, score_mod = @clamp} : !q, !q, !q, !q, !l, !q -> !q, !q, !q
  %e:3 = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do {pattern = #sparse_attn.causal, score_mod = @plain} : !q, !q, !q, !q, !l, !q -> !q, !q, !q
  return %a#0, %b#0, %c#0, %d#0 : !q, !q, !q, !q
}
