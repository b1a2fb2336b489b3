//===- TileBody.cpp - the fused kernel's per-tile step (FMA / bf16-dot / AMX)
//---===//
//
// Part of the fused CPU kernel (CPUKernel.h).
//
//===----------------------------------------------------------------------===//

#include "CPUKernel.h"

using namespace mlir;
using namespace mlir::sparse_attn;

namespace mlir {
namespace sparse_attn {
namespace cpu {

/// score_mod (if any) and, on partial tiles, the pattern's predicate applied
/// to one scaled score `s` of (qPos, kPos).
Value modAndMask(OpBuilder &b, Location loc, Kernel &kn, Value s, Value bIdx,
                 Value hIdx, Value qPos, Value kPos, bool masked) {
  // The problem's positions (the same values unless the op is a tile).
  bIdx = kn.problemPos(b, loc, 0, bIdx);
  hIdx = kn.problemPos(b, loc, 1, hIdx);
  qPos = kn.problemPos(b, loc, 2, qPos);
  kPos = kn.problemPos(b, loc, 3, kPos);
  Value sqV = kn.problemLength(b, loc, 0), skV = kn.problemLength(b, loc, 1);
  if (kn.scoreMod) {
    FailureOr<Value> m = inlineScoreMod(b, loc, kn.scoreMod, s, bIdx, hIdx,
                                        qPos, kPos, sqV, skV);
    // The op verifier refuses regions that read unknown lengths.
    if (failed(m))
      llvm::report_fatal_error("sparse-attn: score_mod inlining failed "
                               "after verification");
    s = *m;
  }
  if (!masked)
    return s;
  PatternCodegenInputs in;
  in.b = bIdx;
  in.h = hIdx;
  in.q = qPos;
  in.k = kPos;
  in.sq = kn.problemSq;
  in.sk = kn.problemSk;
  in.sqValue = sqV;
  in.skValue = skV;
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
  if (kn.at[0] && kn.qSeg) { // a tile
    in.querySegment = querySegment;
    in.keySegment = keySegment;
  }
  auto load = [&](OpBuilder &b, Location loc, DenseIntElementsAttr t, Value i,
                  Value j) {
    return kn.tables->loadBoolTableEntry(b, loc, t, i, j);
  };
  in.loadTable = load;
  FailureOr<Value> allowed = buildAllowed(b, loc, kn.maskPattern(), in);
  // matchAndRewrite verified this predicate before it built anything.
  if (failed(allowed))
    llvm::report_fatal_error("sparse-attn: pattern code generation failed "
                             "after verifying it");
  Value negInf = cF32(b, loc, -std::numeric_limits<float>::infinity());
  return arith::SelectOp::create(b, loc, *allowed, s, negInf);
}

/// The score modification and, on a partial tile, the pattern's mask
/// applied to `col`, the scaled scores of key `kPos` for the rows of the
/// query block at `q0` (a vector over its padded rows), stored to
/// sT[cj]: on vectors when both have a vector form, else element by
/// element through sT. Returns the modified column.
Value modAndMaskColumn(OpBuilder &b, Kernel &kn, Value col, Value bIdx,
                       Value hIdx, Value q0, Value rows, Value kPos, Value cj,
                       Value sT, bool masked) {
  Location loc = kn.loc;
  Value c0 = cIdx(b, loc, 0), c1 = cIdx(b, loc, 1);
  auto vecR = VectorType::get({kn.bqPad}, b.getF32Type());
  auto splat = [&](OpBuilder &b, float v) -> Value {
    return arith::ConstantOp::create(b, loc, vecR,
                                     DenseElementsAttr::get(vecR, v));
  };
  float inf = std::numeric_limits<float>::infinity();
  bool vectorMask = !masked || isVectorizablePattern(kn.maskPattern());
  bool vectorMod = !kn.scoreMod || kn.scoreModOnVectors;
  if ((masked || kn.scoreMod) && vectorMask && vectorMod) {
    auto idxVec = VectorType::get({kn.bqPad}, b.getIndexType());
    SmallVector<APInt> lanes;
    for (int64_t i = 0; i < kn.bqPad; ++i)
      lanes.push_back(APInt(64, i));
    Value iota = arith::ConstantOp::create(
        b, loc, idxVec, DenseElementsAttr::get(idxVec, lanes));
    Value bPos = kn.problemPos(b, loc, 0, bIdx);
    Value hPos = kn.problemPos(b, loc, 1, hIdx);
    Value qVec = arith::AddIOp::create(
        b, loc,
        vector::BroadcastOp::create(b, loc, idxVec,
                                    kn.problemPos(b, loc, 2, q0)),
        iota);
    Value kProblem = kn.problemPos(b, loc, 3, kPos);
    Value sqV = kn.problemLength(b, loc, 0);
    Value skV = kn.problemLength(b, loc, 1);
    if (kn.scoreMod) {
      FailureOr<Value> m = inlineScoreModOnVectors(
          b, loc, kn.scoreMod, col, bPos, hPos, qVec, kProblem, sqV, skV,
          kn.bqPad);
      if (failed(m)) // isVectorizableRegion and the verifier checked it
        llvm::report_fatal_error("sparse-attn: vector score_mod failed "
                                 "after checking it");
      col = *m;
    }
    if (masked) {
      PatternCodegenInputs in;
      in.lanes = kn.bqPad;
      in.b = bPos;
      in.h = hPos;
      in.q = qVec;
      in.k = vector::BroadcastOp::create(b, loc, idxVec, kProblem);
      in.sq = kn.problemSq;
      in.sk = kn.problemSk;
      in.sqValue = sqV;
      in.skValue = skV;
      in.symbolScope = kn.symbolScope;
      FailureOr<Value> allowed =
          buildAllowed(b, loc, kn.maskPattern(), in);
      if (failed(allowed)) // verified by matchAndRewrite
        llvm::report_fatal_error("sparse-attn: vector pattern code "
                                 "generation failed after verifying it");
      col = arith::SelectOp::create(b, loc, *allowed, col, splat(b, -inf));
    }
    vector::StoreOp::create(b, loc, col, sT, ValueRange{cj, c0});
  } else if (masked || kn.scoreMod) {
    vector::StoreOp::create(b, loc, col, sT, ValueRange{cj, c0});
    // Element-wise part: score modification and the pattern's mask.
    scf::ForOp::create(
        b, loc, c0, rows, c1, ValueRange{},
        [&](OpBuilder &b, Location loc, Value r, ValueRange) {
          Value qPos = arith::AddIOp::create(b, loc, q0, r);
          Value s = memref::LoadOp::create(b, loc, sT, ValueRange{cj, r});
          s = modAndMask(b, loc, kn, s, bIdx, hIdx, qPos, kPos, masked);
          memref::StoreOp::create(b, loc, s, sT, ValueRange{cj, r});
          scf::YieldOp::create(b, loc);
        });
    col = vector::LoadOp::create(b, loc, vecR, sT, ValueRange{cj, c0});
  }
  return col;
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
  Value cols = arith::MinSIOp::create(b, loc, cIdx(b, loc, kn.bk),
                                      arith::SubIOp::create(b, loc, kn.sk, k0));
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
        dotCols.push_back(
            deferScale
                ? raw
                : arith::MulFOp::create(b, loc, raw, scaleR).getResult());
      }
    } else if (kn.bf16Dot) {
      // Pairs of dimensions: vdpbf16ps adds q[r][d] k[d] + q[r][d+1] k[d+1]
      // to lane r of 16-row chunks; k's pair is broadcast as one 32-bit
      // word. One instruction per 16 rows and 2 dimensions.
      int64_t chunks = kn.bqPad / 16;
      auto v16 = VectorType::get({16}, f32);
      auto v32bf = VectorType::get({32}, kn.elt);
      auto v16i = VectorType::get({16}, b.getI32Type());
      SmallVector<Value> accInit(
          n * chunks, arith::ConstantOp::create(
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
                  b, loc, v32bf,
                  vector::BroadcastOp::create(b, loc, v16i, word));
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
    auto dot =
        (kn.bf16Dot || kn.amx)
            ? scf::ForOp()
            : scf::ForOp::create(
                  b, loc, c0, cIdx(b, loc, kn.d), c1, inits,
                  [&](OpBuilder &b, Location loc, Value d, ValueRange it) {
                    Value qcol = vector::LoadOp::create(b, loc, vecR, qT,
                                                        ValueRange{d, c0});
                    SmallVector<Value> next;
                    for (int64_t j = 0; j < n; ++j) {
                      Value kd = toF32(b, loc,
                                       memref::LoadOp::create(
                                           b, loc, kn.k,
                                           ValueRange{bIdx, gIdx, kPos[j], d}));
                      next.push_back(vector::FMAOp::create(
                          b, loc, qcol,
                          vector::BroadcastOp::create(b, loc, vecR, kd),
                          it[j]));
                    }
                    scf::YieldOp::create(b, loc, next);
                  });
    Value mx = maxIn;
    for (int64_t j = 0; j < n; ++j) {
      Value cj = arith::AddIOp::create(b, loc, c, cIdx(b, loc, j));
      Value col = dot ? dot.getResult(j) : dotCols[j];
      // Score modification and mask on vectors over the rows, when both
      // have a vector form; else element by element below.
      if (masked || kn.scoreMod)
        col = modAndMaskColumn(b, kn, col, bIdx, hIdx, q0, rows, kPos[j],
                               cj, sT, masked);
      else if (!deferScale)
        vector::StoreOp::create(b, loc, col, sT, ValueRange{cj, c0});
      mx = arith::MaximumFOp::create(b, loc, mx, col);
    }
    return mx;
  };
  Value grouped = arith::MulIOp::create(
      b, loc, arith::DivUIOp::create(b, loc, cols, cIdx(b, loc, kGroup)),
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
        scf::YieldOp::create(b, loc,
                             ValueRange{columns(b, loc, c, 1, iter[0])});
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
  Value noneYet = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, mNew,
                                        splat(b, -inf));
  Value mUse = arith::SelectOp::create(b, loc, noneYet, splat(b, 0.0f), mNew);
  Value alpha = softmaxExp(b, loc, arith::SubFOp::create(b, loc, mOld, mUse));
  Value negMUse = arith::NegFOp::create(b, loc, mUse);
  Value lScaled = arith::MulFOp::create(
      b, loc, vector::LoadOp::create(b, loc, vecR, lB, ValueRange{c0}), alpha);
  auto probs = scf::ForOp::create(
      b, loc, c0, cols, c1, ValueRange{lScaled},
      [&](OpBuilder &b, Location loc, Value c, ValueRange iter) {
        Value col = vector::LoadOp::create(b, loc, vecR, sT, ValueRange{c, c0});
        Value arg =
            deferScale
                ? math::FmaOp::create(b, loc, col, scaleR, negMUse).getResult()
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
        scf::YieldOp::create(
            b, loc, ValueRange{arith::AddFOp::create(b, loc, iter[0], p)});
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
              toF32(b, loc,
                    vector::LoadOp::create(b, loc, vecDv, kn.v,
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
      Value a =
          vector::ExtractOp::create(b, loc, alpha, ArrayRef<OpFoldResult>{ri});
      inits.push_back(arith::MulFOp::create(
          b, loc,
          vector::LoadOp::create(b, loc, vecDvF, acc, ValueRange{ri, c0}),
          vector::BroadcastOp::create(b, loc, vecDvF, a)));
    }
    auto pv = scf::ForOp::create(
        b, loc, c0, cols, c1, inits,
        [&](OpBuilder &b, Location loc, Value c, ValueRange it) {
          Value kPos = arith::AddIOp::create(b, loc, k0, c);
          Value vv = kn.vWide ? vector::LoadOp::create(b, loc, vecDvF, kn.vWide,
                                                       ValueRange{c, c0})
                                    .getResult()
                              : toF32(b, loc,
                                      vector::LoadOp::create(
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

} // namespace cpu
} // namespace sparse_attn
} // namespace mlir
