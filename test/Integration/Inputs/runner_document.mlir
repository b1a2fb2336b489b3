// The GPU runner's end-to-end module (test/Integration/GPU/cuda-run.test and
// test/Integration/write-reference.test): document mask within causal
// attention, bf16, GQA (4 query heads on 2 key/value heads), a ragged
// sequence (200 is not a multiple of the 64-wide tiles) and the LSE.
func.func @document(%q: tensor<2x4x200x64xbf16>, %k: tensor<2x2x200x64xbf16>,
                    %v: tensor<2x2x200x64xbf16>, %ids: tensor<2x200xi32>)
    -> (tensor<2x4x200x64xbf16>, tensor<2x4x200xf32>) {
  %init0 = tensor.empty() : tensor<2x4x200x64xbf16>
  %linit0 = tensor.empty() : tensor<2x4x200xf32>
  %o, %lse = sparse_attn.attention %q, %k, %v segments(%ids : tensor<2x200xi32>)
      outs(%init0, %linit0 : tensor<2x4x200x64xbf16>, tensor<2x4x200xf32>) {pattern = #sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>}
      : tensor<2x4x200x64xbf16>, tensor<2x2x200x64xbf16>, tensor<2x2x200x64xbf16>
      -> tensor<2x4x200x64xbf16>, tensor<2x4x200xf32>
  return %o, %lse : tensor<2x4x200x64xbf16>, tensor<2x4x200xf32>
}
