//===- MaskProgram.h - compiled mask regions: abstract and lane evaluation
//-===//
//
// A `sparse_attn.mask` region compiled once into a flat program over 64-bit
// integer slots, with three ways to run it:
//
//  - `abstractClassify`: a sound three-valued evaluation over a box of
//    (b, h, q, k) points. Each value is an interval, and while it stays an
//    affine function of the arguments also that function, so that orderings
//    of affine expressions (`k <= q`, `q - k <= w`) are decided exactly
//    (`docs/patterns.md`, "How regions are classified", lists what is
//    exact).
//  - `evaluateRow`: the concrete region over a row of keys, one operation
//    at a time over arrays of lanes (loops the C++ compiler vectorises), for
//    the tiles the abstract evaluation cannot decide.
//  - `classify`: the exact tile classification: abstract, then halving the
//    rectangle while undecided, then lanes with an early exit at the first
//    allowed and forbidden pair.
//
// Regions that use an operation outside the integer subset (floating
// point, math) do not compile; callers interpret them instead.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_DIALECT_SPARSEATTN_ANALYSIS_MASKPROGRAM_H
#define SPARSE_ATTN_DIALECT_SPARSEATTN_ANALYSIS_MASKPROGRAM_H

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"
#include <memory>
#include <vector>

namespace mlir {
namespace sparse_attn {

/// What a region's arguments are, in the order of a `MaskPoint`.
enum MaskVar : unsigned {
  kVarB,
  kVarH,
  kVarQ,
  kVarK,
  kVarSq,
  kVarSk,
  kNumMaskVars
};

/// A box of argument values: [lo[v], hi[v]] for each variable, inclusive.
struct MaskBox {
  int64_t lo[kNumMaskVars] = {};
  int64_t hi[kNumMaskVars] = {};
};

class MaskProgram {
public:
  ~MaskProgram();

  /// Compiles the region of `mask`; null when it uses an operation outside
  /// the supported integer subset (arith and index integer operations,
  /// comparisons, select, casts between integer types).
  static std::unique_ptr<MaskProgram> compile(MaskOp mask);

  /// Sound over `box`: Full when the region yields true at every point,
  /// Empty when false at every point, Partial when it cannot tell.
  TileKind abstractClassify(const MaskBox &box) const;

  /// The exact classification of [q0, q1) x [k0, k1) at batch `b`, head
  /// `h` and sizes (sq, sk).
  TileKind classify(int64_t b, int64_t h, int64_t sq, int64_t sk, int64_t q0,
                    int64_t q1, int64_t k0, int64_t k1) const;

  /// The exact kinds of the tiles [i0, i1) x [j0, j1) of a grid of
  /// bq x bk tiles (the last row / column cut at sq / sk) into `kinds`
  /// (row-major, `numK` per row): one abstract evaluation decides a whole
  /// rectangle of tiles where it can, halving the rectangle otherwise down
  /// to single tiles (`classify`).
  void classifyGrid(int64_t b, int64_t h, int64_t sq, int64_t sk, int64_t bq,
                    int64_t bk, int64_t i0, int64_t i1, int64_t j0, int64_t j1,
                    int64_t numK, TileKind *kinds) const;

  /// out[i] = whether (b, h, q, k0 + i) is allowed, for i in [0, n).
  void evaluateRow(int64_t b, int64_t h, int64_t sq, int64_t sk, int64_t q,
                   int64_t k0, int64_t n, uint8_t *out) const;

  /// One point.
  bool evaluate(int64_t b, int64_t h, int64_t sq, int64_t sk, int64_t q,
                int64_t k) const;

  struct Instr;

private:
  MaskProgram() = default;
  /// evaluateRow with caller-provided lanes (numSlots x 256 values).
  void evaluateRow(int64_t b, int64_t h, int64_t sq, int64_t sk, int64_t q,
                   int64_t k0, int64_t n, uint8_t *out, int64_t *lanes) const;
  /// Classification of a rectangle by its elements, with early exit.
  TileKind classifyByElements(int64_t b, int64_t h, int64_t sq, int64_t sk,
                              int64_t q0, int64_t q1, int64_t k0,
                              int64_t k1) const;

  unsigned numSlots = 0;
  /// Slot i < numArgs holds variable argVar[i].
  std::vector<MaskVar> argVar;
  std::vector<Instr> instrs;
  /// Slots that depend on k (the lane dimension), by slot.
  std::vector<bool> varying;
  /// Uniform slots read by a varying instruction: broadcast once per row.
  std::vector<unsigned> broadcast;
  unsigned result = 0;
};

} // namespace sparse_attn
} // namespace mlir

#endif
