//===- SparseAttnMergeToLinalg.cpp - sparse_attn.merge to linalg ----------===//
//
// The exact log-sum-exp combination of two partial attentions as two
// element-wise linalg.generic ops on tensors: per (b, h, i) the combined
// LSE and the weights w_a / (w_a + w_b), w_b / (w_a + w_b); then per
// (b, h, i, d) the weighted sum of the outputs.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Conversion/Passes.h"

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include <limits>

namespace mlir {
namespace sparse_attn {
#define GEN_PASS_DEF_CONVERTSPARSEATTNMERGETOLINALG
#include "sparse_attn/Conversion/Passes.h.inc"
} // namespace sparse_attn
} // namespace mlir

using namespace mlir;
using namespace mlir::sparse_attn;

namespace {
using utils::IteratorType;

struct LowerMerge : OpRewritePattern<MergeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MergeOp op,
                                PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    auto oT = llvm::cast<RankedTensorType>(op.getOutputA().getType());
    auto lT = llvm::cast<RankedTensorType>(op.getLseA().getType());
    Type f32 = rw.getF32Type();
    Type elt = oT.getElementType();

    // Dynamic sizes must agree at run time (the verifier checks static
    // ones): a mismatch would read out of bounds, so it aborts with a
    // message instead.
    for (int64_t i = 0; i < 4; ++i) {
      SmallVector<std::pair<Value, int64_t>> others = {{op.getOutputB(), i}};
      if (i < 3) {
        others.push_back({op.getLseA(), i});
        others.push_back({op.getLseB(), i});
      }
      bool anyDynamic = oT.isDynamicDim(i) || (i < 3 && lT.isDynamicDim(i));
      if (!anyDynamic)
        continue;
      Value ref = tensor::DimOp::create(rw, loc, op.getOutputA(), i);
      for (auto [t, d] : others) {
        Value same = arith::CmpIOp::create(
            rw, loc, arith::CmpIPredicate::eq, ref,
            tensor::DimOp::create(rw, loc, t, d));
        cf::AssertOp::create(rw, loc, same,
                             "sparse_attn.merge: operand sizes differ");
      }
    }

    // Dynamic sizes from the first output.
    auto empty = [&](RankedTensorType t, int64_t rank) -> Value {
      SmallVector<Value> dyn;
      for (int64_t i = 0; i < rank; ++i)
        if (t.isDynamicDim(i))
          dyn.push_back(tensor::DimOp::create(rw, loc, op.getOutputA(), i));
      return tensor::EmptyOp::create(rw, loc, t.getShape(),
                                     t.getElementType(), dyn);
    };
    auto weightsT = RankedTensorType::get(lT.getShape(), f32);
    AffineMap id3 = AffineMap::getMultiDimIdentityMap(3, ctx);
    AffineMap id4 = AffineMap::getMultiDimIdentityMap(4, ctx);
    AffineMap rows = AffineMap::get(
        4, 0, {rw.getAffineDimExpr(0), rw.getAffineDimExpr(1),
               rw.getAffineDimExpr(2)},
        ctx);
    SmallVector<IteratorType> par3(3, IteratorType::parallel);
    SmallVector<IteratorType> par4(4, IteratorType::parallel);

    // 1. Per row: LSE, w_a / (w_a + w_b) and w_b / (w_a + w_b); 0, 0 and
    //    -inf when both sides are empty.
    auto rowsOp = linalg::GenericOp::create(
        rw, loc, TypeRange{lT, weightsT, weightsT},
        ValueRange{op.getLseA(), op.getLseB()},
        ValueRange{empty(lT, 3), empty(weightsT, 3), empty(weightsT, 3)},
        ArrayRef<AffineMap>{id3, id3, id3, id3, id3}, par3, "", "",
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value la = args[0], lb = args[1];
          Value ninf = arith::ConstantOp::create(
              b, l, b.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
          Value zero = arith::ConstantOp::create(b, l, b.getF32FloatAttr(0.0f));
          Value m = arith::MaximumFOp::create(b, l, la, lb);
          Value bothEmpty =
              arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, m, ninf);
          // With m = -inf, la - m is NaN: subtract 0 instead (weights 0).
          Value mSafe = arith::SelectOp::create(b, l, bothEmpty, zero, m);
          Value wa = math::ExpOp::create(
              b, l, arith::SubFOp::create(b, l, la, mSafe));
          Value wb = math::ExpOp::create(
              b, l, arith::SubFOp::create(b, l, lb, mSafe));
          Value sum = arith::AddFOp::create(b, l, wa, wb);
          Value lse = arith::AddFOp::create(b, l, m,
                                            math::LogOp::create(b, l, sum));
          Value one = arith::ConstantOp::create(b, l, b.getF32FloatAttr(1.0f));
          Value inv = arith::DivFOp::create(
              b, l, one,
              arith::SelectOp::create(b, l, bothEmpty, one, sum));
          linalg::YieldOp::create(
              b, l,
              ValueRange{
                  arith::SelectOp::create(b, l, bothEmpty, ninf, lse),
                  arith::MulFOp::create(b, l, wa, inv),
                  arith::MulFOp::create(b, l, wb, inv)});
        });

    // 2. Per element: O = a_weight * O_a + b_weight * O_b (f32, narrowed).
    auto outOp = linalg::GenericOp::create(
        rw, loc, TypeRange{oT},
        ValueRange{op.getOutputA(), op.getOutputB(), rowsOp.getResult(1),
                   rowsOp.getResult(2)},
        ValueRange{empty(oT, 4)},
        ArrayRef<AffineMap>{id4, id4, rows, rows, id4}, par4, "", "",
        [&](OpBuilder &b, Location l, ValueRange args) {
          auto widen = [&](Value v) -> Value {
            return v.getType() == f32 ? v
                                      : (Value)arith::ExtFOp::create(b, l, f32, v);
          };
          // A side of weight 0 contributes exactly 0, whatever its output
          // holds (a producer may leave NaN in rows it found empty).
          Value zero = arith::ConstantOp::create(b, l, b.getF32FloatAttr(0.0f));
          auto term = [&](Value w, Value o) -> Value {
            Value isZero =
                arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, w, zero);
            return arith::SelectOp::create(
                b, l, isZero, zero, arith::MulFOp::create(b, l, w, widen(o)));
          };
          Value r = arith::AddFOp::create(b, l, term(args[2], args[0]),
                                          term(args[3], args[1]));
          if (elt != f32)
            r = arith::TruncFOp::create(b, l, elt, r);
          linalg::YieldOp::create(b, l, ValueRange{r});
        });
    rw.replaceOp(op, ValueRange{outOp.getResult(0), rowsOp.getResult(0)});
    return success();
  }
};

struct ConvertSparseAttnMergeToLinalgPass
    : sparse_attn::impl::ConvertSparseAttnMergeToLinalgBase<
          ConvertSparseAttnMergeToLinalgPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateSparseAttnMergeToLinalgPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace

void mlir::sparse_attn::populateSparseAttnMergeToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<LowerMerge>(patterns.getContext());
}
