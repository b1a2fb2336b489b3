// sparse-attn-compile's schedule selection (schedule.test): causal document
// mask, D = 128: the work per query block is known only at run time.
!t = tensor<1x2x4096x128xbf16>
func.func @attention(%q: !t, %k: !t, %v: !t, %ids: tensor<1x4096xi32>) -> !t {
  %init = tensor.empty() : !t
  %o = sparse_attn.attention %q, %k, %v segments(%ids : tensor<1x4096xi32>) outs(%init : !t) {pattern = #sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>}
      : !t, !t, !t -> !t
  return %o : !t
}
