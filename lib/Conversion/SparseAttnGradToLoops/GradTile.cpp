//===- GradTile.cpp - the backward's per-tile work --------------------------===//
//
// Part of the CPU backward (GradKernel.h). Vectors run over the R padded
// rows of a query block, as in the forward: a key's column of scores is D
// FMAs of the transposed, scaled query block with the key's elements
// broadcast, and dP's column the same with dO^T and the value row.
//
//===----------------------------------------------------------------------===//

#include "GradKernel.h"

using namespace mlir;
using namespace mlir::sparse_attn;

namespace mlir {
namespace sparse_attn {
namespace cpu {

static Value allocF32(OpBuilder &b, Location loc, ArrayRef<int64_t> shape) {
  return memref::AllocOp::create(b, loc, MemRefType::get(shape, b.getF32Type()),
                                 ValueRange{}, b.getI64IntegerAttr(64));
}

static Value splatR(OpBuilder &b, Location loc, int64_t r, float v) {
  auto t = VectorType::get({r}, b.getF32Type());
  return arith::ConstantOp::create(b, loc, t, DenseElementsAttr::get(t, v));
}

/// for (i = lo; i < hi; ++i) body(i).
static void forRange(OpBuilder &b, Location loc, Value lo, Value hi,
                     function_ref<void(OpBuilder &, Value)> body) {
  scf::ForOp::create(b, loc, lo, hi, cIdx(b, loc, 1), ValueRange{},
                     [&](OpBuilder &b, Location loc, Value i, ValueRange) {
                       body(b, i);
                       scf::YieldOp::create(b, loc);
                     });
}

/// The least and greatest id (i64) of ids[b, lo .. lo + count).
static std::pair<Value, Value> segmentRange(OpBuilder &b, Kernel &kn, Value ids,
                                            Value bIdx, Value lo, Value count) {
  Location loc = kn.loc;
  auto i64 = b.getI64Type();
  Value big = arith::ConstantIntOp::create(
      b, loc, i64, std::numeric_limits<int64_t>::max());
  Value small = arith::ConstantIntOp::create(
      b, loc, i64, std::numeric_limits<int64_t>::min());
  auto loop = scf::ForOp::create(
      b, loc, cIdx(b, loc, 0), count, cIdx(b, loc, 1), ValueRange{big, small},
      [&](OpBuilder &b, Location loc, Value i, ValueRange it) {
        Value id = memref::LoadOp::create(
            b, loc, ids, ValueRange{bIdx, arith::AddIOp::create(b, loc, lo, i)});
        if (id.getType() != i64)
          id = arith::ExtSIOp::create(b, loc, i64, id);
        scf::YieldOp::create(b, loc,
                             ValueRange{arith::MinSIOp::create(b, loc, it[0], id),
                                        arith::MaxSIOp::create(b, loc, it[1], id)});
      });
  return {loop.getResult(0), loop.getResult(1)};
}

/// The first key of key block `kb` and its number of keys (the last block
/// may be short).
static std::pair<Value, Value> keyBlock(OpBuilder &b, Kernel &kn, Value kb) {
  Location loc = kn.loc;
  Value k0 = arith::MulIOp::create(b, loc, kb, cIdx(b, loc, kn.bk));
  Value cols = arith::MinSIOp::create(b, loc, cIdx(b, loc, kn.bk),
                                      arith::SubIOp::create(b, loc, kn.sk, k0));
  return {k0, cols};
}

QueryBlock allocQueryBlock(OpBuilder &b, GradKernel &g) {
  Kernel &kn = g.kn;
  Location loc = kn.loc;
  QueryBlock q;
  q.qT = allocF32(b, loc, {kn.d, kn.bqPad});
  q.qW = allocF32(b, loc, {kn.bqPad, kn.d});
  q.doT = allocF32(b, loc, {kn.dv, kn.bqPad});
  q.doW = allocF32(b, loc, {kn.bqPad, kn.dv});
  q.lseR = allocF32(b, loc, {kn.bqPad});
  q.deltaR = allocF32(b, loc, {kn.bqPad});
  return q;
}

void loadQueryBlock(OpBuilder &b, GradKernel &g, QueryBlock &q, Value bIdx,
                    Value hIdx, Value qb) {
  Kernel &kn = g.kn;
  Location loc = kn.loc;
  Value c0 = cIdx(b, loc, 0);
  q.bIdx = bIdx;
  q.hIdx = hIdx;
  q.gIdx = arith::DivUIOp::create(b, loc, hIdx, kn.group);
  q.qb = qb;
  Value bqV = cIdx(b, loc, kn.bq);
  q.q0 = arith::MulIOp::create(b, loc, qb, bqV);
  q.rows = arith::MinSIOp::create(b, loc, bqV,
                                  arith::SubIOp::create(b, loc, kn.sq, q.q0));
  auto f32 = b.getF32Type();
  // Rows past the sequence: zero operands, LSE = +inf (so P = exp(-inf) =
  // 0 whatever the score), Delta = 0.
  Value zeroR = splatR(b, loc, kn.bqPad, 0.0f);
  // Transposes in 16 x 16 register blocks where the width is a multiple of
  // 16 (from the row-major copy, rows past the sequence zeroed), element
  // by element otherwise (into a zeroed buffer).
  bool blockT[2] = {kn.d % 16 == 0, kn.dv % 16 == 0};
  for (auto [bufT, n, blocked] : {std::tuple(q.qT, kn.d, blockT[0]),
                                  std::tuple(q.doT, kn.dv, blockT[1])}) {
    Value buf = bufT; // a plain variable: the lambda captures it
    if (!blocked)
      forRange(b, loc, c0, cIdx(b, loc, n), [&](OpBuilder &b, Value i) {
        vector::StoreOp::create(b, loc, zeroR, buf, ValueRange{i, c0});
      });
  }
  for (auto [bufW, n] : {std::pair(q.qW, kn.d), std::pair(q.doW, kn.dv)}) {
    Value buf = bufW;
    auto vt = VectorType::get({n}, f32);
    Value zero = arith::ConstantOp::create(b, loc, vt,
                                           DenseElementsAttr::get(vt, 0.0f));
    forRange(b, loc, q.rows, cIdx(b, loc, kn.bqPad), [&](OpBuilder &b, Value r) {
      vector::StoreOp::create(b, loc, zero, buf, ValueRange{r, c0});
    });
  }
  vector::StoreOp::create(
      b, loc, splatR(b, loc, kn.bqPad, std::numeric_limits<float>::infinity()),
      q.lseR, ValueRange{c0});
  vector::StoreOp::create(b, loc, zeroR, q.deltaR, ValueRange{c0});
  auto vecD = VectorType::get({kn.d}, f32);
  Value scaleD = vector::BroadcastOp::create(
      b, loc, vecD, cF32(b, loc, static_cast<float>(kn.scale)));
  forRange(b, loc, c0, q.rows, [&](OpBuilder &b, Value r) {
    Value pos = arith::AddIOp::create(b, loc, q.q0, r);
    auto row = [&](Value mem, int64_t n) {
      return toF32(b, loc,
                   vector::LoadOp::create(
                       b, loc, VectorType::get({n}, kn.elt), mem,
                       ValueRange{bIdx, hIdx, pos, c0}));
    };
    Value qRow = arith::MulFOp::create(b, loc, row(kn.q, kn.d), scaleD);
    Value doRow = row(g.dO, kn.dv);
    Value oRow = row(g.o, kn.dv);
    vector::StoreOp::create(b, loc, qRow, q.qW, ValueRange{r, c0});
    vector::StoreOp::create(b, loc, doRow, q.doW, ValueRange{r, c0});
    for (auto [rowV, n, dst, blocked] :
         {std::tuple(qRow, kn.d, q.qT, blockT[0]),
          std::tuple(doRow, kn.dv, q.doT, blockT[1])})
      for (int64_t i = 0; !blocked && i < n; ++i)
        memref::StoreOp::create(
            b, loc, vector::ExtractOp::create(b, loc, rowV, ArrayRef<int64_t>{i}),
            dst, ValueRange{cIdx(b, loc, i), r});
    Value delta = vector::ReductionOp::create(
        b, loc, vector::CombiningKind::ADD,
        arith::MulFOp::create(b, loc, doRow, oRow));
    memref::StoreOp::create(b, loc, delta, q.deltaR, ValueRange{r});
    memref::StoreOp::create(
        b, loc,
        memref::LoadOp::create(b, loc, g.lse, ValueRange{bIdx, hIdx, pos}),
        q.lseR, ValueRange{r});
  });
  auto v16 = VectorType::get({16}, f32);
  for (auto [src, dst, n, blocked] :
       {std::tuple(q.qW, q.qT, kn.d, blockT[0]),
        std::tuple(q.doW, q.doT, kn.dv, blockT[1])}) {
    if (!blocked)
      continue;
    Value srcV = src, dstV = dst;
    int64_t width = n;
    scf::ForOp::create(
        b, loc, c0, cIdx(b, loc, kn.bqPad), cIdx(b, loc, 16), ValueRange{},
        [&](OpBuilder &b, Location loc, Value r0, ValueRange) {
          for (int64_t d0 = 0; d0 < width; d0 += 16) {
            SmallVector<Value> rowsV;
            for (int64_t i = 0; i < 16; ++i)
              rowsV.push_back(vector::LoadOp::create(
                  b, loc, v16, srcV,
                  ValueRange{arith::AddIOp::create(b, loc, r0, cIdx(b, loc, i)),
                             cIdx(b, loc, d0)}));
            SmallVector<Value> t = transpose16(b, loc, rowsV);
            for (int64_t j = 0; j < 16; ++j)
              vector::StoreOp::create(b, loc, t[j], dstV,
                                      ValueRange{cIdx(b, loc, d0 + j), r0});
          }
          scf::YieldOp::create(b, loc);
        });
  }
}

void guardSegments(OpBuilder &b, GradKernel &g, Value bIdx, Value qb,
                   Value kb, bool masked, function_ref<void(OpBuilder &)> body) {
  Kernel &kn = g.kn;
  if (!masked || !kn.qSeg || !impliesSameSegment(kn.pattern)) {
    body(b);
    return;
  }
  Location loc = kn.loc;
  Value bqV = cIdx(b, loc, kn.bq), bkV = cIdx(b, loc, kn.bk);
  Value q0 = arith::MulIOp::create(b, loc, qb, bqV);
  Value rows = arith::MinSIOp::create(b, loc, bqV,
                                      arith::SubIOp::create(b, loc, kn.sq, q0));
  Value k0 = arith::MulIOp::create(b, loc, kb, bkV);
  Value cols = arith::MinSIOp::create(b, loc, bkV,
                                      arith::SubIOp::create(b, loc, kn.sk, k0));
  // Before the query block is loaded: a tile skipped costs the two ranges.
  auto [qMin, qMax] = segmentRange(b, kn, kn.qSeg, bIdx, q0, rows);
  auto [kMin, kMax] = segmentRange(b, kn, kn.kSeg, bIdx, k0, cols);
  struct {
    Value qMin, qMax;
  } q{qMin, qMax};
  auto cmp = [&](arith::CmpIPredicate p, Value x, Value y) -> Value {
    return arith::CmpIOp::create(b, loc, p, x, y);
  };
  Value overlap = arith::AndIOp::create(
      b, loc, cmp(arith::CmpIPredicate::sle, kMin, q.qMax),
      cmp(arith::CmpIPredicate::sge, kMax, q.qMin));
  Value oneSegment = arith::AndIOp::create(
      b, loc,
      arith::AndIOp::create(b, loc, cmp(arith::CmpIPredicate::eq, q.qMin, q.qMax),
                            cmp(arith::CmpIPredicate::eq, kMin, kMax)),
      cmp(arith::CmpIPredicate::eq, q.qMin, kMin));
  auto ifOp = scf::IfOp::create(b, loc, overlap, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifOp.thenBlock());
  auto inner = scf::IfOp::create(b, loc, oneSegment, /*withElseRegion=*/true);
  b.setInsertionPointToStart(inner.thenBlock());
  kn.maskOverride = withoutSegments(kn.pattern);
  body(b);
  kn.maskOverride = Attribute();
  b.setInsertionPointToStart(inner.elseBlock());
  body(b);
}

/// Columns over the rows for a group of keys: col_j = sum_i aT[i][:] *
/// x_j[i] over i < n, x_j[i] = toF32(mem[b, g, keys[j], i]) (scores with
/// qT and k, dP with dO^T and v). Each load of aT[i] feeds one FMA per key.
static SmallVector<Value> columnDots(OpBuilder &b, Kernel &kn, Value aT,
                                     int64_t n, Value mem, Value bIdx,
                                     Value gIdx, ArrayRef<Value> keys) {
  Location loc = kn.loc;
  auto vecR = VectorType::get({kn.bqPad}, b.getF32Type());
  Value c0 = cIdx(b, loc, 0);
  SmallVector<Value> inits(keys.size(), splatR(b, loc, kn.bqPad, 0.0f));
  auto loop = scf::ForOp::create(
      b, loc, c0, cIdx(b, loc, n), cIdx(b, loc, 1), inits,
      [&](OpBuilder &b, Location loc, Value i, ValueRange it) {
        Value a = vector::LoadOp::create(b, loc, vecR, aT, ValueRange{i, c0});
        SmallVector<Value> next;
        for (auto [j, key] : llvm::enumerate(keys)) {
          Value x = toF32(b, loc,
                          memref::LoadOp::create(b, loc, mem,
                                                 ValueRange{bIdx, gIdx, key, i}));
          next.push_back(vector::FMAOp::create(
              b, loc, a, vector::BroadcastOp::create(b, loc, vecR, x), it[j]));
        }
        scf::YieldOp::create(b, loc, next);
      });
  return SmallVector<Value>(loop.getResults());
}

void emitGradTile(OpBuilder &b, GradKernel &g, QueryBlock &q, Value kb,
                  bool masked, Value pT, Value dsT, Value dmodT) {
  Kernel &kn = g.kn;
  Location loc = kn.loc;
  Value c0 = cIdx(b, loc, 0);
  Value k0, cols;
  std::tie(k0, cols) = keyBlock(b, kn, kb);
  auto vecR = VectorType::get({kn.bqPad}, b.getF32Type());
  float inf = std::numeric_limits<float>::infinity();
  // Keys c .. c + n - 1: their columns of P and dS.
  auto keys = [&](OpBuilder &b, Value c, int64_t n) {
    SmallVector<Value> cs, kPos;
    for (int64_t j = 0; j < n; ++j) {
      cs.push_back(arith::AddIOp::create(b, loc, c, cIdx(b, loc, j)));
      kPos.push_back(arith::AddIOp::create(b, loc, k0, cs.back()));
    }
    // t = scale q . k (the scale is in qT); dP = dO . v.
    SmallVector<Value> ts =
        columnDots(b, kn, q.qT, kn.d, kn.k, q.bIdx, q.gIdx, kPos);
    SmallVector<Value> dps =
        columnDots(b, kn, q.doT, kn.dv, kn.v, q.bIdx, q.gIdx, kPos);
    Value lse = vector::LoadOp::create(b, loc, vecR, q.lseR, ValueRange{c0});
    Value delta =
        vector::LoadOp::create(b, loc, vecR, q.deltaR, ValueRange{c0});
    Value zero = splatR(b, loc, kn.bqPad, 0.0f);
    for (int64_t j = 0; j < n; ++j) {
      // score_mod'(t), then s = score_mod(t) masked (-inf where forbidden).
      Value dmod;
      if (g.scoreModGrad) {
        ScoreModOp mod = kn.scoreMod;
        bool onVectors = kn.scoreModOnVectors;
        kn.scoreMod = g.scoreModGrad;
        kn.scoreModOnVectors = g.scoreModGradOnVectors;
        dmod = modAndMaskColumn(b, kn, ts[j], q.bIdx, q.hIdx, q.q0, q.rows,
                                kPos[j], cs[j], dmodT, /*masked=*/false);
        kn.scoreMod = mod;
        kn.scoreModOnVectors = onVectors;
      }
      Value s = ts[j];
      if (masked || kn.scoreMod)
        s = modAndMaskColumn(b, kn, ts[j], q.bIdx, q.hIdx, q.q0, q.rows,
                             kPos[j], cs[j], pT, masked);
      // Pairs that do not contribute (forbidden, a -inf modified score)
      // get P = dS = 0, selected rather than multiplied so that a NaN or
      // Inf in their key or value row never reaches a gradient.
      Value dead = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, s,
                                         splatR(b, loc, kn.bqPad, -inf));
      Value p = arith::SelectOp::create(
          b, loc, dead, zero,
          softmaxExp(b, loc, arith::SubFOp::create(b, loc, s, lse)));
      Value ds = arith::MulFOp::create(
          b, loc, p, arith::SubFOp::create(b, loc, dps[j], delta));
      if (dmod)
        ds = arith::MulFOp::create(b, loc, ds, dmod);
      ds = arith::SelectOp::create(b, loc, dead, zero, ds);
      vector::StoreOp::create(b, loc, p, pT, ValueRange{cs[j], c0});
      vector::StoreOp::create(b, loc, ds, dsT, ValueRange{cs[j], c0});
    }
  };
  constexpr int64_t kGroup = 4;
  Value grouped = arith::MulIOp::create(
      b, loc, arith::DivUIOp::create(b, loc, cols, cIdx(b, loc, kGroup)),
      cIdx(b, loc, kGroup));
  scf::ForOp::create(b, loc, c0, grouped, cIdx(b, loc, kGroup), ValueRange{},
                     [&](OpBuilder &b, Location loc, Value c, ValueRange) {
                       keys(b, c, kGroup);
                       scf::YieldOp::create(b, loc);
                     });
  forRange(b, loc, grouped, cols,
           [&](OpBuilder &b, Value c) { keys(b, c, 1); });
}

/// acc[i] += sum_j w[i][j] * rows[j] for i in [0, count), j in
/// [0, inner): `w` read as wT[i][j] (a column of weights per i), rows
/// f32 vectors of n lanes from `rowOf(j)`. Groups of `group` outputs share
/// each row load. `skipZero`: a weight of 0 (a pair that does not
/// contribute) leaves the sum as is rather than adding 0 x row, so that a
/// NaN or Inf in the row of a pair that is not attended stays out.
static void accumulateRows(OpBuilder &b, Location loc, Value count,
                           Value inner, int64_t n, Value acc, bool skipZero,
                           function_ref<Value(OpBuilder &, Value, Value)> weight,
                           function_ref<Value(OpBuilder &, Value)> rowOf) {
  auto vecN = VectorType::get({n}, b.getF32Type());
  Value c0 = cIdx(b, loc, 0);
  const int64_t group = std::clamp<int64_t>(256 / n, 1, 4);
  auto update = [&](OpBuilder &b, Value i0, int64_t m) {
    SmallVector<Value> is, inits;
    for (int64_t k = 0; k < m; ++k) {
      Value i = arith::AddIOp::create(b, loc, i0, cIdx(b, loc, k));
      is.push_back(i);
      inits.push_back(vector::LoadOp::create(b, loc, vecN, acc, ValueRange{i, c0}));
    }
    auto loop = scf::ForOp::create(
        b, loc, c0, inner, cIdx(b, loc, 1), inits,
        [&](OpBuilder &b, Location loc, Value j, ValueRange it) {
          Value row = rowOf(b, j);
          SmallVector<Value> next;
          Value zero;
          if (skipZero)
            zero = arith::ConstantOp::create(b, loc, vecN,
                                             DenseElementsAttr::get(vecN, 0.0f));
          for (int64_t k = 0; k < m; ++k) {
            Value w =
                vector::BroadcastOp::create(b, loc, vecN, weight(b, is[k], j));
            Value fma = vector::FMAOp::create(b, loc, w, row, it[k]);
            if (skipZero) // a pair that does not contribute: selected out
              fma = arith::SelectOp::create(
                  b, loc,
                  arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, w,
                                        zero),
                  fma, it[k]);
            next.push_back(fma);
          }
          scf::YieldOp::create(b, loc, next);
        });
    for (int64_t k = 0; k < m; ++k)
      vector::StoreOp::create(b, loc, loop.getResult(k), acc,
                              ValueRange{is[k], c0});
  };
  Value grouped = arith::MulIOp::create(
      b, loc, arith::DivUIOp::create(b, loc, count, cIdx(b, loc, group)),
      cIdx(b, loc, group));
  scf::ForOp::create(b, loc, c0, grouped, cIdx(b, loc, group), ValueRange{},
                     [&](OpBuilder &b, Location loc, Value i, ValueRange) {
                       update(b, i, group);
                       scf::YieldOp::create(b, loc);
                     });
  forRange(b, loc, grouped, count,
           [&](OpBuilder &b, Value i) { update(b, i, 1); });
}

void accumulateKeyGrads(OpBuilder &b, GradKernel &g, QueryBlock &q, Value kb,
                        bool masked, Value pT, Value dsT, Value dkAcc,
                        Value dvAcc) {
  // Only partial tiles and score modifications have pairs that do not
  // contribute (weight 0 by selection).
  bool skipZero = masked || g.kn.scoreMod;
  Kernel &kn = g.kn;
  Location loc = kn.loc;
  Value k0, cols;
  std::tie(k0, cols) = keyBlock(b, kn, kb);
  Value c0 = cIdx(b, loc, 0);
  auto vecDv = VectorType::get({kn.dv}, b.getF32Type());
  auto vecD = VectorType::get({kn.d}, b.getF32Type());
  // dV[c] += sum_r P[c][r] dO[r]
  accumulateRows(
      b, loc, cols, q.rows, kn.dv, dvAcc, skipZero,
      [&](OpBuilder &b, Value c, Value r) -> Value {
        return memref::LoadOp::create(b, loc, pT, ValueRange{c, r});
      },
      [&](OpBuilder &b, Value r) -> Value {
        return vector::LoadOp::create(b, loc, vecDv, q.doW, ValueRange{r, c0});
      });
  // dK[c] += sum_r dS[c][r] (scale q[r])
  accumulateRows(
      b, loc, cols, q.rows, kn.d, dkAcc, skipZero,
      [&](OpBuilder &b, Value c, Value r) -> Value {
        return memref::LoadOp::create(b, loc, dsT, ValueRange{c, r});
      },
      [&](OpBuilder &b, Value r) -> Value {
        return vector::LoadOp::create(b, loc, vecD, q.qW, ValueRange{r, c0});
      });
}

void accumulateQueryGrads(OpBuilder &b, GradKernel &g, QueryBlock &q, Value kb,
                          bool masked, Value dsT, Value dqAcc) {
  bool skipZero = masked || g.kn.scoreMod;
  Kernel &kn = g.kn;
  Location loc = kn.loc;
  Value k0, cols;
  std::tie(k0, cols) = keyBlock(b, kn, kb);
  Value c0 = cIdx(b, loc, 0);
  auto vecDe = VectorType::get({kn.d}, kn.elt);
  // dQ[r] += sum_c dS[c][r] k[c]
  accumulateRows(
      b, loc, q.rows, cols, kn.d, dqAcc, skipZero,
      [&](OpBuilder &b, Value r, Value c) -> Value {
        return memref::LoadOp::create(b, loc, dsT, ValueRange{c, r});
      },
      [&](OpBuilder &b, Value c) -> Value {
        return toF32(b, loc,
                     vector::LoadOp::create(
                         b, loc, vecDe, kn.k,
                         ValueRange{q.bIdx, q.gIdx,
                                    arith::AddIOp::create(b, loc, k0, c), c0}));
      });
}

} // namespace cpu
} // namespace sparse_attn
} // namespace mlir
