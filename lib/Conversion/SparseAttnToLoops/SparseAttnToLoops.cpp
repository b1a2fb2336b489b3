//===- SparseAttnToLoops.cpp - fused, block-skipping CPU lowering ---------===//
//
// sparse_attn.attention -> scf.parallel over (batch, head, query block)
//   for each non-empty key block of the query block (block_mask tables):
//     for each query row r of the tile:
//       s[c]  = scale * q_r . k_c            (vector<D> products, f32)
//       s[c]  = score_mod(s[c]); masked only on partial tiles
//       m'    = max(m, max_c s[c]);  alpha = exp(m - m')
//       l'    = alpha * l + sum_c exp(s[c] - m')
//       acc_r = alpha * acc_r + sum_c exp(s[c] - m') * v_c   (vector<Dv>)
//   O_r = acc_r / l (0 when l == 0), LSE_r = m + log(l) (-inf when l == 0)
//
//===----------------------------------------------------------------------===//

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
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include <limits>

namespace mlir {
namespace sparse_attn {
#define GEN_PASS_DEF_CONVERTSPARSEATTNTOLOOPS
#include "sparse_attn/Conversion/Passes.h.inc"
} // namespace sparse_attn
} // namespace mlir

using namespace mlir;
using namespace mlir::sparse_attn;

namespace {

struct LowerAttention : OpRewritePattern<AttentionOp> {
  LowerAttention(MLIRContext *ctx, const SparseAttnToLoopsOptions &options)
      : OpRewritePattern(ctx), options(options) {}

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rw) const override;

  SparseAttnToLoopsOptions options;
};

/// Lanes of the vector form checked before rewriting (the kernel uses its
/// padded query-block height; a pattern's vector form does not depend on
/// the lane count).
constexpr int64_t kVectorCheckLanes = 16;

/// Every predicate the kernel builds must build, before anything is
/// rewritten: the op's pattern and, for document masks, its single-segment
/// form, each in the vector form too where the pattern claims one.
/// Diagnoses the first that does not.
LogicalResult verifyMaskCodegen(AttentionOp op) {
  // Predicates see the problem's lengths (a tile's tile_of sizes).
  auto [hq, sq, sk] = op.getProblemShape();
  (void)hq;
  SmallVector<Attribute, 2> masks{op.getPattern()};
  if (op.getQuerySegmentIds() && impliesSameSegment(op.getPattern()))
    masks.push_back(withoutSegments(op.getPattern()));
  for (Attribute m : masks) {
    if (failed(verifyPatternCodegen(op.getLoc(), m, op, sq, sk)))
      return failure();
    if (isVectorizablePattern(m) &&
        failed(verifyPatternCodegen(op.getLoc(), m, op, sq, sk,
                                    kVectorCheckLanes)))
      return failure();
  }
  return success();
}

/// All values the kernel body needs.
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
  /// f16 / bf16: the value tile widened to f32 once per tile (block-k x Dv
  /// scratch), so P V does not convert a value row for every group of rows.
  Value vWide;
  Attribute maskPattern() {
    return maskOverride ? maskOverride : Attribute(op.getPattern());
  }
  double scale = 1.0;
  Value q, k, v, out, lse;  // memrefs
  Value qSeg, kSeg;         // memrefs or null
  Value sq, sk, group;      // index
  // Block tables (memref<Nxi32>), or null when every block is visited.
  Value partialOffsets, partialIndices, fullOffsets, fullIndices;
  Value numKBlocks;
  // Runtime block tables (memref<B'xH'xMqxi32>, memref<B'xH'xMqxNxi32>), or
  // null.
  Value kvNum, kvIdx, fullNum, fullIdx;
  ScoreModOp scoreMod;
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
  /// The problem's position of tile position `local` along `dim` (0 batch,
  /// 1 query head, 2 query, 3 key): `local` itself, with no instruction,
  /// when the op is not a tile.
  Value problemPos(OpBuilder &b, Location loc, unsigned dim, Value local) {
    if (!at[dim])
      return local;
    return arith::AddIOp::create(b, loc, local, at[dim]);
  }
};

Value cIdx(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}
Value cF32(OpBuilder &b, Location loc, float v) {
  return arith::ConstantFloatOp::create(b, loc, b.getF32Type(), APFloat(v));
}
Value toF32(OpBuilder &b, Location loc, Value v) {
  Type f32 = b.getF32Type();
  if (auto vt = llvm::dyn_cast<VectorType>(v.getType())) {
    if (vt.getElementType().isF32())
      return v;
    return arith::ExtFOp::create(b, loc, VectorType::get(vt.getShape(), f32), v);
  }
  return v.getType().isF32() ? v : arith::ExtFOp::create(b, loc, f32, v);
}

/// exp(x) for the softmax, where x = s - max <= 0, -inf (masked or no
/// maximum yet) or NaN (NaN scores): 2^n * p(f) with t = x log2(e),
/// n = roundeven(t), f = t - n in [-1/2, 1/2] and p a degree-5 fit of 2^f
/// (relative error 1.8e-7 in f32 evaluation, exactly 1 at 0), 2^n built in the exponent
/// bits. x is first raised to -88.03 (t = -127, so 2^n is the bit pattern 0
/// and the result exactly 0: exp(-inf) = 0); the raise is a compare and
/// select that keeps NaN, which then propagates through p. 12 vector
/// instructions per 16 lanes against about 25 for the general polynomial
/// exp (which also handles large positive x).
Value softmaxExp(OpBuilder &b, Location loc, Value x) {
  auto vt = llvm::cast<VectorType>(x.getType());
  auto vi = VectorType::get(vt.getShape(), b.getI32Type());
  auto splat = [&](float v) -> Value {
    return arith::ConstantOp::create(b, loc, vt, DenseElementsAttr::get(vt, v));
  };
  auto splatI = [&](int32_t v) -> Value {
    return arith::ConstantOp::create(
        b, loc, vi, DenseElementsAttr::get(vi, b.getI32IntegerAttr(v).getValue()));
  };
  Value lo = splat(-88.0296919311f); // -127 ln 2
  Value below = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x, lo);
  Value xc = arith::SelectOp::create(b, loc, below, lo, x);
  Value t = arith::MulFOp::create(b, loc, xc, splat(1.44269504088896341f));
  Value n = math::RoundEvenOp::create(b, loc, t);
  Value f = arith::SubFOp::create(b, loc, t, n);
  // Least-squares fit (relative) with the constant term pinned to 1, so that
  // exp(0) = 1 exactly (the row maximum's probability; LSE of one key = s).
  const float c[] = {0.0013218672247603536f, 0.009671698324382305f,
                     0.05550893023610115f,   0.24022237956523895f,
                     0.6931468844413757f,    1.0f};
  Value p = splat(c[0]);
  for (int i = 1; i < 6; ++i)
    p = math::FmaOp::create(b, loc, p, f, splat(c[i]));
  Value bits = arith::ShLIOp::create(
      b, loc,
      arith::AddIOp::create(b, loc, arith::FPToSIOp::create(b, loc, vi, n),
                            splatI(127)),
      splatI(23));
  return arith::MulFOp::create(b, loc, p,
                               arith::BitcastOp::create(b, loc, vt, bits));
}

/// score_mod (if any) and, on partial tiles, the pattern's predicate applied
/// to one scaled score `s` of (qPos, kPos).
Value modAndMask(OpBuilder &b, Location loc, Kernel &kn, Value s, Value bIdx,
                 Value hIdx, Value qPos, Value kPos, bool masked) {
  // The problem's positions (the same values unless the op is a tile).
  bIdx = kn.problemPos(b, loc, 0, bIdx);
  hIdx = kn.problemPos(b, loc, 1, hIdx);
  qPos = kn.problemPos(b, loc, 2, qPos);
  kPos = kn.problemPos(b, loc, 3, kPos);
  if (kn.scoreMod)
    s = inlineRegion(b, kn.scoreMod.getBody(), {s, bIdx, hIdx, qPos, kPos})
            .front();
  if (!masked)
    return s;
  PatternCodegenInputs in;
  in.b = bIdx;
  in.h = hIdx;
  in.q = qPos;
  in.k = kPos;
  in.sq = kn.problemSq;
  in.sk = kn.problemSk;
  in.symbolScope = kn.symbolScope;
  in.querySegmentIds = kn.qSeg;
  in.keySegmentIds = kn.kSeg;
  // A tile's segment ids are its own: the predicate's problem positions
  // go back to the tile's before the load.
  auto tileSegment = [&kn](Value ids, unsigned posDim) {
    return [&kn, ids, posDim](OpBuilder &b, Location loc, Value bPos,
                              Value pos) -> Value {
      return memref::LoadOp::create(
          b, loc, ids,
          ValueRange{arith::SubIOp::create(b, loc, bPos, kn.at[0]),
                     arith::SubIOp::create(b, loc, pos, kn.at[posDim])});
    };
  };
  auto querySegment = tileSegment(kn.qSeg, 2);
  auto keySegment = tileSegment(kn.kSeg, 3);
  if (kn.op.isTile() && kn.qSeg) {
    in.querySegment = querySegment;
    in.keySegment = keySegment;
  }
  auto load = [&](OpBuilder &b, Location loc, DenseIntElementsAttr t, Value i,
                  Value j) { return kn.tables->loadBoolTableEntry(b, loc, t, i, j); };
  in.loadTable = load;
  FailureOr<Value> allowed = buildAllowed(b, loc, kn.maskPattern(), in);
  // matchAndRewrite verified this predicate before it built anything.
  if (failed(allowed))
    llvm::report_fatal_error("sparse-attn: pattern code generation failed "
                             "after verifying it");
  Value negInf = cF32(b, loc, -std::numeric_limits<float>::infinity());
  return arith::SelectOp::create(b, loc, *allowed, s, negInf);
}

/// The transpose of 16 vectors of 16 lanes (vector.transpose, lowered to
/// shuffles): result j holds lane j of every input.
SmallVector<Value> transpose16(OpBuilder &b, Location loc, ArrayRef<Value> rows) {
  Type et = llvm::cast<VectorType>(rows.front().getType()).getElementType();
  auto m16 = VectorType::get({16, 16}, et);
  Value m = arith::ConstantOp::create(
      b, loc, m16, DenseElementsAttr::get(m16, b.getZeroAttr(et)));
  for (int64_t i = 0; i < 16; ++i)
    m = vector::InsertOp::create(b, loc, rows[i], m, ArrayRef<int64_t>{i});
  Value mt = vector::TransposeOp::create(b, loc, m, ArrayRef<int64_t>{1, 0});
  SmallVector<Value> cols;
  for (int64_t j = 0; j < 16; ++j)
    cols.push_back(
        vector::ExtractOp::create(b, loc, mt, ArrayRef<int64_t>{j}));
  return cols;
}

