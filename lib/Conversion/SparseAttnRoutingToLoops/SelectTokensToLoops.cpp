//===- SelectTokensToLoops.cpp - sparse_attn.select_tokens as CPU loops ---===//
//
// scf.parallel (b, t) over the query tokens:
//   for every key s: allowed(b, 0, t, s) by the pattern's code generation;
//     I(s) = sum_j w[b, t, j] max(0, iq[b, t, j] . ik[b, s])   (vector<DI>)
//     (NaN -> -inf); state 0 (candidate) or 2 (not a candidate)
//   the top_k of state 0 by I (ties to the lower index) get state 1:
//     arg-max rounds, O(top_k Sk), below top_k = 34; a radix select on the
//     scores' 32-bit order keys, O(34 Sk), from there (emitTopK)
//   the selected keys in increasing order, the count, zeros after.
//
//===----------------------------------------------------------------------===//

#include "RoutingLoops.h"

#include "sparse_attn/Dialect/SparseAttn/Analysis/BlockSelection.h"
#include "sparse_attn/Dialect/SparseAttn/Analysis/PatternAnalysis.h"
#include "sparse_attn/Dialect/SparseAttn/IR/PatternCodegen.h"
#include "sparse_attn/Dialect/SparseAttn/Utils/ConstantGlobals.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include <limits>

using namespace mlir;
using namespace mlir::sparse_attn;

static constexpr int64_t kMaxRowLength = 1024;

LogicalResult routing::checkSelectTokensLowerable(SelectTokensOp op) {
  auto iqT = llvm::cast<RankedTensorType>(op.getIndexQuery().getType());
  auto xT = llvm::cast<RankedTensorType>(op.getIndices().getType());
  if (iqT.isDynamicDim(2) || iqT.isDynamicDim(3))
    return op.emitOpError("the CPU lowering needs static indexer heads HI and "
                          "dimension DI");
  if (iqT.getDimSize(3) > kMaxRowLength)
    return op.emitOpError("the CPU lowering supports indexer dimensions up to ")
           << kMaxRowLength << ", got DI = " << iqT.getDimSize(3);
  if (xT.isDynamicDim(3))
    return op.emitOpError("the CPU lowering needs a static table width N");
  return checkSharedTokenPattern(op);
}

namespace {
struct LowerSelectTokens : OpRewritePattern<SelectTokensOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SelectTokensOp op,
                                PatternRewriter &rw) const override;
};
} // namespace

