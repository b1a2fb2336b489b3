//===- Simplify.cpp - canonical patterns before evaluation ----------------===//
//
// Applies AttentionOp's pattern canonicalisation (and only it) to every
// attention op, so that what the lowerings and tools evaluate is the
// canonical form.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h"

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace sparse_attn {
#define GEN_PASS_DEF_SPARSEATTNSIMPLIFY
#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h.inc"
} // namespace sparse_attn
} // namespace mlir

using namespace mlir;
using namespace mlir::sparse_attn;

namespace {
struct SimplifyPass
    : sparse_attn::impl::SparseAttnSimplifyBase<SimplifyPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    AttentionOp::getCanonicalizationPatterns(patterns, &getContext());
    FrozenRewritePatternSet frozen(std::move(patterns));
    SmallVector<Operation *> ops;
    getOperation()->walk([&](AttentionOp op) { ops.push_back(op); });
    // The rewrite only changes an op's attribute and operands in place.
    if (failed(applyOpPatternsGreedily(ops, frozen)))
      signalPassFailure();
  }
};
} // namespace
