// bf16 shapes for the AMX path: B = 2, GQA (4 query heads over 2 key/value
// heads), Sq != Sk and neither a multiple of the tile, D = 128, Dv = 48
// (three 16-column value tiles), a window with a global token, and LSE.
func.func @shapes(%q: tensor<2x4x150x128xbf16>, %k: tensor<2x2x230x128xbf16>, %v: tensor<2x2x230x48xbf16>)
    -> (tensor<2x4x150x48xbf16>, tensor<2x4x150xf32>) {
  %init0 = tensor.empty() : tensor<2x4x150x48xbf16>
  %linit0 = tensor.empty() : tensor<2x4x150xf32>
  %o, %l = sparse_attn.attention %q, %k, %v
      outs(%init0, %linit0 : tensor<2x4x150x48xbf16>, tensor<2x4x150xf32>) {pattern = #sparse_attn.union<[#sparse_attn.window<before = 70, after = 20>, #sparse_attn.global<[3]>]>}
      : tensor<2x4x150x128xbf16>, tensor<2x2x230x128xbf16>, tensor<2x2x230x48xbf16> -> tensor<2x4x150x48xbf16>, tensor<2x4x150xf32>
  return %o, %l : tensor<2x4x150x48xbf16>, tensor<2x4x150xf32>
}