LogicalResult LowerSelectTokens::matchAndRewrite(SelectTokensOp op,
                                                 PatternRewriter &rw) const {
  if (failed(routing::checkSelectTokensLowerable(op)))
    return failure();
  Location loc = op.getLoc();
  auto iqT = llvm::cast<RankedTensorType>(op.getIndexQuery().getType());
  auto ikT = llvm::cast<RankedTensorType>(op.getIndexKeys().getType());
  auto nT = llvm::cast<RankedTensorType>(op.getNum().getType());
  auto xT = llvm::cast<RankedTensorType>(op.getIndices().getType());
  int64_t hi = iqT.getDimSize(2), di = iqT.getDimSize(3);
  int64_t width = xT.getDimSize(3);
  Type i8 = rw.getI8Type(), i32 = rw.getI32Type(), f32 = rw.getF32Type();
  auto cIdx = [&](OpBuilder &b, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value c0 = cIdx(rw, 0), c1 = cIdx(rw, 1);
  Value iq = routing::bufferOf(rw, loc, op.getIndexQuery());
  Value ik = routing::bufferOf(rw, loc, op.getIndexKeys());
  Value w = routing::bufferOf(rw, loc, op.getWeights());
  Value bDim = memref::DimOp::create(rw, loc, iq, 0);
  Value sqV = memref::DimOp::create(rw, loc, iq, 1);
  Value skV = memref::DimOp::create(rw, loc, ik, 1);
  Value num = routing::allocLike(rw, loc, nT, {bDim, Value(), sqV});
  Value idx = routing::allocLike(rw, loc, xT, {bDim, Value(), sqV, Value()});
  ConstantGlobals tables(op->getParentOfType<ModuleOp>());
  Value negInf = arith::ConstantOp::create(
      rw, loc, rw.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
  Value zeroF = arith::ConstantOp::create(rw, loc, rw.getF32FloatAttr(0.0f));
  Value zeroI32 = arith::ConstantIntOp::create(rw, loc, i32, 0);
  auto cI8 = [&](OpBuilder &b, int64_t v) -> Value {
    return arith::ConstantIntOp::create(b, loc, i8, v);
  };
  auto eq = [&](OpBuilder &b, Value x, Value y) -> Value {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, x, y);
  };
  bool failedPattern = false;
  scf::ParallelOp::create(
      rw, loc, ValueRange{c0, c0}, ValueRange{bDim, sqV}, ValueRange{c1, c1},
      [&](OpBuilder &b, Location loc, ValueRange iv) {
        Value bi = iv[0], t = iv[1];
        Value scores = memref::AllocOp::create(
            b, loc, MemRefType::get({ShapedType::kDynamic}, f32), skV,
            b.getI64IntegerAttr(64));
        Value state = memref::AllocOp::create(
            b, loc, MemRefType::get({ShapedType::kDynamic}, i8), skV,
            b.getI64IntegerAttr(64));
        // The query's indexer rows, loaded once.
        SmallVector<Value> qRows, weights;
        for (int64_t j = 0; j < hi; ++j) {
          qRows.push_back(routing::loadRowF32(b, loc, iq,
                                              ValueRange{bi, t, cIdx(b, j)}, di));
          Value x = memref::LoadOp::create(b, loc, w,
                                           ValueRange{bi, t, cIdx(b, j)});
          if (!x.getType().isF32())
            x = arith::ExtFOp::create(b, loc, f32, x);
          weights.push_back(x);
        }
        scf::ForOp::create(
            b, loc, c0, skV, c1, ValueRange{},
            [&](OpBuilder &b, Location loc, Value s, ValueRange) {
              PatternCodegenInputs in;
              in.b = bi;
              in.h = c0;
              in.q = t;
              in.k = s;
              in.sq = iqT.getDimSize(1);
              in.sk = ikT.getDimSize(1);
              in.sqValue = sqV;
              in.skValue = skV;
              in.symbolScope = op;
              auto load = [&](OpBuilder &b, Location loc,
                              DenseIntElementsAttr table, Value i, Value j) {
                return tables.loadBoolTableEntry(b, loc, table, i, j);
              };
              in.loadTable = load;
              PatternCodegen gen(b, loc, in);
              FailureOr<Value> allowed = gen.emit(op.getPattern());
              if (failed(allowed)) {
                failedPattern = true;
                allowed = arith::ConstantIntOp::create(b, loc, 0, 1).getResult();
              }
              auto ifOp = scf::IfOp::create(b, loc, TypeRange{f32}, *allowed,
                                            /*withElseRegion=*/true);
              {
                OpBuilder::InsertionGuard guard(b);
                b.setInsertionPointToStart(ifOp.thenBlock());
                Value key = routing::loadRowF32(b, loc, ik, ValueRange{bi, s}, di);
                Value score = zeroF;
                for (int64_t j = 0; j < hi; ++j) {
                  Value dot = vector::ReductionOp::create(
                      b, loc, vector::CombiningKind::ADD,
                      arith::MulFOp::create(b, loc, qRows[j], key));
                  Value relu = arith::MaximumFOp::create(b, loc, dot, zeroF);
                  score = arith::AddFOp::create(
                      b, loc, score,
                      arith::MulFOp::create(b, loc, weights[j], relu));
                }
                Value isNan = arith::CmpFOp::create(
                    b, loc, arith::CmpFPredicate::UNO, score, score);
                scf::YieldOp::create(
                    b, loc,
                    ValueRange{arith::SelectOp::create(b, loc, isNan, negInf,
                                                       score)});
                b.setInsertionPointToStart(ifOp.elseBlock());
                scf::YieldOp::create(b, loc, ValueRange{negInf});
              }
              memref::StoreOp::create(b, loc, ifOp.getResult(0), scores, s);
              memref::StoreOp::create(
                  b, loc,
                  arith::SelectOp::create(b, loc, *allowed, cI8(b, 0), cI8(b, 2)),
                  state, s);
              scf::YieldOp::create(b, loc);
            });
        // Top-k: arg-max rounds, or the radix select for top_k >= 34.
        routing::emitTopK(
            b, loc, scores, state, skV,
            arith::MinUIOp::create(b, loc, cIdx(b, op.getTopK()), skV),
            op.getTopK());
        // The selected keys in increasing order.
        auto count = scf::ForOp::create(
            b, loc, c0, skV, c1, ValueRange{c0},
            [&](OpBuilder &b, Location loc, Value s, ValueRange n) {
              Value picked = eq(b, memref::LoadOp::create(b, loc, state, s),
                                cI8(b, 1));
              auto ifOp = scf::IfOp::create(b, loc, picked,
                                            /*withElseRegion=*/false);
              {
                OpBuilder::InsertionGuard guard(b);
                b.setInsertionPointToStart(ifOp.thenBlock());
                memref::StoreOp::create(
                    b, loc, arith::IndexCastOp::create(b, loc, i32, s), idx,
                    ValueRange{bi, c0, t, n[0]});
              }
              scf::YieldOp::create(
                  b, loc,
                  ValueRange{arith::AddIOp::create(
                      b, loc, n[0],
                      arith::IndexCastUIOp::create(b, loc, b.getIndexType(),
                                                   picked))});
            });
        Value n = count.getResult(0);
        memref::StoreOp::create(b, loc,
                                arith::IndexCastOp::create(b, loc, i32, n), num,
                                ValueRange{bi, c0, t});
        scf::ForOp::create(
            b, loc, n, cIdx(b, width), c1, ValueRange{},
            [&](OpBuilder &b, Location loc, Value e, ValueRange) {
              memref::StoreOp::create(b, loc, zeroI32, idx,
                                      ValueRange{bi, c0, t, e});
              scf::YieldOp::create(b, loc);
            });
        scf::ReduceOp::create(b, loc);
      });
  if (failedPattern)
    return failure();
  rw.replaceOp(op, {bufferization::ToTensorOp::create(rw, loc, nT, num, true, true),
                    bufferization::ToTensorOp::create(rw, loc, xT, idx, true, true)});
  return success();
}

void routing::populateSelectTokensPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerSelectTokens>(patterns.getContext());
}
