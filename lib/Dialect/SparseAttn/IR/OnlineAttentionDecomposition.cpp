//===- OnlineAttentionDecomposition.cpp - online_attention as linalg ------===//
//
// sparse_attn.online_attention -> linalg.generic on tensors (one step of
// the online softmax over the op's keys, every intermediate materialised):
//
//   S[b,h,i,j] = sum_x q[b,h,i,x] k[b,g(h),j,x]            (f32)
//   S'         = allowed(b0+b, h0+h, q0+i, k0+j) ? mod(scale S) : -inf
//   r          = max_j S';   m' = max(m, r)
//   P          = exp(S' - m')  (m' = -inf read as 0)
//   alpha      = exp(m - m')   (0 when m = -inf)
//   l'         = alpha l + sum_j P,   acc' = alpha acc + sum_j P v
//   (state unchanged where m' = -inf; keys with S' = -inf selected out)
//
// g(h) = (h0 + h) / (Hq / Hkv) is an affine map of the loop indices: it
// needs static head counts and a constant head offset.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Dialect/SparseAttn/IR/PatternCodegen.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/SymbolTable.h"
#include <limits>

using namespace mlir;
using namespace mlir::sparse_attn;
using utils::IteratorType;

FailureOr<SmallVector<Value>> OnlineAttentionOp::decomposeOperation(
    OpBuilder &rw) {
  Location loc = getLoc();
  MLIRContext *ctx = rw.getContext();
  auto qT = llvm::cast<RankedTensorType>(getQuery().getType());
  auto kT = llvm::cast<RankedTensorType>(getKey().getType());
  auto vT = llvm::cast<RankedTensorType>(getValue().getType());
  int64_t H = qT.getDimSize(1), HKV = kT.getDimSize(1);
  if (ShapedType::isDynamic(H) || ShapedType::isDynamic(HKV) ||
      qT.isDynamicDim(3) || vT.isDynamicDim(3))
    return emitOpError("decomposition needs static head counts and head "
                       "dimensions");
  // The grouped-query head map g(h) = (h0 + h) / (Hq / Hkv).
  int64_t problemHq = H, h0 = 0;
  if (isTile()) {
    std::optional<int64_t> hq = getConstantIntValue(getProblemSizes()[0]);
    std::optional<int64_t> off = getConstantIntValue(getOffsets()[1]);
    if (!hq || !off)
      return emitOpError("decomposition of a tile needs a constant problem "
                         "Hq and head offset h0 (the key/value head map is "
                         "an affine map)");
    problemHq = *hq;
    h0 = *off;
  }
  if (HKV <= 0 || problemHq % HKV != 0)
    return emitOpError("decomposition needs Hq a multiple of Hkv");
  int64_t group = problemHq / HKV;
  std::array<int64_t, 3> problem = {problemHq, qT.getDimSize(2),
                                    kT.getDimSize(2)};
  if (isTile())
    for (int i = 1; i < 3; ++i) {
      std::optional<int64_t> c = getConstantIntValue(getProblemSizes()[i]);
      problem[i] = c ? *c : ShapedType::kDynamic;
    }
  if (failed(verifyPatternCodegen(loc, getPattern(), *this, problem[1],
                                  problem[2])))
    return failure();

  Type f32 = rw.getF32Type();
  double scale;
  if (FloatAttr s = getScaleAttr())
    scale = s.getValueAsDouble();
  else
    scale = 1.0 / std::sqrt(static_cast<double>(qT.getDimSize(3)));
  const float inf = std::numeric_limits<float>::infinity();
  auto cst = [&](OpBuilder &b, Location l, float v) -> Value {
    return arith::ConstantOp::create(b, l, b.getF32FloatAttr(v));
  };
  auto toF32 = [&](OpBuilder &b, Location l, Value v) -> Value {
    return v.getType().isF32() ? v : arith::ExtFOp::create(b, l, f32, v);
  };
  // Tensors of the op's shapes filled with `init`.
  Value bV = tensor::DimOp::create(rw, loc, getQuery(), 0);
  Value sqV = tensor::DimOp::create(rw, loc, getQuery(), 2);
  Value skV = tensor::DimOp::create(rw, loc, getKey(), 2);
  Value dvV = tensor::DimOp::create(rw, loc, getValue(), 3);
  int64_t B = qT.getDimSize(0), SQ = qT.getDimSize(2), SK = kT.getDimSize(2),
          DV = vT.getDimSize(3);
  // The problem's lengths for regions that read them: a tile's constant
  // tile_of sizes, or the op's own (the verifier refuses regions that read
  // the unknown lengths of a tile).
  auto problemLength = [&](unsigned i, Value own) -> Value {
    if (!ShapedType::isDynamic(problem[i]))
      return arith::ConstantIndexOp::create(rw, loc, problem[i]);
    return isTile() ? Value() : own;
  };
  Value problemSqV = problemLength(1, sqV), problemSkV = problemLength(2, skV);
  auto filled = [&](ArrayRef<int64_t> shape, ArrayRef<Value> dyn,
                    float init) -> Value {
    SmallVector<Value> dynamic;
    for (auto [s, d] : llvm::zip(shape, dyn))
      if (ShapedType::isDynamic(s))
        dynamic.push_back(d);
    Value empty = tensor::EmptyOp::create(rw, loc, shape, f32, dynamic);
    return linalg::FillOp::create(rw, loc, cst(rw, loc, init), empty)
        .getResult(0);
  };
  SmallVector<int64_t> shape4 = {B, H, SQ, SK}, shapeRows = {B, H, SQ},
                       shapeAcc = {B, H, SQ, DV};
  SmallVector<Value> dyn4 = {bV, Value(), sqV, skV}, dynRows = {bV, Value(), sqV},
                     dynAcc = {bV, Value(), sqV, dvV};

  AffineExpr b, h, i, j, x;
  bindDims(ctx, b, h, i, j, x);
  AffineExpr g = (h + h0).floorDiv(group);
  auto map5 = [&](ArrayRef<AffineExpr> e) {
    return AffineMap::get(5, 0, e, ctx);
  };
  auto map4 = [&](ArrayRef<AffineExpr> e) {
    return AffineMap::get(4, 0, e, ctx);
  };
  auto id3 = AffineMap::getMultiDimIdentityMap(3, ctx);
  SmallVector<IteratorType> par3(3, IteratorType::parallel),
      par4(4, IteratorType::parallel),
      red4 = {IteratorType::parallel, IteratorType::parallel,
              IteratorType::parallel, IteratorType::reduction},
      red5 = {IteratorType::parallel, IteratorType::parallel,
              IteratorType::parallel, IteratorType::parallel,
              IteratorType::reduction};
  auto generic = [&](Type result, ValueRange ins, Value init,
                     ArrayRef<AffineMap> maps, ArrayRef<IteratorType> iters,
                     function_ref<void(OpBuilder &, Location, ValueRange)> body) {
    return linalg::GenericOp::create(rw, loc, TypeRange{result}, ins,
                                     ValueRange{init}, maps, iters, "", "",
                                     body)
        .getResult(0);
  };
  auto yield = [](OpBuilder &bb, Location l, Value v) {
    linalg::YieldOp::create(bb, l, ValueRange{v});
  };

  // 1. Scores.
  Value s0 = filled(shape4, dyn4, 0.0f);
  Value scores = generic(
      s0.getType(), {getQuery(), getKey()}, s0,
      {map5({b, h, i, x}), map5({b, g, j, x}), map5({b, h, i, j})}, red5,
      [&](OpBuilder &bb, Location l, ValueRange a) {
        Value p = arith::MulFOp::create(bb, l, toF32(bb, l, a[0]),
                                        toF32(bb, l, a[1]));
        yield(bb, l, arith::AddFOp::create(bb, l, a[2], p));
      });

  // 2. Scale, score_mod and mask, in the problem's positions.
  ScoreModOp scoreMod;
  if (FlatSymbolRefAttr name = getScoreModAttr())
    scoreMod = llvm::dyn_cast_or_null<ScoreModOp>(
        SymbolTable::lookupNearestSymbolFrom(*this, name));
  Value at[4];
  if (isTile())
    for (int d = 0; d < 4; ++d)
      at[d] = getOffsets()[d];
  Value qSeg = getQuerySegmentIds(), kSeg = getKeySegmentIds();
  bool failedMask = false;
  Value masked = generic(
      scores.getType(), {scores}, filled(shape4, dyn4, 0.0f),
      {map4({b, h, i, j}), map4({b, h, i, j})}, par4,
      [&](OpBuilder &bb, Location l, ValueRange a) {
        Value pos[4];
        for (int d = 0; d < 4; ++d) {
          pos[d] = linalg::IndexOp::create(bb, l, d);
          if (at[d])
            pos[d] = arith::AddIOp::create(bb, l, pos[d], at[d]);
        }
        Value sc = arith::MulFOp::create(bb, l, a[0],
                                         cst(bb, l, static_cast<float>(scale)));
        if (scoreMod) {
          FailureOr<Value> m =
              inlineScoreMod(bb, l, scoreMod, sc, pos[0], pos[1], pos[2],
                             pos[3], problemSqV, problemSkV);
          if (failed(m)) {
            failedMask = true;
            yield(bb, l, sc);
            return;
          }
          sc = *m;
        }
        PatternCodegenInputs in;
        in.b = pos[0];
        in.h = pos[1];
        in.q = pos[2];
        in.k = pos[3];
        in.sq = problem[1];
        in.sk = problem[2];
        in.sqValue = problemSqV;
        in.skValue = problemSkV;
        in.symbolScope = *this;
        // Segment ids are the op's own: problem positions go back to its.
        auto local = [&](OpBuilder &bb, Location l, Value p, Value off) {
          return off ? arith::SubIOp::create(bb, l, p, off).getResult() : p;
        };
        auto segment = [&](Value t, Value off) {
          return [&, t, off](OpBuilder &bb, Location l, Value bIdx, Value p) {
            return (Value)tensor::ExtractOp::create(
                bb, l, t,
                ValueRange{local(bb, l, bIdx, at[0]), local(bb, l, p, off)});
          };
        };
        auto qs = segment(qSeg, at[2]), ks = segment(kSeg, at[3]);
        in.querySegment = qs;
        in.keySegment = ks;
        auto table = [](OpBuilder &bb, Location l, DenseIntElementsAttr t,
                        Value r, Value c) {
          Value tc = arith::ConstantOp::create(bb, l, t);
          return (Value)tensor::ExtractOp::create(bb, l, tc, ValueRange{r, c});
        };
        in.loadTable = table;
        FailureOr<Value> allowed = buildAllowed(bb, l, getPattern(), in);
        if (failed(allowed)) {
          failedMask = true;
          yield(bb, l, sc);
          return;
        }
        yield(bb, l, arith::SelectOp::create(bb, l, *allowed, sc,
                                             cst(bb, l, -inf)));
      });
  if (failedMask)
    return failure();

  // 3. Row maximum of the step, and the new running maximum.
  auto rowsT = RankedTensorType::get(shapeRows, f32);
  auto accT = RankedTensorType::get(shapeAcc, f32);
  Value rowMax = generic(
      rowsT, {masked},
      filled(shapeRows, dynRows, -inf),
      {map4({b, h, i, j}), map4({b, h, i})}, red4,
      [&](OpBuilder &bb, Location l, ValueRange a) {
        yield(bb, l, arith::MaximumFOp::create(bb, l, a[0], a[1]));
      });
  auto isNegInf = [&](OpBuilder &bb, Location l, Value v) -> Value {
    return arith::CmpFOp::create(bb, l, arith::CmpFPredicate::OEQ, v,
                                 cst(bb, l, -inf));
  };
  // alpha = exp(m - m'), 0 when m = -inf, m' = max(m, r); read from the old
  // maximum before it is overwritten.
  Value alphaT = generic(
      rowsT, {getMax(), rowMax}, filled(shapeRows, dynRows, 0.0f),
      {id3, id3, id3}, par3, [&](OpBuilder &bb, Location l, ValueRange a) {
        Value mNew = arith::MaximumFOp::create(bb, l, a[0], a[1]);
        yield(bb, l,
              arith::SelectOp::create(
                  bb, l, isNegInf(bb, l, a[0]), cst(bb, l, 0.0f),
                  math::ExpOp::create(bb, l,
                                      arith::SubFOp::create(bb, l, a[0], mNew))));
      });
  // m' in place in the state's maximum (the out block argument is m): the
  // state is updated in its destinations, without copies, which a step in
  // a loop over key tiles needs (one-shot bufferization keeps loop-carried
  // values in place).
  Value newMax = generic(
      getMax().getType(), {rowMax}, getMax(), {id3, id3}, par3,
      [&](OpBuilder &bb, Location l, ValueRange a) {
        yield(bb, l, arith::MaximumFOp::create(bb, l, a[1], a[0]));
      });

  // 4. P = exp(S' - m'), m' = -inf read as 0 (its row has P = 0).
  Value probs = generic(
      masked.getType(), {masked, newMax}, filled(shape4, dyn4, 0.0f),
      {map4({b, h, i, j}), map4({b, h, i}), map4({b, h, i, j})}, par4,
      [&](OpBuilder &bb, Location l, ValueRange a) {
        Value m = arith::SelectOp::create(bb, l, isNegInf(bb, l, a[1]),
                                          cst(bb, l, 0.0f), a[1]);
        yield(bb, l,
              math::ExpOp::create(bb, l, arith::SubFOp::create(bb, l, a[0], m)));
      });

  // 5. Row sum of P.
  Value rowSum = generic(
      rowMax.getType(), {probs}, filled(shapeRows, dynRows, 0.0f),
      {map4({b, h, i, j}), map4({b, h, i})}, red4,
      [&](OpBuilder &bb, Location l, ValueRange a) {
        yield(bb, l, arith::AddFOp::create(bb, l, a[0], a[1]));
      });

  // 6. U[b,h,i,e] = sum_j P[b,h,i,j] v[b,g,j,e], dims (b, h, i, e, j): keys
  //    that do not contribute (S' = -inf) are selected out, so a NaN or Inf
  //    they hold never reaches the row.
  AffineExpr e = j, jj = x;
  Value pv = generic(
      accT, {probs, getValue(), masked},
      filled(shapeAcc, dynAcc, 0.0f),
      {map5({b, h, i, jj}), map5({b, g, jj, e}), map5({b, h, i, jj}),
       map5({b, h, i, e})},
      red5, [&](OpBuilder &bb, Location l, ValueRange a) {
        Value live = arith::CmpFOp::create(bb, l, arith::CmpFPredicate::UNE,
                                           a[2], cst(bb, l, -inf));
        Value p = arith::MulFOp::create(bb, l, a[0], toF32(bb, l, a[1]));
        Value sum = arith::AddFOp::create(bb, l, a[3], p);
        yield(bb, l, arith::SelectOp::create(bb, l, live, sum, a[3]));
      });

  // 7. The state update, in place: l' = alpha l + sum P, acc' = alpha acc
  //    + P V; where m' is -inf nothing was attended yet and the state
  //    stays as it was.
  Value newSum = generic(
      getSum().getType(), {alphaT, newMax, rowSum}, getSum(),
      {id3, id3, id3, id3}, par3, [&](OpBuilder &bb, Location l, ValueRange a) {
        Value upd = arith::AddFOp::create(
            bb, l, arith::MulFOp::create(bb, l, a[0], a[3]), a[2]);
        yield(bb, l, arith::SelectOp::create(bb, l, isNegInf(bb, l, a[1]),
                                             a[3], upd));
      });
  Value newAcc = generic(
      getAcc().getType(), {alphaT, newMax, pv}, getAcc(),
      {map4({b, h, i}), map4({b, h, i}), map4({b, h, i, j}),
       map4({b, h, i, j})},
      par4, [&](OpBuilder &bb, Location l, ValueRange a) {
        Value upd = arith::AddFOp::create(
            bb, l, arith::MulFOp::create(bb, l, a[0], a[3]), a[2]);
        yield(bb, l, arith::SelectOp::create(bb, l, isNegInf(bb, l, a[1]),
                                             a[3], upd));
      });
  return SmallVector<Value>{newAcc, newMax, newSum};
}

