// sparse_attn.online_attention: round trip, and its decomposition
// (AggregatedOpInterface::decomposeOperation) by
// sparse-attn-decompose-online-attention. (Upstream's
// transform.structured.decompose_interface handles single-result ops only:
// it reports 3 results where it expects 1.)
// RUN: sparse-attn-opt %s | sparse-attn-opt | FileCheck %s --check-prefix=ROUND
// RUN: sparse-attn-opt %s --sparse-attn-decompose-online-attention --canonicalize | FileCheck %s --check-prefix=DECOMP

// ROUND-LABEL: func.func @step
// ROUND: sparse_attn.online_attention %arg0, %arg1, %arg2 segments(%arg6, %arg7 : tensor<1x64xi32>, tensor<1x32xi32>) tile_of(%{{.*}}, %{{.*}}, %{{.*}}) at(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) outs(%arg3, %arg4, %arg5 : tensor<1x4x64x8xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>) {pattern = #sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>, scale = 5.000000e-01 : f32} : tensor<1x4x64x16xbf16>, tensor<1x2x32x16xbf16>, tensor<1x2x32x8xbf16> -> tensor<1x4x64x8xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>
// The step over keys 32..63 of a 64 x 64 causal document attention:
// positions are the problem's (k0 = 32 added to the key index), key head
// (h0 + h) floordiv 2 with h0 = 0, the state updated where a row attends.
// DECOMP-DAG:  #[[K:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1 floordiv 2, d3, d4)>
// DECOMP-LABEL: func.func @step
// DECOMP-NOT:  sparse_attn.online_attention
// DECOMP:      linalg.generic {indexing_maps = [#{{.*}}, #[[K]], #{{.*}}]
// DECOMP:        arith.extf %{{.*}} : bf16 to f32
// DECOMP:      linalg.generic
// DECOMP:        %[[J:.*]] = linalg.index 3
// DECOMP:        %[[K0:.*]] = arith.addi %[[J]], %c32
// DECOMP:        tensor.extract %arg7
// DECOMP:      arith.maximumf
// DECOMP:      ins(%arg4, %{{.*}} : tensor<1x4x64xf32>, tensor<1x4x64xf32>)
// DECOMP:        math.exp
// DECOMP:      outs(%arg4 : tensor<1x4x64xf32>)
// DECOMP:        arith.maximumf
// DECOMP:      math.exp
// DECOMP:      outs(%arg5 : tensor<1x4x64xf32>)
// DECOMP:      outs(%arg3 : tensor<1x4x64x8xf32>)
// DECOMP-NOT:  sparse_attn.online_attention
// DECOMP:      return
func.func @step(%q: tensor<1x4x64x16xbf16>, %k: tensor<1x2x32x16xbf16>, %v: tensor<1x2x32x8xbf16>,
                %acc: tensor<1x4x64x8xf32>, %m: tensor<1x4x64xf32>, %l: tensor<1x4x64xf32>,
                %qids: tensor<1x64xi32>, %kids: tensor<1x32xi32>) -> (tensor<1x4x64x8xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>) {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %a, %mm, %ll = sparse_attn.online_attention %q, %k, %v segments(%qids, %kids : tensor<1x64xi32>, tensor<1x32xi32>)
      tile_of(%c4, %c64, %c64) at(%c0, %c0, %c0, %c32)
      outs(%acc, %m, %l : tensor<1x4x64x8xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>)
      {pattern = #sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>, scale = 0.5 : f32}
      : tensor<1x4x64x16xbf16>, tensor<1x2x32x16xbf16>, tensor<1x2x32x8xbf16> -> tensor<1x4x64x8xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>
  return %a, %mm, %ll : tensor<1x4x64x8xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>
}
