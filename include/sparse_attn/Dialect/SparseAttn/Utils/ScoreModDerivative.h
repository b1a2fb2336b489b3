//===- ScoreModDerivative.h - d score_mod / d score, generated --*- C++ -*-===//
//
// The backward pass needs the derivative of a `sparse_attn.score_mod`
// region with respect to its score argument. It is generated here, by
// forward-mode symbolic differentiation of the region, as another
// `sparse_attn.score_mod` symbol with the same arguments that yields
// d s' / d s: every lowering then inlines it as it inlines the score
// modification itself (vectors on the CPU, registers on the GPU), and
// `sparse-attn-differentiate-score-mods` shows it.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_DIALECT_SPARSEATTN_UTILS_SCOREMODDERIVATIVE_H
#define SPARSE_ATTN_DIALECT_SPARSEATTN_UTILS_SCOREMODDERIVATIVE_H

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"

namespace mlir {
namespace sparse_attn {

/// The name of the discardable attribute that marks a generated derivative
/// with the score modification it differentiates.
inline constexpr llvm::StringLiteral kDerivativeOfAttrName =
    "sparse_attn.derivative_of";

/// The symbol yielding d scoreMod(s, ...) / d s, inserted after `scoreMod`
/// in its symbol table (named `<name>_dscore`, uniqued) unless one marked
/// `sparse_attn.derivative_of = @<name>` exists already. Fails with a
/// diagnostic at the first operation that depends on the score and has no
/// derivative rule.
FailureOr<ScoreModOp> getOrCreateScoreModDerivative(ScoreModOp scoreMod);

} // namespace sparse_attn
} // namespace mlir

#endif