amx::TileType amxOperandTile(OpBuilder &b) {
  return amx::TileType::get({16, 32}, b.getBF16Type());
}
amx::TileType amxAccTile(OpBuilder &b) {
  return amx::TileType::get({16, 16}, b.getF32Type());
}

/// AMX: the tile's unscaled scores transposed, sT[c][r] = k_c . q_r, as
/// 16 x 16 products S^T = K Q^T: the A operand is 16 keys x 32 dimensions
/// read straight from the key tensor (from kTail, zero-padded, for the last
/// key block when it is short), the B operand 32 dimensions x 16 queries
/// from qT2 in the pair layout tdpbf16ps expects.
void emitAmxScores(OpBuilder &b, Kernel &kn, Value bIdx, Value gIdx, Value k0,
                   Value cols, Value qT2, Value sT) {
  Location loc = kn.loc;
  // One loop iteration per 16 keys (a loop keeps the IR and the compile
  // time small; the tiles live within one iteration). Up to four
  // accumulators (16 keys x 64 rows) in flight, so that consecutive
  // tdpbf16ps are independent (4 C + 1 A + 1 B of the 8 tile registers).
  // Measured neutral against one accumulator at a time on the development
  // machine: the products take about 30 % of a dense bf16 tile, the softmax
  // the rest.
  auto products = [&](OpBuilder &b,
                      function_ref<Value(OpBuilder &, Value, int64_t)> loadK) {
    scf::ForOp::create(
        b, loc, cIdx(b, loc, 0), cIdx(b, loc, kn.bk), cIdx(b, loc, 16),
        ValueRange{}, [&](OpBuilder &b, Location loc, Value key, ValueRange) {
          for (int64_t rb0 = 0; rb0 < kn.bqPad / 16; rb0 += 4) {
            int64_t nr = std::min<int64_t>(4, kn.bqPad / 16 - rb0);
            SmallVector<Value> c;
            for (int64_t i = 0; i < nr; ++i)
              c.push_back(amx::TileZeroOp::create(b, loc, amxAccTile(b)));
            for (int64_t dc = 0; dc < kn.d / 32; ++dc) {
              Value a = loadK(b, key, dc);
              for (int64_t i = 0; i < nr; ++i) {
                Value qt = amx::TileLoadOp::create(
                    b, loc, amxOperandTile(b), qT2,
                    ValueRange{cIdx(b, loc, 16 * dc),
                               cIdx(b, loc, 32 * (rb0 + i))});
                c[i] =
                    amx::TileMulFOp::create(b, loc, amxAccTile(b), a, qt, c[i]);
              }
            }
            for (int64_t i = 0; i < nr; ++i)
              amx::TileStoreOp::create(
                  b, loc, sT, ValueRange{key, cIdx(b, loc, 16 * (rb0 + i))},
                  c[i]);
          }
          scf::YieldOp::create(b, loc);
        });
  };
  Value whole = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, cols,
                                      cIdx(b, loc, kn.bk));
  auto ifOp = scf::IfOp::create(b, loc, whole, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifOp.thenBlock());
  products(b, [&](OpBuilder &b, Value key, int64_t dc) -> Value {
    return amx::TileLoadOp::create(
        b, loc, amxOperandTile(b), kn.k,
        ValueRange{bIdx, gIdx, arith::AddIOp::create(b, loc, k0, key),
                   cIdx(b, loc, 32 * dc)});
  });
  // A short last block: its rows copied, the rest zero.
  b.setInsertionPointToStart(ifOp.elseBlock());
  Value c0 = cIdx(b, loc, 0), c1 = cIdx(b, loc, 1);
  auto vecD = VectorType::get({kn.d}, kn.elt);
  Value zeroD = arith::ConstantOp::create(
      b, loc, vecD, DenseElementsAttr::get(vecD, b.getZeroAttr(kn.elt)));
  Value lastKey = arith::SubIOp::create(b, loc, kn.sk, c1);
  scf::ForOp::create(
      b, loc, c0, cIdx(b, loc, kn.bk), c1, ValueRange{},
      [&](OpBuilder &b, Location loc, Value c, ValueRange) {
        Value inside =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, c, cols);
        Value key = arith::MinSIOp::create(
            b, loc, arith::AddIOp::create(b, loc, k0, c), lastKey);
        Value row = vector::LoadOp::create(b, loc, vecD, kn.k,
                                           ValueRange{bIdx, gIdx, key, c0});
        row = arith::SelectOp::create(b, loc, inside, row, zeroD);
        vector::StoreOp::create(b, loc, row, kn.kTail, ValueRange{c, c0});
        scf::YieldOp::create(b, loc);
      });
  products(b, [&](OpBuilder &b, Value key, int64_t dc) -> Value {
    return amx::TileLoadOp::create(b, loc, amxOperandTile(b), kn.kTail,
                                   ValueRange{key, cIdx(b, loc, 32 * dc)});
  });
}

/// AMX: accT[n][r] = alpha[r] accT[n][r] + sum_c v[c][n] p[c][r], as
/// O^T += V^T P^T: the probabilities (sT, f32) rounded to bf16 and
/// interleaved in pairs of keys (pB), the A operand 16 value columns x 32
/// keys from the transposed value copy (zero past the sequence end, so a
/// short last block needs nothing special: sT holds 0 there).
void emitAmxValues(OpBuilder &b, Kernel &kn, Value bIdx, Value gIdx, Value k0,
                   Value sT, Value accT, Value alpha) {
  Location loc = kn.loc;
  Value c0 = cIdx(b, loc, 0), c1 = cIdx(b, loc, 1), c2 = cIdx(b, loc, 2);
  auto vecR = VectorType::get({kn.bqPad}, b.getF32Type());
  auto vecRh = VectorType::get({kn.bqPad}, kn.elt);
  scf::ForOp::create(
      b, loc, c0, cIdx(b, loc, kn.bk / 2), c1, ValueRange{},
      [&](OpBuilder &b, Location loc, Value cp, ValueRange) {
        Value c = arith::MulIOp::create(b, loc, cp, c2);
        Value p0 = vector::LoadOp::create(b, loc, vecR, sT, ValueRange{c, c0});
        Value p1 = vector::LoadOp::create(
            b, loc, vecR, sT,
            ValueRange{arith::AddIOp::create(b, loc, c, c1), c0});
        Value pair = vector::InterleaveOp::create(
            b, loc, arith::TruncFOp::create(b, loc, vecRh, p0),
            arith::TruncFOp::create(b, loc, vecRh, p1));
        vector::StoreOp::create(b, loc, pair, kn.pB, ValueRange{cp, c0});
        scf::YieldOp::create(b, loc);
      });
  scf::ForOp::create(
      b, loc, c0, cIdx(b, loc, kn.dv), c1, ValueRange{},
      [&](OpBuilder &b, Location loc, Value n, ValueRange) {
        Value row = vector::LoadOp::create(b, loc, vecR, accT, ValueRange{n, c0});
        vector::StoreOp::create(b, loc, arith::MulFOp::create(b, loc, row, alpha),
                                accT, ValueRange{n, c0});
        scf::YieldOp::create(b, loc);
      });
  // As for the scores: a loop over 16 value columns, four independent
  // accumulators in flight.
  scf::ForOp::create(
      b, loc, c0, cIdx(b, loc, kn.dv), cIdx(b, loc, 16), ValueRange{},
      [&](OpBuilder &b, Location loc, Value n0, ValueRange) {
        for (int64_t rb0 = 0; rb0 < kn.bqPad / 16; rb0 += 4) {
          int64_t nr = std::min<int64_t>(4, kn.bqPad / 16 - rb0);
          auto at = [&](int64_t i) -> SmallVector<Value> {
            return {n0, cIdx(b, loc, 16 * (rb0 + i))};
          };
          SmallVector<Value> c;
          for (int64_t i = 0; i < nr; ++i)
            c.push_back(
                amx::TileLoadOp::create(b, loc, amxAccTile(b), accT, at(i)));
          for (int64_t kc = 0; kc < kn.bk / 32; ++kc) {
            Value a = amx::TileLoadOp::create(
                b, loc, amxOperandTile(b), kn.vT,
                ValueRange{bIdx, gIdx, n0,
                           arith::AddIOp::create(b, loc, k0,
                                                 cIdx(b, loc, 32 * kc))});
            for (int64_t i = 0; i < nr; ++i) {
              Value pt = amx::TileLoadOp::create(
                  b, loc, amxOperandTile(b), kn.pB,
                  ValueRange{cIdx(b, loc, 16 * kc), cIdx(b, loc, 32 * (rb0 + i))});
              c[i] = amx::TileMulFOp::create(b, loc, amxAccTile(b), a, pt, c[i]);
            }
          }
          for (int64_t i = 0; i < nr; ++i)
            amx::TileStoreOp::create(b, loc, accT, at(i), c[i]);
        }
        scf::YieldOp::create(b, loc);
      });
}

