//===- BlockSelection.cpp - compile-time block grid of a selection --------===//

#include "sparse_attn/Dialect/SparseAttn/Analysis/BlockSelection.h"
#include "sparse_attn/Dialect/SparseAttn/Analysis/PatternAnalysis.h"

using namespace mlir;
using namespace mlir::sparse_attn;

BlockSelectionDims::BlockSelectionDims(SelectBlocksOp op) {
  auto qT = llvm::cast<RankedTensorType>(op.getQuery().getType());
  auto kT = llvm::cast<RankedTensorType>(op.getPooledKeys().getType());
  auto nT = llvm::cast<RankedTensorType>(op.getKvNumBlocks().getType());
  auto xT = llvm::cast<RankedTensorType>(op.getKvIndices().getType());
  batch = qT.getDimSize(0);
  hq = qT.getDimSize(1);
  hkv = kT.getDimSize(1);
  hp = nT.getDimSize(1);
  group = hq / hkv;
  perKV = hp != hq;
  sq = qT.getDimSize(2);
  sk = op.getStaticKeyLength().value_or(ShapedType::kDynamic);
  d = qT.getDimSize(3);
  bq = op.getBlockQ();
  bk = op.getBlockK();
  mq = ShapedType::isDynamic(sq) ? sq : ceilDivPositive(sq, bq);
  nk = kT.getDimSize(2);
  width = xT.getDimSize(3);
}

LogicalResult mlir::sparse_attn::checkStaticBlockSelection(SelectBlocksOp op,
                                                           StringRef lowering) {
  auto qT = llvm::cast<RankedTensorType>(op.getQuery().getType());
  auto kT = llvm::cast<RankedTensorType>(op.getPooledKeys().getType());
  auto xT = llvm::cast<RankedTensorType>(op.getKvIndices().getType());
  std::optional<int64_t> sk = op.getStaticKeyLength();
  if (qT.isDynamicDim(2) || !sk || kT.isDynamicDim(2) || xT.isDynamicDim(3))
    return op.emitOpError("the ")
           << lowering
           << " lowering classifies the block grid at compile time: it "
              "needs a static Sq, a constant key_length (or static pooled "
              "keys) and a static table width N";
  std::optional<int64_t> tiles =
      numTiles(qT.getDimSize(2), *sk, op.getBlockQ(), op.getBlockK());
  if (!tiles || *tiles > kMaxCompileTimeTableTiles)
    return op.emitOpError("the ")
           << lowering << " lowering classifies at most "
           << kMaxCompileTimeTableTiles << " blocks at compile time; Sq = "
           << qT.getDimSize(2) << ", Sk = " << *sk << " with blocks "
           << op.getBlockQ() << " x " << op.getBlockK() << " have more";
  MaskInterpreter masks(op);
  SmallVector<FlatSymbolRefAttr> custom;
  op.getPattern().collectCustomMasks(custom);
  for (FlatSymbolRefAttr m : custom)
    if (masks.usesBatchOrHead(m))
      return op.emitOpError("the ")
             << lowering
             << " lowering needs block classes that do not depend on batch "
                "or head, but custom mask "
             << m << " reads its batch or head argument";
  return success();
}

FailureOr<std::vector<int8_t>>
mlir::sparse_attn::blockSelectionClasses(SelectBlocksOp op) {
  auto qT = llvm::cast<RankedTensorType>(op.getQuery().getType());
  auto kT = llvm::cast<RankedTensorType>(op.getPooledKeys().getType());
  int64_t sq = qT.getDimSize(2), sk = *op.getStaticKeyLength();
  int64_t mq = ceilDivPositive(sq, op.getBlockQ()), nk = kT.getDimSize(2);
  std::vector<int8_t> kinds(mq * nk, 0);
  if (kinds.empty())
    return kinds;
  MaskInterpreter masks(op);
  PatternContext ctx(sq, sk);
  ctx.customMasks = &masks;
  BlockClassification c =
      classifyBlocks(op.getPattern(), ctx, op.getBlockQ(), op.getBlockK());
  if (masks.hadError())
    return failure();
  for (int64_t t = 0; t < mq * nk; ++t)
    kinds[t] = static_cast<int8_t>(c.kinds[t]);
  return kinds;
}

LogicalResult mlir::sparse_attn::checkSharedTokenPattern(SelectTokensOp op) {
  MaskInterpreter masks(op);
  SmallVector<FlatSymbolRefAttr> custom;
  op.getPattern().collectCustomMasks(custom);
  for (FlatSymbolRefAttr m : custom)
    if (masks.usesBatchOrHead(m))
      return op.emitOpError("a token selection is shared by all heads: its "
                            "pattern cannot depend on batch or head, but "
                            "custom mask ")
             << m << " reads its batch or head argument";
  return success();
}
