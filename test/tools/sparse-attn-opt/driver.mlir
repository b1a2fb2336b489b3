// sparse-attn-opt behaves like mlir-opt: textual pipelines, IR printing after
// each pass, split input files, and unregistered dialects are refused.
// RUN: sparse-attn-opt %s --pass-pipeline="builtin.module(canonicalize,sparse-attn-block-analysis{block-q=8 block-k=8})" | FileCheck %s
// RUN: sparse-attn-opt %s --canonicalize --sparse-attn-block-analysis --mlir-print-ir-after-all 2>&1 | FileCheck %s --check-prefix=AFTER
// RUN: sparse-attn-opt %s --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC
// RUN: not sparse-attn-opt %S/Inputs/unregistered.mlir 2>&1 | FileCheck %s --check-prefix=UNREG
// RUN: sparse-attn-opt --help | FileCheck %s --check-prefix=HELP

// CHECK: sparse_attn.attention %{{.*}}, %{{.*}}, %{{.*}} {block_mask = #sparse_attn.block_mask<block = [8, 8], num_k_blocks = 2, partial_offsets = [0, 1, 3], partial_indices = [0, 0, 1], full_offsets = [0, 0, 0], full_indices = []>, pattern = #sparse_attn.window<before = 8, after = 0>}

// AFTER: // -----// IR Dump After Canonicalizer (canonicalize) //----- //
// AFTER: pattern = #sparse_attn.window<before = 8, after = 0>
// AFTER: // -----// IR Dump After SparseAttnBlockAnalysis (sparse-attn-block-analysis) //----- //
// AFTER: block_mask = #sparse_attn.block_mask<block = [128, 128]

// GENERIC: "sparse_attn.attention"(%{{.*}}, %{{.*}}, %{{.*}}) <{operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1>, pattern = #sparse_attn.intersect<[#sparse_attn.causal, #sparse_attn.window<before = 8, after = 8>]>}>

// UNREG: unregistered.mlir:2:8: error: Dialect `tosa' not found for custom op 'tosa.add'

// HELP: --sparse-attn-block-analysis
// HELP: --block-k=
// HELP: --block-q=

func.func @f(%q: tensor<1x1x16x8xf32>) -> tensor<1x1x16x8xf32> {
  %init0 = tensor.empty() : tensor<1x1x16x8xf32>
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x1x16x8xf32>) {pattern = #sparse_attn.intersect<[#sparse_attn.causal, #sparse_attn.window<before = 8, after = 8>]>} : tensor<1x1x16x8xf32>, tensor<1x1x16x8xf32>, tensor<1x1x16x8xf32> -> tensor<1x1x16x8xf32>
  return %o : tensor<1x1x16x8xf32>
}
