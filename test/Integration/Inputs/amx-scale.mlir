// bf16 on AMX with a negative scale (the maximum of scale * s is then not
// scale * max(s): the scale must not be deferred) and a dense pattern whose
// tiles are all full (where it is deferred for positive scales).
func.func @neg(%q: tensor<1x2x128x64xbf16>, %k: tensor<1x2x128x64xbf16>, %v: tensor<1x2x128x64xbf16>)
    -> (tensor<1x2x128x64xbf16>, tensor<1x2x128xf32>) {
  %init0 = tensor.empty() : tensor<1x2x128x64xbf16>
  %linit0 = tensor.empty() : tensor<1x2x128xf32>
  %o, %l = sparse_attn.attention %q, %k, %v outs(%init0, %linit0 : tensor<1x2x128x64xbf16>, tensor<1x2x128xf32>) {pattern = #sparse_attn.dense, scale = -0.3 : f32}
      : tensor<1x2x128x64xbf16>, tensor<1x2x128x64xbf16>, tensor<1x2x128x64xbf16> -> tensor<1x2x128x64xbf16>, tensor<1x2x128xf32>
  return %o, %l : tensor<1x2x128x64xbf16>, tensor<1x2x128xf32>
}
