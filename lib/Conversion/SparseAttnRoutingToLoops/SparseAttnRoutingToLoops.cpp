//===- SparseAttnRoutingToLoops.cpp - routing ops to CPU loops ------------===//
//
// The pass: checks every routing op first (fail closed, nothing rewritten
// when one cannot be lowered), then rewrites them with the patterns of
// PoolToLoops.cpp and SelectBlocksToLoops.cpp. Shared helpers live here.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Conversion/Passes.h"

#include "RoutingLoops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include <limits>

namespace mlir {
namespace sparse_attn {
#define GEN_PASS_DEF_CONVERTSPARSEATTNROUTINGTOLOOPS
#include "sparse_attn/Conversion/Passes.h.inc"
} // namespace sparse_attn
} // namespace mlir

using namespace mlir;
using namespace mlir::sparse_attn;

Value routing::bufferOf(OpBuilder &b, Location loc, Value tensor) {
  auto t = llvm::cast<RankedTensorType>(tensor.getType());
  return bufferization::ToBufferOp::create(
      b, loc, MemRefType::get(t.getShape(), t.getElementType()), tensor,
      /*read_only=*/true);
}

Value routing::allocLike(OpBuilder &b, Location loc, RankedTensorType type,
                         ArrayRef<Value> dynamicSizes) {
  SmallVector<Value> dyn;
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (type.isDynamicDim(i))
      dyn.push_back(dynamicSizes[i]);
  return memref::AllocOp::create(
      b, loc, MemRefType::get(type.getShape(), type.getElementType()), dyn,
      b.getI64IntegerAttr(64));
}

Value routing::loadRowF32(OpBuilder &b, Location loc, Value buf,
                          ValueRange idx, int64_t d) {
  auto mT = llvm::cast<MemRefType>(buf.getType());
  Type elt = mT.getElementType();
  SmallVector<Value> indices(idx.begin(), idx.end());
  indices.push_back(arith::ConstantIndexOp::create(b, loc, 0));
  Value row =
      vector::LoadOp::create(b, loc, VectorType::get({d}, elt), buf, indices);
  if (!elt.isF32())
    row = arith::ExtFOp::create(b, loc, VectorType::get({d}, b.getF32Type()),
                                row);
  return row;
}

void routing::emitTopKRounds(OpBuilder &b, Location loc, Value scores,
                             Value state, Value length, Value rounds) {
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value none = arith::ConstantIndexOp::create(b, loc, -1);
  Value negInf = arith::ConstantOp::create(
      b, loc, b.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
  Value zeroI8 = arith::ConstantIntOp::create(b, loc, b.getI8Type(), 0);
  Value oneI8 = arith::ConstantIntOp::create(b, loc, b.getI8Type(), 1);
  scf::ForOp::create(
      b, loc, c0, rounds, c1, ValueRange{},
      [&](OpBuilder &b, Location loc, Value, ValueRange) {
        auto best = scf::ForOp::create(
            b, loc, c0, length, c1, ValueRange{negInf, none},
            [&](OpBuilder &b, Location loc, Value j, ValueRange st) {
              Value free = arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::eq,
                  memref::LoadOp::create(b, loc, state, j), zeroI8);
              Value x = memref::LoadOp::create(b, loc, scores, j);
              Value better = arith::OrIOp::create(
                  b, loc,
                  arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                        st[1], none),
                  arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x,
                                        st[0]));
              Value take = arith::AndIOp::create(b, loc, free, better);
              scf::YieldOp::create(
                  b, loc,
                  ValueRange{arith::SelectOp::create(b, loc, take, x, st[0]),
                             arith::SelectOp::create(b, loc, take, j, st[1])});
            });
        Value j = best.getResult(1);
        auto found = scf::IfOp::create(
            b, loc,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, j, none),
            /*withElseRegion=*/false);
        {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(found.thenBlock());
          memref::StoreOp::create(b, loc, oneI8, state, j);
        }
        scf::YieldOp::create(b, loc);
      });
}

