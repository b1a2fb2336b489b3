// A pattern whose vector form returns the wrong type: the CPU lowering
// (which uses the vector form on partial tiles) refuses it.
func.func @broken(%q: tensor<1x1x40x16xf32>) -> tensor<1x1x40x16xf32> {
  %init0 = tensor.empty() : tensor<1x1x40x16xf32>
  // expected-error @+1 {{pattern #sa_ext.broken_vector generated a predicate of type 'i1', expected 'vector<16xi1>'}}
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x1x40x16xf32>) {pattern = #sa_ext.broken_vector}
      : tensor<1x1x40x16xf32>, tensor<1x1x40x16xf32>, tensor<1x1x40x16xf32>
      -> tensor<1x1x40x16xf32>
  return %o : tensor<1x1x40x16xf32>
}
