//===- Reference.h - float64 scalar reference of the op ---------*- C++ -*-===//
//
// The semantics of sparse_attn.attention computed directly from its
// definition in double precision, one (query, key) pair at a time through
// the pattern interface: the oracle of `sparse-attn-run --check`,
// independent of every lowering.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_DIALECT_SPARSEATTN_ANALYSIS_REFERENCE_H
#define SPARSE_ATTN_DIALECT_SPARSEATTN_ANALYSIS_REFERENCE_H

#include "sparse_attn/Dialect/SparseAttn/Analysis/PatternAnalysis.h"
#include <vector>

namespace mlir {
namespace sparse_attn {

/// Row-major operands of one attention op with concrete sizes.
struct AttentionProblem {
  int64_t b = 0, hq = 0, hkv = 0, sq = 0, sk = 0, d = 0, dv = 0;
  double scale = 1.0;
  std::vector<double> q, k, v;          // [B,Hq,Sq,D], [B,Hkv,Sk,D], [B,Hkv,Sk,Dv]
  std::vector<int64_t> qSeg, kSeg;      // [B,Sq], [B,Sk] when the pattern uses them
  /// Runtime block tables (block_tables, then full_tables), row-major.
  struct BlockTable {
    int64_t bp = 0, hp = 0, mq = 0, n = 0;
    std::vector<int64_t> num, idx; // [B', H', Mq], [B', H', Mq, N]
  };
  std::vector<BlockTable> tables;
  int64_t tableBQ = 0, tableBK = 0;     // table_block, when there are tables
};

/// The key blocks (of tableBK keys) listed for query block `qb` of batch `b`,
/// query head `h`, by the definition of the op's runtime tables: out[kb] set
/// for every kb in [0, ceil(Sk / BK)) that some table lists.
void listedKeyBlocks(const AttentionProblem &p, int64_t b, int64_t h,
                     int64_t qb, std::vector<char> &out);

struct AttentionResult {
  std::vector<double> out;  // [B,Hq,Sq,Dv]
  std::vector<double> lse;  // [B,Hq,Sq]
  /// The largest |scale| * sum_d |q_d k_d| over the allowed pairs: a bound
  /// on the magnitude of a score before any score modification. The f32
  /// rounding error of a kernel's score (and so the relative error of its
  /// weight exp(s - m)) grows with it; `--check` scales its tolerance by it.
  double scoreBound = 0;
};

/// The pattern context of batch `b`, head `h` for `problem`.
PatternContext contextFor(const AttentionProblem &problem, int64_t b, int64_t h,
                          const MaskInterpreter &interp);

/// O and LSE by the definition (empty rows: O = 0, LSE = -inf).
AttentionResult computeReference(AttentionOp op, const AttentionProblem &p,
                                 const MaskInterpreter &interp);

struct AttentionGradResult {
  std::vector<double> dq; // [B,Hq,Sq,D]
  std::vector<double> dk; // [B,Hkv,Sk,D]
  std::vector<double> dv; // [B,Hkv,Sk,Dv]
  /// As AttentionResult::scoreBound.
  double scoreBound = 0;
};

/// The gradients of L = sum(dO * O) with respect to q, k and v, by the
/// definition of sparse_attn.attention_grad: the forward's O and LSE are
/// recomputed here in double precision (not read from the op's operands),
/// so a kernel's use of its rounded forward results is part of what is
/// checked. The derivative of the score modification comes from forward
/// mode over the interpreted region (MaskInterpreter), independent of the
/// compiler's symbolic derivative. `dout` is [B,Hq,Sq,Dv].
AttentionGradResult computeGradReference(SparsityPatternAttrInterface pattern,
                                         FlatSymbolRefAttr scoreMod,
                                         const AttentionProblem &p,
                                         const std::vector<double> &dout,
                                         const MaskInterpreter &interp);

/// Allowed (query, key) pairs summed over batch and query heads.
int64_t countAllowedPairsTotal(AttentionOp op, const AttentionProblem &p,
                               const MaskInterpreter &interp);

} // namespace sparse_attn
} // namespace mlir

#endif
