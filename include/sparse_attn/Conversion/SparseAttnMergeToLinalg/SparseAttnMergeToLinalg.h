//===- SparseAttnMergeToLinalg.h - sparse_attn.merge to linalg --*- C++ -*-===//
#ifndef SPARSE_ATTN_CONVERSION_SPARSEATTNMERGETOLINALG_H
#define SPARSE_ATTN_CONVERSION_SPARSEATTNMERGETOLINALG_H

#include "mlir/IR/PatternMatch.h"

namespace mlir {
namespace sparse_attn {

/// Rewrites sparse_attn.merge into two element-wise linalg.generic ops on
/// tensors (the combined log-sum-exp, then the weighted outputs).
void populateSparseAttnMergeToLinalgPatterns(RewritePatternSet &patterns);

} // namespace sparse_attn
} // namespace mlir

#endif
