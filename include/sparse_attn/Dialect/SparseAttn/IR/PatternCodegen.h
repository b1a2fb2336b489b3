//===- PatternCodegen.h - building a pattern's predicate as IR --*- C++ -*-===//
//
// The code-generation half of SparsityPatternAttrInterface. A lowering fills
// a PatternCodegenInputs (positions, sizes, how to read segment ids and
// constant tables) and calls `buildAllowed`; each pattern attribute emits its
// own predicate through `SparsityPatternAttrInterface::buildAllowed`, using
// the helpers of PatternCodegen. No lowering knows the list of patterns, so a
// pattern defined outside this library (an AttrDef implementing the
// interface) runs on every target; one that cannot generate code is refused
// with a diagnostic (docs/extending.md).
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_DIALECT_SPARSEATTN_IR_PATTERNCODEGEN_H
#define SPARSE_ATTN_DIALECT_SPARSEATTN_IR_PATTERNCODEGEN_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

namespace mlir {
namespace sparse_attn {

class ScoreModOp;

/// What the predicate is built from. Positions are `index` values.
struct PatternCodegenInputs {
  /// Positions. With `lanes` > 0, q and k are vector<lanes x index> values
  /// and the predicate is a vector<lanes x i1> (only for patterns whose
  /// `supportsVectorCodegen` is true); b and h are scalars in both forms.
  Value b, h, q, k;
  int64_t lanes = 0;
  /// Static sequence lengths (ShapedType::kDynamic if unknown); `random`
  /// needs them to build its block table.
  int64_t sq = 0, sk = 0;
  /// The problem's sequence lengths at run time (index), for patterns and
  /// mask regions that read them; when null, the static `sq` / `sk` are
  /// used, and a pattern that needs an unknown one is refused.
  Value sqValue, skValue;
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

/// A tile of the score matrix at run time: [q0, q1) x [k0, k1), index
/// values, non-empty.
struct TileBounds {
  Value q0, q1, k0, k1;
  /// The problem's lengths (index), for classifiers that read them
  /// (bottom-right alignment); when null, those classify the tile as
  /// partial (sound, slower).
  Value sq, sk;
};

/// A tile's kind at run time (i1 values): `empty` and `full` are never both
/// true; neither means partial.
struct TileKindValues {
  Value empty, full;
};

/// The generator a pattern's `buildAllowed` writes through: the insertion
/// point, the inputs, and small helpers that build constants and operations
/// of the right shape (scalar, or vector<lanes x ...> in the vector form).
class PatternCodegen {
public:
  PatternCodegen(OpBuilder &builder, Location loc,
                 const PatternCodegenInputs &inputs)
      : builder(builder), loc(loc), inputs(inputs) {}

  /// `allowed(b, h, q, k)` of `pattern` (a nested component included):
  /// dispatches to its interface; diagnoses attributes that are not
  /// patterns and patterns without the vector form when one is asked for.
  FailureOr<Value> emit(Attribute pattern);
  /// Diagnoses "no code generation for pattern ..." at the location and
  /// fails: the interface's default.
  FailureOr<Value> unsupported(Attribute pattern);
  /// The run-time kind of `tile` for `pattern` (a nested component
  /// included): its `buildTileKind` (scalar form only).
  FailureOr<TileKindValues> classify(Attribute pattern,
                                     const TileBounds &tile);
  /// "Partial": both flags false (the sound default of buildTileKind).
  TileKindValues partialTile();

  OpBuilder &getBuilder() { return builder; }
  Location getLoc() const { return loc; }
  const PatternCodegenInputs &getInputs() const { return inputs; }
  bool isVector() const { return inputs.lanes > 0; }

  Value batchIdx() const { return inputs.b; }
  Value headIdx() const { return inputs.h; }
  Value queryPos() const { return inputs.q; }
  Value keyPos() const { return inputs.k; }

  /// The problem's query (`which` = 0) or key (1) length as an index value;
  /// fails with a diagnostic naming `user` when it is not known here.
  FailureOr<Value> problemSize(unsigned which, StringRef user);

  /// The query position, moved by Sk - Sq when `bottomRight` (the
  /// alignment of causal and window); shaped like the positions.
  FailureOr<Value> alignedQueryPos(bool bottomRight, StringRef user);

