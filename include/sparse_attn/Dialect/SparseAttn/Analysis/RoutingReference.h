//===- RoutingReference.h - float64 reference of the routing ops -*- C++ -*-===//
//
// sparse_attn.pool and sparse_attn.select_blocks computed from their
// definitions in double precision, with an algorithm unlike the lowering's
// (the selection sorts every row's candidates; the block classes come from
// classifyTile per tile): the oracle of `sparse-attn-run --check` for
// routing programs and of the unit tests.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_DIALECT_SPARSEATTN_ANALYSIS_ROUTINGREFERENCE_H
#define SPARSE_ATTN_DIALECT_SPARSEATTN_ANALYSIS_ROUTINGREFERENCE_H

#include "sparse_attn/Dialect/SparseAttn/Analysis/PatternAnalysis.h"
#include <vector>

namespace mlir {
namespace sparse_attn {

/// A row-major array with its shape.
struct RefArray {
  std::vector<int64_t> shape;
  std::vector<double> data;
  int64_t numElements() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
};

/// `value` rounded to the nearest `elt` (f32, f16, bf16; ties to even).
double roundToElementType(double value, Type elt);

/// sparse_attn.pool: sums and maxima in double, each result rounded to
/// `resultElt` (through f32, as the definition's f32 result is).
RefArray poolReference(const RefArray &input, bool isMax, int64_t block,
                       int64_t stride, Type resultElt);

struct SelectBlocksReference {
  RefArray kvNum, kvIdx, fullNum, fullIdx;
  /// Rows whose selection is decided by two different scores within 1e-6
  /// (relative) of each other: a lowering computing in f32 may pick either
  /// there (equal scores are decided by the index rule).
  int64_t nearTies = 0;
};

/// sparse_attn.select_blocks with the query `q` [B, Hq, Sq, D], pooled keys
/// `kp` [B, Hkv, Nk, D], key length `sk`, `hp` table heads and `width`
/// entries per table row.
SelectBlocksReference selectBlocksReference(SelectBlocksOp op,
                                            const RefArray &q,
                                            const RefArray &kp, int64_t sk,
                                            int64_t hp, int64_t width,
                                            const MaskInterpreter &interp);

struct SelectTokensReference {
  RefArray num, indices;
  /// Rows decided by two different scores within 1e-6 (relative) of each
  /// other.
  int64_t nearTies = 0;
};

/// sparse_attn.select_tokens with index queries `iq` [B, Sq, HI, DI], index
/// keys `ik` [B, Sk, DI], weights `w` [B, Sq, HI] and `width` entries per
/// row; candidates by the pattern's isAllowed, one pair at a time.
SelectTokensReference selectTokensReference(SelectTokensOp op,
                                            const RefArray &iq,
                                            const RefArray &ik,
                                            const RefArray &w, int64_t width,
                                            const MaskInterpreter &interp);

} // namespace sparse_attn
} // namespace mlir

#endif
