//===- SparseAttnGradToLoops.cpp - the CPU backward: driver and pass ------===//
//
// sparse_attn.attention_grad ->
//   key-block kernel: scf.parallel (b, g, kb):
//     dK, dV of the block = 0
//     for each query head h of group g, each query block qb seeing kb:
//       (P, dS) of the tile; dV += P^T dO; dK += dS^T (scale Q)
//     write dK, dV of the block's keys
//   query-block kernel: scf.parallel (b, h, qb):
//     dQ of the block = 0
//     for each key block kb that qb sees: (P, dS) of the tile; dQ += dS K
//     write scale dQ
//
// Two kernels recompute the scores and dP of every tile twice (7 tile
// products instead of 5) so that every output is summed by one iteration
// in a fixed order: deterministic results without atomics or a reduction
// buffer (docs/cpu-lowering.md, "The backward").
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Conversion/Passes.h"

#include "GradKernel.h"

#include "sparse_attn/Dialect/SparseAttn/Utils/ScoreModDerivative.h"

namespace mlir {
namespace sparse_attn {
#define GEN_PASS_DEF_CONVERTSPARSEATTNGRADTOLOOPS
#include "sparse_attn/Conversion/Passes.h.inc"
} // namespace sparse_attn
} // namespace mlir

using namespace mlir;
using namespace mlir::sparse_attn;
using namespace mlir::sparse_attn::cpu;

