//===- SelectBlocksToLoops.cpp - sparse_attn.select_blocks as CPU loops ---===//
//
// kinds[i][j]: the block grid classified at compile time (0 empty,
// 1 partial, 2 full), a constant global.
// scf.parallel (b, h', i) over the tables' rows:
//   qsum   = sum_{h in G(h')} mean_{r in Q(i)} q[b, h, r]      vector<D x f32>
//   s[j]   = qsum . kp[b, g, j] for candidates (NaN -> -inf)
//   sel[j] = candidate and (j < sink or among the `local` last candidates)
//   top-k of the free candidates: sel = 1 (emitTopK: arg-max rounds, or a
//                radix select for top_k >= 34; ties to the lower index)
//   selected j ascending -> kv_indices (partial) / full_indices (full);
//   counts; the rest of each row 0.
//
//===----------------------------------------------------------------------===//

#include "RoutingLoops.h"

#include "sparse_attn/Dialect/SparseAttn/Analysis/BlockSelection.h"
#include "sparse_attn/Dialect/SparseAttn/Analysis/PatternAnalysis.h"
#include "sparse_attn/Dialect/SparseAttn/Utils/ConstantGlobals.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include <limits>

using namespace mlir;
using namespace mlir::sparse_attn;

static constexpr int64_t kMaxRowLength = 1024;

LogicalResult routing::checkSelectBlocksLowerable(SelectBlocksOp op) {
  auto qT = llvm::cast<RankedTensorType>(op.getQuery().getType());
  auto kT = llvm::cast<RankedTensorType>(op.getPooledKeys().getType());
  if (qT.isDynamicDim(3) || kT.isDynamicDim(3))
    return op.emitOpError("the CPU lowering needs a static head dimension D");
  if (qT.getDimSize(3) > kMaxRowLength)
    return op.emitOpError("the CPU lowering supports head dimensions up to ")
           << kMaxRowLength << ", got D = " << qT.getDimSize(3);
  return checkStaticBlockSelection(op, "CPU");
}

namespace {
struct LowerSelectBlocks : OpRewritePattern<SelectBlocksOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SelectBlocksOp op,
                                PatternRewriter &rw) const override;
};
} // namespace

