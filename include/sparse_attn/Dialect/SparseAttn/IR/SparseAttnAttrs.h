//===- SparseAttnAttrs.h - sparsity pattern attributes ----------*- C++ -*-===//
//
// Pattern attributes and the interface they share. `PatternContext` carries
// what a pattern needs to answer questions about concrete positions: the
// sequence lengths, the (batch, head) being asked about, runtime segment ids
// and an evaluator for user-authored masks.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_DIALECT_SPARSEATTN_IR_SPARSEATTNATTRS_H
#define SPARSE_ATTN_DIALECT_SPARSEATTN_IR_SPARSEATTNATTRS_H

#include "sparse_attn/Dialect/SparseAttn/IR/PatternCodegen.h"

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include <cstdint>

namespace mlir {
namespace sparse_attn {

/// Classification of a rectangular tile of the score matrix.
enum class TileKind : uint8_t { Empty = 0, Partial = 1, Full = 2 };

/// ceil(a / b) for a >= 0, b > 0, without the overflow of (a + b - 1) / b.
inline int64_t ceilDivPositive(int64_t a, int64_t b) {
  return a / b + (a % b != 0);
}

/// Returns 'E', 'P' or 'F'.
char tileKindChar(TileKind kind);

struct PatternContext;

/// Evaluates user-authored masks (`sparse_attn.mask` symbols).
class CustomMaskEvaluator {
public:
  virtual ~CustomMaskEvaluator();
  /// Whether the mask `name` allows (q, k) at the batch, head and sizes of
  /// `ctx`.
  virtual bool evaluate(FlatSymbolRefAttr name, const PatternContext &ctx,
                        int64_t q, int64_t k) const = 0;
  /// The exact classification of [q0, q1) x [k0, k1) under mask `name`. The
  /// default scans `evaluate` with an early exit; evaluators that analyse
  /// the region do better.
  virtual TileKind classifyTile(FlatSymbolRefAttr name,
                                const PatternContext &ctx, int64_t q0,
                                int64_t q1, int64_t k0, int64_t k1) const;
  /// Prepares `names` so that `evaluate` and `classifyTile` may then be
  /// called from several threads at once; false when this evaluator does
  /// not support that (callers then stay on one thread).
  virtual bool prepareForThreads(ArrayRef<FlatSymbolRefAttr> names) const {
    return false;
  }
  /// Classifies the tiles [i0, i1) x [j0, j1) of a grid of bq x bk tiles
  /// under mask `name` into `kinds` (row-major, `numK` per row) and returns
  /// true, or returns false when this evaluator has no faster way than
  /// `classifyTile` per tile.
  virtual bool classifyGrid(FlatSymbolRefAttr name, const PatternContext &ctx,
                            int64_t bq, int64_t bk, int64_t i0, int64_t i1,
                            int64_t j0, int64_t j1, int64_t numK,
                            TileKind *kinds) const {
    return false;
  }
};

/// What a pattern is evaluated against.
struct PatternContext {
  int64_t sq = 0;
  int64_t sk = 0;
  int64_t batch = 0;
  int64_t head = 0;
  /// Segment ids of batch `batch`, sizes sq and sk; meaningful only when
  /// `hasSegments` is set.
  bool hasSegments = false;
  ArrayRef<int64_t> qSegments;
  ArrayRef<int64_t> kSegments;
  /// Evaluator for custom masks; when null, custom masks over-approximate
  /// (every pair allowed, every tile partial).
  const CustomMaskEvaluator *customMasks = nullptr;

  PatternContext() = default;
  PatternContext(int64_t sq, int64_t sk) : sq(sq), sk(sk) {}
};

} // namespace sparse_attn
} // namespace mlir

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnAttrInterfaces.h.inc"

#define GET_ATTRDEF_CLASSES
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnAttrs.h.inc"

namespace mlir {
namespace sparse_attn {

/// Exact classification of [q0, q1) x [k0, k1) by evaluating `isAllowed`,
/// stopping as soon as both an allowed and a forbidden pair were seen. The
/// fallback for custom masks and for ambiguous composites.
TileKind classifyTileByScan(SparsityPatternAttrInterface pattern,
                            const PatternContext &ctx, int64_t q0, int64_t q1,
                            int64_t k0, int64_t k1);

/// Canonical form of a pattern: nested unions/intersections flattened,
/// duplicates and dominated components dropped, known pairs folded (e.g.
/// intersect(causal, window<before = W, after = A>) -> window<before = W,
/// after = 0>). The result allows exactly the same pairs for all sizes.
Attribute simplifyPattern(Attribute pattern);

/// The constant i1 table `R` of a random pattern: R[qb][kb] for
/// ceil(sq / block) x ceil(sk / block) blocks.
DenseIntElementsAttr buildRandomTable(RandomAttr attr, int64_t sq, int64_t sk);

/// Conservative containment test: true only if `a` allows a subset of the
/// pairs `b` allows, for every size and all runtime data.
bool isSubPattern(Attribute a, Attribute b);

} // namespace sparse_attn
} // namespace mlir

#endif
