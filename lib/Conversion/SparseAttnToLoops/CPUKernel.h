//===- CPUKernel.h - the pieces of the fused CPU attention kernel -*- C++
//-*-===//
//
// convert-sparse-attn-to-loops emits one kernel per sparse_attn.attention,
// built from pieces with one job each (docs/architecture.md):
//
//   Primitives.cpp      constants, the softmax exponential, 16 x 16
//                       transposes, AMX tile products
//   TileSource.cpp      which key tiles a query block visits: compile-time
//                       tables, runtime block tables (a per-block bitmap)
//   TileBody.cpp        one key tile of a query block: scores (FMA,
//                       AVX-512 bf16 dot products or AMX), score_mod and
//                       mask, online softmax, P V
//   RuntimeChecks.cpp   run-time checks of what the verifier cannot see in
//                       dynamic sizes (tiles, table shapes)
//   SparseAttnToLoops.cpp  the driver: operands, query-block packing, the
//                       parallel loops over (batch, head, query block),
//                       classification, normalisation
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_LIB_CONVERSION_SPARSEATTNTOLOOPS_CPUKERNEL_H
#define SPARSE_ATTN_LIB_CONVERSION_SPARSEATTNTOLOOPS_CPUKERNEL_H

#include "sparse_attn/Conversion/Passes.h"

#include "sparse_attn/Dialect/SparseAttn/Analysis/PatternAnalysis.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"
#include "sparse_attn/Dialect/SparseAttn/Utils/ConstantGlobals.h"
#include "sparse_attn/Dialect/SparseAttn/Utils/PatternCodegen.h"
#include "llvm/Support/ErrorHandling.h"

#include "mlir/Dialect/AMX/AMXDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include <limits>