LogicalResult
LowerSelectBlocks::matchAndRewrite(SelectBlocksOp op,
                                   PatternRewriter &rw) const {
  if (failed(routing::checkSelectBlocksLowerable(op)))
    return failure();
  Location loc = op.getLoc();
  auto nT = llvm::cast<RankedTensorType>(op.getKvNumBlocks().getType());
  auto xT = llvm::cast<RankedTensorType>(op.getKvIndices().getType());
  BlockSelectionDims dims(op);
  int64_t sq = dims.sq, bq = dims.bq, mq = dims.mq, nk = dims.nk, d = dims.d;
  int64_t width = dims.width, hp = dims.hp, group = dims.group;
  bool perKV = dims.perKV;

  // The block grid's classes (one byte per tile).
  FailureOr<std::vector<int8_t>> classes = blockSelectionClasses(op);
  if (failed(classes))
    return failure();
  std::vector<int8_t> kinds = std::move(*classes);
  if (kinds.empty())
    kinds.push_back(0); // never read; no zero-sized global
  ConstantGlobals globals(op->getParentOfType<ModuleOp>());
  Type i8 = rw.getI8Type(), i32 = rw.getI32Type(), f32 = rw.getF32Type();
  Value table = globals.get(
      rw, loc,
      DenseElementsAttr::get(
          RankedTensorType::get({(int64_t)kinds.size()}, i8),
          ArrayRef<int8_t>(kinds)),
      "__sparse_attn_select_kinds");

  auto cIdx = [&](OpBuilder &b, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value c0 = cIdx(rw, 0), c1 = cIdx(rw, 1);
  Value q = routing::bufferOf(rw, loc, op.getQuery());
  Value kp = routing::bufferOf(rw, loc, op.getPooledKeys());
  Value bDim = memref::DimOp::create(rw, loc, q, 0);
  Value kvNum = routing::allocLike(rw, loc, nT, {bDim, Value(), Value()});
  Value fullNum = routing::allocLike(rw, loc, nT, {bDim, Value(), Value()});
  Value kvIdx = routing::allocLike(rw, loc, xT, {bDim, Value(), Value(), Value()});
  Value fullIdx = routing::allocLike(rw, loc, xT, {bDim, Value(), Value(), Value()});

  auto vecT = VectorType::get({d}, f32);
  Value zeroVec = arith::ConstantOp::create(
      rw, loc, DenseElementsAttr::get(vecT, rw.getF32FloatAttr(0.0f)));
  Value negInf = arith::ConstantOp::create(
      rw, loc, rw.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
  Value zeroI8 = arith::ConstantIntOp::create(rw, loc, i8, 0);
  Value oneI8 = arith::ConstantIntOp::create(rw, loc, i8, 1);
  Value fullI8 = arith::ConstantIntOp::create(
      rw, loc, i8, static_cast<int64_t>(TileKind::Full));
  Value zeroI32 = arith::ConstantIntOp::create(rw, loc, i32, 0);
  Value nkV = cIdx(rw, nk), widthV = cIdx(rw, width);

  scf::ParallelOp::create(
      rw, loc, ValueRange{c0, c0, c0},
      ValueRange{bDim, cIdx(rw, hp), cIdx(rw, mq)}, ValueRange{c1, c1, c1},
      [&](OpBuilder &b, Location loc, ValueRange iv) {
        Value bi = iv[0], hpi = iv[1], qi = iv[2];
        // Block-mean queries, summed over the row's query heads.
        Value r0 = arith::MulIOp::create(b, loc, qi, cIdx(b, bq));
        Value r1 = arith::MinUIOp::create(
            b, loc, arith::AddIOp::create(b, loc, r0, cIdx(b, bq)),
            cIdx(b, sq));
        Value rows = arith::UIToFPOp::create(
            b, loc, f32,
            arith::IndexCastUIOp::create(b, loc, b.getI64Type(),
                                         arith::SubIOp::create(b, loc, r1, r0)));
        Value rowsVec = vector::BroadcastOp::create(b, loc, vecT, rows);
        Value h0 = perKV ? arith::MulIOp::create(b, loc, hpi, cIdx(b, group))
                               .getResult()
                         : hpi;
        auto heads = scf::ForOp::create(
            b, loc, c0, cIdx(b, perKV ? group : 1), c1, ValueRange{zeroVec},
            [&](OpBuilder &b, Location loc, Value hh, ValueRange qsum) {
              Value h = arith::AddIOp::create(b, loc, h0, hh);
              auto sum = scf::ForOp::create(
                  b, loc, r0, r1, c1, ValueRange{zeroVec},
                  [&](OpBuilder &b, Location loc, Value r, ValueRange acc) {
                    Value row = routing::loadRowF32(b, loc, q,
                                                    ValueRange{bi, h, r}, d);
                    scf::YieldOp::create(
                        b, loc,
                        ValueRange{arith::AddFOp::create(b, loc, acc[0], row)});
                  });
              Value mean =
                  arith::DivFOp::create(b, loc, sum.getResult(0), rowsVec);
              scf::YieldOp::create(
                  b, loc,
                  ValueRange{arith::AddFOp::create(b, loc, qsum[0], mean)});
            });
        Value qsum = heads.getResult(0);
        Value g = perKV ? hpi
                        : arith::DivUIOp::create(b, loc, hpi, cIdx(b, group))
                              .getResult();

        auto kindAt = [&](OpBuilder &b, Value j) -> Value {
          Value flat = arith::AddIOp::create(
              b, loc, arith::MulIOp::create(b, loc, qi, nkV), j);
          return memref::LoadOp::create(b, loc, table, flat);
        };
        auto isCandidate = [&](OpBuilder &b, Value kind) -> Value {
          return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, kind,
                                       zeroI8);
        };
        // Scratch of the iteration (freed by the deallocation pipeline).
        Value scores = memref::AllocOp::create(
            b, loc, MemRefType::get({nk}, f32), b.getI64IntegerAttr(64));
        Value sel = memref::AllocOp::create(b, loc, MemRefType::get({nk}, i8),
                                            b.getI64IntegerAttr(64));
        // Scores of the candidates (others: -inf, never read as a score).
        scf::ForOp::create(
            b, loc, c0, nkV, c1, ValueRange{},
            [&](OpBuilder &b, Location loc, Value j, ValueRange) {
              Value cand = isCandidate(b, kindAt(b, j));
              auto ifOp = scf::IfOp::create(b, loc, TypeRange{f32}, cand,
                                            /*withElseRegion=*/true);
              {
                OpBuilder::InsertionGuard guard(b);
                b.setInsertionPointToStart(ifOp.thenBlock());
                Value key = routing::loadRowF32(b, loc, kp,
                                                ValueRange{bi, g, j}, d);
                Value dot = vector::ReductionOp::create(
                    b, loc, vector::CombiningKind::ADD,
                    arith::MulFOp::create(b, loc, qsum, key));
                Value isNan = arith::CmpFOp::create(
                    b, loc, arith::CmpFPredicate::UNO, dot, dot);
                scf::YieldOp::create(
                    b, loc,
                    ValueRange{arith::SelectOp::create(b, loc, isNan, negInf,
                                                       dot)});
                b.setInsertionPointToStart(ifOp.elseBlock());
                scf::YieldOp::create(b, loc, ValueRange{negInf});
              }
              memref::StoreOp::create(b, loc, ifOp.getResult(0), scores, j);
              // 0: a free candidate, 2: not a candidate (1: selected).
              memref::StoreOp::create(
                  b, loc,
                  arith::SelectOp::create(
                      b, loc, cand, zeroI8,
                      arith::ConstantIntOp::create(b, loc, i8, 2)),
                  sel, j);
              scf::YieldOp::create(b, loc);
            });
        auto mark = [&](OpBuilder &b, Value cond, Value j) {
          auto ifOp = scf::IfOp::create(b, loc, cond, /*withElseRegion=*/false);
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(ifOp.thenBlock());
          memref::StoreOp::create(b, loc, oneI8, sel, j);
        };
        // Sinks: the candidates among the first `sink` blocks.
        scf::ForOp::create(
            b, loc, c0, cIdx(b, std::min<int64_t>(op.getSink(), nk)), c1, ValueRange{},
            [&](OpBuilder &b, Location loc, Value j, ValueRange) {
              mark(b, isCandidate(b, kindAt(b, j)), j);
              scf::YieldOp::create(b, loc);
            });
        // Local: the `local` highest-indexed candidates.
        if (op.getLocal() > 0) {
          Value localV = cIdx(b, op.getLocal());
          scf::ForOp::create(
              b, loc, c0, nkV, c1, ValueRange{c0},
              [&](OpBuilder &b, Location loc, Value jj, ValueRange count) {
                Value j = arith::SubIOp::create(
                    b, loc, arith::SubIOp::create(b, loc, nkV, c1), jj);
                Value take = arith::AndIOp::create(
                    b, loc, isCandidate(b, kindAt(b, j)),
                    arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                          count[0], localV));
                mark(b, take, j);
                Value next = arith::AddIOp::create(
                    b, loc, count[0],
                    arith::IndexCastUIOp::create(b, loc, b.getIndexType(),
                                                 take));
                scf::YieldOp::create(b, loc, ValueRange{next});
              });
        }
        // Top-k of the other candidates.
        routing::emitTopK(b, loc, scores, sel, nkV,
                          cIdx(b, std::min<int64_t>(op.getTopK(), nk)),
                          op.getTopK());
        // The selected blocks in increasing order, by class.
        auto toI32 = [&](OpBuilder &b, Value idx) -> Value {
          return arith::IndexCastOp::create(b, loc, i32, idx);
        };
        auto counts = scf::ForOp::create(
            b, loc, c0, nkV, c1, ValueRange{c0, c0},
            [&](OpBuilder &b, Location loc, Value j, ValueRange n) {
              Value picked = arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::eq,
                  memref::LoadOp::create(b, loc, sel, j), oneI8);
              Value isFull = arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::eq, kindAt(b, j), fullI8);
              auto ifOp = scf::IfOp::create(b, loc, TypeRange{b.getIndexType(), b.getIndexType()},
                                            picked, /*withElseRegion=*/true);
              {
                OpBuilder::InsertionGuard guard(b);
                b.setInsertionPointToStart(ifOp.thenBlock());
                auto inner = scf::IfOp::create(
                    b, loc, TypeRange{b.getIndexType(), b.getIndexType()},
                    isFull, /*withElseRegion=*/true);
                b.setInsertionPointToStart(inner.thenBlock());
                memref::StoreOp::create(b, loc, toI32(b, j), fullIdx,
                                        ValueRange{bi, hpi, qi, n[1]});
                scf::YieldOp::create(
                    b, loc,
                    ValueRange{n[0], arith::AddIOp::create(b, loc, n[1], c1)});
                b.setInsertionPointToStart(inner.elseBlock());
                memref::StoreOp::create(b, loc, toI32(b, j), kvIdx,
                                        ValueRange{bi, hpi, qi, n[0]});
                scf::YieldOp::create(
                    b, loc,
                    ValueRange{arith::AddIOp::create(b, loc, n[0], c1), n[1]});
                b.setInsertionPointAfter(inner);
                scf::YieldOp::create(b, loc, inner.getResults());
                b.setInsertionPointToStart(ifOp.elseBlock());
                scf::YieldOp::create(b, loc, n);
              }
              scf::YieldOp::create(b, loc, ifOp.getResults());
            });
        Value np = counts.getResult(0), nf = counts.getResult(1);
        memref::StoreOp::create(b, loc, toI32(b, np), kvNum,
                                ValueRange{bi, hpi, qi});
        memref::StoreOp::create(b, loc, toI32(b, nf), fullNum,
                                ValueRange{bi, hpi, qi});
        for (auto [from, idx] : {std::pair(np, kvIdx), std::pair(nf, fullIdx)})
          scf::ForOp::create(
              b, loc, from, widthV, c1, ValueRange{},
              [&, idx = idx](OpBuilder &b, Location loc, Value e, ValueRange) {
                memref::StoreOp::create(b, loc, zeroI32, idx,
                                        ValueRange{bi, hpi, qi, e});
                scf::YieldOp::create(b, loc);
              });
        scf::ReduceOp::create(b, loc);
      });

  SmallVector<Value> results;
  for (auto [buf, type] :
       {std::pair(kvNum, nT), std::pair(kvIdx, xT), std::pair(fullNum, nT),
        std::pair(fullIdx, xT)})
    results.push_back(bufferization::ToTensorOp::create(
        rw, loc, type, buf, /*restrict=*/true, /*writable=*/true));
  rw.replaceOp(op, results);
  return success();
}

void routing::populateSelectBlocksPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerSelectBlocks>(patterns.getContext());
}
