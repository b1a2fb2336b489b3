// Many query blocks with a large head dimension: the per-block scratch
// (64 x 256 f32 = 64 KiB) must not be re-allocated on the stack for each of
// the 128 query blocks (that overflowed an 8 MiB stack).
func.func @many(%q: tensor<1x1x8192x256xf32>) -> tensor<1x1x8192x256xf32> {
  %init0 = tensor.empty() : tensor<1x1x8192x256xf32>
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x1x8192x256xf32>) {pattern = #sparse_attn.window<before = 16, after = 16>}
      : tensor<1x1x8192x256xf32>, tensor<1x1x8192x256xf32>, tensor<1x1x8192x256xf32> -> tensor<1x1x8192x256xf32>
  return %o : tensor<1x1x8192x256xf32>
}