/// Visits one (query block, key block) tile and updates the online softmax of
/// every row of the query block. Scores are computed a key at a time for all
/// rows at once: `qT[d][r]` holds the query block transposed, widened and
/// scaled (prepared once per query block), so a key's column of scores is D
/// vector FMAs with k[d] broadcast, and the row maxima, exponentials and
/// rescaling factors are vector operations over the rows. `sT[c][r]` keeps
/// the tile's scores (then probabilities); P V is accumulated per row.
void emitTile(OpBuilder &b, Kernel &kn, Value bIdx, Value hIdx, Value gIdx,
              Value q0, Value rows, Value kb, bool masked, Value qT, Value sT,
              Value acc, Value mB, Value lB) {
  Location loc = kn.loc;
  Value c0 = cIdx(b, loc, 0), c1 = cIdx(b, loc, 1);
  Value k0 = arith::MulIOp::create(b, loc, kb, cIdx(b, loc, kn.bk));
  Value cols = arith::MinSIOp::create(
      b, loc, cIdx(b, loc, kn.bk), arith::SubIOp::create(b, loc, kn.sk, k0));
  auto f32 = b.getF32Type();
  auto vecR = VectorType::get({kn.bqPad}, f32);
  auto vecDv = VectorType::get({kn.dv}, kn.elt);
  auto vecDvF = VectorType::get({kn.dv}, f32);
  auto splat = [&](OpBuilder &b, float v) -> Value {
    return arith::ConstantOp::create(b, loc, vecR,
                                     DenseElementsAttr::get(vecR, v));
  };
  float inf = std::numeric_limits<float>::infinity();

  if (kn.amx)
    emitAmxScores(b, kn, bIdx, gIdx, k0, cols, qT, sT);
  // AMX tiles without a mask or score modification keep the unscaled
  // scores in sT: the maximum is taken unscaled and scaled once, and the
  // scale enters the exponent as one FMA (s scale - m) instead of a
  // multiply and a store per score column (scale > 0 keeps the maximum).
  const bool deferScale = kn.amx && !masked && !kn.scoreMod && kn.scale > 0;

  // 1. Scores, column by column, and their maximum per row. Keys go in
  //    groups of kGroup so that every vector load of qT feeds kGroup FMAs
  //    (the group's accumulators stay in registers); the remaining keys one
  //    at a time.
  constexpr int64_t kGroup = 4;
  auto columns = [&](OpBuilder &b, Location loc, Value c, int64_t n,
                     Value maxIn) -> Value {
    SmallVector<Value> kPos, inits;
    for (int64_t j = 0; j < n; ++j) {
      kPos.push_back(arith::AddIOp::create(
          b, loc, k0, arith::AddIOp::create(b, loc, c, cIdx(b, loc, j))));
      inits.push_back(splat(b, 0.0f));
    }
    SmallVector<Value> dotCols;
    if (kn.amx) {
      // Computed above as tile products, unscaled (and left so in sT when
      // the scale is deferred to the exponent).
      Value scaleR = splat(b, static_cast<float>(kn.scale));
      for (int64_t j = 0; j < n; ++j) {
        Value raw = vector::LoadOp::create(
            b, loc, vecR, sT,
            ValueRange{arith::AddIOp::create(b, loc, c, cIdx(b, loc, j)), c0});
        dotCols.push_back(deferScale ? raw
                                     : arith::MulFOp::create(b, loc, raw, scaleR)
                                           .getResult());
      }
    } else if (kn.bf16Dot) {
      // Pairs of dimensions: vdpbf16ps adds q[r][d] k[d] + q[r][d+1] k[d+1]
      // to lane r of 16-row chunks; k's pair is broadcast as one 32-bit
      // word. One instruction per 16 rows and 2 dimensions.
      int64_t chunks = kn.bqPad / 16;
      auto v16 = VectorType::get({16}, f32);
      auto v32bf = VectorType::get({32}, kn.elt);
      auto v16i = VectorType::get({16}, b.getI32Type());
      SmallVector<Value> accInit(n * chunks,
                                 arith::ConstantOp::create(
                                     b, loc, v16, DenseElementsAttr::get(v16, 0.0f)));
      auto loop = scf::ForOp::create(
          b, loc, c0, cIdx(b, loc, kn.d / 2), c1, accInit,
          [&](OpBuilder &b, Location loc, Value dp, ValueRange it) {
            SmallVector<Value> a;
            for (int64_t ch = 0; ch < chunks; ++ch)
              a.push_back(vector::LoadOp::create(
                  b, loc, v32bf, qT, ValueRange{dp, cIdx(b, loc, 32 * ch)}));
            Value d0 = arith::MulIOp::create(b, loc, dp, cIdx(b, loc, 2));
            SmallVector<Value> next;
            for (int64_t j = 0; j < n; ++j) {
              Value pair = vector::LoadOp::create(
                  b, loc, VectorType::get({2}, kn.elt), kn.k,
                  ValueRange{bIdx, gIdx, kPos[j], d0});
              Value word = vector::ExtractOp::create(
                  b, loc,
                  vector::BitCastOp::create(
                      b, loc, VectorType::get({1}, b.getI32Type()), pair),
                  ArrayRef<int64_t>{0});
              Value bv = vector::BitCastOp::create(
                  b, loc, v32bf, vector::BroadcastOp::create(b, loc, v16i, word));
              for (int64_t ch = 0; ch < chunks; ++ch)
                next.push_back(x86vector::DotBF16Op::create(
                    b, loc, it[j * chunks + ch], a[ch], bv));
            }
            scf::YieldOp::create(b, loc, next);
          });
      Value scaleR = splat(b, static_cast<float>(kn.scale));
      for (int64_t j = 0; j < n; ++j) {
        Value col = splat(b, 0.0f);
        for (int64_t ch = 0; ch < chunks; ++ch)
          col = vector::InsertStridedSliceOp::create(
              b, loc, loop.getResult(j * chunks + ch), col,
              ArrayRef<int64_t>{16 * ch}, ArrayRef<int64_t>{1});
        dotCols.push_back(arith::MulFOp::create(b, loc, col, scaleR));
      }
    }
    auto dot = (kn.bf16Dot || kn.amx) ? scf::ForOp() : scf::ForOp::create(
        b, loc, c0, cIdx(b, loc, kn.d), c1, inits,
        [&](OpBuilder &b, Location loc, Value d, ValueRange it) {
          Value qcol =
              vector::LoadOp::create(b, loc, vecR, qT, ValueRange{d, c0});
          SmallVector<Value> next;
          for (int64_t j = 0; j < n; ++j) {
            Value kd = toF32(b, loc, memref::LoadOp::create(
                                         b, loc, kn.k,
                                         ValueRange{bIdx, gIdx, kPos[j], d}));
            next.push_back(vector::FMAOp::create(
                b, loc, qcol, vector::BroadcastOp::create(b, loc, vecR, kd),
                it[j]));
          }
          scf::YieldOp::create(b, loc, next);
        });
    Value mx = maxIn;
    for (int64_t j = 0; j < n; ++j) {
      Value cj = arith::AddIOp::create(b, loc, c, cIdx(b, loc, j));
      Value col = dot ? dot.getResult(j) : dotCols[j];
      if (masked && !kn.scoreMod &&
          isVectorizablePattern(kn.maskPattern())) {
        // The pattern's predicate on vectors of query positions.
        auto idxVec = VectorType::get({kn.bqPad}, b.getIndexType());
        SmallVector<APInt> lanes;
        for (int64_t i = 0; i < kn.bqPad; ++i)
          lanes.push_back(APInt(64, i));
        Value iota = arith::ConstantOp::create(
            b, loc, idxVec, DenseElementsAttr::get(idxVec, lanes));
        PatternCodegenInputs in;
        in.lanes = kn.bqPad;
        in.b = kn.problemPos(b, loc, 0, bIdx);
        in.h = kn.problemPos(b, loc, 1, hIdx);
        in.q = arith::AddIOp::create(
            b, loc,
            vector::BroadcastOp::create(b, loc, idxVec,
                                        kn.problemPos(b, loc, 2, q0)),
            iota);
        in.k = vector::BroadcastOp::create(b, loc, idxVec,
                                           kn.problemPos(b, loc, 3, kPos[j]));
        in.sq = kn.problemSq;
        in.sk = kn.problemSk;
        in.symbolScope = kn.symbolScope;
        FailureOr<Value> allowed =
            buildAllowed(b, loc, kn.maskPattern(), in);
        if (failed(allowed)) // verified by matchAndRewrite
          llvm::report_fatal_error("sparse-attn: vector pattern code "
                                   "generation failed after verifying it");
        col = arith::SelectOp::create(b, loc, *allowed, col, splat(b, -inf));
        vector::StoreOp::create(b, loc, col, sT, ValueRange{cj, c0});
      } else if (masked || kn.scoreMod) {
        vector::StoreOp::create(b, loc, col, sT, ValueRange{cj, c0});
        // Element-wise part: score modification and the pattern's mask.
        scf::ForOp::create(
            b, loc, c0, rows, c1, ValueRange{},
            [&](OpBuilder &b, Location loc, Value r, ValueRange) {
              Value qPos = arith::AddIOp::create(b, loc, q0, r);
              Value s = memref::LoadOp::create(b, loc, sT, ValueRange{cj, r});
              s = modAndMask(b, loc, kn, s, bIdx, hIdx, qPos, kPos[j], masked);
              memref::StoreOp::create(b, loc, s, sT, ValueRange{cj, r});
              scf::YieldOp::create(b, loc);
            });
        col = vector::LoadOp::create(b, loc, vecR, sT, ValueRange{cj, c0});
      } else if (!deferScale) {
        vector::StoreOp::create(b, loc, col, sT, ValueRange{cj, c0});
      }
      mx = arith::MaximumFOp::create(b, loc, mx, col);
    }
    return mx;
  };
  Value grouped = arith::MulIOp::create(
      b, loc,
      arith::DivUIOp::create(b, loc, cols, cIdx(b, loc, kGroup)),
      cIdx(b, loc, kGroup));
  auto groupLoop = scf::ForOp::create(
      b, loc, c0, grouped, cIdx(b, loc, kGroup), ValueRange{splat(b, -inf)},
      [&](OpBuilder &b, Location loc, Value c, ValueRange iter) {
        scf::YieldOp::create(b, loc,
                             ValueRange{columns(b, loc, c, kGroup, iter[0])});
      });
  auto colLoop = scf::ForOp::create(
      b, loc, grouped, cols, c1, ValueRange{groupLoop.getResult(0)},
      [&](OpBuilder &b, Location loc, Value c, ValueRange iter) {
        scf::YieldOp::create(b, loc, ValueRange{columns(b, loc, c, 1, iter[0])});
      });

  // 2. New maxima, rescaling factors, probabilities and sums (vectors over
  //    the rows; 0 stands in for a maximum of -inf so no NaN appears).
  // Partial tiles and score modifications: see step 3.
  const bool markDeadKeys = masked || kn.scoreMod;
  Value mOld = vector::LoadOp::create(b, loc, vecR, mB, ValueRange{c0});
  Value scaleR = splat(b, static_cast<float>(kn.scale));
  Value tileMax = colLoop.getResult(0);
  if (deferScale) // scale > 0: max(scale s) = scale max(s)
    tileMax = arith::MulFOp::create(b, loc, tileMax, scaleR);
  Value mNew = arith::MaximumFOp::create(b, loc, mOld, tileMax);
  Value noneYet = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                        mNew, splat(b, -inf));
  Value mUse = arith::SelectOp::create(b, loc, noneYet, splat(b, 0.0f), mNew);
  Value alpha = softmaxExp(b, loc, arith::SubFOp::create(b, loc, mOld, mUse));
  Value negMUse = arith::NegFOp::create(b, loc, mUse);
  Value lScaled = arith::MulFOp::create(
      b, loc, vector::LoadOp::create(b, loc, vecR, lB, ValueRange{c0}), alpha);
  auto probs = scf::ForOp::create(
      b, loc, c0, cols, c1, ValueRange{lScaled},
      [&](OpBuilder &b, Location loc, Value c, ValueRange iter) {
        Value col = vector::LoadOp::create(b, loc, vecR, sT, ValueRange{c, c0});
        Value arg = deferScale
                        ? math::FmaOp::create(b, loc, col, scaleR, negMUse)
                              .getResult()
                        : arith::SubFOp::create(b, loc, col, mUse).getResult();
        Value p = softmaxExp(b, loc, arg);
        // Keys that do not contribute (forbidden, or a -inf modified score)
        // keep the weight 0, which P V selects out. An attended key's
        // weight is kept at least 2^-126 (the smallest normal float) so
        // that it never underflows to 0 and is multiplied like any other
        // (its NaN / Inf propagates, as in the reference); the change to
        // a row is below 2^-126 relative to its sum l >= 1.
        if (markDeadKeys)
          p = arith::SelectOp::create(
              b, loc,
              arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, col,
                                    splat(b, -inf)),
              splat(b, 0.0f),
              arith::MaximumFOp::create(b, loc, p, splat(b, 0x1p-126f)));
        vector::StoreOp::create(b, loc, p, sT, ValueRange{c, c0});
        scf::YieldOp::create(b, loc,
                             ValueRange{arith::AddFOp::create(b, loc, iter[0], p)});
      });
  vector::StoreOp::create(b, loc, mNew, mB, ValueRange{c0});
  vector::StoreOp::create(b, loc, probs.getResult(0), lB, ValueRange{c0});

  if (kn.amx) {
    emitAmxValues(b, kn, bIdx, gIdx, k0, sT, acc, alpha);
    return;
  }

  // 16-bit values: widen the tile's rows once.
  if (kn.vWide)
    scf::ForOp::create(
        b, loc, c0, cols, c1, ValueRange{},
        [&](OpBuilder &b, Location loc, Value c, ValueRange) {
          Value kPos = arith::AddIOp::create(b, loc, k0, c);
          vector::StoreOp::create(
              b, loc,
              toF32(b, loc, vector::LoadOp::create(
                                b, loc, vecDv, kn.v,
                                ValueRange{bIdx, gIdx, kPos, c0})),
              kn.vWide, ValueRange{c, c0});
          scf::YieldOp::create(b, loc);
        });

  // 3. acc[r] = alpha[r] * acc[r] + sum_c p[c][r] * v[c], several rows at a
  //    time so that every load of a value row feeds several FMAs (as many
  //    rows as keep their accumulators in about 16 of AVX-512's vector
  //    registers: 4 for Dv = 64, 2 for Dv = 128).
  auto rowsUpdate = [&](OpBuilder &b, Location loc, Value r, int64_t n) {
    SmallVector<Value> rs, inits;
    for (int64_t i = 0; i < n; ++i) {
      Value ri = arith::AddIOp::create(b, loc, r, cIdx(b, loc, i));
      rs.push_back(ri);
      Value a = vector::ExtractOp::create(b, loc, alpha, ArrayRef<OpFoldResult>{ri});
      inits.push_back(arith::MulFOp::create(
          b, loc,
          vector::LoadOp::create(b, loc, vecDvF, acc, ValueRange{ri, c0}),
          vector::BroadcastOp::create(b, loc, vecDvF, a)));
    }
    auto pv = scf::ForOp::create(
        b, loc, c0, cols, c1, inits,
        [&](OpBuilder &b, Location loc, Value c, ValueRange it) {
          Value kPos = arith::AddIOp::create(b, loc, k0, c);
          Value vv =
              kn.vWide
                  ? vector::LoadOp::create(b, loc, vecDvF, kn.vWide,
                                           ValueRange{c, c0})
                        .getResult()
                  : toF32(b, loc, vector::LoadOp::create(
                                      b, loc, vecDv, kn.v,
                                      ValueRange{bIdx, gIdx, kPos, c0}));
          // On partial tiles and under a score modification, a key of
          // weight 0 (step 2: forbidden, or a -inf score; attended keys
          // never underflow to 0 there) is selected out rather than
          // multiplied, so a NaN / Inf it holds never reaches the row
          // (0 x NaN = NaN); with a vector condition this is one compare
          // and a masked FMA. Full unmodified tiles are attended by every
          // row and skip it (selecting there cost 1-8 % of dense / causal
          // time: bench/results/cpu-nonfinite-2026-12-02.md).
          SmallVector<Value> next;
          Value zeroDv = arith::ConstantOp::create(
              b, loc, vecDvF, DenseElementsAttr::get(vecDvF, 0.0f));
          for (int64_t i = 0; i < n; ++i) {
            Value p = memref::LoadOp::create(b, loc, sT, ValueRange{c, rs[i]});
            Value pv = vector::BroadcastOp::create(b, loc, vecDvF, p);
            Value fma = vector::FMAOp::create(b, loc, pv, vv, it[i]);
            if (!markDeadKeys) {
              next.push_back(fma);
              continue;
            }
            Value live = arith::CmpFOp::create(
                b, loc, arith::CmpFPredicate::UNE, pv, zeroDv);
            next.push_back(arith::SelectOp::create(b, loc, live, fma, it[i]));
          }
          scf::YieldOp::create(b, loc, next);
        });
    for (int64_t i = 0; i < n; ++i)
      vector::StoreOp::create(b, loc, pv.getResult(i), acc,
                              ValueRange{rs[i], c0});
  };
  const int64_t kRowGroup = std::clamp<int64_t>(256 / kn.dv, 1, 4);
  Value groupedRows = arith::MulIOp::create(
      b, loc, arith::DivUIOp::create(b, loc, rows, cIdx(b, loc, kRowGroup)),
      cIdx(b, loc, kRowGroup));
  scf::ForOp::create(b, loc, c0, groupedRows, cIdx(b, loc, kRowGroup),
                     ValueRange{},
                     [&](OpBuilder &b, Location loc, Value r, ValueRange) {
                       rowsUpdate(b, loc, r, kRowGroup);
                       scf::YieldOp::create(b, loc);
                     });
  scf::ForOp::create(b, loc, groupedRows, rows, c1, ValueRange{},
                     [&](OpBuilder &b, Location loc, Value r, ValueRange) {
                       rowsUpdate(b, loc, r, 1);
                       scf::YieldOp::create(b, loc);
                     });
}

