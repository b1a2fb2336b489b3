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
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

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
