//===- BlockAnalysis.cpp - attach tile classifications --------------------===//

#include "sparse_attn/Dialect/SparseAttn/Analysis/PatternAnalysis.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"
#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h"

#include "mlir/IR/SymbolTable.h"

namespace mlir {
namespace sparse_attn {
#define GEN_PASS_DEF_SPARSEATTNBLOCKANALYSIS
#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h.inc"
} // namespace sparse_attn
} // namespace mlir

using namespace mlir;
using namespace mlir::sparse_attn;

namespace {
struct BlockAnalysisPass
    : sparse_attn::impl::SparseAttnBlockAnalysisBase<BlockAnalysisPass> {
  using SparseAttnBlockAnalysisBase::SparseAttnBlockAnalysisBase;

  void runOnOperation() override {
    if (blockQ <= 0 || blockK <= 0) {
      getOperation()->emitError("sparse-attn-block-analysis: block-q and "
                                "block-k must be positive, got ")
          << static_cast<int64_t>(blockQ) << " and " << static_cast<int64_t>(blockK);
      return signalPassFailure();
    }
    if (maxTiles < 0) {
      getOperation()->emitError("sparse-attn-block-analysis: max-tiles must "
                                "be non-negative, got ")
          << static_cast<int64_t>(maxTiles);
      return signalPassFailure();
    }
    WalkResult result = getOperation()->walk([&](AttentionOp op) {
      if (failed(analyse(op)))
        return WalkResult::interrupt();
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }

  LogicalResult analyse(AttentionOp op) {
    MaskInterpreter masks(op);
    auto qT = llvm::cast<RankedTensorType>(op.getQuery().getType());
    auto kT = llvm::cast<RankedTensorType>(op.getKey().getType());
    int64_t sq = qT.getDimSize(2), sk = kT.getDimSize(2);
    if (ShapedType::isDynamic(sq) || ShapedType::isDynamic(sk))
      return success(); // classified at run time by later lowerings
    if (op.hasBlockTables())
      return success(); // the tables are the run-time form of the analysis
    if (op.isTile())
      return success(); // positions start at run-time offsets
    std::optional<int64_t> tiles = numTiles(sq, sk, blockQ, blockK);
    if (maxTiles > 0 && (!tiles || *tiles > maxTiles))
      return success(); // classified at run time by the lowering
    if (!tiles)
      return op.emitOpError("block analysis with ")
             << static_cast<int64_t>(blockQ) << "x" << static_cast<int64_t>(blockK)
             << " tiles of a " << sq << "x" << sk
             << " score matrix needs more than " << kMaxTiles << " tiles";

    SparsityPatternAttrInterface pattern = op.getPattern();
    PatternContext ctx(sq, sk);
    ctx.customMasks = &masks;

    // A custom mask that reads b or h must be classified for every pair.
    SmallVector<FlatSymbolRefAttr> custom;
    pattern.collectCustomMasks(custom);
    bool perHead = llvm::any_of(
        custom, [&](FlatSymbolRefAttr m) { return masks.usesBatchOrHead(m); });
    int64_t numB = 1, numH = 1;
    if (perHead) {
      numB = qT.getDimSize(0);
      numH = qT.getDimSize(1);
      if (ShapedType::isDynamic(numB) || ShapedType::isDynamic(numH))
        return success(); // classified at run time by the lowering
      if (numB == 0 || numH == 0)
        numB = numH = 1; // nothing to compute; keep one classification
      // One classification per (batch, head): bounded, so that H = 2^31
      // does not run for hours. Beyond the bound the op stays unclassified
      // (every tile partial, the element mask decides: exact, slower).
      constexpr int64_t kMaxClassifications = 65536;
      if (numB > kMaxClassifications / numH) {
        op.emitWarning("custom mask reads the batch or head index: B x Hq = ")
            << numB << " x " << numH << " classifications exceed "
            << kMaxClassifications
            << "; tiles are left unclassified (all partial)";
        return success();
      }
    }
    std::optional<BlockClassification> merged;
    for (int64_t b = 0; b < numB; ++b)
      for (int64_t h = 0; h < numH; ++h) {
        ctx.batch = b;
        ctx.head = h;
        BlockClassification blocks = classifyBlocks(pattern, ctx, blockQ, blockK);
        if (merged)
          merged->mergeWith(blocks);
        else
          merged = std::move(blocks);
      }
    if (masks.hadError())
      return failure();
    op.setBlockMaskAttr(toBlockMaskAttr(op.getContext(), *merged));
    return success();
  }
};
} // namespace
