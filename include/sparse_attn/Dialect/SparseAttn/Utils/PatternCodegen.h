//===- PatternCodegen.h - helpers shared by the lowerings -------*- C++ -*-===//
//
// A pattern's `allowed(b, h, q, k)` predicate is built through
// SparsityPatternAttrInterface (IR/PatternCodegen.h, re-exported here); this
// header adds what the lowerings share around it.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_DIALECT_SPARSEATTN_UTILS_PATTERNCODEGEN_H
#define SPARSE_ATTN_DIALECT_SPARSEATTN_UTILS_PATTERNCODEGEN_H

#include "sparse_attn/Dialect/SparseAttn/IR/PatternCodegen.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir {
namespace sparse_attn {

/// The end of a lowering of sparse_attn.attention: an error at every op that
/// is still there (`what` names the target), else the mask and score_mod
/// symbols, inlined by now, are erased (unless sparse_attn.online_attention
/// ops, decomposed later, still read them).
LogicalResult finishAttentionLowering(ModuleOp module, StringRef what);

} // namespace sparse_attn
} // namespace mlir

#endif
