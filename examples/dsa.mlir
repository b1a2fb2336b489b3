// DeepSeek sparse attention: a lightning indexer scores every (query, key)
// pair, I(t, s) = sum_j w[t, j] relu(iq[t, j] . ik[s]) over 2 indexer heads,
// each query token keeps its 64 best causal keys, and all 4 query heads
// attend over that one list (one key / value head, as in MLA's MQA form).
// The selection is a block table of single tokens (table_block 1 x 1).
// Run:      sparse-attn-run examples/dsa.mlir --check
func.func @dsa(%q: tensor<1x4x256x64xf16>, %k: tensor<1x1x256x64xf16>,
               %v: tensor<1x1x256x64xf16>, %iq: tensor<1x256x2x32xf16>,
               %ik: tensor<1x256x32xf16>, %w: tensor<1x256x2xf16>)
    -> (tensor<1x4x256x64xf16>, tensor<1x1x256xi32>, tensor<1x1x256x64xi32>) {
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w
      {pattern = #sparse_attn.causal, top_k = 64}
      : tensor<1x256x2x32xf16>, tensor<1x256x32xf16>, tensor<1x256x2xf16>
      -> tensor<1x1x256xi32>, tensor<1x1x256x64xi32>
  %init = tensor.empty() : tensor<1x4x256x64xf16>
  %o = sparse_attn.attention %q, %k, %v
      block_tables(%n, %x : tensor<1x1x256xi32>, tensor<1x1x256x64xi32>)
      outs(%init : tensor<1x4x256x64xf16>)
      {pattern = #sparse_attn.causal, table_block = array<i64: 1, 1>}
      : tensor<1x4x256x64xf16>, tensor<1x1x256x64xf16>,
        tensor<1x1x256x64xf16> -> tensor<1x4x256x64xf16>
  return %o, %n, %x
      : tensor<1x4x256x64xf16>, tensor<1x1x256xi32>, tensor<1x1x256x64xi32>
}