namespace mlir {
namespace sparse_attn {
namespace cpu {

/// All values the kernel body needs. The backward kernel
/// (SparseAttnGradToLoops) fills the same context for the pieces it shares
/// (score modification and mask of a column, runtime tables), with a null
/// `op`.
struct Kernel {
  Kernel(AttentionOp op, Location loc) : op(op), loc(loc) {}
  AttentionOp op;
  Location loc;
  Type elt;
  Type f32;
  int64_t d = 0, dv = 0, bq = 0, bk = 0;
  int64_t bqPad = 0; // bq rounded up to a multiple of 16 (vector width)
  /// Q K^T by AVX-512 BF16 pair dot products: qT2[d / 2][2 r + e] holds
  /// q[r][d + e] in bf16 (unscaled); the scale multiplies the scores.
  bool bf16Dot = false;
  /// AMX tile products (bf16): S^T = K Q^T into sT (K tiles straight from
  /// the key tensor, Q^T from qT2), O^T += V^T P^T into accT[dv][r].
  bool amx = false;
  Value vT;    // V transposed, [B][Hkv][Dv][SkPad] bf16, keys past Sk 0
  Value kTail; // [bk][D] bf16: the last key block's rows, zero-padded
  Value pB;    // [bk / 2][2 bqPad] bf16: pB[c / 2][2 r + c % 2] = P[r][c]
  /// The predicate masked tiles evaluate: the op's pattern, or (document
  /// masks, a tile whose positions share one segment) the pattern with
  /// `segments` replaced by `dense`.
  Attribute maskOverride;
  /// The op's pattern.
  Attribute pattern;
  /// f16 / bf16: the value tile widened to f32 once per tile (block-k x Dv
  /// scratch), so P V does not convert a value row for every group of rows.
  Value vWide;
  Attribute maskPattern() {
    return maskOverride ? maskOverride : pattern;
  }
  double scale = 1.0;
  Value q, k, v, out, lse; // memrefs
  Value qSeg, kSeg;        // memrefs or null
  Value sq, sk, group;     // index
  // Block tables (memref<Nxi32>), or null when every block is visited.
  Value partialOffsets, partialIndices, fullOffsets, fullIndices;
  Value numKBlocks;
  // Runtime block tables (memref<B'xH'xMqxi32>, memref<B'xH'xMqxNxi32>), or
  // null.
  Value kvNum, kvIdx, fullNum, fullIdx;
  ScoreModOp scoreMod;
  /// Whether scoreMod's region runs on vectors (isVectorizableRegion).
  bool scoreModOnVectors = false;
  ConstantGlobals *tables = nullptr;
  Operation *symbolScope = nullptr;
  /// A tile of a larger problem (tile_of / at): the offsets of batch, query
  /// head, query and key positions (index), null for an op that is its
  /// own problem. Predicates, score modifications and tile classifiers see
  /// problem positions (`problemPos`); loads and stores use the tile's own.
  Value at[4];
  /// The problem's sequence lengths for predicates (the op's own Sq / Sk,
  /// or a tile's constant tile_of sizes; kDynamic where unknown).
  int64_t problemSq = ShapedType::kDynamic, problemSk = ShapedType::kDynamic;
  /// The problem's query (`which` = 0) or key (1) length as an index value:
  /// the op's own for an op that is its own problem, a tile's constant
  /// tile_of size, null where unknown.
  Value problemLength(OpBuilder &b, Location loc, unsigned which) {
    if (!at[2])
      return which == 0 ? sq : sk;
    int64_t n = which == 0 ? problemSq : problemSk;
    if (ShapedType::isDynamic(n))
      return Value();
    return arith::ConstantIndexOp::create(b, loc, n);
  }
  /// The problem's position of tile position `local` along `dim` (0 batch,
  /// 1 query head, 2 query, 3 key): `local` itself, with no instruction,
  /// when the op is not a tile.
  Value problemPos(OpBuilder &b, Location loc, unsigned dim, Value local) {
    if (!at[dim])
      return local;
    return arith::AddIOp::create(b, loc, local, at[dim]);
  }
};

/// `tensor` as a read-only buffer of its type (bufferization.to_buffer).
inline Value readOnlyBuffer(OpBuilder &b, Location loc, Value tensor) {
  auto t = llvm::cast<RankedTensorType>(tensor.getType());
  return bufferization::ToBufferOp::create(
      b, loc, MemRefType::get(t.getShape(), t.getElementType()), tensor,
      /*read_only=*/true);
}

/// The operands every attention-like op shares, bound as read-only buffers
/// into `kn`, in this order: query, key, value, segment ids, runtime
/// tables (sparse_attn.attention and sparse_attn.attention_grad).
template <typename OpTy>
void bindAttentionOperands(OpBuilder &b, Location loc, Kernel &kn, OpTy op) {
  kn.q = readOnlyBuffer(b, loc, op.getQuery());
  kn.k = readOnlyBuffer(b, loc, op.getKey());
  kn.v = readOnlyBuffer(b, loc, op.getValue());
  if (Value s = op.getQuerySegmentIds())
    kn.qSeg = readOnlyBuffer(b, loc, s);
  if (Value s = op.getKeySegmentIds())
    kn.kSeg = readOnlyBuffer(b, loc, s);
  if (op.hasBlockTables()) {
    kn.kvNum = readOnlyBuffer(b, loc, op.getKvNumBlocks());
    kn.kvIdx = readOnlyBuffer(b, loc, op.getKvIndices());
    if (op.getFullNumBlocks()) {
      kn.fullNum = readOnlyBuffer(b, loc, op.getFullNumBlocks());
      kn.fullIdx = readOnlyBuffer(b, loc, op.getFullIndices());
    }
  }
}

// Primitives.cpp
Value cIdx(OpBuilder &b, Location loc, int64_t v);
Value cF32(OpBuilder &b, Location loc, float v);
Value toF32(OpBuilder &b, Location loc, Value v);
/// exp(x) for the softmax, where x = s - max <= 0, -inf (masked or no
/// maximum yet) or NaN (NaN scores): 2^n * p(f) with t = x log2(e),
/// n = roundeven(t), f = t - n in [-1/2, 1/2] and p a degree-5 fit of 2^f
/// (relative error 1.8e-7 in f32 evaluation, exactly 1 at 0), 2^n built in the
/// exponent bits. x is first raised to -88.03 (t = -127, so 2^n is the bit
/// pattern 0 and the result exactly 0: exp(-inf) = 0); the raise is a compare
/// and select that keeps NaN, which then propagates through p. 12 vector
/// instructions per 16 lanes against about 25 for the general polynomial
/// exp (which also handles large positive x).
Value softmaxExp(OpBuilder &b, Location loc, Value x);
/// The transpose of 16 vectors of 16 lanes (vector.transpose, lowered to
/// shuffles): result j holds lane j of every input.
SmallVector<Value> transpose16(OpBuilder &b, Location loc,
                               ArrayRef<Value> rows);
amx::TileType amxOperandTile(OpBuilder &b);
amx::TileType amxAccTile(OpBuilder &b);
/// AMX: the tile's unscaled scores transposed, sT[c][r] = k_c . q_r, as
/// 16 x 16 products S^T = K Q^T: the A operand is 16 keys x 32 dimensions
/// read straight from the key tensor (from kTail, zero-padded, for the last
/// key block when it is short), the B operand 32 dimensions x 16 queries
/// from qT2 in the pair layout tdpbf16ps expects.
void emitAmxScores(OpBuilder &b, Kernel &kn, Value bIdx, Value gIdx, Value k0,
                   Value cols, Value qT2, Value sT);
/// AMX: accT[n][r] = alpha[r] accT[n][r] + sum_c v[c][n] p[c][r], as
/// O^T += V^T P^T: the probabilities (sT, f32) rounded to bf16 and
/// interleaved in pairs of keys (pB), the A operand 16 value columns x 32
/// keys from the transposed value copy (zero past the sequence end, so a
/// short last block needs nothing special: sT holds 0 there).
void emitAmxValues(OpBuilder &b, Kernel &kn, Value bIdx, Value gIdx, Value k0,
                   Value sT, Value accT, Value alpha);

// TileBody.cpp
/// score_mod (if any) and, on partial tiles, the pattern's predicate applied
/// to one scaled score `s` of (qPos, kPos).
Value modAndMask(OpBuilder &b, Location loc, Kernel &kn, Value s, Value bIdx,
                 Value hIdx, Value qPos, Value kPos, bool masked);
/// The score modification and, on a partial tile (`masked`), the pattern's
/// mask applied to `col`, the scaled scores of key `kPos` for the rows of
/// the query block at `q0` (vector<bqPad> over its rows), stored to
/// sT[cj]: on vectors when both have a vector form, else element by
/// element through sT. Returns the modified column. Call it only with a
/// mask or a score modification to apply.
Value modAndMaskColumn(OpBuilder &b, Kernel &kn, Value col, Value bIdx,
                       Value hIdx, Value q0, Value rows, Value kPos, Value cj,
                       Value sT, bool masked);
/// Visits one (query block, key block) tile and updates the online softmax of
/// every row of the query block. Scores are computed a key at a time for all
/// rows at once: `qT[d][r]` holds the query block transposed, widened and
/// scaled (prepared once per query block), so a key's column of scores is D
/// vector FMAs with k[d] broadcast, and the row maxima, exponentials and
/// rescaling factors are vector operations over the rows. `sT[c][r]` keeps
/// the tile's scores (then probabilities); P V is accumulated per row.
void emitTile(OpBuilder &b, Kernel &kn, Value bIdx, Value hIdx, Value gIdx,
              Value q0, Value rows, Value kb, bool masked, Value qT, Value sT,
              Value acc, Value mB, Value lB);

// TileSource.cpp
/// Iterates the key blocks listed in [offsets[qb], offsets[qb + 1]).
void emitBlockList(OpBuilder &b, Location loc, Value offsets, Value indices,
                   Value qb, function_ref<void(OpBuilder &, Value)> body);
/// The key blocks the runtime tables list for query block `qb` of (b, h):
/// each table's list at (b', h', qb) (b' = b unless B' = 1; h' = h, the KV
/// head or 0 for H' = Hq, Hkv, 1), its count clamped to [0, N], indices
/// outside [0, numKBlocks) skipped, each block visited once (a per-query-
/// block bitmap), `body` called per block. Every read is in bounds whatever
/// the tables hold.
void emitRuntimeTables(OpBuilder &b, Location loc, Kernel &kn, Value bIdx,
                       Value hIdx, Value gIdx, Value heads, Value qb,
                       function_ref<void(OpBuilder &, Value)> body);

/// The key blocks one row of a runtime table lists, by the op's reading
/// rules: count = num[bRow, hRow, qb] clamped to [0, n] (n = N, the
/// indices' width), entries idx[bRow, hRow, qb, 0 : count], those outside
/// [0, numKBlocks) skipped; `body(b, kb)` per listed entry (repeats
/// included). The one definition of how tables are read: the forward's
/// walk and the backward's transpose both use it.
void emitTableRow(OpBuilder &b, Location loc, Value num, Value idx, Value n,
                  Value bRow, Value hRow, Value qb, Value numKBlocks,
                  function_ref<void(OpBuilder &, Value)> body);

// RuntimeChecks.cpp
/// A tile (tile_of / at) lies inside its problem: offsets >= 0, h0 + Hq'
/// <= Hq, q0 + Sq' <= Sq, k0 + Sk' <= Sk, and Hq a multiple of Hkv (the
/// verifier checks what is constant; the kernel trusts the rest).
void assertTileInProblem(OpBuilder &b, Location loc, AttentionOp op, Kernel &kn,
                         Value heads);
/// Run-time checks of what the verifier cannot see in dynamic table shapes:
/// counts and indices agree on [B', H', Mq], B' is 1 or B, H' is 1, Hkv or
/// Hq. emitRuntimeTables indexes both tensors with the counts' sizes, so a
/// mismatch reaching it would read out of bounds. Nothing is emitted for a
/// fact the verifier already proved from static sizes.
void assertTableShapes(OpBuilder &b, Location loc, AttentionOp op, Kernel &kn,
                       Value batch, Value heads);
/// The same for any op with runtime tables (`opName` starts the messages):
/// its query and key tensors and its (counts, indices) tensor pairs, the
/// full pair null when absent.
void assertTableShapes(OpBuilder &b, Location loc, StringRef opName,
                       Value query, Value key, std::pair<Value, Value> kvTables,
                       std::pair<Value, Value> fullTables, Kernel &kn,
                       Value batch, Value heads);

} // namespace cpu
} // namespace sparse_attn
} // namespace mlir

#endif
