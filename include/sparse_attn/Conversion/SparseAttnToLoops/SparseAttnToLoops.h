//===- SparseAttnToLoops.h - fused CPU lowering -----------------*- C++ -*-===//
#ifndef SPARSE_ATTN_CONVERSION_SPARSEATTNTOLOOPS_H
#define SPARSE_ATTN_CONVERSION_SPARSEATTNTOLOOPS_H

#include "mlir/IR/PatternMatch.h"

namespace mlir {
namespace sparse_attn {

struct SparseAttnToLoopsOptions {
  /// Tile sizes used when an op carries no block_mask.
  int64_t blockQ = 64;
  int64_t blockK = 64;
};

/// Rewrites sparse_attn.attention into the fused, block-skipping loop nest.
void populateSparseAttnToLoopsPatterns(RewritePatternSet &patterns,
                                       const SparseAttnToLoopsOptions &options);

} // namespace sparse_attn
} // namespace mlir

#endif
