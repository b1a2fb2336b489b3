// Patterns that cannot generate code: every lowering refuses them.
func.func @no_codegen(%q: tensor<1x1x32x16xbf16>) -> tensor<1x1x32x16xbf16> {
  %init0 = tensor.empty() : tensor<1x1x32x16xbf16>
  // expected-error @+1 {{no code generation for pattern #sa_ext.no_codegen}}
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x1x32x16xbf16>) {pattern = #sa_ext.no_codegen}
      : tensor<1x1x32x16xbf16>, tensor<1x1x32x16xbf16>, tensor<1x1x32x16xbf16>
      -> tensor<1x1x32x16xbf16>
  return %o : tensor<1x1x32x16xbf16>
}

// -----

func.func @nested(%q: tensor<1x1x32x16xbf16>) -> tensor<1x1x32x16xbf16> {
  %init1 = tensor.empty() : tensor<1x1x32x16xbf16>
  // expected-error @+1 {{no code generation for pattern #sa_ext.no_codegen}}
  %o = sparse_attn.attention %q, %q, %q outs(%init1 : tensor<1x1x32x16xbf16>) {pattern = #sparse_attn.union<[
        #sparse_attn.causal, #sparse_attn.intersect<[#sparse_attn.window<before = 4, after = 4>, #sa_ext.no_codegen]>]>}
      : tensor<1x1x32x16xbf16>, tensor<1x1x32x16xbf16>, tensor<1x1x32x16xbf16>
      -> tensor<1x1x32x16xbf16>
  return %o : tensor<1x1x32x16xbf16>
}
