//===- PoolToLoops.cpp - sparse_attn.pool as CPU loops --------------------===//
//
// scf.parallel (b, h, i) over the blocks:
//   r0 = i * stride, r1 = min(r0 + block, S)
//   acc = reduce_{r in [r0, r1)} row(r)          (vector<D x f32>, in order)
//   out[b, h, i] = mean: acc / (r1 - r0);  max: acc
//
//===----------------------------------------------------------------------===//

#include "RoutingLoops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include <limits>

using namespace mlir;
using namespace mlir::sparse_attn;

/// Largest head dimension of the routing loops (one vector per row).
static constexpr int64_t kMaxRowLength = 1024;

LogicalResult routing::checkPoolLowerable(PoolOp op) {
  auto inT = llvm::cast<RankedTensorType>(op.getInput().getType());
  if (inT.isDynamicDim(3))
    return op.emitOpError("the CPU lowering needs a static row length D");
  if (inT.getDimSize(3) > kMaxRowLength)
    return op.emitOpError("the CPU lowering supports rows of up to ")
           << kMaxRowLength << " elements, got D = " << inT.getDimSize(3);
  return success();
}

namespace {
struct LowerPool : OpRewritePattern<PoolOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(PoolOp op, PatternRewriter &rw) const override {
    if (failed(routing::checkPoolLowerable(op)))
      return failure();
    Location loc = op.getLoc();
    auto inT = llvm::cast<RankedTensorType>(op.getInput().getType());
    auto outT = llvm::cast<RankedTensorType>(op.getOutput().getType());
    int64_t d = inT.getDimSize(3);
    Type f32 = rw.getF32Type();
    auto vecT = VectorType::get({d}, f32);
    bool isMean = op.getKind() == "mean";

    Value in = routing::bufferOf(rw, loc, op.getInput());
    auto cIdx = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(rw, loc, v);
    };
    Value c0 = cIdx(0), c1 = cIdx(1);
    Value bDim = memref::DimOp::create(rw, loc, in, 0);
    Value hDim = memref::DimOp::create(rw, loc, in, 1);
    Value s = memref::DimOp::create(rw, loc, in, 2);
    Value block = cIdx(op.getBlock()), stride = cIdx(op.getEffectiveStride());
    // N = ceil(max(S - block, 0) / stride) + (S > 0).
    Value over = arith::SubIOp::create(rw, loc, arith::MaxSIOp::create(rw, loc, s, block), block);
    Value n = arith::AddIOp::create(
        rw, loc, arith::CeilDivUIOp::create(rw, loc, over, stride),
        arith::IndexCastUIOp::create(
            rw, loc, rw.getIndexType(),
            arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::ugt, s, c0)));
    Value out = routing::allocLike(rw, loc, outT, {bDim, hDim, n, Value()});

    Value init = arith::ConstantOp::create(
        rw, loc, DenseElementsAttr::get(
                     vecT, rw.getF32FloatAttr(
                               isMean ? 0.0f
                                      : -std::numeric_limits<float>::infinity())));
    scf::ParallelOp::create(
        rw, loc, ValueRange{c0, c0, c0}, ValueRange{bDim, hDim, n},
        ValueRange{c1, c1, c1},
        [&](OpBuilder &b, Location loc, ValueRange iv) {
          Value r0 = arith::MulIOp::create(b, loc, iv[2], stride);
          Value r1 = arith::MinUIOp::create(
              b, loc, arith::AddIOp::create(b, loc, r0, block), s);
          auto loop = scf::ForOp::create(
              b, loc, r0, r1, c1, ValueRange{init},
              [&](OpBuilder &b, Location loc, Value r, ValueRange acc) {
                Value row = routing::loadRowF32(b, loc, in,
                                                ValueRange{iv[0], iv[1], r}, d);
                Value next =
                    isMean ? arith::AddFOp::create(b, loc, acc[0], row).getResult()
                           : arith::MaximumFOp::create(b, loc, acc[0], row)
                                 .getResult();
                scf::YieldOp::create(b, loc, next);
              });
          Value acc = loop.getResult(0);
          if (isMean) {
            Value count = arith::UIToFPOp::create(
                b, loc, f32,
                arith::IndexCastUIOp::create(
                    b, loc, b.getI64Type(),
                    arith::SubIOp::create(b, loc, r1, r0)));
            acc = arith::DivFOp::create(
                b, loc, acc, vector::BroadcastOp::create(b, loc, vecT, count));
          }
          if (outT.getElementType() != f32)
            acc = arith::TruncFOp::create(
                b, loc, VectorType::get({d}, outT.getElementType()), acc);
          vector::StoreOp::create(b, loc, acc, out,
                                  ValueRange{iv[0], iv[1], iv[2], c0});
          scf::ReduceOp::create(b, loc);
        });
    rw.replaceOp(op, bufferization::ToTensorOp::create(
                         rw, loc, outT, out, /*restrict=*/true,
                         /*writable=*/true));
    return success();
  }
};
} // namespace

void routing::populatePoolPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerPool>(patterns.getContext());
}
