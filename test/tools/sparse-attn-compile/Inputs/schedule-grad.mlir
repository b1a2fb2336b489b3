// sparse-attn-compile's schedule selection (schedule.test): the forward and
// the backward of dense attention in one module, D = 128 (the backward's
// warpgroup kernels need warps = 4).
!t = tensor<1x2x4096x128xbf16>
!l = tensor<1x2x4096xf32>
func.func @attention(%q: !t, %k: !t, %v: !t) -> (!t, !l) {
  %init = tensor.empty() : !t
  %linit = tensor.empty() : !l
  %o, %lse = sparse_attn.attention %q, %k, %v outs(%init, %linit : !t, !l) {pattern = #sparse_attn.dense}
      : !t, !t, !t -> !t, !l
  return %o, %lse : !t, !l
}
func.func @grad(%q: !t, %k: !t, %v: !t, %o: !t, %lse: !l, %do: !t) -> (!t, !t, !t) {
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do {pattern = #sparse_attn.dense} : !t, !t, !t, !t, !l, !t -> !t, !t, !t
  return %dq, %dk, %dv : !t, !t, !t
}