SmallVector<Value> mlir::sparse_attn::buildOnlineAttentionFinish(
    OpBuilder &b, Location loc, Value acc, Value max, Value sum,
    Value outputDest, Value lseDest) {
  MLIRContext *ctx = b.getContext();
  const float inf = std::numeric_limits<float>::infinity();
  auto cst = [](OpBuilder &bb, Location l, float v) -> Value {
    return arith::ConstantOp::create(bb, l, bb.getF32FloatAttr(v));
  };
  AffineExpr d0, d1, d2, d3;
  bindDims(ctx, d0, d1, d2, d3);
  auto map4 = [&](ArrayRef<AffineExpr> e) {
    return AffineMap::get(4, 0, e, ctx);
  };
  auto empty = [&](OpBuilder &bb, Location l, Value v) {
    return arith::CmpFOp::create(bb, l, arith::CmpFPredicate::OEQ, v,
                                 cst(bb, l, 0.0f));
  };
  // O = acc / l in the destination's element type, 0 where l = 0.
  Type elt = llvm::cast<RankedTensorType>(outputDest.getType()).getElementType();
  SmallVector<Value> results;
  results.push_back(
      linalg::GenericOp::create(
          b, loc, TypeRange{outputDest.getType()}, ValueRange{acc, sum},
          ValueRange{outputDest},
          ArrayRef<AffineMap>{map4({d0, d1, d2, d3}), map4({d0, d1, d2}),
                              map4({d0, d1, d2, d3})},
          SmallVector<IteratorType>(4, IteratorType::parallel), "", "",
          [&](OpBuilder &bb, Location l, ValueRange a) {
            Value o = arith::SelectOp::create(
                bb, l, empty(bb, l, a[1]), cst(bb, l, 0.0f),
                arith::DivFOp::create(bb, l, a[0], a[1]));
            if (!elt.isF32())
              o = arith::TruncFOp::create(bb, l, elt, o);
            linalg::YieldOp::create(bb, l, ValueRange{o});
          })
          .getResult(0));
  // LSE = m + log(l), -inf where l = 0.
  if (lseDest) {
    auto id3 = AffineMap::getMultiDimIdentityMap(3, ctx);
    results.push_back(
        linalg::GenericOp::create(
            b, loc, TypeRange{lseDest.getType()}, ValueRange{max, sum},
            ValueRange{lseDest}, ArrayRef<AffineMap>{id3, id3, id3},
            SmallVector<IteratorType>(3, IteratorType::parallel), "", "",
            [&](OpBuilder &bb, Location l, ValueRange a) {
              Value v = arith::AddFOp::create(bb, l, a[0],
                                              math::LogOp::create(bb, l, a[1]));
              linalg::YieldOp::create(
                  bb, l,
                  ValueRange{arith::SelectOp::create(
                      bb, l, empty(bb, l, a[1]), cst(bb, l, -inf), v)});
            })
            .getResult(0));
  }
  return results;
}

SmallVector<Value> mlir::sparse_attn::buildOnlineAttentionEmptyState(
    OpBuilder &b, Location loc, Value query, Value value) {
  SmallVector<OpFoldResult> rows;
  for (int64_t d = 0; d < 3; ++d)
    rows.push_back(tensor::getMixedSize(b, loc, query, d));
  SmallVector<OpFoldResult> acc(rows);
  acc.push_back(tensor::getMixedSize(b, loc, value, 3));
  Type f32 = b.getF32Type();
  auto filled = [&](ArrayRef<OpFoldResult> shape, float v) -> Value {
    Value empty = tensor::EmptyOp::create(b, loc, shape, f32);
    Value c = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
    return linalg::FillOp::create(b, loc, c, empty).getResult(0);
  };
  return {filled(acc, 0.0f),
          filled(rows, -std::numeric_limits<float>::infinity()),
          filled(rows, 0.0f)};
}
