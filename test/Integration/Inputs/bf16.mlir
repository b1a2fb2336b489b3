func.func @bf16(%q: tensor<1x4x100x64xbf16>, %k: tensor<1x1x100x64xbf16>, %v: tensor<1x1x100x64xbf16>)
    -> (tensor<1x4x100x64xbf16>, tensor<1x4x100xf32>) {
  %o, %l = sparse_attn.attention %q, %k, %v {pattern = #sparse_attn.causal, scale = 0.2 : f32}
      : tensor<1x4x100x64xbf16>, tensor<1x1x100x64xbf16>, tensor<1x1x100x64xbf16> -> tensor<1x4x100x64xbf16>, tensor<1x4x100xf32>
  return %o, %l : tensor<1x4x100x64xbf16>, tensor<1x4x100xf32>
}