  /// Constants shaped like the positions (index) and the predicate (i1).
  Value index(int64_t v);
  Value boolean(bool v);
  Value cmp(arith::CmpIPredicate p, Value x, Value y);
  Value andi(Value x, Value y);
  Value ori(Value x, Value y);
  /// q - k.
  Value queryMinusKey();
  /// Segment ids of (b, q) and (b, k) through the inputs' callbacks or
  /// memrefs (scalar form only).
  Value querySegment();
  Value keySegment();
  /// Entry (q / bq, k / bk) of a constant i1 table; positions past the
  /// table (possible with dynamic sequence lengths) are not allowed.
  Value tableEntry(DenseIntElementsAttr table, int64_t bq, int64_t bk);

private:
  OpBuilder &builder;
  Location loc;
  const PatternCodegenInputs &inputs;
};

/// The region of `scoreMod` applied to the score `s` at (b, h, q, k), with
/// the problem's lengths `sq`, `sk` (index values, null when unknown) for a
/// region that takes them. Fails with a diagnostic at `loc` when the region
/// reads a length that is not known.
FailureOr<Value> inlineScoreMod(OpBuilder &builder, Location loc,
                                ScoreModOp scoreMod, Value s, Value b, Value h,
                                Value q, Value k, Value sq, Value sk);

/// Emits `allowed(b, h, q, k)` of `pattern` as an i1 (or vector) value.
/// Fails with a diagnostic at `loc` for patterns that cannot be generated
/// with the given inputs (no code generation, no vector form, `random` with
/// a dynamic sequence length, a missing custom mask).
FailureOr<Value> buildAllowed(OpBuilder &builder, Location loc,
                              Attribute pattern,
                              const PatternCodegenInputs &inputs);

/// Emits the run-time kind of `tile` for `pattern` (scalar index bounds).
FailureOr<TileKindValues> buildTileKind(OpBuilder &builder, Location loc,
                                        Attribute pattern,
                                        const TileBounds &tile);

/// Whether `buildAllowed` would succeed for `pattern` in the scalar form
/// (`lanes` = 0) or the vector form, with static sizes sq / sk (or
/// ShapedType::kDynamic) and custom masks looked up from `symbolScope`:
/// builds the predicate into a scratch block and discards it. On failure
/// the diagnostic is emitted at `loc`. Lowerings call it before they
/// rewrite anything, so an unsupported pattern fails the pass cleanly.
LogicalResult verifyPatternCodegen(Location loc, Attribute pattern,
                                   Operation *symbolScope, int64_t sq,
                                   int64_t sk, int64_t lanes = 0);

/// Clones the single block of `region` at the builder's insertion point with
/// its arguments replaced by `args`; returns the values it yields.
SmallVector<Value> inlineRegion(OpBuilder &builder, Region &region,
                                ValueRange args);

/// Whether every operation of `region` can run on vectors: constants and
/// element-wise operations (`ElementwiseMappable`: arith, math).
bool isVectorizableRegion(Region &region);

/// `region` inlined with `args` of mixed shapes: an operation with a
/// vector<lanes x ...> operand is rebuilt on vectors (scalar operands
/// broadcast), the others are cloned as scalars. Results are vectors.
/// Fails when an operation that must become a vector is not element-wise.
FailureOr<SmallVector<Value>> inlineRegionOnVectors(OpBuilder &builder,
                                                    Location loc,
                                                    Region &region,
                                                    ValueRange args,
                                                    int64_t lanes);

/// inlineScoreMod on vectors: `s` and `q` are vector<lanes x ...>, the
/// other positions and the lengths scalars.
FailureOr<Value> inlineScoreModOnVectors(OpBuilder &builder, Location loc,
                                         ScoreModOp scoreMod, Value s, Value b,
                                         Value h, Value q, Value k, Value sq,
                                         Value sk, int64_t lanes);

/// Whether `pattern` has the vector form (its `supportsVectorCodegen`).
bool isVectorizablePattern(Attribute pattern);
/// Its `impliesSameSegment` (false for non-patterns).
bool impliesSameSegment(Attribute pattern);
/// Its `withoutSegments` (the attribute itself for non-patterns).
Attribute withoutSegments(Attribute pattern);

} // namespace sparse_attn
} // namespace mlir

#endif
