// Document masking with separate query and key segment ids (Sq != Sk).
func.func @segments(%q: tensor<2x2x40x16xf32>, %k: tensor<2x2x56x16xf32>, %v: tensor<2x2x56x16xf32>,
                    %qs: tensor<2x40xi32>, %ks: tensor<2x56xi32>) -> tensor<2x2x40x16xf32> {
  %init0 = tensor.empty() : tensor<2x2x40x16xf32>
  %o = sparse_attn.attention %q, %k, %v segments(%qs, %ks : tensor<2x40xi32>, tensor<2x56xi32>)
      outs(%init0 : tensor<2x2x40x16xf32>) {pattern = #sparse_attn.segments}
      : tensor<2x2x40x16xf32>, tensor<2x2x56x16xf32>, tensor<2x2x56x16xf32> -> tensor<2x2x40x16xf32>
  return %o : tensor<2x2x40x16xf32>
}