void routing::emitTopKRadix(OpBuilder &b, Location loc, Value scores,
                            Value state, Value length, Value k) {
  Type i32 = b.getI32Type(), i8 = b.getI8Type();
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  auto ci32 = [&](OpBuilder &b, int64_t v) -> Value {
    return arith::ConstantIntOp::create(b, loc, i32, v);
  };
  auto cmp = [&](OpBuilder &b, arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y).getResult();
  };
  Value zeroI8 = arith::ConstantIntOp::create(b, loc, i8, 0);
  Value oneI8 = arith::ConstantIntOp::create(b, loc, i8, 1);
  Value kI32 = arith::IndexCastOp::create(b, loc, i32, k);
  // The order-preserving key of entry j (unsigned compare): -0 first made
  // +0 (x + 0 in round-to-nearest), so equal scores have equal keys; then
  // a negative float's bits inverted, a positive float's sign bit set.
  auto keyAt = [&](OpBuilder &b, Value j) -> Value {
    Value x = memref::LoadOp::create(b, loc, scores, j);
    x = arith::AddFOp::create(
        b, loc, x, arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f)));
    Value bits = arith::BitcastOp::create(b, loc, i32, x);
    Value negative = cmp(b, arith::CmpIPredicate::slt, bits, ci32(b, 0));
    Value flipped = arith::XOrIOp::create(b, loc, bits, ci32(b, -1));
    Value signed_ = arith::OrIOp::create(b, loc, bits, ci32(b, INT32_MIN));
    return arith::SelectOp::create(b, loc, negative, flipped, signed_);
  };
  auto isFree = [&](OpBuilder &b, Value j) -> Value {
    return cmp(b, arith::CmpIPredicate::eq,
               memref::LoadOp::create(b, loc, state, j), zeroI8);
  };
  // The number of free entries whose key satisfies `p` against `t`.
  auto countKeys = [&](OpBuilder &b, arith::CmpIPredicate p, Value t) {
    auto loop = scf::ForOp::create(
        b, loc, c0, length, c1, ValueRange{ci32(b, 0)},
        [&](OpBuilder &b, Location loc, Value j, ValueRange n) {
          Value hit = arith::AndIOp::create(b, loc, isFree(b, j),
                                            cmp(b, p, keyAt(b, j), t));
          Value next = arith::AddIOp::create(
              b, loc, n[0], arith::ExtUIOp::create(b, loc, i32, hit));
          scf::YieldOp::create(b, loc, next);
        });
    return loop.getResult(0);
  };
  // T = the largest key with at least k free keys >= T (the k-th largest),
  // bit by bit from the top.
  auto search = scf::ForOp::create(
      b, loc, c0, arith::ConstantIndexOp::create(b, loc, 32), c1,
      ValueRange{ci32(b, 0)},
      [&](OpBuilder &b, Location loc, Value i, ValueRange t) {
        Value shift = arith::SubIOp::create(
            b, loc, ci32(b, 31), arith::IndexCastOp::create(b, loc, i32, i));
        Value trial = arith::OrIOp::create(
            b, loc, t[0], arith::ShLIOp::create(b, loc, ci32(b, 1), shift));
        Value enough = cmp(b, arith::CmpIPredicate::uge,
                           countKeys(b, arith::CmpIPredicate::uge, trial), kI32);
        scf::YieldOp::create(
            b, loc, ValueRange{arith::SelectOp::create(b, loc, enough, trial,
                                                       t[0])});
      });
  Value threshold = search.getResult(0);
  // Every key above T, then the lowest-indexed keys equal to T until k.
  Value above = countKeys(b, arith::CmpIPredicate::ugt, threshold);
  Value ties = arith::SubIOp::create(b, loc, kI32, above);
  scf::ForOp::create(
      b, loc, c0, length, c1, ValueRange{ci32(b, 0)},
      [&](OpBuilder &b, Location loc, Value j, ValueRange taken) {
        Value free = isFree(b, j);
        Value key = keyAt(b, j);
        Value tie = arith::AndIOp::create(
            b, loc, cmp(b, arith::CmpIPredicate::eq, key, threshold),
            cmp(b, arith::CmpIPredicate::ult, taken[0], ties));
        Value pick = arith::AndIOp::create(
            b, loc, free,
            arith::OrIOp::create(
                b, loc, cmp(b, arith::CmpIPredicate::ugt, key, threshold), tie));
        auto ifOp = scf::IfOp::create(b, loc, pick, /*withElseRegion=*/false);
        {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(ifOp.thenBlock());
          memref::StoreOp::create(b, loc, oneI8, state, j);
        }
        Value tookTie = arith::AndIOp::create(b, loc, free, tie);
        scf::YieldOp::create(
            b, loc,
            ValueRange{arith::AddIOp::create(
                b, loc, taken[0],
                arith::ExtUIOp::create(b, loc, i32, tookTie))});
      });
}

void routing::emitTopK(OpBuilder &b, Location loc, Value scores, Value state,
                       Value length, Value k, int64_t staticTopK) {
  if (staticTopK >= kRadixMinTopK)
    emitTopKRadix(b, loc, scores, state, length, k);
  else
    emitTopKRounds(b, loc, scores, state, length, k);
}

LogicalResult mlir::sparse_attn::verifyRoutingLowerable(ModuleOp module) {
  bool ok = true;
  module.walk([&](Operation *op) {
    if (auto pool = llvm::dyn_cast<PoolOp>(op))
      ok &= succeeded(routing::checkPoolLowerable(pool));
    else if (auto select = llvm::dyn_cast<SelectBlocksOp>(op))
      ok &= succeeded(routing::checkSelectBlocksLowerable(select));
    else if (auto select = llvm::dyn_cast<SelectTokensOp>(op))
      ok &= succeeded(routing::checkSelectTokensLowerable(select));
  });
  return success(ok);
}

void mlir::sparse_attn::populateSparseAttnRoutingToLoopsPatterns(
    RewritePatternSet &patterns) {
  routing::populatePoolPatterns(patterns);
  routing::populateSelectBlocksPatterns(patterns);
  routing::populateSelectTokensPatterns(patterns);
}

namespace {
struct ConvertSparseAttnRoutingToLoopsPass
    : sparse_attn::impl::ConvertSparseAttnRoutingToLoopsBase<
          ConvertSparseAttnRoutingToLoopsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(verifyRoutingLowerable(module)))
      return signalPassFailure();
    RewritePatternSet patterns(&getContext());
    populateSparseAttnRoutingToLoopsPatterns(patterns);
    if (failed(applyPatternsGreedily(module, std::move(patterns))))
      return signalPassFailure();
    // A pattern that declined an op (which the checks above should have
    // diagnosed) leaves it in place: never silently.
    WalkResult left = module.walk([](Operation *op) {
      if (llvm::isa<PoolOp, SelectBlocksOp, SelectTokensOp>(op)) {
        op->emitOpError("was not lowered by convert-sparse-attn-routing-to-loops");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
