//===- Primitives.cpp - CPU target primitives: constants, exp, transposes, AMX
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
    return arith::ExtFOp::create(b, loc, VectorType::get(vt.getShape(), f32),
                                 v);
  }
  return v.getType().isF32() ? v : arith::ExtFOp::create(b, loc, f32, v);
}

/// exp(x) for the softmax, where x = s - max <= 0, -inf (masked or no
/// maximum yet) or NaN (NaN scores): 2^n * p(f) with t = x log2(e),
/// n = roundeven(t), f = t - n in [-1/2, 1/2] and p a degree-5 fit of 2^f
/// (relative error 1.8e-7 in f32 evaluation, exactly 1 at 0), 2^n built in the
/// exponent bits. x is first raised to -88.03 (t = -127, so 2^n is the bit
/// pattern 0 and the result exactly 0: exp(-inf) = 0); the raise is a compare
/// and select that keeps NaN, which then propagates through p. 12 vector
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
        b, loc, vi,
        DenseElementsAttr::get(vi, b.getI32IntegerAttr(v).getValue()));
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

/// The transpose of 16 vectors of 16 lanes (vector.transpose, lowered to
/// shuffles): result j holds lane j of every input.
SmallVector<Value> transpose16(OpBuilder &b, Location loc,
                               ArrayRef<Value> rows) {
  Type et = llvm::cast<VectorType>(rows.front().getType()).getElementType();
  auto m16 = VectorType::get({16, 16}, et);
  Value m = arith::ConstantOp::create(
      b, loc, m16, DenseElementsAttr::get(m16, b.getZeroAttr(et)));
  for (int64_t i = 0; i < 16; ++i)
    m = vector::InsertOp::create(b, loc, rows[i], m, ArrayRef<int64_t>{i});
  Value mt = vector::TransposeOp::create(b, loc, m, ArrayRef<int64_t>{1, 0});
  SmallVector<Value> cols;
  for (int64_t j = 0; j < 16; ++j)
    cols.push_back(vector::ExtractOp::create(b, loc, mt, ArrayRef<int64_t>{j}));
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
  scf::ForOp::create(b, loc, c0, cIdx(b, loc, kn.dv), c1, ValueRange{},
                     [&](OpBuilder &b, Location loc, Value n, ValueRange) {
                       Value row = vector::LoadOp::create(b, loc, vecR, accT,
                                                          ValueRange{n, c0});
                       vector::StoreOp::create(
                           b, loc, arith::MulFOp::create(b, loc, row, alpha),
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
                ValueRange{
                    bIdx, gIdx, n0,
                    arith::AddIOp::create(b, loc, k0, cIdx(b, loc, 32 * kc))});
            for (int64_t i = 0; i < nr; ++i) {
              Value pt = amx::TileLoadOp::create(
                  b, loc, amxOperandTile(b), kn.pB,
                  ValueRange{cIdx(b, loc, 16 * kc),
                             cIdx(b, loc, 32 * (rb0 + i))});
              c[i] =
                  amx::TileMulFOp::create(b, loc, amxAccTile(b), a, pt, c[i]);
            }
          }
          for (int64_t i = 0; i < nr; ++i)
            amx::TileStoreOp::create(b, loc, accT, at(i), c[i]);
        }
        scf::YieldOp::create(b, loc);
      });
}

} // namespace cpu
} // namespace sparse_attn
} // namespace mlir
