// Causal bf16, S = 256, D = 32 (the AMX path qualifies).
func.func @causal(%q: tensor<1x1x256x32xbf16>, %k: tensor<1x1x256x32xbf16>, %v: tensor<1x1x256x32xbf16>) -> tensor<1x1x256x32xbf16> {
  %init0 = tensor.empty() : tensor<1x1x256x32xbf16>
  %o = sparse_attn.attention %q, %k, %v outs(%init0 : tensor<1x1x256x32xbf16>) {pattern = #sparse_attn.causal}
      : tensor<1x1x256x32xbf16>, tensor<1x1x256x32xbf16>, tensor<1x1x256x32xbf16> -> tensor<1x1x256x32xbf16>
  return %o : tensor<1x1x256x32xbf16>
}

// Rows 0..49 allow no key; V[3] NaN.
func.func @empty(%q: tensor<1x1x256x32xbf16>, %k: tensor<1x1x256x32xbf16>, %v: tensor<1x1x256x32xbf16>) -> (tensor<1x1x256x32xbf16>, tensor<1x1x256xf32>) {
  %init1 = tensor.empty() : tensor<1x1x256x32xbf16>
  %linit1 = tensor.empty() : tensor<1x1x256xf32>
  %o, %l = sparse_attn.attention %q, %k, %v
      outs(%init1, %linit1 : tensor<1x1x256x32xbf16>, tensor<1x1x256xf32>) {pattern = #sparse_attn.intersect<[#sparse_attn.causal, #sparse_attn.global<[50]>]>}
      : tensor<1x1x256x32xbf16>, tensor<1x1x256x32xbf16>, tensor<1x1x256x32xbf16> -> tensor<1x1x256x32xbf16>, tensor<1x1x256xf32>
  return %o, %l : tensor<1x1x256x32xbf16>, tensor<1x1x256xf32>
}
