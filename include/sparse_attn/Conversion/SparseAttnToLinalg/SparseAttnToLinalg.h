//===- SparseAttnToLinalg.h - unfused reference lowering --------*- C++ -*-===//
#ifndef SPARSE_ATTN_CONVERSION_SPARSEATTNTOLINALG_H
#define SPARSE_ATTN_CONVERSION_SPARSEATTNTOLINALG_H

#include "mlir/IR/PatternMatch.h"

namespace mlir {
namespace sparse_attn {

/// Rewrites sparse_attn.attention into the unfused linalg formulation that
/// materialises the S x S scores (the oracle, not the product).
void populateSparseAttnToLinalgPatterns(RewritePatternSet &patterns);

} // namespace sparse_attn
} // namespace mlir

#endif
