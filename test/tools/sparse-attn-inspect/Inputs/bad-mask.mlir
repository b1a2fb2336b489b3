sparse_attn.mask @bad(%b: index, %h: index, %q: index, %k: index) {
  %c0 = arith.constant 0 : index
  %r = arith.remsi %q, %c0 : index
  %ok = arith.cmpi eq, %r, %c0 : index
  sparse_attn.yield %ok : i1
}
func.func @f(%q: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  %o = sparse_attn.attention %q, %q, %q {pattern = #sparse_attn.custom<@bad>} : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32> -> tensor<1x1x4x4xf32>
  return %o : tensor<1x1x4x4xf32>
}
