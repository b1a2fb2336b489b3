//===- PatternCodegen.cpp - helpers shared by the lowerings ---------------===//

#include "sparse_attn/Dialect/SparseAttn/Utils/PatternCodegen.h"

using namespace mlir;
using namespace mlir::sparse_attn;

LogicalResult mlir::sparse_attn::finishAttentionLowering(ModuleOp module,
                                                         StringRef what) {
  bool left = false;
  module.walk([&](AttentionOp op) {
    op.emitOpError("could not be lowered to ") << what;
    left = true;
  });
  if (left)
    return failure();
  // sparse_attn.online_attention steps still to be decomposed read them
  // (sparse-attn-decompose-online-attention erases them after).
  // So do backward ops not lowered yet (their own pass runs apart).
  bool online = false;
  module.walk([&](Operation *op) {
    if (llvm::isa<OnlineAttentionOp, AttentionGradOp>(op))
      online = true;
  });
  if (online)
    return success();
  for (Operation &op : llvm::make_early_inc_range(*module.getBody()))
    if (llvm::isa<MaskOp, ScoreModOp>(op))
      op.erase();
  return success();
}
