//===- PolynomialMath.cpp - vector-friendly math functions ----------------===//

#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace sparse_attn {
#define GEN_PASS_DEF_SPARSEATTNPOLYNOMIALMATH
#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h.inc"
} // namespace sparse_attn
} // namespace mlir

using namespace mlir;

namespace {
struct PolynomialMathPass
    : sparse_attn::impl::SparseAttnPolynomialMathBase<PolynomialMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    // The functions score modifications use; each approximation's error is
    // measured in docs/cpu-lowering.md.
    auto approximated = [](StringRef name) {
      name.consume_front("math.");
      return llvm::is_contained({"exp", "expm1", "tanh", "log", "log2",
                                 "log1p", "erf"},
                                name);
    };
    populateMathF32ExpansionPatterns(patterns, approximated);
    populateMathPolynomialApproximationPatterns(patterns, approximated);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
