func.func @bf16(%q: tensor<1x4x100x64xbf16>, %k: tensor<1x1x100x64xbf16>, %v: tensor<1x1x100x64xbf16>)
    -> (tensor<1x4x100x64xbf16>, tensor<1x4x100xf32>) {
  %init0 = tensor.empty() : tensor<1x4x100x64xbf16>
  %linit0 = tensor.empty() : tensor<1x4x100xf32>
  %o, %l = sparse_attn.attention %q, %k, %v outs(%init0, %linit0 : tensor<1x4x100x64xbf16>, tensor<1x4x100xf32>) {pattern = #sparse_attn.causal, scale = 0.2 : f32}
      : tensor<1x4x100x64xbf16>, tensor<1x1x100x64xbf16>, tensor<1x1x100x64xbf16> -> tensor<1x4x100x64xbf16>, tensor<1x4x100xf32>
  return %o, %l : tensor<1x4x100x64xbf16>, tensor<1x4x100xf32>
}