/// Iterates the key blocks listed in [offsets[qb], offsets[qb + 1]).
void emitBlockList(OpBuilder &b, Location loc, Value offsets, Value indices,
                   Value qb, function_ref<void(OpBuilder &, Value)> body) {
  Value c1 = cIdx(b, loc, 1);
  auto toIdx = [&](Value v) {
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  };
  Value start = toIdx(memref::LoadOp::create(b, loc, offsets, ValueRange{qb}));
  Value end = toIdx(memref::LoadOp::create(
      b, loc, offsets, ValueRange{arith::AddIOp::create(b, loc, qb, c1)}));
  scf::ForOp::create(b, loc, start, end, c1, ValueRange{},
                     [&](OpBuilder &b, Location loc, Value e, ValueRange) {
                       Value kb = arith::IndexCastOp::create(
                           b, loc, b.getIndexType(),
                           memref::LoadOp::create(b, loc, indices, ValueRange{e}));
                       body(b, kb);
                       scf::YieldOp::create(b, loc);
                     });
}

/// The key blocks the runtime tables list for query block `qb` of (b, h):
/// each table's list at (b', h', qb) (b' = b unless B' = 1; h' = h, the KV
/// head or 0 for H' = Hq, Hkv, 1), its count clamped to [0, N], indices
/// outside [0, numKBlocks) skipped, each block visited once (a per-query-
/// block bitmap), `body` called per block. Every read is in bounds whatever
/// the tables hold.
void emitRuntimeTables(OpBuilder &b, Location loc, Kernel &kn, Value bIdx,
                       Value hIdx, Value gIdx, Value heads, Value qb,
                       function_ref<void(OpBuilder &, Value)> body) {
  Value c0 = cIdx(b, loc, 0), c1 = cIdx(b, loc, 1);
  auto eq = [&](Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, x, y);
  };
  auto clampTo = [&](Value x, Value size) { // min(x, size - 1)
    return arith::MinUIOp::create(b, loc, x,
                                  arith::SubIOp::create(b, loc, size, c1));
  };
  // visited[kb]: i8, zero for each query block.
  Value visited = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic}, b.getI8Type()),
      ValueRange{kn.numKBlocks});
  Value zero8 = arith::ConstantIntOp::create(b, loc, 0, 8);
  Value one8 = arith::ConstantIntOp::create(b, loc, 1, 8);
  scf::ForOp::create(b, loc, c0, kn.numKBlocks, c1, ValueRange{},
                     [&](OpBuilder &b, Location loc, Value kb, ValueRange) {
                       memref::StoreOp::create(b, loc, zero8, visited,
                                               ValueRange{kb});
                       scf::YieldOp::create(b, loc);
                     });
  for (auto tables : {std::pair(kn.kvNum, kn.kvIdx),
                       std::pair(kn.fullNum, kn.fullIdx)}) {
    // Plain variables: the loop body's lambda captures them.
    Value num = tables.first, idx = tables.second;
    if (!num)
      continue;
    auto dim = [&](Value m, int64_t i) -> Value {
      return memref::DimOp::create(b, loc, m, i);
    };
    Value bp = dim(num, 0), hp = dim(num, 1), mq = dim(num, 2),
          n = dim(idx, 3);
    Value bRow = arith::SelectOp::create(b, loc, eq(bp, c1), c0,
                                         clampTo(bIdx, bp));
    Value hRow = arith::SelectOp::create(
        b, loc, eq(hp, c1), c0,
        arith::SelectOp::create(b, loc, eq(hp, heads), clampTo(hIdx, hp),
                                clampTo(gIdx, hp)));
    Value listed = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                         qb, mq);
    auto inRow = scf::IfOp::create(b, loc, listed, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(inRow.thenBlock());
    Value count = arith::IndexCastOp::create(
        b, loc, b.getIndexType(),
        memref::LoadOp::create(b, loc, num, ValueRange{bRow, hRow, qb}));
    // Clamp to [0, N] (signed: a negative count lists nothing).
    count = arith::MinSIOp::create(
        b, loc, arith::MaxSIOp::create(b, loc, count, c0), n);
    scf::ForOp::create(
        b, loc, c0, count, c1, ValueRange{},
        [&](OpBuilder &b, Location loc, Value e, ValueRange) {
          Value kb = arith::IndexCastOp::create(
              b, loc, b.getIndexType(),
              memref::LoadOp::create(b, loc, idx,
                                     ValueRange{bRow, hRow, qb, e}));
          // Unsigned: a negative index is huge, so out of range too.
          Value inRange = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::ult, kb, kn.numKBlocks);
          auto ok = scf::IfOp::create(b, loc, inRange, /*withElseRegion=*/false);
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(ok.thenBlock());
          Value seen = memref::LoadOp::create(b, loc, visited, ValueRange{kb});
          auto fresh = scf::IfOp::create(
              b, loc, eq(seen, zero8), /*withElseRegion=*/false);
          b.setInsertionPointToStart(fresh.thenBlock());
          memref::StoreOp::create(b, loc, one8, visited, ValueRange{kb});
          body(b, kb);
          b.setInsertionPointAfter(ok);
          scf::YieldOp::create(b, loc);
        });
  }
}

