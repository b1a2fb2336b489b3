//===- StridedCopyToLinalg.cpp - strided memref.copy as linalg.copy -------===//
//
// memref.copy with a non-identity layout on either side lowers to a call of
// MLIR's runtime library (memrefCopy); as linalg.copy it becomes loops.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir {
namespace sparse_attn {
#define GEN_PASS_DEF_SPARSEATTNSTRIDEDCOPYTOLINALG
#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h.inc"
} // namespace sparse_attn
} // namespace mlir

using namespace mlir;

namespace {
struct StridedCopyToLinalgPass
    : sparse_attn::impl::SparseAttnStridedCopyToLinalgBase<
          StridedCopyToLinalgPass> {
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation()->walk([&](memref::CopyOp copy) {
      auto srcT = llvm::dyn_cast<MemRefType>(copy.getSource().getType());
      auto dstT = llvm::dyn_cast<MemRefType>(copy.getTarget().getType());
      // Unranked copies have no linalg form; they stay.
      if (!srcT || !dstT)
        return;
      if (!srcT.getLayout().isIdentity() || !dstT.getLayout().isIdentity())
        copies.push_back(copy);
    });
    IRRewriter rewriter(&getContext());
    for (memref::CopyOp copy : copies) {
      rewriter.setInsertionPoint(copy);
      rewriter.replaceOpWithNewOp<linalg::CopyOp>(copy, copy.getSource(),
                                                  copy.getTarget());
    }
  }
};
} // namespace
