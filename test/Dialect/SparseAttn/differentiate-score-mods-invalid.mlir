// A score modification the backward pass cannot differentiate.
// RUN: sparse-attn-opt %s --sparse-attn-differentiate-score-mods -split-input-file -verify-diagnostics

sparse_attn.score_mod @atan(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  // expected-error @+1 {{'math.atan' op cannot be differentiated with respect to the score (no derivative rule}}
  %r = math.atan %s : f32
  sparse_attn.yield %r : f32
}
!q = tensor<1x1x16x8xf32>
!l = tensor<1x1x16xf32>
func.func @f(%q: !q, %k: !q, %v: !q, %o: !q, %lse: !l, %do: !q) -> !q {
  // expected-error @+1 {{'sparse_attn.attention_grad' op needs the derivative of score_mod @atan with respect to the score}}
  %a:3 = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do {pattern = #sparse_attn.causal, score_mod = @atan} : !q, !q, !q, !q, !l, !q -> !q, !q, !q
  return %a#0 : !q
}
