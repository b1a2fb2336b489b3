//===- DifferentiateScoreMods.cpp - derivatives a backward pass needs -----===//
//
// Adds d score_mod / d score for every sparse_attn.attention_grad that names
// a score modification (Utils/ScoreModDerivative.h).
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h"

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"
#include "sparse_attn/Dialect/SparseAttn/Utils/ScoreModDerivative.h"

#include "mlir/IR/SymbolTable.h"

namespace mlir {
namespace sparse_attn {
#define GEN_PASS_DEF_SPARSEATTNDIFFERENTIATESCOREMODS
#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h.inc"
} // namespace sparse_attn
} // namespace mlir

using namespace mlir;
using namespace mlir::sparse_attn;

namespace {
struct DifferentiateScoreModsPass
    : sparse_attn::impl::SparseAttnDifferentiateScoreModsBase<
          DifferentiateScoreModsPass> {
  void runOnOperation() override {
    SmallVector<AttentionGradOp> ops;
    getOperation().walk([&](AttentionGradOp op) {
      if (op.getScoreModAttr())
        ops.push_back(op);
    });
    for (AttentionGradOp op : ops) {
      auto mod = llvm::dyn_cast_or_null<ScoreModOp>(
          SymbolTable::lookupNearestSymbolFrom(op, op.getScoreModAttr()));
      if (!mod) // the verifier checks the symbol
        return signalPassFailure();
      if (failed(getOrCreateScoreModDerivative(mod))) {
        op.emitOpError("needs the derivative of score_mod ")
            << op.getScoreModAttr() << " with respect to the score";
        return signalPassFailure();
      }
    }
  }
};
} // namespace