/// Run-time checks of what the verifier cannot see in dynamic table shapes:
/// counts and indices agree on [B', H', Mq], B' is 1 or B, H' is 1, Hkv or
/// Hq. emitRuntimeTables indexes both tensors with the counts' sizes, so a
/// mismatch reaching it would read out of bounds. Nothing is emitted for a
/// fact the verifier already proved from static sizes.
/// A tile (tile_of / at) lies inside its problem: offsets >= 0, h0 + Hq'
/// <= Hq, q0 + Sq' <= Sq, k0 + Sk' <= Sk, and Hq a multiple of Hkv (the
/// verifier checks what is constant; the kernel trusts the rest).
void assertTileInProblem(OpBuilder &b, Location loc, AttentionOp op,
                         Kernel &kn, Value heads) {
  auto sizes = op.getProblemSizes();
  auto offsets = op.getOffsets();
  Value c0 = cIdx(b, loc, 0);
  auto le = [&](Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, x, y);
  };
  auto all = [&](ArrayRef<Value> conds) {
    Value ok = conds.front();
    for (Value c : conds.drop_front())
      ok = arith::AndIOp::create(b, loc, ok, c);
    return ok;
  };
  Value hkv = memref::DimOp::create(b, loc, kn.k, 1);
  // off + tile <= size as tile <= size and off <= size - tile (no
  // wrap-around); Hkv > 0 before it divides (a zero is replaced by 1 in
  // the remainder, the comparison fails).
  auto fits = [&](Value off, Value tile, Value size) {
    return arith::AndIOp::create(
        b, loc, le(tile, size),
        le(off, arith::SubIOp::create(b, loc, size, tile)));
  };
  Value hkvPositive =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, hkv, c0);
  Value safeHkv = arith::SelectOp::create(b, loc, hkvPositive, hkv,
                                          cIdx(b, loc, 1));
  Value ok = all(
      {le(c0, offsets[0]), le(c0, offsets[1]), le(c0, offsets[2]),
       le(c0, offsets[3]), fits(offsets[1], heads, sizes[0]),
       fits(offsets[2], kn.sq, sizes[1]), fits(offsets[3], kn.sk, sizes[2]),
       hkvPositive,
       arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                             arith::RemUIOp::create(b, loc, sizes[0], safeHkv),
                             c0)});
  cf::AssertOp::create(b, loc, ok,
                       "sparse-attn: a tile (tile_of / at) lies outside its "
                       "problem, or the problem's query heads are not a "
                       "multiple of the key/value heads");
}

void assertTableShapes(OpBuilder &b, Location loc, AttentionOp op, Kernel &kn,
                       Value batch, Value heads) {
  auto qT = llvm::cast<RankedTensorType>(op.getQuery().getType());
  auto kT = llvm::cast<RankedTensorType>(op.getKey().getType());
  Value c1 = cIdx(b, loc, 1);
  auto eq = [&](Value x, Value y) -> Value {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, x, y);
  };
  auto any = [&](ArrayRef<Value> cs) {
    Value r = cs.front();
    for (Value c : cs.drop_front())
      r = arith::OrIOp::create(b, loc, r, c);
    return r;
  };
  for (auto [numT, idxT, num, idx, name] :
       {std::tuple(op.getKvNumBlocks(), op.getKvIndices(), kn.kvNum, kn.kvIdx,
                   "block_tables"),
        std::tuple(op.getFullNumBlocks(), op.getFullIndices(), kn.fullNum,
                   kn.fullIdx, "full_tables")}) {
    if (!num)
      continue;
    auto nT = llvm::cast<RankedTensorType>(numT.getType());
    auto iT = llvm::cast<RankedTensorType>(idxT.getType());
    std::string prefix = std::string("sparse_attn.attention: ") + name;
    for (int64_t i = 0; i < 3; ++i)
      if (nT.isDynamicDim(i) || iT.isDynamicDim(i))
        cf::AssertOp::create(
            b, loc,
            eq(memref::DimOp::create(b, loc, num, i),
               memref::DimOp::create(b, loc, idx, i)),
            prefix + " counts and indices disagree on [B', H', Mq]");
    if (nT.isDynamicDim(0) || qT.isDynamicDim(0)) {
      Value bp = memref::DimOp::create(b, loc, num, 0);
      cf::AssertOp::create(b, loc, any({eq(bp, c1), eq(bp, batch)}),
                           prefix + ": B' must be 1 or B");
    }
    if (nT.isDynamicDim(1) || qT.isDynamicDim(1) || kT.isDynamicDim(1)) {
      Value hp = memref::DimOp::create(b, loc, num, 1);
      Value hkv = memref::DimOp::create(b, loc, kn.k, 1);
      cf::AssertOp::create(b, loc,
                           any({eq(hp, c1), eq(hp, heads), eq(hp, hkv)}),
                           prefix + ": H' must be 1, Hkv or Hq");
    }
  }
}

