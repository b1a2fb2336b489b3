// MoBA (mixture of block attention): every query block of 64 rows attends to
// the 2 key blocks of 128 keys whose mean key best matches its mean query,
// plus its own (diagonal) block, under causal masking. The routing is part
// of the program: pool the keys, select per query head, attend through the
// runtime block tables. docs/routing.md has the math and a picture.
// Run:      sparse-attn-run examples/moba.mlir --check
//           (checks the tables exactly and the output against float64)
func.func @moba(%q: tensor<1x4x1024x64xf16>, %k: tensor<1x2x1024x64xf16>,
                %v: tensor<1x2x1024x64xf16>)
    -> (tensor<1x4x1024x64xf16>, tensor<1x4x16xi32>, tensor<1x4x16x3xi32>,
        tensor<1x4x16xi32>, tensor<1x4x16x3xi32>) {
  %kp = sparse_attn.pool %k {kind = "mean", block = 128}
      : tensor<1x2x1024x64xf16> -> tensor<1x2x8x64xf16>
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp
      {pattern = #sparse_attn.causal, top_k = 2, local = 1,
       table_block = array<i64: 64, 128>}
      : tensor<1x4x1024x64xf16>, tensor<1x2x8x64xf16>
      -> tensor<1x4x16xi32>, tensor<1x4x16x3xi32>, tensor<1x4x16xi32>,
         tensor<1x4x16x3xi32>
  %init = tensor.empty() : tensor<1x4x1024x64xf16>
  %o = sparse_attn.attention %q, %k, %v
      block_tables(%n, %x : tensor<1x4x16xi32>, tensor<1x4x16x3xi32>)
      full_tables(%fn, %fx : tensor<1x4x16xi32>, tensor<1x4x16x3xi32>)
      outs(%init : tensor<1x4x1024x64xf16>)
      {pattern = #sparse_attn.causal, table_block = array<i64: 64, 128>}
      : tensor<1x4x1024x64xf16>, tensor<1x2x1024x64xf16>,
        tensor<1x2x1024x64xf16> -> tensor<1x4x1024x64xf16>
  return %o, %n, %x, %fn, %fx
      : tensor<1x4x1024x64xf16>, tensor<1x4x16xi32>, tensor<1x4x16x3xi32>,
        tensor<1x4x16xi32>, tensor<1x4x16x3xi32>
}
