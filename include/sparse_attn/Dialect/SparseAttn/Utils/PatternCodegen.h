//===- PatternCodegen.h - emit pattern predicates as IR ---------*- C++ -*-===//
//
// Shared by every lowering: the `allowed(b, h, q, k)` predicate of a pattern
// as arith IR, and the inlining of user-authored mask / score-modification
// regions.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_DIALECT_SPARSEATTN_UTILS_PATTERNCODEGEN_H
#define SPARSE_ATTN_DIALECT_SPARSEATTN_UTILS_PATTERNCODEGEN_H

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir {
namespace sparse_attn {

/// What the predicate is built from. Positions are `index` values.
struct PatternCodegenInputs {
  /// Positions. With `lanes` > 0, q and k are vector<lanes x index> values
  /// and the predicate is a vector<lanes x i1> (only for patterns that
  /// isVectorizablePattern accepts).
  Value b, h, q, k;
  int64_t lanes = 0;
  /// Static sequence lengths, needed by `random` (ShapedType::kDynamic if
  /// unknown).
  int64_t sq = 0, sk = 0;
  /// Segment id (any integer type) of query / key position `pos` of batch
  /// `b`; only called for patterns that read segment ids. When unset, the
  /// ids are loaded from the [B, S] memrefs querySegmentIds / keySegmentIds.
  function_ref<Value(OpBuilder &, Location, Value b, Value pos)> querySegment;
  function_ref<Value(OpBuilder &, Location, Value b, Value pos)> keySegment;
  Value querySegmentIds, keySegmentIds;
  /// Reads entry (i, j) of a constant i1 table (random / blocks layouts).
  function_ref<Value(OpBuilder &, Location, DenseIntElementsAttr table,
                     Value i, Value j)>
      loadTable;
  /// Where `sparse_attn.mask` symbols are looked up.
  Operation *symbolScope = nullptr;
};

/// Emits `allowed(b, h, q, k)` as an i1 value. Fails (with a diagnostic at
/// `loc`) for patterns that cannot be generated with the given sizes, such as
/// `random` with a dynamic sequence length.
FailureOr<Value> buildAllowed(OpBuilder &builder, Location loc,
                              Attribute pattern,
                              const PatternCodegenInputs &inputs);

/// Whether allowed(q, k) implies segment(q) == segment(k) (segments, an
/// intersection with it, a union of such): tiles whose query and key
/// segment-id ranges are disjoint are empty.
bool impliesSameSegment(Attribute pattern);

/// `pattern` with every `segments` replaced by `dense`: the pattern on a
/// tile whose query and key positions all lie in one segment. Exact because
/// patterns are monotone compositions (union / intersect, no complement).
Attribute withoutSegments(Attribute pattern);

/// Whether buildAllowed can evaluate `pattern` on vectors of positions:
/// compositions of dense, causal, window, dilated, strided, fixed, prefix
/// and global (no tables, segment ids or custom masks).
bool isVectorizablePattern(Attribute pattern);

/// Clones the single block of `region` at the builder's insertion point with
/// its arguments replaced by `args`; returns the values it yields.
SmallVector<Value> inlineRegion(OpBuilder &builder, Region &region,
                                ValueRange args);

/// The constant i1 table `R` of a random pattern: R[qb][kb] for
/// ceil(sq / block) x ceil(sk / block) blocks.
DenseIntElementsAttr buildRandomTable(RandomAttr attr, int64_t sq, int64_t sk);

/// The end of a lowering of sparse_attn.attention: an error at every op that
/// is still there (`what` names the target), else the mask and score_mod
/// symbols, inlined by now, are erased.
LogicalResult finishAttentionLowering(ModuleOp module, StringRef what);

} // namespace sparse_attn
} // namespace mlir

#endif
