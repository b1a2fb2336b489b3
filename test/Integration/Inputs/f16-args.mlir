func.func @f(%q: tensor<1x1x8x16xf16>) -> tensor<1x1x8x16xf16> {
  %init0 = tensor.empty() : tensor<1x1x8x16xf16>
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x1x8x16xf16>) {pattern = #sparse_attn.causal}
      : tensor<1x1x8x16xf16>, tensor<1x1x8x16xf16>, tensor<1x1x8x16xf16> -> tensor<1x1x8x16xf16>
  return %o : tensor<1x1x8x16xf16>
}