LogicalResult LowerAttention::matchAndRewrite(AttentionOp op,
                                              PatternRewriter &rw) const {
  Location loc = op.getLoc();
  auto qT = llvm::cast<RankedTensorType>(op.getQuery().getType());
  auto kT = llvm::cast<RankedTensorType>(op.getKey().getType());
  auto vT = llvm::cast<RankedTensorType>(op.getValue().getType());
  Kernel kn(op, loc);
  kn.elt = qT.getElementType();
  kn.f32 = rw.getF32Type();
  kn.d = qT.getDimSize(3);
  kn.dv = vT.getDimSize(3);
  if (ShapedType::isDynamic(kn.d) || ShapedType::isDynamic(kn.dv))
    return rw.notifyMatchFailure(op, "dynamic head dimension");
  kn.scale = *op.getEffectiveScale();
  // What the pass checked, for drivers that only add the pattern (the op
  // is left in place; finishAttentionLowering reports it).
  if (failed(verifyMaskCodegen(op)))
    return rw.notifyMatchFailure(op, "no code generation for the pattern");
  auto module = op->getParentOfType<ModuleOp>();
  kn.symbolScope = op;
  if (FlatSymbolRefAttr name = op.getScoreModAttr())
    kn.scoreMod = llvm::dyn_cast_or_null<ScoreModOp>(
        SymbolTable::lookupNearestSymbolFrom(op, name));
  ConstantGlobals tables(module);
  kn.tables = &tables;

  auto bufferOf = [&](Value tensor) -> Value {
    auto t = llvm::cast<RankedTensorType>(tensor.getType());
    return bufferization::ToBufferOp::create(
        rw, loc, MemRefType::get(t.getShape(), t.getElementType()), tensor,
        /*read_only=*/true);
  };
  kn.q = bufferOf(op.getQuery());
  kn.k = bufferOf(op.getKey());
  kn.v = bufferOf(op.getValue());
  if (Value s = op.getQuerySegmentIds())
    kn.qSeg = bufferOf(s);
  if (Value s = op.getKeySegmentIds())
    kn.kSeg = bufferOf(s);
  if (op.hasBlockTables()) {
    kn.kvNum = bufferOf(op.getKvNumBlocks());
    kn.kvIdx = bufferOf(op.getKvIndices());
    if (op.getFullNumBlocks()) {
      kn.fullNum = bufferOf(op.getFullNumBlocks());
      kn.fullIdx = bufferOf(op.getFullIndices());
    }
  }

  auto dim = [&](Value mem, int64_t i) -> Value {
    return memref::DimOp::create(rw, loc, mem, i);
  };
  Value batch = dim(kn.q, 0), heads = dim(kn.q, 1);
  kn.sq = dim(kn.q, 2);
  kn.sk = dim(kn.k, 2);
  std::array<int64_t, 3> problem = op.getProblemShape();
  kn.problemSq = problem[1];
  kn.problemSk = problem[2];
  if (op.isTile()) {
    for (auto [i, v] : llvm::enumerate(op.getOffsets()))
      kn.at[i] = v;
    // The tile must lie inside its problem (checked first: the head map
    // divides by Hkv); query head h0 + h reads key/value head
    // (h0 + h) / (Hq / Hkv) of the problem.
    assertTileInProblem(rw, loc, op, kn, heads);
    Value problemHq = op.getProblemSizes()[0];
    kn.group = arith::DivUIOp::create(rw, loc, problemHq, dim(kn.k, 1));
  } else {
    kn.group = arith::DivUIOp::create(rw, loc, heads, dim(kn.k, 1));
  }

  // Outputs.
  if (op.hasBlockTables())
    assertTableShapes(rw, loc, op, kn, batch, heads);

  auto oT = llvm::cast<RankedTensorType>(op.getOutput().getType());
  SmallVector<Value> oDyn;
  Value dynDims[4] = {batch, heads, kn.sq, nullptr};
  for (int64_t i = 0; i < 3; ++i)
    if (oT.isDynamicDim(i))
      oDyn.push_back(dynDims[i]);
  kn.out = memref::AllocOp::create(
      rw, loc, MemRefType::get(oT.getShape(), oT.getElementType()), oDyn,
      rw.getI64IntegerAttr(64));
  if (Value lse = op.getLse()) {
    auto lT = llvm::cast<RankedTensorType>(lse.getType());
    SmallVector<Value> lDyn;
    for (int64_t i = 0; i < 3; ++i)
      if (lT.isDynamicDim(i))
        lDyn.push_back(dynDims[i]);
    kn.lse = memref::AllocOp::create(
        rw, loc, MemRefType::get(lT.getShape(), rw.getF32Type()), lDyn,
        rw.getI64IntegerAttr(64));
  }

  // Block tables.
  BlockMaskAttr mask = op.getBlockMaskAttr();
  int64_t sqStatic = qT.getDimSize(2), skStatic = kT.getDimSize(2);
  bool staticSeq = !ShapedType::isDynamic(sqStatic) &&
                   !ShapedType::isDynamic(skStatic);
  std::optional<int64_t> tileCount =
      staticSeq ? numTiles(sqStatic, skStatic, options.blockQ, options.blockK)
                : std::nullopt;
  if (!mask && !op.hasBlockTables() && !op.isTile() && tileCount &&
      *tileCount <= kMaxCompileTimeTableTiles) {
    MaskInterpreter masks(op);
    PatternContext ctx(sqStatic, skStatic);
    ctx.customMasks = &masks;
    SmallVector<FlatSymbolRefAttr> custom;
    op.getPattern().collectCustomMasks(custom);
    bool perHead = llvm::any_of(custom, [&](FlatSymbolRefAttr m) {
      return masks.usesBatchOrHead(m);
    });
    if (!perHead) {
      mask = toBlockMaskAttr(rw.getContext(),
                             classifyBlocks(op.getPattern(), ctx,
                                            options.blockQ, options.blockK));
      if (masks.hadError())
        return failure();
    }
  }
  if (mask) {
    kn.bq = mask.getBlockQ();
    kn.bk = mask.getBlockK();
    kn.partialOffsets = tables.getI32(rw, loc, mask.getPartialOffsets(), "__sparse_attn_partial_offsets");
    kn.partialIndices = tables.getI32(rw, loc, mask.getPartialIndices(), "__sparse_attn_partial_indices");
    kn.fullOffsets = tables.getI32(rw, loc, mask.getFullOffsets(), "__sparse_attn_full_offsets");
    kn.fullIndices = tables.getI32(rw, loc, mask.getFullIndices(), "__sparse_attn_full_indices");
  } else if (op.hasBlockTables()) {
    // The kernel's tiles are the tables' blocks.
    kn.bq = op.getTableBlock()->front();
    kn.bk = op.getTableBlock()->back();
  } else {
    kn.bq = options.blockQ;
    kn.bk = options.blockK;
  }
  // A tile larger than a static sequence is that sequence (same partition:
  // one block); it bounds the scratch buffers. With a dynamic length the
  // tile size is used as given.
  if (!ShapedType::isDynamic(sqStatic) && kn.bq > sqStatic)
    kn.bq = std::max<int64_t>(sqStatic, 1);
  if (!ShapedType::isDynamic(skStatic) && kn.bk > skStatic)
    kn.bk = std::max<int64_t>(skStatic, 1);
  kn.bqPad = (kn.bq + 15) / 16 * 16;
  kn.amx = options.amx && kn.elt.isBF16() && kn.d % 32 == 0 &&
           kn.dv % 16 == 0 && kn.bk % 32 == 0;
  kn.bf16Dot =
      !kn.amx && options.bf16Dot && kn.elt.isBF16() && kn.d % 2 == 0;
  // Both keep the query block in bf16 pairs of dimensions.
  bool qPairs = kn.amx || kn.bf16Dot;
  Value bqV = cIdx(rw, loc, kn.bq), bkV = cIdx(rw, loc, kn.bk);
  Value c0 = cIdx(rw, loc, 0), c1 = cIdx(rw, loc, 1);
  Value numQBlocks = arith::CeilDivUIOp::create(rw, loc, kn.sq, bqV);
  kn.numKBlocks = arith::CeilDivUIOp::create(rw, loc, kn.sk, bkV);

  if (kn.amx) {
    // Linux hands out the AMX register state on request only (the first
    // tile instruction of a process that did not ask dies of SIGILL).
    auto i32 = rw.getI32Type(), i64 = rw.getI64Type();
    auto prctlType = rw.getFunctionType({i32, i64}, {i32});
    if (!module.lookupSymbol<func::FuncOp>("arch_prctl")) {
      OpBuilder::InsertionGuard guard(rw);
      rw.setInsertionPointToStart(module.getBody());
      func::FuncOp::create(rw, loc, "arch_prctl", prctlType).setPrivate();
    }
    constexpr int64_t kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    Value granted = func::CallOp::create(
                        rw, loc, "arch_prctl", TypeRange{i32},
                        ValueRange{arith::ConstantIntOp::create(
                                       rw, loc, i32, kArchReqXcompPerm),
                                   arith::ConstantIntOp::create(
                                       rw, loc, i64, kXfeatureXtiledata)})
                        .getResult(0);
    cf::AssertOp::create(
        rw, loc,
        arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq, granted,
                              arith::ConstantIntOp::create(rw, loc, i32, 0)),
        "sparse-attn: this kernel was compiled for AMX, but the operating "
        "system did not grant the AMX tile state (arch_prctl)");

    // V^T, once per call: vT[b][g][n][k] = v[b][g][k][n] (0 for k >= Sk),
    // built from pairs of keys interleaved (one 32-bit word per value
    // column) and 16 x 16 transposes of those words.
    Value hkv = dim(kn.k, 1);
    Value skPad = arith::MulIOp::create(rw, loc, kn.numKBlocks, bkV);
    kn.vT = memref::AllocOp::create(
        rw, loc,
        MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic, kn.dv,
                         ShapedType::kDynamic},
                        kn.elt),
        ValueRange{batch, hkv, skPad}, rw.getI64IntegerAttr(64));
    scf::ParallelOp::create(
        rw, loc, ValueRange{c0, c0, c0}, ValueRange{batch, hkv, kn.numKBlocks},
        ValueRange{c1, c1, c1},
        [&](OpBuilder &b, Location loc, ValueRange ivs) {
          Value k0 = arith::MulIOp::create(b, loc, ivs[2], bkV);
          auto v16h = VectorType::get({16}, kn.elt);
          auto v16i = VectorType::get({16}, b.getI32Type());
          auto v32h = VectorType::get({32}, kn.elt);
          Value zero16 = arith::ConstantOp::create(
              b, loc, v16h, DenseElementsAttr::get(v16h, b.getZeroAttr(kn.elt)));
          Value lastKey = arith::SubIOp::create(b, loc, kn.sk, c1);
          auto row = [&](OpBuilder &b, Value key, Value n0) -> Value {
            Value inside = arith::CmpIOp::create(
                b, loc, arith::CmpIPredicate::slt, key, kn.sk);
            Value r = vector::LoadOp::create(
                b, loc, v16h, kn.v,
                ValueRange{ivs[0], ivs[1],
                           arith::MinSIOp::create(b, loc, key, lastKey), n0});
            return arith::SelectOp::create(b, loc, inside, r, zero16);
          };
          scf::ForOp::create(
              b, loc, c0, bkV, cIdx(b, loc, 32), ValueRange{},
              [&](OpBuilder &b, Location loc, Value kc, ValueRange) {
                Value key0 = arith::AddIOp::create(b, loc, k0, kc);
                scf::ForOp::create(
                    b, loc, c0, cIdx(b, loc, kn.dv), cIdx(b, loc, 16),
                    ValueRange{},
                    [&](OpBuilder &b, Location loc, Value n0, ValueRange) {
                      SmallVector<Value> words;
                      for (int64_t p = 0; p < 16; ++p) {
                        Value k = arith::AddIOp::create(b, loc, key0,
                                                        cIdx(b, loc, 2 * p));
                        Value k1 = arith::AddIOp::create(b, loc, k, c1);
                        words.push_back(vector::BitCastOp::create(
                            b, loc, v16i,
                            vector::InterleaveOp::create(b, loc, row(b, k, n0),
                                                         row(b, k1, n0))));
                      }
                      SmallVector<Value> t = transpose16(b, loc, words);
                      for (int64_t j = 0; j < 16; ++j)
                        vector::StoreOp::create(
                            b, loc, vector::BitCastOp::create(b, loc, v32h, t[j]),
                            kn.vT,
                            ValueRange{ivs[0], ivs[1],
                                       arith::AddIOp::create(b, loc, n0,
                                                             cIdx(b, loc, j)),
                                       key0});
                      scf::YieldOp::create(b, loc);
                    });
                scf::YieldOp::create(b, loc);
              });
          scf::ReduceOp::create(b, loc);
        });
  }

  // One parallel iteration per (batch, head, query block). Its accumulators
  // and row of scores are allocated inside the iteration (so iterations may
  // run on different threads); buffer-deallocation frees them at its end.
  scf::ParallelOp::create(
      rw, loc, ValueRange{c0, c0, c0}, ValueRange{batch, heads, numQBlocks},
      ValueRange{c1, c1, c1},
      [&](OpBuilder &b, Location loc, ValueRange ivs) {
        auto scratch = [&](ArrayRef<int64_t> shape) -> Value {
          return memref::AllocOp::create(
              b, loc, MemRefType::get(shape, b.getF32Type()), ValueRange{},
              b.getI64IntegerAttr(64));
        };
        Value acc = scratch({kn.bqPad, kn.dv});
        // AMX accumulates O^T; acc receives its transpose at the end.
        Value accT = kn.amx ? scratch({kn.dv, kn.bqPad}) : Value();
        if (kn.amx) {
          kn.kTail = memref::AllocOp::create(
              b, loc, MemRefType::get({kn.bk, kn.d}, kn.elt), ValueRange{},
              b.getI64IntegerAttr(64));
          kn.pB = memref::AllocOp::create(
              b, loc, MemRefType::get({kn.bk / 2, 2 * kn.bqPad}, kn.elt),
              ValueRange{}, b.getI64IntegerAttr(64));
        }
        Value mB = scratch({kn.bqPad});
        Value lB = scratch({kn.bqPad});
        Value qT = qPairs
                       ? memref::AllocOp::create(
                             b, loc,
                             MemRefType::get({kn.d / 2, 2 * kn.bqPad}, kn.elt),
                             ValueRange{}, b.getI64IntegerAttr(64))
                             .getResult()
                       : scratch({kn.d, kn.bqPad});
        Value sT = scratch({kn.bk, kn.bqPad});
        kn.vWide = kn.elt.isF32() || kn.amx ? Value() : scratch({kn.bk, kn.dv});
        Value bIdx = ivs[0], hIdx = ivs[1], qb = ivs[2];
        Value gIdx = arith::DivUIOp::create(
            b, loc, kn.problemPos(b, loc, 1, hIdx), kn.group);
        Value q0 = arith::MulIOp::create(b, loc, qb, bqV);
        Value rows = arith::MinSIOp::create(
            b, loc, bqV, arith::SubIOp::create(b, loc, kn.sq, q0));
        auto f32 = b.getF32Type();
        Value negInf = cF32(b, loc, -std::numeric_limits<float>::infinity());
        Value zero = cF32(b, loc, 0.0f);
        auto vecDvF = VectorType::get({kn.dv}, f32);
        Value zeroVec = arith::ConstantOp::create(
            b, loc, vecDvF, DenseElementsAttr::get(vecDvF, 0.0f));
        auto vecR = VectorType::get({kn.bqPad}, f32);
        vector::StoreOp::create(
            b, loc,
            arith::ConstantOp::create(
                b, loc, vecR,
                DenseElementsAttr::get(
                    vecR, -std::numeric_limits<float>::infinity())),
            mB, ValueRange{c0});
        Value zeroR = arith::ConstantOp::create(
            b, loc, vecR, DenseElementsAttr::get(vecR, 0.0f));
        vector::StoreOp::create(b, loc, zeroR, lB, ValueRange{c0});
        if (kn.amx)
          scf::ForOp::create(
              b, loc, c0, cIdx(b, loc, kn.dv), c1, ValueRange{},
              [&](OpBuilder &b, Location loc, Value n, ValueRange) {
                vector::StoreOp::create(b, loc, zeroR, accT, ValueRange{n, c0});
                scf::YieldOp::create(b, loc);
              });
        else
          scf::ForOp::create(
              b, loc, c0, cIdx(b, loc, kn.bqPad), c1, ValueRange{},
              [&](OpBuilder &b, Location loc, Value r, ValueRange) {
                vector::StoreOp::create(b, loc, zeroVec, acc, ValueRange{r, c0});
                scf::YieldOp::create(b, loc);
              });
        // bf16 dot products and AMX: the query block as pairs of
        // dimensions, qT[d / 2][2 r + d % 2] = q[r][d] (bf16, unscaled; rows
        // past the end of the sequence 0): a transpose of the block viewed
        // as 32-bit words, in 16 x 16 register blocks when D % 32 == 0.
        if (qPairs) {
          auto vecPair = VectorType::get({2 * kn.bqPad}, kn.elt);
          Value zeroBf = arith::ConstantOp::create(
              b, loc, vecPair,
              DenseElementsAttr::get(
                  vecPair, APFloat::getZero(APFloat::BFloat())));
          scf::ForOp::create(
              b, loc, c0, cIdx(b, loc, kn.d / 2), c1, ValueRange{},
              [&](OpBuilder &b, Location loc, Value dp, ValueRange) {
                vector::StoreOp::create(b, loc, zeroBf, qT, ValueRange{dp, c0});
                scf::YieldOp::create(b, loc);
              });
          if (kn.d % 32 == 0) {
            auto v32h = VectorType::get({32}, kn.elt);
            auto v16i = VectorType::get({16}, b.getI32Type());
            Value zero32 = arith::ConstantOp::create(
                b, loc, v32h, DenseElementsAttr::get(v32h, b.getZeroAttr(kn.elt)));
            Value lastRow = arith::SubIOp::create(b, loc, rows, c1);
            scf::ForOp::create(
                b, loc, c0, rows, cIdx(b, loc, 16), ValueRange{},
                [&](OpBuilder &b, Location loc, Value r0, ValueRange) {
                  Value r2 = arith::MulIOp::create(b, loc, r0, cIdx(b, loc, 2));
                  for (int64_t jb = 0; jb < kn.d / 32; ++jb) {
                    SmallVector<Value> words;
                    for (int64_t i = 0; i < 16; ++i) {
                      Value r = arith::AddIOp::create(b, loc, r0, cIdx(b, loc, i));
                      Value inside = arith::CmpIOp::create(
                          b, loc, arith::CmpIPredicate::slt, r, rows);
                      Value qPos = arith::AddIOp::create(
                          b, loc, q0, arith::MinSIOp::create(b, loc, r, lastRow));
                      Value v = vector::LoadOp::create(
                          b, loc, v32h, kn.q,
                          ValueRange{bIdx, hIdx, qPos, cIdx(b, loc, 32 * jb)});
                      v = arith::SelectOp::create(b, loc, inside, v, zero32);
                      words.push_back(vector::BitCastOp::create(b, loc, v16i, v));
                    }
                    SmallVector<Value> t = transpose16(b, loc, words);
                    for (int64_t j = 0; j < 16; ++j)
                      vector::StoreOp::create(
                          b, loc, vector::BitCastOp::create(b, loc, v32h, t[j]),
                          qT, ValueRange{cIdx(b, loc, 16 * jb + j), r2});
                  }
                  scf::YieldOp::create(b, loc);
                });
          } else {
            scf::ForOp::create(
                b, loc, c0, rows, c1, ValueRange{},
                [&](OpBuilder &b, Location loc, Value r, ValueRange) {
                  Value qPos = arith::AddIOp::create(b, loc, q0, r);
                  Value r2 = arith::MulIOp::create(b, loc, r, cIdx(b, loc, 2));
                  scf::ForOp::create(
                      b, loc, c0, cIdx(b, loc, kn.d / 2), c1, ValueRange{},
                      [&](OpBuilder &b, Location loc, Value dp, ValueRange) {
                        Value d0 =
                            arith::MulIOp::create(b, loc, dp, cIdx(b, loc, 2));
                        Value pair = vector::LoadOp::create(
                            b, loc, VectorType::get({2}, kn.elt), kn.q,
                            ValueRange{bIdx, hIdx, qPos, d0});
                        vector::StoreOp::create(b, loc, pair, qT,
                                                ValueRange{dp, r2});
                        scf::YieldOp::create(b, loc);
                      });
                  scf::YieldOp::create(b, loc);
                });
          }
        }
        // The query block, transposed, widened to f32 and scaled: qT[d][r].
        // Rows past the end of the sequence stay 0.
        if (!qPairs) {
        scf::ForOp::create(b, loc, c0, cIdx(b, loc, kn.d), c1, ValueRange{},
                           [&](OpBuilder &b, Location loc, Value d, ValueRange) {
                             vector::StoreOp::create(b, loc, zeroR, qT,
                                                     ValueRange{d, c0});
                             scf::YieldOp::create(b, loc);
                           });
        if (kn.d % 16 == 0) {
          // 16 x 16 blocks: 16 rows of 16 dimensions loaded as vectors,
          // transposed in registers (vector.transpose, lowered to 16 x 16
          // shuffles), stored as 16 columns of 16 rows: 16 vector stores
          // per 256 elements instead of 256 scalar ones. Rows past the end
          // of the sequence read the last row and are zeroed.
          auto v16 = VectorType::get({16}, f32);
          auto v16e = VectorType::get({16}, kn.elt);
          Value scale16 = vector::BroadcastOp::create(
              b, loc, v16, cF32(b, loc, static_cast<float>(kn.scale)));
          Value zero16 = arith::ConstantOp::create(
              b, loc, v16, DenseElementsAttr::get(v16, 0.0f));
          Value lastRow = arith::SubIOp::create(b, loc, rows, c1);
          scf::ForOp::create(
              b, loc, c0, rows, cIdx(b, loc, 16), ValueRange{},
              [&](OpBuilder &b, Location loc, Value r0, ValueRange) {
                for (int64_t db = 0; db < kn.d / 16; ++db) {
                  SmallVector<Value> rowsV;
                  for (int64_t i = 0; i < 16; ++i) {
                    Value r = arith::AddIOp::create(b, loc, r0, cIdx(b, loc, i));
                    Value inside = arith::CmpIOp::create(
                        b, loc, arith::CmpIPredicate::slt, r, rows);
                    Value rc = arith::MinSIOp::create(b, loc, r, lastRow);
                    Value qPos = arith::AddIOp::create(b, loc, q0, rc);
                    Value v = arith::MulFOp::create(
                        b, loc,
                        toF32(b, loc,
                              vector::LoadOp::create(
                                  b, loc, v16e, kn.q,
                                  ValueRange{bIdx, hIdx, qPos,
                                             cIdx(b, loc, 16 * db)})),
                        scale16);
                    rowsV.push_back(
                        arith::SelectOp::create(b, loc, inside, v, zero16));
                  }
                  SmallVector<Value> t = transpose16(b, loc, rowsV);
                  for (int64_t j = 0; j < 16; ++j)
                    vector::StoreOp::create(
                        b, loc, t[j], qT,
                        ValueRange{cIdx(b, loc, 16 * db + j), r0});
                }
                scf::YieldOp::create(b, loc);
              });
        } else {
        auto vecD = VectorType::get({kn.d}, kn.elt);
        auto vecDF = VectorType::get({kn.d}, f32);
        Value scaleV = vector::BroadcastOp::create(
            b, loc, vecDF, cF32(b, loc, static_cast<float>(kn.scale)));
        scf::ForOp::create(
            b, loc, c0, rows, c1, ValueRange{},
            [&](OpBuilder &b, Location loc, Value r, ValueRange) {
              Value qPos = arith::AddIOp::create(b, loc, q0, r);
              Value qrow = arith::MulFOp::create(
                  b, loc,
                  toF32(b, loc, vector::LoadOp::create(
                                    b, loc, vecD, kn.q,
                                    ValueRange{bIdx, hIdx, qPos, c0})),
                  scaleV);
              scf::ForOp::create(
                  b, loc, c0, cIdx(b, loc, kn.d), c1, ValueRange{},
                  [&](OpBuilder &b, Location loc, Value d, ValueRange) {
                    Value x = vector::ExtractOp::create(
                        b, loc, qrow, ArrayRef<OpFoldResult>{d});
                    memref::StoreOp::create(b, loc, x, qT, ValueRange{d, r});
                    scf::YieldOp::create(b, loc);
                  });
              scf::YieldOp::create(b, loc);
            });
        }
        }
        // Document masks: the min / max segment id of the block's rows,
        // and a partial tile is skipped when its keys' id range is disjoint
        // (the pattern implies "same segment", so such a tile is empty).
        bool segmentSkip = kn.qSeg && impliesSameSegment(op.getPattern());
        Value qMin, qMax;
        auto idRange = [&](OpBuilder &b, Value mem, Value lo, Value count)
            -> std::pair<Value, Value> {
          auto i64 = b.getI64Type();
          Value big = arith::ConstantIntOp::create(
              b, loc, i64, std::numeric_limits<int64_t>::max());
          Value small = arith::ConstantIntOp::create(
              b, loc, i64, std::numeric_limits<int64_t>::min());
          auto loop = scf::ForOp::create(
              b, loc, c0, count, c1, ValueRange{big, small},
              [&](OpBuilder &b, Location loc, Value i, ValueRange it) {
                Value id = memref::LoadOp::create(
                    b, loc, mem,
                    ValueRange{bIdx, arith::AddIOp::create(b, loc, lo, i)});
                if (id.getType() != i64)
                  id = arith::ExtSIOp::create(b, loc, i64, id);
                scf::YieldOp::create(
                    b, loc,
                    ValueRange{arith::MinSIOp::create(b, loc, it[0], id),
                               arith::MaxSIOp::create(b, loc, it[1], id)});
              });
          return {loop.getResult(0), loop.getResult(1)};
        };
        if (segmentSkip)
          std::tie(qMin, qMax) = idRange(b, kn.qSeg, q0, rows);
        auto tile = [&](bool masked) {
          return [&, masked](OpBuilder &b, Value kb) {
            if (!masked || !segmentSkip) {
              emitTile(b, kn, bIdx, hIdx, gIdx, q0, rows, kb, masked, qT, sT,
                       kn.amx ? accT : acc, mB, lB);
              return;
            }
            Value k0 = arith::MulIOp::create(b, loc, kb, cIdx(b, loc, kn.bk));
            Value cols = arith::MinSIOp::create(
                b, loc, cIdx(b, loc, kn.bk),
                arith::SubIOp::create(b, loc, kn.sk, k0));
            auto [kMin, kMax] = idRange(b, kn.kSeg, k0, cols);
            Value overlap = arith::AndIOp::create(
                b, loc,
                arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, kMin,
                                      qMax),
                arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, kMax,
                                      qMin));
            // One segment for the whole tile: the mask without the segment
            // test (for causal documents, the vectorised causal mask).
            auto eq = [&](Value x, Value y) {
              return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, x,
                                           y);
            };
            Value oneSegment = arith::AndIOp::create(
                b, loc, arith::AndIOp::create(b, loc, eq(qMin, qMax),
                                              eq(kMin, kMax)),
                eq(qMin, kMin));
            auto ifOp = scf::IfOp::create(b, loc, overlap, /*else=*/false);
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPointToStart(ifOp.thenBlock());
            auto inner = scf::IfOp::create(b, loc, oneSegment,
                                           /*withElseRegion=*/true);
            b.setInsertionPointToStart(inner.thenBlock());
            kn.maskOverride = withoutSegments(op.getPattern());
            emitTile(b, kn, bIdx, hIdx, gIdx, q0, rows, kb, masked, qT, sT,
                     kn.amx ? accT : acc, mB, lB);
            kn.maskOverride = Attribute();
            b.setInsertionPointToStart(inner.elseBlock());
            emitTile(b, kn, bIdx, hIdx, gIdx, q0, rows, kb, masked, qT, sT,
                     kn.amx ? accT : acc, mB, lB);
          };
        };
        if (kn.fullOffsets) {
          emitBlockList(b, loc, kn.fullOffsets, kn.fullIndices, qb, tile(false));
          emitBlockList(b, loc, kn.partialOffsets, kn.partialIndices, qb,
                        tile(true));
        } else {
          // No compile-time table: key block kb classified here by the
          // pattern's generated classifier (work per tile): empty tiles
          // are skipped, full ones skip the element mask.
          auto classified = [&](OpBuilder &b, Value kb) {
            Value k0 = arith::MulIOp::create(b, loc, kb, bkV);
            // In the problem's positions (a tile's offsets added).
            TileBounds bounds{
                kn.problemPos(b, loc, 2, q0),
                kn.problemPos(b, loc, 2,
                              arith::AddIOp::create(b, loc, q0, rows)),
                kn.problemPos(b, loc, 3, k0),
                kn.problemPos(
                    b, loc, 3,
                    arith::MinUIOp::create(
                        b, loc, arith::AddIOp::create(b, loc, k0, bkV),
                        kn.sk))};
            FailureOr<TileKindValues> kind =
                buildTileKind(b, loc, op.getPattern(), bounds);
            if (failed(kind)) // verified by matchAndRewrite
              llvm::report_fatal_error("sparse-attn: tile classifier "
                                       "failed after verifying it");
            auto full = scf::IfOp::create(b, loc, kind->full,
                                          /*withElseRegion=*/true);
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPointToStart(full.thenBlock());
            tile(false)(b, kb);
            b.setInsertionPointToStart(full.elseBlock());
            Value live = arith::XOrIOp::create(
                b, loc, kind->empty, arith::ConstantIntOp::create(b, loc, 1, 1));
            auto partial =
                scf::IfOp::create(b, loc, live, /*withElseRegion=*/false);
            b.setInsertionPointToStart(partial.thenBlock());
            tile(true)(b, kb);
          };
          if (kn.kvNum) {
            emitRuntimeTables(b, loc, kn, bIdx, hIdx, gIdx, heads, qb,
                              classified);
          } else {
            // Dynamic lengths, or more tiles than a table should hold:
            // every key block.
            scf::ForOp::create(
                b, loc, c0, kn.numKBlocks, c1, ValueRange{},
                [&](OpBuilder &b, Location loc, Value kb, ValueRange) {
                  classified(b, kb);
                  scf::YieldOp::create(b, loc);
                });
          }
        }
        // AMX: acc = accT^T, in 16 x 16 register blocks.
        if (kn.amx) {
          // A loop over 16-row blocks (all 16 x 16 blocks unrolled made the
          // module 2-3x slower to compile; a loop over both block indices
          // made window-256 kernels 25 % slower, measured).
          auto v16 = VectorType::get({16}, f32);
          scf::ForOp::create(
              b, loc, c0, cIdx(b, loc, kn.bqPad), cIdx(b, loc, 16), ValueRange{},
              [&](OpBuilder &b, Location loc, Value r0, ValueRange) {
                for (int64_t nb = 0; nb < kn.dv / 16; ++nb) {
                  SmallVector<Value> lanes;
                  for (int64_t i = 0; i < 16; ++i)
                    lanes.push_back(vector::LoadOp::create(
                        b, loc, v16, accT,
                        ValueRange{cIdx(b, loc, 16 * nb + i), r0}));
                  SmallVector<Value> t = transpose16(b, loc, lanes);
                  for (int64_t j = 0; j < 16; ++j)
                    vector::StoreOp::create(
                        b, loc, t[j], acc,
                        ValueRange{arith::AddIOp::create(b, loc, r0,
                                                         cIdx(b, loc, j)),
                                   cIdx(b, loc, 16 * nb)});
                }
                scf::YieldOp::create(b, loc);
              });
        }
        // Normalise and write back.
        auto vecDvOut = VectorType::get({kn.dv}, kn.elt);
        scf::ForOp::create(
            b, loc, c0, rows, c1, ValueRange{},
            [&](OpBuilder &b, Location loc, Value r, ValueRange) {
              Value l = memref::LoadOp::create(b, loc, lB, r);
              Value m = memref::LoadOp::create(b, loc, mB, r);
              // l == 0: no allowed key (0, LSE -inf); NaN scores propagate.
              Value none = arith::CmpFOp::create(
                  b, loc, arith::CmpFPredicate::OEQ, l, zero);
              Value inv = arith::SelectOp::create(
                  b, loc, none, zero,
                  arith::DivFOp::create(b, loc, cF32(b, loc, 1.0f), l));
              Value row = vector::LoadOp::create(b, loc, vecDvF, acc,
                                                 ValueRange{r, c0});
              // Rows with no allowed key are exactly 0, whatever the
              // accumulator holds (tile products may have mixed in
              // non-finite values of keys the row does not attend).
              row = arith::SelectOp::create(
                  b, loc, none,
                  arith::ConstantOp::create(
                      b, loc, vecDvF, DenseElementsAttr::get(vecDvF, 0.0f)),
                  arith::MulFOp::create(
                      b, loc, row,
                      vector::BroadcastOp::create(b, loc, vecDvF, inv)));
              if (!kn.elt.isF32())
                row = arith::TruncFOp::create(b, loc, vecDvOut, row);
              Value qPos = arith::AddIOp::create(b, loc, q0, r);
              vector::StoreOp::create(b, loc, row, kn.out,
                                      ValueRange{bIdx, hIdx, qPos, c0});
              if (kn.lse) {
                Value lse = arith::SelectOp::create(
                    b, loc, none, negInf,
                    arith::AddFOp::create(b, loc, m,
                                          math::LogOp::create(b, loc, l)));
                memref::StoreOp::create(b, loc, lse, kn.lse,
                                        ValueRange{bIdx, hIdx, qPos});
              }
              scf::YieldOp::create(b, loc);
            });
        scf::ReduceOp::create(b, loc);
      });

  SmallVector<Value> results;
  results.push_back(bufferization::ToTensorOp::create(
      rw, loc, oT, kn.out, /*restrict=*/true, /*writable=*/true));
  if (kn.lse)
    results.push_back(bufferization::ToTensorOp::create(
        rw, loc, op.getLse().getType(), kn.lse, /*restrict=*/true,
        /*writable=*/true));
  rw.replaceOp(op, results);
  return success();
}