namespace {

/// Lanes of the vector form checked before rewriting (any count: a
/// pattern's vector form does not depend on it).
constexpr int64_t kVectorCheckLanes = 16;
/// Largest head dimension (D and Dv), as the forward kernel.
constexpr int64_t kMaxHeadDim = 1024;

/// What the lowering needs and checks before rewriting anything: static
/// head dimensions, the pattern's predicate (scalar, and vector where the
/// pattern has the form), the derivative of the score modification.
LogicalResult checkLowerable(AttentionGradOp op) {
  auto qT = llvm::cast<RankedTensorType>(op.getQuery().getType());
  auto vT = llvm::cast<RankedTensorType>(op.getValue().getType());
  if (qT.isDynamicDim(3) || vT.isDynamicDim(3))
    return op.emitOpError("the CPU backward needs static head dimensions D "
                          "and Dv");
  if (qT.getDimSize(3) > kMaxHeadDim || vT.getDimSize(3) > kMaxHeadDim)
    return op.emitOpError("the CPU backward supports head dimensions D and "
                          "Dv up to ")
           << kMaxHeadDim << ", got D = " << qT.getDimSize(3)
           << ", Dv = " << vT.getDimSize(3);
  auto kT = llvm::cast<RankedTensorType>(op.getKey().getType());
  int64_t sq = qT.getDimSize(2), sk = kT.getDimSize(2);
  // The predicates the kernels build: the pattern and, for document masks,
  // its single-segment form (guardSegments), each in the vector form too
  // where the pattern has one.
  SmallVector<Attribute, 2> masks{op.getPattern()};
  if (op.getQuerySegmentIds() && impliesSameSegment(op.getPattern()))
    masks.push_back(withoutSegments(op.getPattern()));
  for (Attribute m : masks) {
    if (failed(verifyPatternCodegen(op.getLoc(), m, op, sq, sk)))
      return failure();
    if (isVectorizablePattern(m) &&
        failed(verifyPatternCodegen(op.getLoc(), m, op, sq, sk,
                                    kVectorCheckLanes)))
      return failure();
  }
  if (FlatSymbolRefAttr name = op.getScoreModAttr()) {
    auto mod = llvm::dyn_cast_or_null<ScoreModOp>(
        SymbolTable::lookupNearestSymbolFrom(op, name));
    if (!mod || failed(getOrCreateScoreModDerivative(mod)))
      return op.emitOpError("needs the derivative of score_mod ")
             << name << " with respect to the score";
  }
  return success();
}

struct LowerAttentionGrad : OpRewritePattern<AttentionGradOp> {
  LowerAttentionGrad(MLIRContext *ctx,
                     const SparseAttnGradToLoopsOptions &options)
      : OpRewritePattern(ctx), options(options) {}
  LogicalResult matchAndRewrite(AttentionGradOp op,
                                PatternRewriter &rw) const override;
  SparseAttnGradToLoopsOptions options;
};

LogicalResult
LowerAttentionGrad::matchAndRewrite(AttentionGradOp op,
                                    PatternRewriter &rw) const {
  Location loc = op.getLoc();
  auto qT = llvm::cast<RankedTensorType>(op.getQuery().getType());
  auto kT = llvm::cast<RankedTensorType>(op.getKey().getType());
  auto vT = llvm::cast<RankedTensorType>(op.getValue().getType());
  if (qT.isDynamicDim(3) || vT.isDynamicDim(3))
    return rw.notifyMatchFailure(op, "dynamic head dimension");
  GradKernel g(op, loc);
  Kernel &kn = g.kn;
  kn.pattern = op.getPattern();
  kn.elt = qT.getElementType();
  kn.f32 = rw.getF32Type();
  kn.d = qT.getDimSize(3);
  kn.dv = vT.getDimSize(3);
  kn.scale = *op.getEffectiveScale();
  kn.symbolScope = op;
  if (FlatSymbolRefAttr name = op.getScoreModAttr()) {
    kn.scoreMod = llvm::dyn_cast_or_null<ScoreModOp>(
        SymbolTable::lookupNearestSymbolFrom(op, name));
    if (!kn.scoreMod)
      return rw.notifyMatchFailure(op, "missing score_mod");
    FailureOr<ScoreModOp> deriv = getOrCreateScoreModDerivative(kn.scoreMod);
    if (failed(deriv)) // the pass created it before rewriting
      return rw.notifyMatchFailure(op, "no derivative of the score_mod");
    g.scoreModGrad = *deriv;
    kn.scoreModOnVectors = isVectorizableRegion(kn.scoreMod.getBody());
    g.scoreModGradOnVectors = isVectorizableRegion(g.scoreModGrad.getBody());
  }
  auto module = op->getParentOfType<ModuleOp>();
  ConstantGlobals tables(module);
  kn.tables = &tables;

  bindAttentionOperands(rw, loc, kn, op);
  g.o = readOnlyBuffer(rw, loc, op.getOutput());
  g.lse = readOnlyBuffer(rw, loc, op.getLse());
  g.dO = readOnlyBuffer(rw, loc, op.getGradOutput());
  auto dim = [&](Value mem, int64_t i) -> Value {
    return memref::DimOp::create(rw, loc, mem, i);
  };
  g.batch = dim(kn.q, 0);
  g.heads = dim(kn.q, 1);
  Value hkv = dim(kn.k, 1);
  kn.sq = dim(kn.q, 2);
  kn.sk = dim(kn.k, 2);
  kn.problemSq = qT.getDimSize(2);
  kn.problemSk = kT.getDimSize(2);
  kn.group = arith::DivUIOp::create(rw, loc, g.heads, hkv);
  if (op.hasBlockTables())
    assertTableShapes(rw, loc, "sparse_attn.attention_grad", op.getQuery(),
                      op.getKey(), {op.getKvNumBlocks(), op.getKvIndices()},
                      {op.getFullNumBlocks(), op.getFullIndices()}, kn,
                      g.batch, g.heads);

  // Tiles: the tables' blocks, else the options; a compile-time
  // classification when the lengths are static and the tables not too big
  // (the forward's rule).
  int64_t sqStatic = qT.getDimSize(2), skStatic = kT.getDimSize(2);
  bool staticSeq =
      !ShapedType::isDynamic(sqStatic) && !ShapedType::isDynamic(skStatic);
  if (op.hasBlockTables()) {
    kn.bq = op.getTableBlock()->front();
    kn.bk = op.getTableBlock()->back();
  } else {
    kn.bq = options.blockQ;
    kn.bk = options.blockK;
    // A tile larger than a static sequence is that sequence.
    if (staticSeq) {
      kn.bq = std::min<int64_t>(kn.bq, std::max<int64_t>(sqStatic, 1));
      kn.bk = std::min<int64_t>(kn.bk, std::max<int64_t>(skStatic, 1));
    }
  }
  kn.bqPad = (kn.bq + 15) / 16 * 16;
  TileLists lists;
  std::optional<int64_t> tileCount =
      staticSeq ? numTiles(sqStatic, skStatic, kn.bq, kn.bk) : std::nullopt;
  if (!op.hasBlockTables() && tileCount &&
      *tileCount <= kMaxCompileTimeTableTiles) {
    MaskInterpreter masks(op);
    PatternContext ctx(sqStatic, skStatic);
    ctx.customMasks = &masks;
    SmallVector<FlatSymbolRefAttr> custom;
    op.getPattern().collectCustomMasks(custom);
    bool perHead = llvm::any_of(
        custom, [&](FlatSymbolRefAttr m) { return masks.usesBatchOrHead(m); });
    if (!perHead) {
      BlockClassification blocks =
          classifyBlocks(op.getPattern(), ctx, kn.bq, kn.bk);
      if (masks.hadError())
        return failure();
      emitStaticTileLists(rw, g, blocks, lists);
    }
  }
  Value bqV = cIdx(rw, loc, kn.bq), bkV = cIdx(rw, loc, kn.bk);
  Value c0 = cIdx(rw, loc, 0), c1 = cIdx(rw, loc, 1);
  g.numQBlocks = arith::CeilDivUIOp::create(rw, loc, kn.sq, bqV);
  kn.numKBlocks = arith::CeilDivUIOp::create(rw, loc, kn.sk, bkV);
  if (op.hasBlockTables())
    emitTransposedRuntimeTables(rw, g, lists);

  auto alloc = [&](OpBuilder &b, RankedTensorType t,
                   ArrayRef<Value> dynSizes) -> Value {
    SmallVector<Value> dyn;
    for (int64_t i = 0; i < t.getRank(); ++i)
      if (t.isDynamicDim(i))
        dyn.push_back(dynSizes[i]);
    return memref::AllocOp::create(
        b, loc, MemRefType::get(t.getShape(), t.getElementType()), dyn,
        b.getI64IntegerAttr(64));
  };
  auto dqT = llvm::cast<RankedTensorType>(op.getGradQuery().getType());
  auto dkT = llvm::cast<RankedTensorType>(op.getGradKey().getType());
  auto dvT = llvm::cast<RankedTensorType>(op.getGradValue().getType());
  g.dq = alloc(rw, dqT, {g.batch, g.heads, kn.sq, nullptr});
  g.dk = alloc(rw, dkT, {g.batch, hkv, kn.sk, nullptr});
  g.dv = alloc(rw, dvT, {g.batch, hkv, kn.sk, nullptr});

  auto scratch = [&](OpBuilder &b, ArrayRef<int64_t> shape) -> Value {
    return memref::AllocOp::create(b, loc,
                                   MemRefType::get(shape, b.getF32Type()),
                                   ValueRange{}, b.getI64IntegerAttr(64));
  };
  auto zeroRows = [&](OpBuilder &b, Value buf, int64_t rows, int64_t n) {
    auto vt = VectorType::get({n}, b.getF32Type());
    Value z = arith::ConstantOp::create(b, loc, vt,
                                        DenseElementsAttr::get(vt, 0.0f));
    scf::ForOp::create(b, loc, cIdx(b, loc, 0), cIdx(b, loc, rows),
                       cIdx(b, loc, 1), ValueRange{},
                       [&](OpBuilder &b, Location loc, Value r, ValueRange) {
                         vector::StoreOp::create(b, loc, z, buf,
                                                 ValueRange{r, cIdx(b, loc, 0)});
                         scf::YieldOp::create(b, loc);
                       });
  };
  // Writes rows [0, count) of acc (f32) times `factor` to out[b, h, pos0 + r].
  auto writeRows = [&](OpBuilder &b, Value acc, Value out, Value bIdx,
                       Value hIdx, Value pos0, Value count, int64_t n,
                       double factor) {
    auto vf = VectorType::get({n}, b.getF32Type());
    auto ve = VectorType::get({n}, kn.elt);
    scf::ForOp::create(
        b, loc, cIdx(b, loc, 0), count, cIdx(b, loc, 1), ValueRange{},
        [&](OpBuilder &b, Location loc, Value r, ValueRange) {
          Value row = vector::LoadOp::create(b, loc, vf, acc,
                                             ValueRange{r, cIdx(b, loc, 0)});
          if (factor != 1.0)
            row = arith::MulFOp::create(
                b, loc, row,
                vector::BroadcastOp::create(
                    b, loc, vf, cF32(b, loc, static_cast<float>(factor))));
          if (!kn.elt.isF32())
            row = arith::TruncFOp::create(b, loc, ve, row);
          vector::StoreOp::create(
              b, loc, row, out,
              ValueRange{bIdx, hIdx, arith::AddIOp::create(b, loc, pos0, r),
                         cIdx(b, loc, 0)});
          scf::YieldOp::create(b, loc);
        });
  };

  // Key-block kernel: dK and dV.
  scf::ParallelOp::create(
      rw, loc, ValueRange{c0, c0, c0}, ValueRange{g.batch, hkv, kn.numKBlocks},
      ValueRange{c1, c1, c1},
      [&](OpBuilder &b, Location loc, ValueRange ivs) {
        Value bIdx = ivs[0], gIdx = ivs[1], kb = ivs[2];
        Value dkAcc = scratch(b, {kn.bk, kn.d});
        Value dvAcc = scratch(b, {kn.bk, kn.dv});
        zeroRows(b, dkAcc, kn.bk, kn.d);
        zeroRows(b, dvAcc, kn.bk, kn.dv);
        Value pT = scratch(b, {kn.bk, kn.bqPad});
        Value dsT = scratch(b, {kn.bk, kn.bqPad});
        Value dmodT = scratch(b, {kn.bk, kn.bqPad});
        QueryBlock qbk = allocQueryBlock(b, g);
        scf::ForOp::create(
            b, loc, c0, kn.group, c1, ValueRange{},
            [&](OpBuilder &b, Location loc, Value hh, ValueRange) {
              Value hIdx = arith::AddIOp::create(
                  b, loc, arith::MulIOp::create(b, loc, gIdx, kn.group), hh);
              forEachQueryBlock(
                  b, g, lists, bIdx, hIdx, gIdx, kb,
                  [&](OpBuilder &b, Value qb, bool masked) {
                    guardSegments(b, g, bIdx, qb, kb, masked, [&](OpBuilder &b) {
                      loadQueryBlock(b, g, qbk, bIdx, hIdx, qb);
                      emitGradTile(b, g, qbk, kb, masked, pT, dsT, dmodT);
                      accumulateKeyGrads(b, g, qbk, kb, masked, pT, dsT, dkAcc,
                                         dvAcc);
                    });
                  });
              scf::YieldOp::create(b, loc);
            });
        Value k0 = arith::MulIOp::create(b, loc, kb, bkV);
        Value cols = arith::MinSIOp::create(
            b, loc, bkV, arith::SubIOp::create(b, loc, kn.sk, k0));
        writeRows(b, dkAcc, g.dk, bIdx, gIdx, k0, cols, kn.d, 1.0);
        writeRows(b, dvAcc, g.dv, bIdx, gIdx, k0, cols, kn.dv, 1.0);
        scf::ReduceOp::create(b, loc);
      });

  // Query-block kernel: dQ.
  scf::ParallelOp::create(
      rw, loc, ValueRange{c0, c0, c0},
      ValueRange{g.batch, g.heads, g.numQBlocks}, ValueRange{c1, c1, c1},
      [&](OpBuilder &b, Location loc, ValueRange ivs) {
        Value dqAcc = scratch(b, {kn.bqPad, kn.d});
        zeroRows(b, dqAcc, kn.bqPad, kn.d);
        Value pT = scratch(b, {kn.bk, kn.bqPad});
        Value dsT = scratch(b, {kn.bk, kn.bqPad});
        Value dmodT = scratch(b, {kn.bk, kn.bqPad});
        QueryBlock qbk = allocQueryBlock(b, g);
        loadQueryBlock(b, g, qbk, ivs[0], ivs[1], ivs[2]);
        forEachKeyBlock(b, g, lists, qbk,
                        [&](OpBuilder &b, Value kb, bool masked) {
                          guardSegments(b, g, ivs[0], ivs[2], kb, masked,
                                        [&](OpBuilder &b) {
                            emitGradTile(b, g, qbk, kb, masked, pT, dsT, dmodT);
                            accumulateQueryGrads(b, g, qbk, kb, masked, dsT, dqAcc);
                          });
                        });
        writeRows(b, dqAcc, g.dq, ivs[0], ivs[1], qbk.q0, qbk.rows, kn.d,
                  kn.scale);
        scf::ReduceOp::create(b, loc);
      });

  SmallVector<Value> results;
  for (auto [mem, t] : {std::pair(g.dq, dqT), std::pair(g.dk, dkT),
                        std::pair(g.dv, dvT)})
    results.push_back(bufferization::ToTensorOp::create(
        rw, loc, t, mem, /*restrict=*/true, /*writable=*/true));
  rw.replaceOp(op, results);
  return success();
}

struct ConvertSparseAttnGradToLoopsPass
    : sparse_attn::impl::ConvertSparseAttnGradToLoopsBase<
          ConvertSparseAttnGradToLoopsPass> {
  using ConvertSparseAttnGradToLoopsBase::ConvertSparseAttnGradToLoopsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (blockQ <= 0 || blockK <= 0 || blockQ > 65536 || blockK > 65536) {
      module.emitError("convert-sparse-attn-grad-to-loops: block-q and "
                       "block-k must be between 1 and 65536");
      return signalPassFailure();
    }
    bool ok = true;
    module.walk([&](AttentionGradOp op) {
      if (failed(checkLowerable(op)))
        ok = false;
    });
    if (!ok)
      return signalPassFailure();
    RewritePatternSet patterns(&getContext());
    populateSparseAttnGradToLoopsPatterns(patterns, {blockQ, blockK});
    if (failed(applyPatternsGreedily(module, std::move(patterns))))
      return signalPassFailure();
    module.walk([&](AttentionGradOp op) {
      op.emitOpError("could not be lowered to loops");
      ok = false;
    });
    if (!ok)
      signalPassFailure();
  }
};
} // namespace

void mlir::sparse_attn::populateSparseAttnGradToLoopsPatterns(
    RewritePatternSet &patterns, const SparseAttnGradToLoopsOptions &options) {
  patterns.add<LowerAttentionGrad>(patterns.getContext(), options);
}
