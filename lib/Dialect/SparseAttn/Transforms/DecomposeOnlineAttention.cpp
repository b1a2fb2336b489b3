//===- DecomposeOnlineAttention.cpp - online_attention as linalg ----------===//
//
// Every sparse_attn.online_attention replaced by its decomposition (the
// op's AggregatedOpInterface); one that cannot be decomposed fails the pass.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h"

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"

#include "mlir/IR/PatternMatch.h"

namespace mlir {
namespace sparse_attn {
#define GEN_PASS_DEF_SPARSEATTNDECOMPOSEONLINEATTENTION
#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h.inc"
} // namespace sparse_attn
} // namespace mlir

using namespace mlir;
using namespace mlir::sparse_attn;

namespace {
struct DecomposeOnlineAttentionPass
    : sparse_attn::impl::SparseAttnDecomposeOnlineAttentionBase<
          DecomposeOnlineAttentionPass> {
  void runOnOperation() override {
    SmallVector<OnlineAttentionOp> ops;
    getOperation()->walk([&](OnlineAttentionOp op) { ops.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (OnlineAttentionOp op : ops) {
      rewriter.setInsertionPoint(op);
      // decomposeOperation diagnoses what it cannot do before it builds
      // anything.
      FailureOr<SmallVector<Value>> results = op.decomposeOperation(rewriter);
      if (failed(results))
        return signalPassFailure();
      rewriter.replaceOp(op, *results);
    }
    // The mask and score_mod symbols are inlined by now, unless attention
    // ops still to be lowered read them.
    auto module = llvm::dyn_cast<ModuleOp>(getOperation());
    if (ops.empty() || !module)
      return;
    bool attention = false;
    module.walk([&](AttentionOp) { attention = true; });
    if (attention)
      return;
    for (Operation &op : llvm::make_early_inc_range(*module.getBody()))
      if (llvm::isa<MaskOp, ScoreModOp>(op))
        op.erase();
  }
};
} // namespace