/// Largest head dimension (D and Dv) of the fused CPU kernel.
constexpr int64_t kMaxHeadDim = 1024;

struct ConvertSparseAttnToLoopsPass
    : sparse_attn::impl::ConvertSparseAttnToLoopsBase<
          ConvertSparseAttnToLoopsPass> {
  using ConvertSparseAttnToLoopsBase::ConvertSparseAttnToLoopsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (blockQ <= 0 || blockK <= 0 || blockQ > 65536 || blockK > 65536) {
      module.emitError("convert-sparse-attn-to-loops: block-q and block-k "
                       "must be between 1 and 65536");
      return signalPassFailure();
    }
    // Diagnose what the lowering cannot handle before rewriting anything.
    bool ok = true;
    module.walk([&](AttentionOp op) {
      auto qT = llvm::cast<RankedTensorType>(op.getQuery().getType());
      auto vT = llvm::cast<RankedTensorType>(op.getValue().getType());
      if (qT.isDynamicDim(3) || vT.isDynamicDim(3)) {
        op.emitOpError("the fused CPU lowering needs static head dimensions "
                       "D and Dv");
        ok = false;
      } else if (qT.getDimSize(3) > kMaxHeadDim ||
                 vT.getDimSize(3) > kMaxHeadDim) {
        // The kernel keeps vectors of D and Dv lanes and unrolls over them:
        // code size and compile time grow linearly with no use past this.
        op.emitOpError("the fused CPU lowering supports head dimensions D "
                       "and Dv up to ")
            << kMaxHeadDim << ", got D = " << qT.getDimSize(3)
            << ", Dv = " << vT.getDimSize(3);
        ok = false;
      }
      // The predicates must build (every pattern brings its own code
      // generation; one without it is refused here, never computed
      // unmasked).
      if (failed(verifyMaskCodegen(op)))
        ok = false;
    });
    if (!ok)
      return signalPassFailure();
    RewritePatternSet patterns(&getContext());
    populateSparseAttnToLoopsPatterns(patterns,
                                      {blockQ, blockK, bf16Dot, amx});
    if (failed(applyPatternsGreedily(module, std::move(patterns))))
      return signalPassFailure();
    if (failed(finishAttentionLowering(module, "loops")))
      signalPassFailure();
  }
};
} // namespace

void mlir::sparse_attn::populateSparseAttnToLoopsPatterns(
    RewritePatternSet &patterns, const SparseAttnToLoopsOptions &options) {
  patterns.add<LowerAttention>(patterns.getContext(), options);
}
