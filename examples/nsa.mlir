// Native Sparse Attention (Yuan et al., 2025), one layer as one program:
// three branches over the same queries, combined exactly by log-sum-exp
// merges (docs/routing.md):
//  1. compressed: attention over keys / values pooled in blocks of 32 every
//     16 positions, each query seeing the blocks that end at or before it
//     (the custom mask @compressed_causal);
//  2. selected: per KV head (shared by its 2 query heads, as NSA does), the
//     4 best 64-key blocks by mean query . mean key, plus the first block
//     (sink) and the 2 blocks ending at the query's own, causal;
//  3. sliding window: the last 128 keys.
// Run:      sparse-attn-run examples/nsa.mlir --check
sparse_attn.mask @compressed_causal(%b: index, %h: index, %q: index, %k: index) {
  %c16 = arith.constant 16 : index
  %c31 = arith.constant 31 : index
  %start = arith.muli %k, %c16 : index
  %end = arith.addi %start, %c31 : index
  %ok = arith.cmpi ule, %end, %q : index
  sparse_attn.yield %ok : i1
}

func.func @nsa(%q: tensor<1x4x1024x64xf16>, %k: tensor<1x2x1024x64xf16>,
               %v: tensor<1x2x1024x64xf16>)
    -> (tensor<1x4x1024x64xf16>, tensor<1x2x16xi32>, tensor<1x2x16x7xi32>,
        tensor<1x2x16xi32>, tensor<1x2x16x7xi32>) {
  // 1. Compressed branch.
  %kc = sparse_attn.pool %k {kind = "mean", block = 32, stride = 16}
      : tensor<1x2x1024x64xf16> -> tensor<1x2x63x64xf16>
  %vc = sparse_attn.pool %v {kind = "mean", block = 32, stride = 16}
      : tensor<1x2x1024x64xf16> -> tensor<1x2x63x64xf16>
  %o_init = tensor.empty() : tensor<1x4x1024x64xf16>
  %l_init = tensor.empty() : tensor<1x4x1024xf32>
  %o_cmp, %l_cmp = sparse_attn.attention %q, %kc, %vc
      outs(%o_init, %l_init : tensor<1x4x1024x64xf16>, tensor<1x4x1024xf32>)
      {pattern = #sparse_attn.custom<@compressed_causal>}
      : tensor<1x4x1024x64xf16>, tensor<1x2x63x64xf16>, tensor<1x2x63x64xf16>
      -> tensor<1x4x1024x64xf16>, tensor<1x4x1024xf32>
  // 2. Selected branch.
  %kp = sparse_attn.pool %k {kind = "mean", block = 64}
      : tensor<1x2x1024x64xf16> -> tensor<1x2x16x64xf16>
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp
      {pattern = #sparse_attn.causal, top_k = 4, sink = 1, local = 2,
       table_block = array<i64: 64, 64>}
      : tensor<1x4x1024x64xf16>, tensor<1x2x16x64xf16>
      -> tensor<1x2x16xi32>, tensor<1x2x16x7xi32>, tensor<1x2x16xi32>,
         tensor<1x2x16x7xi32>
  %o_sel, %l_sel = sparse_attn.attention %q, %k, %v
      block_tables(%n, %x : tensor<1x2x16xi32>, tensor<1x2x16x7xi32>)
      full_tables(%fn, %fx : tensor<1x2x16xi32>, tensor<1x2x16x7xi32>)
      outs(%o_init, %l_init : tensor<1x4x1024x64xf16>, tensor<1x4x1024xf32>)
      {pattern = #sparse_attn.causal, table_block = array<i64: 64, 64>}
      : tensor<1x4x1024x64xf16>, tensor<1x2x1024x64xf16>,
        tensor<1x2x1024x64xf16> -> tensor<1x4x1024x64xf16>, tensor<1x4x1024xf32>
  // 3. Sliding window.
  %o_win, %l_win = sparse_attn.attention %q, %k, %v
      outs(%o_init, %l_init : tensor<1x4x1024x64xf16>, tensor<1x4x1024xf32>)
      {pattern = #sparse_attn.window<before = 127, after = 0>}
      : tensor<1x4x1024x64xf16>, tensor<1x2x1024x64xf16>,
        tensor<1x2x1024x64xf16> -> tensor<1x4x1024x64xf16>, tensor<1x4x1024xf32>
  // Combined.
  %o_cs, %l_cs = sparse_attn.merge %o_cmp, %l_cmp, %o_sel, %l_sel
      : tensor<1x4x1024x64xf16>, tensor<1x4x1024xf32>
  %o, %l = sparse_attn.merge %o_cs, %l_cs, %o_win, %l_win
      : tensor<1x4x1024x64xf16>, tensor<1x4x1024xf32>
  return %o, %n, %x, %fn, %fx
      : tensor<1x4x1024x64xf16>, tensor<1x2x16xi32>, tensor<1x2x16x7xi32>,
        tensor<1x2x16xi32>, tensor<1x2x16x7xi32>
}
