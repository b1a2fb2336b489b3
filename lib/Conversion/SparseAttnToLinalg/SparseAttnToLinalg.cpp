//===- SparseAttnToLinalg.cpp - unfused reference lowering ----------------===//
//
// The oracle lowering: every step of the definition as its own
// linalg.generic on tensors, with the S x S scores materialised.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Conversion/Passes.h"

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"
#include "sparse_attn/Dialect/SparseAttn/Utils/PatternCodegen.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/MathExtras.h"
#include <limits>

namespace mlir {
namespace sparse_attn {
#define GEN_PASS_DEF_CONVERTSPARSEATTNTOLINALG
#include "sparse_attn/Conversion/Passes.h.inc"
} // namespace sparse_attn
} // namespace mlir

using namespace mlir;
using namespace mlir::sparse_attn;

namespace {

/// A tile whose key/value head map (h0 + h) / (Hq / Hkv) is affine: the
/// problem's Hq and the head offset are constants.
bool hasConstantHeadMap(AttentionOp op) {
  return getConstantIntValue(op.getProblemSizes()[0]) &&
         getConstantIntValue(op.getOffsets()[1]);
}

struct LowerToLinalg : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto qT = llvm::cast<RankedTensorType>(op.getQuery().getType());
    auto kT = llvm::cast<RankedTensorType>(op.getKey().getType());
    auto vT = llvm::cast<RankedTensorType>(op.getValue().getType());
    if (qT.isDynamicDim(1) || kT.isDynamicDim(1) || qT.isDynamicDim(3) ||
        vT.isDynamicDim(3))
      return rw.notifyMatchFailure(op, "dynamic head count or dimension");
    if (op.hasBlockTables())
      return rw.notifyMatchFailure(op, "runtime block tables");
    if (op.isTile() && !hasConstantHeadMap(op))
      return rw.notifyMatchFailure(op, "a tile with a variable head offset");
    // The predicate must build before anything is rewritten (the pass
    // diagnosed it; here for drivers that only add the pattern).
    auto problem = op.getProblemShape();
    if (failed(verifyPatternCodegen(loc, op.getPattern(), op, problem[1],
                                    problem[2])))
      return rw.notifyMatchFailure(op, "no code generation for the pattern");
    // 1.-6. One step of the online softmax over all keys from the empty
    //      state (acc 0, max -inf, sum 0): sparse_attn.online_attention,
    //      decomposed into linalg.generics (its decomposeOperation).
    SmallVector<Value> empty =
        buildOnlineAttentionEmptyState(rw, loc, op.getQuery(), op.getValue());
    auto online = OnlineAttentionOp::create(
        rw, loc, ValueRange(empty).getTypes(), op.getQuery(), op.getKey(),
        op.getValue(), op.getSegmentIds(), op.getProblemSizes(),
        op.getOffsets(), empty[0], empty[1], empty[2], op.getPattern(),
        op.getScaleAttr(), op.getScoreModAttr());
    FailureOr<SmallVector<Value>> state = online.decomposeOperation(rw);
    // The checks above are the decomposition's own (static heads, a
    // constant head map, the pattern's code generation).
    if (failed(state))
      llvm::report_fatal_error("sparse-attn: online_attention decomposition "
                               "failed after its conditions were checked");
    rw.eraseOp(online);
    Value unnorm = (*state)[0], rowMax = (*state)[1], rowSum = (*state)[2];
    // 7. O = U / l (0 when l == 0) in the element type, LSE = m + log(l)
    //    (-inf when l == 0), into the op's destinations.
    SmallVector<Value> results = buildOnlineAttentionFinish(
        rw, loc, unnorm, rowMax, rowSum, op.getInits()[0],
        op.getLse() ? op.getInits()[1] : Value());
    rw.replaceOp(op, results);
    return success();
  }
};

struct ConvertSparseAttnToLinalgPass
    : sparse_attn::impl::ConvertSparseAttnToLinalgBase<
          ConvertSparseAttnToLinalgPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    bool ok = true;
    module.walk([&](AttentionGradOp op) {
      op.emitOpError("has no reference (linalg) lowering: the fused CPU "
                     "pipeline lowers it, and sparse-attn-run --check "
                     "compares it with the float64 gradient");
      ok = false;
    });
    module.walk([&](AttentionOp op) {
      auto qT = llvm::cast<RankedTensorType>(op.getQuery().getType());
      auto kT = llvm::cast<RankedTensorType>(op.getKey().getType());
      auto vT = llvm::cast<RankedTensorType>(op.getValue().getType());
      if (qT.isDynamicDim(1) || kT.isDynamicDim(1) || qT.isDynamicDim(3) ||
          vT.isDynamicDim(3)) {
        op.emitOpError("the reference lowering needs static head counts and "
                       "head dimensions");
        ok = false;
        return;
      }
      if (op.hasBlockTables()) {
        op.emitOpError("the reference lowering does not take runtime block "
                       "tables (sparse-attn-run --check compares with the "
                       "float64 reference, which does)");
        ok = false;
        return;
      }
      if (op.isTile() && !hasConstantHeadMap(op)) {
        op.emitOpError("the reference lowering takes tiles (tile_of / at) "
                       "with a constant problem Hq and head offset h0 (its "
                       "key/value head map is an affine map); the fused CPU "
                       "lowering runs the others");
        ok = false;
        return;
      }
      // The B x Hq x Sq x Sk f32 score tensor is materialised: its static
      // size must be countable in 64 bits.
      int64_t bytes = 4;
      for (int64_t dim : {qT.getDimSize(0), qT.getDimSize(1), qT.getDimSize(2),
                          kT.getDimSize(2)})
        if (!ShapedType::isDynamic(dim) &&
            llvm::MulOverflow<int64_t>(bytes, dim, bytes)) {
          op.emitOpError("the reference lowering materialises the B x Hq x "
                         "Sq x Sk scores, which do not fit a 64-bit size here");
          ok = false;
          return;
        }
      // A pattern without code generation is refused, never left unmasked.
      auto problem = op.getProblemShape();
      if (failed(verifyPatternCodegen(op.getLoc(), op.getPattern(), op,
                                      problem[1], problem[2])))
        ok = false;
    });
    if (!ok)
      return signalPassFailure();
    RewritePatternSet patterns(&getContext());
    populateSparseAttnToLinalgPatterns(patterns);
    if (failed(applyPatternsGreedily(module, std::move(patterns))))
      return signalPassFailure();
    if (failed(finishAttentionLowering(module, "linalg")))
      signalPassFailure();
  }
};
} // namespace

void mlir::sparse_attn::populateSparseAttnToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<LowerToLinalg>(patterns.getContext());
}
