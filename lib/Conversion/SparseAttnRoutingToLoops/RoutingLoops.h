//===- RoutingLoops.h - pieces of the routing loop lowering -----*- C++ -*-===//
//
// One file per op (PoolToLoops.cpp, SelectBlocksToLoops.cpp); the pass
// (SparseAttnRoutingToLoops.cpp) checks and runs them.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_LIB_CONVERSION_ROUTINGLOOPS_H
#define SPARSE_ATTN_LIB_CONVERSION_ROUTINGLOOPS_H

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir {
namespace sparse_attn {
namespace routing {

void populatePoolPatterns(RewritePatternSet &patterns);
void populateSelectBlocksPatterns(RewritePatternSet &patterns);
void populateSelectTokensPatterns(RewritePatternSet &patterns);

/// Diagnoses what the loop lowering of each op cannot handle.
LogicalResult checkPoolLowerable(PoolOp op);
LogicalResult checkSelectBlocksLowerable(SelectBlocksOp op);
LogicalResult checkSelectTokensLowerable(SelectTokensOp op);

/// A read-only buffer of `tensor` (identity layout).
Value bufferOf(OpBuilder &b, Location loc, Value tensor);

/// A fresh 64-byte-aligned buffer of `type`'s shape, dynamic sizes taken from
/// `like` (a buffer of the same rank) where `type` is dynamic.
Value allocLike(OpBuilder &b, Location loc, RankedTensorType type,
                ArrayRef<Value> dynamicSizes);

/// Row `idx` (all but the last index) of `buf` as a vector<D x f32>.
Value loadRowF32(OpBuilder &b, Location loc, Value buf, ValueRange idx,
                 int64_t d);

/// The top-k of a selection, by repeated arg-max: `rounds` times, the entry
/// j < `length` of `state` (memref<? x i8>) 0 ("a free candidate") with the
/// highest `scores[j]` (memref<? x f32>; strictly greater, so ties go to the
/// lower index) gets state 1. O(rounds * length).
void emitTopKRounds(OpBuilder &b, Location loc, Value scores, Value state,
                    Value length, Value rounds);

/// The same selection by radix select, O(34 * length) whatever k: the k-th
/// largest score's order-preserving 32-bit key T is found bit by bit from
/// the top (32 counting passes over the free entries), then every free
/// entry above T and the lowest-indexed free entries equal to T (until k)
/// get state 1 -- exactly the entries `k` rounds of arg-max would choose
/// (-0 and +0 share a key, as they compare equal; all free entries when
/// there are at most k).
void emitTopKRadix(OpBuilder &b, Location loc, Value scores, Value state,
                   Value length, Value k);

/// Arg-max rounds for a top_k below kRadixMinTopK (cheaper than 34
/// passes), the radix select from there.
constexpr int64_t kRadixMinTopK = 34;
void emitTopK(OpBuilder &b, Location loc, Value scores, Value state,
              Value length, Value k, int64_t staticTopK);

} // namespace routing
} // namespace sparse_attn
} // namespace mlir

#endif
