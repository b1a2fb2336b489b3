//===- SparseAttnGradToLoops.h - CPU backward lowering ----------*- C++ -*-===//
#ifndef SPARSE_ATTN_CONVERSION_SPARSEATTNGRADTOLOOPS_H
#define SPARSE_ATTN_CONVERSION_SPARSEATTNGRADTOLOOPS_H

#include "mlir/IR/PatternMatch.h"

namespace mlir {
namespace sparse_attn {

struct SparseAttnGradToLoopsOptions {
  /// Tile sizes (runtime block tables use their table_block instead).
  int64_t blockQ = 64;
  int64_t blockK = 64;
};

/// Rewrites sparse_attn.attention_grad into the two deterministic loop
/// nests of the CPU backward (dK / dV per key block, dQ per query block).
/// The derivative of a score modification must exist already
/// (getOrCreateScoreModDerivative; the pass creates it).
void populateSparseAttnGradToLoopsPatterns(
    RewritePatternSet &patterns, const SparseAttnGradToLoopsOptions &options);

} // namespace sparse_attn
} // namespace mlir

#endif
