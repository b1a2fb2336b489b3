// Token selection alone (DeepSeek sparse attention's indexer): the top-256
// of 4096 causal keys for each of 4096 query tokens, 4 indexer heads of 64.
// bench/results/routing-topk-cpu-2026-12-07.md times it.
func.func @select(%iq: tensor<1x4096x4x64xf32>, %ik: tensor<1x4096x64xf32>, %w: tensor<1x4096x4xf32>)
    -> (tensor<1x1x4096xi32>, tensor<1x1x4096x256xi32>) {
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w {pattern = #sparse_attn.causal, top_k = 256}
      : tensor<1x4096x4x64xf32>, tensor<1x4096x64xf32>, tensor<1x4096x4xf32>
      -> tensor<1x1x4096xi32>, tensor<1x1x4096x256xi32>
  return %n, %x : tensor<1x1x4096xi32>, tensor<1x1x4096x256xi32>
}
