//===- PatternAnalysis.h - tile classification and mask evaluation -*- C++ -*-===//
//
// Whole-matrix questions about a pattern: the classification of every tile
// (the block analysis), the number of allowed pairs, and the interpreter that
// evaluates user-authored `sparse_attn.mask` regions.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_DIALECT_SPARSEATTN_ANALYSIS_PATTERNANALYSIS_H
#define SPARSE_ATTN_DIALECT_SPARSEATTN_ANALYSIS_PATTERNANALYSIS_H

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"
#include "llvm/ADT/DenseMap.h"
#include <atomic>
#include <memory>
#include <vector>

namespace mlir {
namespace sparse_attn {

/// The kind of every (query block, key block) tile.
struct BlockClassification {
  int64_t sq = 0, sk = 0;
  int64_t blockQ = 0, blockK = 0;
  int64_t numQ = 0, numK = 0;
  std::vector<TileKind> kinds; // numQ x numK, row-major

  TileKind at(int64_t i, int64_t j) const { return kinds[i * numK + j]; }
  int64_t count(TileKind kind) const;
  /// Fraction of tiles that are not empty.
  double tileDensity() const;
  /// Tile-wise merge for several (batch, head) pairs: Full if full in both,
  /// Empty if empty in both, Partial otherwise.
  void mergeWith(const BlockClassification &other);
};

/// The number of blockQ x blockK tiles of an Sq x Sk matrix, or nullopt when
/// it exceeds `kMaxTiles` (a classification is one byte per tile).
constexpr int64_t kMaxTiles = int64_t(1) << 31;
std::optional<int64_t> numTiles(int64_t sq, int64_t sk, int64_t blockQ,
                                int64_t blockK);

/// The most tiles the CPU pipeline classifies at compile time (2^22: S =
/// 131072 at 64 x 64 tiles, tables of a few MB). Beyond, and for dynamic
/// sequence lengths, the fused kernel classifies each tile at run time with
/// the pattern's generated classifier (`buildTileKind`), so compile time
/// and memory do not grow with S^2.
constexpr int64_t kMaxCompileTimeTableTiles = int64_t(1) << 22;

/// Classifies every tile of the Sq x Sk matrix of `ctx` with tiles of
/// blockQ x blockK (the last row/column of tiles may be smaller).
BlockClassification classifyBlocks(SparsityPatternAttrInterface pattern,
                                   const PatternContext &ctx, int64_t blockQ,
                                   int64_t blockK);

/// The compressed-row attribute form of a classification.
BlockMaskAttr toBlockMaskAttr(MLIRContext *context,
                              const BlockClassification &blocks);

/// Number of allowed (q, k) pairs: full tiles by area, partial tiles by
/// evaluating their elements.
int64_t countAllowedPairs(SparsityPatternAttrInterface pattern,
                          const PatternContext &ctx,
                          const BlockClassification &blocks);

/// Evaluates `sparse_attn.mask` and `sparse_attn.score_mod` symbols.
/// Masks in the integer subset are compiled (`MaskProgram`): tiles are
/// classified by abstract interpretation, halving and vectorised element
/// evaluation. Everything else is interpreted: a fast path for the common
/// arith operations, constant folding for the rest.
class MaskInterpreter : public CustomMaskEvaluator {
public:
  /// Symbols are looked up from `scope` outwards (pass the attention op, so
  /// that nested symbol tables resolve as the verifier does). With
  /// `compile` false every evaluation interprets the region (the oracle of
  /// the property tests).
  explicit MaskInterpreter(Operation *scope, bool compile = true);
  ~MaskInterpreter() override;

  bool evaluate(FlatSymbolRefAttr name, const PatternContext &ctx, int64_t q,
                int64_t k) const override;
  TileKind classifyTile(FlatSymbolRefAttr name, const PatternContext &ctx,
                        int64_t q0, int64_t q1, int64_t k0,
                        int64_t k1) const override;
  bool prepareForThreads(ArrayRef<FlatSymbolRefAttr> names) const override;
  bool classifyGrid(FlatSymbolRefAttr name, const PatternContext &ctx,
                    int64_t bq, int64_t bk, int64_t i0, int64_t i1, int64_t j0,
                    int64_t j1, int64_t numK, TileKind *kinds) const override;

  /// Evaluates the `sparse_attn.score_mod` symbol `name` in double precision.
  double evaluateScoreMod(FlatSymbolRefAttr name, double s, int64_t b,
                          int64_t h, int64_t q, int64_t k, int64_t sq,
                          int64_t sk) const;

  /// evaluateScoreMod and its derivative with respect to `s` (forward mode
  /// over the interpreted region; reports an operation without a rule).
  std::pair<double, double>
  evaluateScoreModWithDerivative(FlatSymbolRefAttr name, double s, int64_t b,
                                 int64_t h, int64_t q, int64_t k, int64_t sq,
                                 int64_t sk) const;

  /// Score modifications evaluated in double precision throughout, without
  /// rounding each value to its type (f32): the smooth function whose
  /// derivative finite differences can check (unittests/GradReferenceTest).
  bool exactFloats = false;

  /// Whether mask `name` reads its batch or head argument.
  bool usesBatchOrHead(FlatSymbolRefAttr name) const;

  /// Whether mask `name` is compiled (classified without interpretation).
  bool isCompiled(FlatSymbolRefAttr name) const;

  /// Set once an evaluation failed (missing symbol, unsupported operation);
  /// the diagnostic has been emitted at the failing operation.
  bool hadError() const { return error; }

  struct Program;

private:
  const Program *getProgram(FlatSymbolRefAttr name) const;

  Operation *scope;
  bool compile;
  mutable llvm::DenseMap<Attribute, std::unique_ptr<Program>> programs;
  mutable std::atomic<bool> error = false;
};

} // namespace sparse_attn
} // namespace mlir

#endif
