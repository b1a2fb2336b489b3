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
  /// bf16 inputs: Q K^T with AVX-512 BF16 pair dot products
  /// (vdpbf16ps), the query block kept in bf16; the target CPU must have
  /// avx512bf16. Otherwise bf16 is widened to f32 for every product.
  bool bf16Dot = false;
  /// bf16 inputs: Q K^T and P V as AMX tile products (tdpbf16ps) when the
  /// op qualifies (D % 32 == 0, Dv % 16 == 0, block-k % 32 == 0); the
  /// target CPU must have amx-bf16 and the kernel asks Linux for the AMX
  /// state. Ops that do not qualify use the vector path.
  bool amx = false;
};

/// Rewrites sparse_attn.attention into the fused, block-skipping loop nest.
void populateSparseAttnToLoopsPatterns(RewritePatternSet &patterns,
                                       const SparseAttnToLoopsOptions &options);

} // namespace sparse_attn
} // namespace mlir

#endif
