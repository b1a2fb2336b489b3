//===- RoutingKernels.cpp - routing ops as GPU kernels --------------------===//
//
// sparse_attn.pool and sparse_attn.select_blocks as kernels of the
// `@sparse_attn_kernels` gpu.module, launched in program order with the
// attention kernels that read their results (a routing program is one
// artifact with several kernels; the manifest's `program` lines say which
// buffer each launch argument is).
//
//   pool:   grid (N, H, B), 128 threads over D; each thread sums (or takes
//           the maximum of) its column over the block's rows in f32.
//   select: grid (Mq, H', B), 128 threads:
//     1. the group's block-mean queries, summed (threads over D) -> shared;
//     2. scores: one warp per candidate key block (lanes over D, shuffle
//        sum; NaN -> -inf) -> shared, with a state per block (0 candidate,
//        1 selected, 2 not a candidate);
//     3. thread 0 marks the sinks and the `local` last candidates;
//     4. warp 0, top_k rounds: each lane's best free candidate among the
//        blocks j = lane (mod 32) (strictly greater: ties to the lower
//        index), an arg-max across lanes by shuffles (ties to the lower
//        index), the owning lane marks it (each lane only touches its own
//        blocks: no shared-memory hazard between rounds);
//     5. thread 0 writes the selected blocks in increasing order to the
//        partial or the full table by class, counts, and zeros.
//   The block classes are the compile-time table of BlockSelection.h, an
//   i32 `table:` argument.
//   select_tokens: grid (Sq, 1, B), 128 threads:
//     1. scores: one warp per key s, lanes over DI, a shuffle sum per
//        indexer head, I = sum_j w_j relu(iq_j . ik_s) (NaN -> -inf); the
//        pattern's predicate at (b, 0, t, s) (state 0 candidate, 2 not);
//     2. warp 0's top-k rounds as for select_blocks (warpTopK);
//     3. thread 0 writes the selected keys in increasing order, the count
//        and zeros.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Conversion/SparseAttnToGPU/SparseAttnToGPU.h"

#include "GPUPrimitives.h"
#include "KernelModule.h"

#include "sparse_attn/Dialect/SparseAttn/Analysis/BlockSelection.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"
#include "sparse_attn/Dialect/SparseAttn/Utils/PatternCodegen.h"
#include "sparse_attn/Dialect/SparseAttn/Utils/ConstantGlobals.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include <limits>

using namespace mlir;
using namespace mlir::sparse_attn;

namespace {

constexpr int64_t kThreads = 128;
/// Largest number of key blocks a selection keeps in shared memory (scores
/// and states, 8 bytes each).
constexpr int64_t kMaxSelectBlocks = 4096;
constexpr int64_t kMaxRow = 1024;
/// Largest number of keys a token selection keeps in shared memory (score
/// and state, 8 bytes each: 32 KB of the 48 KB of static shared memory).
constexpr int64_t kMaxSelectTokens = 4096;

Value loadF32(GpuPrimitives &p, Value mem, ValueRange idx) {
  Value x = memref::LoadOp::create(p.b, p.loc, mem, idx);
  if (!x.getType().isF32())
    x = arith::ExtFOp::create(p.b, p.loc, p.b.getF32Type(), x);
  return x;
}

/// for (i = from; i < to; i += step) body(i)
void forLoop(OpBuilder &b, Location loc, Value from, Value to, Value step,
             function_ref<void(OpBuilder &, Value)> body) {
  scf::ForOp::create(b, loc, from, to, step, ValueRange{},
                     [&](OpBuilder &b, Location loc, Value i, ValueRange) {
                       body(b, i);
                       scf::YieldOp::create(b, loc);
                     });
}

void ifThen(OpBuilder &b, Location loc, Value cond,
            function_ref<void(OpBuilder &)> body) {
  auto op = scf::IfOp::create(b, loc, cond, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(op.thenBlock());
  body(b);
}

/// Warp 0's top-k over `n` entries in shared memory: `rounds` times, the
/// free entry (state 0) with the highest score becomes selected (state 1).
/// Each lane owns the entries j = lane (mod 32), so rounds need no
/// shared-memory synchronisation: a lane's best free entry (strictly
/// greater: ties to the lower index), then an arg-max across lanes by five
/// shuffles (ties to the lower index), and the owning lane marks it. An
/// entry of score -inf is still selected when fewer than `rounds` entries
/// score higher (a candidate is a candidate, whatever its score).
void warpTopK(GpuPrimitives &p, Value scores, Value state, int64_t n,
              int64_t rounds, Value warp, Value lane) {
  OpBuilder &b = p.b;
  Location loc = p.loc;
  Type i32 = b.getI32Type();
  Value c0 = p.idx(0), c1 = p.idx(1), nV = p.idx(n);
  auto c32 = [&](int64_t v) -> Value {
    return arith::ConstantIntOp::create(b, loc, i32, v);
  };
  auto eq = [&](Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, x, y);
  };
  Value negInf = p.cf(-std::numeric_limits<double>::infinity());
  Value none = c32(-1);
  ifThen(b, loc, eq(warp, c0), [&](OpBuilder &b) {
    forLoop(b, loc, c0, p.idx(rounds), c1, [&](OpBuilder &b, Value) {
      auto best = scf::ForOp::create(
          b, loc, lane, nV, p.idx(32), ValueRange{negInf, none},
          [&](OpBuilder &b, Location loc, Value j, ValueRange st) {
            Value free = eq(memref::LoadOp::create(b, loc, state, j), c32(0));
            Value s = memref::LoadOp::create(b, loc, scores, j);
            Value better = arith::OrIOp::create(
                b, loc, eq(st[1], none),
                arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, s,
                                      st[0]));
            Value take = arith::AndIOp::create(b, loc, free, better);
            scf::YieldOp::create(
                b, loc,
                ValueRange{arith::SelectOp::create(b, loc, take, s, st[0]),
                           arith::SelectOp::create(b, loc, take, p.i32v(j),
                                                   st[1])});
          });
      Value s = best.getResult(0), j = best.getResult(1);
      for (int32_t off : {16, 8, 4, 2, 1}) {
        Value so = p.shuffleXor(s, off), jo = p.shuffleXor(j, off);
        // The other lane's candidate wins if this lane has none, or it
        // has a higher score, or an equal one at a lower index.
        Value otherHas = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne,
                                               jo, none);
        Value higher = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                             so, s);
        Value tie = arith::AndIOp::create(
            b, loc,
            arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, so, s),
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, jo, j));
        Value wins = arith::AndIOp::create(
            b, loc, otherHas,
            arith::OrIOp::create(
                b, loc, eq(j, none),
                arith::OrIOp::create(b, loc, higher, tie)));
        s = arith::SelectOp::create(b, loc, wins, so, s);
        j = arith::SelectOp::create(b, loc, wins, jo, j);
      }
      Value jIdx = arith::IndexCastOp::create(b, loc, b.getIndexType(), j);
      Value mine = arith::AndIOp::create(
          b, loc,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, j, none),
          eq(arith::RemSIOp::create(b, loc, j, c32(32)), p.i32v(lane)));
      ifThen(b, loc, mine, [&](OpBuilder &b) {
        memref::StoreOp::create(b, loc, c32(1), state, jIdx);
      });
    });
  });
}

//===----------------------------------------------------------------------===//
// pool
//===----------------------------------------------------------------------===//

struct LowerPoolToGPU : OpRewritePattern<PoolOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(PoolOp op, PatternRewriter &rw) const override {
    if (failed(checkRoutingLowerableToGPU(op)))
      return failure();
    Location loc = op.getLoc();
    auto inT = llvm::cast<RankedTensorType>(op.getInput().getType());
    auto outT = llvm::cast<RankedTensorType>(op.getOutput().getType());
    auto module = op->getParentOfType<ModuleOp>();
    gpu::GPUModuleOp kernels = getOrCreateKernelModule(rw, loc, module);
    auto inM = MemRefType::get(inT.getShape(), inT.getElementType());
    auto outM = MemRefType::get(outT.getShape(), outT.getElementType());
    int64_t s = inT.getDimSize(2), d = inT.getDimSize(3);
    int64_t block = op.getBlock(), stride = op.getEffectiveStride();
    bool isMax = op.getKind() == "max";
    {
      OpBuilder::InsertionGuard guard(rw);
      gpu::GPUFuncOp func =
          createKernel(rw, loc, kernels, "sparse_attn_pool", {inM, outM}, {},
                       kThreads);
      GpuPrimitives p(rw, loc);
      Value in = func.getArgument(0), out = func.getArgument(1);
      Value i = gpu::BlockIdOp::create(rw, loc, gpu::Dimension::x);
      Value h = gpu::BlockIdOp::create(rw, loc, gpu::Dimension::y);
      Value bIdx = gpu::BlockIdOp::create(rw, loc, gpu::Dimension::z);
      Value tid = gpu::ThreadIdOp::create(rw, loc, gpu::Dimension::x);
      Value r0 = p.muli(i, stride);
      Value r1 = arith::MinUIOp::create(rw, loc, p.addi(r0, block), p.idx(s));
      Value count = arith::UIToFPOp::create(
          rw, loc, rw.getF32Type(),
          arith::IndexCastUIOp::create(rw, loc, rw.getI64Type(),
                                       arith::SubIOp::create(rw, loc, r1, r0)));
      Value init = p.cf(isMax ? -std::numeric_limits<double>::infinity() : 0.0);
      forLoop(rw, loc, tid, p.idx(d), p.idx(kThreads), [&](OpBuilder &b, Value e) {
        auto acc = scf::ForOp::create(
            b, loc, r0, r1, p.idx(1), ValueRange{init},
            [&](OpBuilder &b, Location loc, Value r, ValueRange a) {
              Value x = loadF32(p, in, ValueRange{bIdx, h, r, e});
              Value next = isMax ? arith::MaximumFOp::create(b, loc, a[0], x).getResult()
                                 : arith::AddFOp::create(b, loc, a[0], x).getResult();
              scf::YieldOp::create(b, loc, next);
            });
        Value v = acc.getResult(0);
        if (!isMax)
          v = arith::DivFOp::create(b, loc, v, count);
        if (!outT.getElementType().isF32())
          v = arith::TruncFOp::create(b, loc, outT.getElementType(), v);
        memref::StoreOp::create(b, loc, v, out, ValueRange{bIdx, h, i, e});
      });
      gpu::ReturnOp::create(rw, loc);
      rw.setInsertionPoint(op);
      Value inBuf = hostBufferOf(rw, loc, op.getInput());
      Value outBuf = hostAlloc(rw, loc, outT);
      launchKernel(rw, loc, func,
                   {outT.getDimSize(2), outT.getDimSize(1), outT.getDimSize(0)},
                   kThreads, {inBuf, outBuf}, {"input", "output"});
      rw.replaceOp(op, bufferization::ToTensorOp::create(
                           rw, loc, outT, outBuf, /*restrict=*/true,
                           /*writable=*/true));
    }
    return success();
  }
};

//===----------------------------------------------------------------------===//
// select_blocks
//===----------------------------------------------------------------------===//

struct LowerSelectBlocksToGPU : OpRewritePattern<SelectBlocksOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SelectBlocksOp op,
                                PatternRewriter &rw) const override;
};

LogicalResult
LowerSelectBlocksToGPU::matchAndRewrite(SelectBlocksOp op,
                                        PatternRewriter &rw) const {
  if (failed(checkRoutingLowerableToGPU(op)))
    return failure();
  FailureOr<std::vector<int8_t>> classes = blockSelectionClasses(op);
  if (failed(classes))
    return failure();
  Location loc = op.getLoc();
  auto qT = llvm::cast<RankedTensorType>(op.getQuery().getType());
  auto kT = llvm::cast<RankedTensorType>(op.getPooledKeys().getType());
  auto nT = llvm::cast<RankedTensorType>(op.getKvNumBlocks().getType());
  auto xT = llvm::cast<RankedTensorType>(op.getKvIndices().getType());
  BlockSelectionDims dims(op);
  int64_t sq = dims.sq, bq = dims.bq, mq = dims.mq, nk = dims.nk, d = dims.d;
  int64_t width = dims.width, hp = dims.hp, group = dims.group;
  int64_t batch = dims.batch;
  bool perKV = dims.perKV;
  int64_t sink = op.getSink(), local = op.getLocal(), topK = op.getTopK();
  auto module = op->getParentOfType<ModuleOp>();
  gpu::GPUModuleOp kernels = getOrCreateKernelModule(rw, loc, module);

  SmallVector<int32_t> kinds(classes->begin(), classes->end());
  Type i32 = rw.getI32Type(), f32 = rw.getF32Type();
  auto memOf = [](RankedTensorType t) {
    return MemRefType::get(t.getShape(), t.getElementType());
  };
  int64_t tableLen = std::max<int64_t>(1, kinds.size());
  auto kindsM = MemRefType::get({tableLen}, i32);
  auto wg = gpu::AddressSpaceAttr::get(rw.getContext(),
                                       gpu::AddressSpace::Workgroup);
  auto sharedF32 = [&](int64_t n) {
    return MemRefType::get({std::max<int64_t>(1, n)}, f32,
                           MemRefLayoutAttrInterface{}, wg);
  };
  gpu::GPUFuncOp func;
  {
    OpBuilder::InsertionGuard guard(rw);
    func = createKernel(
        rw, loc, kernels, "sparse_attn_select_blocks",
        {memOf(qT), memOf(kT), kindsM, memOf(nT), memOf(xT), memOf(nT),
         memOf(xT)},
        {sharedF32(d), sharedF32(nk),
         MemRefType::get({std::max<int64_t>(1, nk)}, i32,
                         MemRefLayoutAttrInterface{}, wg)},
        kThreads);
    GpuPrimitives p(rw, loc);
    OpBuilder &b = rw;
    Value q = func.getArgument(0), kp = func.getArgument(1),
          table = func.getArgument(2), kvNum = func.getArgument(3),
          kvIdx = func.getArgument(4), fullNum = func.getArgument(5),
          fullIdx = func.getArgument(6);
    Value qsum = func.getWorkgroupAttributions()[0];
    Value scores = func.getWorkgroupAttributions()[1];
    Value state = func.getWorkgroupAttributions()[2];
    Value qi = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
    Value hpi = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
    Value bi = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
    Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    Value lane = arith::RemUIOp::create(b, loc, tid, p.idx(32));
    Value warp = arith::DivUIOp::create(b, loc, tid, p.idx(32));
    Value c0 = p.idx(0), c1 = p.idx(1), nkV = p.idx(nk);
    auto c32 = [&](int64_t v) -> Value {
      return arith::ConstantIntOp::create(b, loc, i32, v);
    };
    auto eq = [&](Value x, Value y) {
      return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, x, y);
    };
    auto kindAt = [&](Value j) -> Value {
      return memref::LoadOp::create(b, loc, table,
                                    ValueRange{p.add(p.muli(qi, nk), j)});
    };
    Value negInf = p.cf(-std::numeric_limits<double>::infinity());

    // 1. Block-mean queries of the row's heads, summed.
    Value r0 = p.muli(qi, bq);
    Value r1 = arith::MinUIOp::create(b, loc, p.addi(r0, bq), p.idx(sq));
    Value rows = arith::UIToFPOp::create(
        b, loc, f32,
        arith::IndexCastUIOp::create(b, loc, b.getI64Type(),
                                     arith::SubIOp::create(b, loc, r1, r0)));
    Value h0 = perKV ? p.muli(hpi, group) : hpi;
    forLoop(b, loc, tid, p.idx(d), p.idx(kThreads), [&](OpBuilder &b, Value e) {
      auto heads = scf::ForOp::create(
          b, loc, c0, p.idx(perKV ? group : 1), c1, ValueRange{p.cf(0)},
          [&](OpBuilder &b, Location loc, Value hh, ValueRange acc) {
            Value h = p.add(h0, hh);
            auto sum = scf::ForOp::create(
                b, loc, r0, r1, c1, ValueRange{p.cf(0)},
                [&](OpBuilder &b, Location loc, Value r, ValueRange s) {
                  scf::YieldOp::create(
                      b, loc,
                      ValueRange{p.fadd(s[0], loadF32(p, q, ValueRange{bi, h, r, e}))});
                });
            Value mean = arith::DivFOp::create(b, loc, sum.getResult(0), rows);
            scf::YieldOp::create(b, loc, ValueRange{p.fadd(acc[0], mean)});
          });
      memref::StoreOp::create(b, loc, heads.getResult(0), qsum, e);
    });
    gpu::BarrierOp::create(b, loc);

    // 2. Scores: one warp per key block.
    Value g = perKV ? hpi : arith::DivUIOp::create(b, loc, hpi, p.idx(group)).getResult();
    forLoop(b, loc, warp, nkV, p.idx(kThreads / 32), [&](OpBuilder &b, Value j) {
      Value cand = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne,
                                         kindAt(j), c32(0));
      auto partial = scf::ForOp::create(
          b, loc, lane, p.idx(d), p.idx(32), ValueRange{p.cf(0)},
          [&](OpBuilder &b, Location loc, Value e, ValueRange s) {
            Value x = p.fmul(memref::LoadOp::create(b, loc, qsum, e),
                             loadF32(p, kp, ValueRange{bi, g, j, e}));
            scf::YieldOp::create(b, loc, ValueRange{p.fadd(s[0], x)});
          });
      Value dot = partial.getResult(0);
      for (int32_t off : {16, 8, 4, 2, 1})
        dot = p.fadd(dot, p.shuffleXor(dot, off));
      Value isNan = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO,
                                          dot, dot);
      Value score = arith::SelectOp::create(
          b, loc, arith::OrIOp::create(
                      b, loc, isNan,
                      arith::XOrIOp::create(
                          b, loc, cand,
                          arith::ConstantIntOp::create(b, loc, 1, 1))),
          negInf, dot);
      ifThen(b, loc, eq(lane, c0), [&](OpBuilder &b) {
        memref::StoreOp::create(b, loc, score, scores, j);
        memref::StoreOp::create(
            b, loc, arith::SelectOp::create(b, loc, cand, c32(0), c32(2)),
            state, j);
      });
    });
    gpu::BarrierOp::create(b, loc);

    // 3. Forced blocks (thread 0): sinks, then the `local` last candidates.
    ifThen(b, loc, eq(tid, c0), [&](OpBuilder &b) {
      forLoop(b, loc, c0, p.idx(std::min(sink, nk)), c1, [&](OpBuilder &b, Value j) {
        Value s = memref::LoadOp::create(b, loc, state, j);
        ifThen(b, loc, eq(s, c32(0)), [&](OpBuilder &b) {
          memref::StoreOp::create(b, loc, c32(1), state, j);
        });
      });
      if (local > 0)
        scf::ForOp::create(
            b, loc, c0, nkV, c1, ValueRange{c0},
            [&](OpBuilder &b, Location loc, Value jj, ValueRange count) {
              Value j = arith::SubIOp::create(b, loc, p.idx(nk - 1), jj);
              Value s = memref::LoadOp::create(b, loc, state, j);
              Value take = arith::AndIOp::create(
                  b, loc,
                  arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, s,
                                        c32(2)),
                  arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                        count[0], p.idx(local)));
              ifThen(b, loc, take, [&](OpBuilder &b) {
                memref::StoreOp::create(b, loc, c32(1), state, j);
              });
              scf::YieldOp::create(
                  b, loc,
                  ValueRange{p.add(count[0], arith::IndexCastUIOp::create(
                                                 b, loc, b.getIndexType(), take))});
            });
    });
    gpu::BarrierOp::create(b, loc);

    // 4. Top-k by warp 0.
    warpTopK(p, scores, state, nk, std::min(topK, nk), warp, lane);
    gpu::BarrierOp::create(b, loc);

    // 5. The tables (thread 0).
    ifThen(b, loc, eq(tid, c0), [&](OpBuilder &b) {
      auto counts = scf::ForOp::create(
          b, loc, c0, nkV, c1, ValueRange{c0, c0},
          [&](OpBuilder &b, Location loc, Value j, ValueRange n) {
            Value picked = eq(memref::LoadOp::create(b, loc, state, j), c32(1));
            Value full = eq(kindAt(j), c32(static_cast<int64_t>(TileKind::Full)));
            Value toFull = arith::AndIOp::create(b, loc, picked, full);
            Value toPart = arith::AndIOp::create(
                b, loc, picked,
                arith::XOrIOp::create(b, loc, full,
                                      arith::ConstantIntOp::create(b, loc, 1, 1)));
            ifThen(b, loc, toFull, [&](OpBuilder &b) {
              memref::StoreOp::create(b, loc, p.i32v(j), fullIdx,
                                      ValueRange{bi, hpi, qi, n[1]});
            });
            ifThen(b, loc, toPart, [&](OpBuilder &b) {
              memref::StoreOp::create(b, loc, p.i32v(j), kvIdx,
                                      ValueRange{bi, hpi, qi, n[0]});
            });
            auto inc = [&](Value x, Value c) {
              return p.add(x, arith::IndexCastUIOp::create(b, loc, b.getIndexType(), c));
            };
            scf::YieldOp::create(b, loc,
                                 ValueRange{inc(n[0], toPart), inc(n[1], toFull)});
          });
      Value np = counts.getResult(0), nf = counts.getResult(1);
      memref::StoreOp::create(b, loc, p.i32v(np), kvNum, ValueRange{bi, hpi, qi});
      memref::StoreOp::create(b, loc, p.i32v(nf), fullNum, ValueRange{bi, hpi, qi});
      for (auto [from, idx] : {std::pair(np, kvIdx), std::pair(nf, fullIdx)})
        forLoop(b, loc, from, p.idx(width), c1, [&, idx = idx](OpBuilder &b, Value e) {
          memref::StoreOp::create(b, loc, c32(0), idx, ValueRange{bi, hpi, qi, e});
        });
    });
    gpu::ReturnOp::create(b, loc);
  }

  // Host side.
  ConstantGlobals hostGlobals(module, /*alignment=*/16);
  memref::GetGlobalOp kindsGlobal =
      hostGlobals.getI32(rw, loc, kinds, "__sparse_attn_select_kinds");
  Value qBuf = hostBufferOf(rw, loc, op.getQuery());
  Value kBuf = hostBufferOf(rw, loc, op.getPooledKeys());
  Value bufs[4] = {hostAlloc(rw, loc, nT), hostAlloc(rw, loc, xT),
                   hostAlloc(rw, loc, nT), hostAlloc(rw, loc, xT)};
  std::string tableRole = ("table:" + kindsGlobal.getName()).str();
  launchKernel(rw, loc, func, {mq, hp, batch}, kThreads,
         {qBuf, kBuf, kindsGlobal, bufs[0], bufs[1], bufs[2], bufs[3]},
         {"query", "pooled_keys", tableRole, "kv_num_blocks", "kv_indices",
          "full_num_blocks", "full_indices"});
  SmallVector<Value> results;
  for (auto [buf, res] : llvm::zip(bufs, op.getResults()))
    results.push_back(bufferization::ToTensorOp::create(
        rw, loc, llvm::cast<RankedTensorType>(res.getType()), buf,
        /*restrict=*/true, /*writable=*/true));
  rw.replaceOp(op, results);
  return success();
}

//===----------------------------------------------------------------------===//
// select_tokens
//===----------------------------------------------------------------------===//

struct LowerSelectTokensToGPU : OpRewritePattern<SelectTokensOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SelectTokensOp op,
                                PatternRewriter &rw) const override;
};

LogicalResult
LowerSelectTokensToGPU::matchAndRewrite(SelectTokensOp op,
                                        PatternRewriter &rw) const {
  if (failed(checkRoutingLowerableToGPU(op)))
    return failure();
  Location loc = op.getLoc();
  auto iqT = llvm::cast<RankedTensorType>(op.getIndexQuery().getType());
  auto ikT = llvm::cast<RankedTensorType>(op.getIndexKeys().getType());
  auto wT = llvm::cast<RankedTensorType>(op.getWeights().getType());
  auto nT = llvm::cast<RankedTensorType>(op.getNum().getType());
  auto xT = llvm::cast<RankedTensorType>(op.getIndices().getType());
  int64_t batch = iqT.getDimSize(0), sq = iqT.getDimSize(1);
  int64_t hi = iqT.getDimSize(2), di = iqT.getDimSize(3);
  int64_t sk = ikT.getDimSize(1), width = xT.getDimSize(3);
  int64_t rounds = std::min<int64_t>(op.getTopK(), sk);
  auto module = op->getParentOfType<ModuleOp>();
  gpu::GPUModuleOp kernels = getOrCreateKernelModule(rw, loc, module);
  Type i32 = rw.getI32Type(), f32 = rw.getF32Type();
  auto memOf = [](RankedTensorType t) {
    return MemRefType::get(t.getShape(), t.getElementType());
  };
  auto wg = gpu::AddressSpaceAttr::get(rw.getContext(),
                                       gpu::AddressSpace::Workgroup);
  gpu::GPUFuncOp func;
  {
    OpBuilder::InsertionGuard guard(rw);
    func = createKernel(
        rw, loc, kernels, "sparse_attn_select_tokens",
        {memOf(iqT), memOf(ikT), memOf(wT), memOf(nT), memOf(xT)},
        {MemRefType::get({sk}, f32, MemRefLayoutAttrInterface{}, wg),
         MemRefType::get({sk}, i32, MemRefLayoutAttrInterface{}, wg)},
        kThreads);
    ConstantGlobals deviceGlobals(kernels, /*alignment=*/16);
    GpuPrimitives p(rw, loc);
    OpBuilder &b = rw;
    Value iq = func.getArgument(0), ik = func.getArgument(1),
          w = func.getArgument(2), num = func.getArgument(3),
          indices = func.getArgument(4);
    Value scores = func.getWorkgroupAttributions()[0];
    Value state = func.getWorkgroupAttributions()[1];
    Value t = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
    Value bi = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
    Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    Value lane = arith::RemUIOp::create(b, loc, tid, p.idx(32));
    Value warp = arith::DivUIOp::create(b, loc, tid, p.idx(32));
    Value c0 = p.idx(0), c1 = p.idx(1);
    auto c32 = [&](int64_t v) -> Value {
      return arith::ConstantIntOp::create(b, loc, i32, v);
    };
    auto eq = [&](Value x, Value y) {
      return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, x, y);
    };
    Value negInf = p.cf(-std::numeric_limits<double>::infinity());

    // 1. Scores: one warp per key, lanes over DI, one shuffle sum per
    //    indexer head (every lane ends with the sum).
    forLoop(b, loc, warp, p.idx(sk), p.idx(kThreads / 32),
            [&](OpBuilder &b, Value s) {
      PatternCodegenInputs in;
      in.b = bi;
      in.h = c0;
      in.q = t;
      in.k = s;
      in.sq = sq;
      in.sk = sk;
      in.symbolScope = op;
      auto load = [&](OpBuilder &b, Location loc, DenseIntElementsAttr table,
                      Value i, Value j) {
        return deviceGlobals.loadBoolTableEntry(b, loc, table, i, j);
      };
      in.loadTable = load;
      FailureOr<Value> cand = buildAllowed(b, loc, op.getPattern(), in);
      // checkRoutingLowerableToGPU verified the predicate.
      if (failed(cand))
        llvm::report_fatal_error("sparse-attn: pattern code generation "
                                 "failed after verifying it");
      auto heads = scf::ForOp::create(
          b, loc, c0, p.idx(hi), c1, ValueRange{p.cf(0)},
          [&](OpBuilder &b, Location loc, Value j, ValueRange acc) {
            auto partial = scf::ForOp::create(
                b, loc, lane, p.idx(di), p.idx(32), ValueRange{p.cf(0)},
                [&](OpBuilder &b, Location loc, Value e, ValueRange d) {
                  Value x = p.fmul(loadF32(p, iq, ValueRange{bi, t, j, e}),
                                   loadF32(p, ik, ValueRange{bi, s, e}));
                  scf::YieldOp::create(b, loc, ValueRange{p.fadd(d[0], x)});
                });
            Value dot = partial.getResult(0);
            for (int32_t off : {16, 8, 4, 2, 1})
              dot = p.fadd(dot, p.shuffleXor(dot, off));
            Value relu = p.fmax(dot, p.cf(0));
            Value weight = loadF32(p, w, ValueRange{bi, t, j});
            scf::YieldOp::create(
                b, loc, ValueRange{p.fadd(acc[0], p.fmul(weight, relu))});
          });
      Value score = heads.getResult(0);
      Value isNan =
          arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, score, score);
      Value notCand = arith::XOrIOp::create(
          b, loc, *cand, arith::ConstantIntOp::create(b, loc, 1, 1));
      score = arith::SelectOp::create(
          b, loc, arith::OrIOp::create(b, loc, isNan, notCand), negInf, score);
      ifThen(b, loc, eq(lane, c0), [&](OpBuilder &b) {
        memref::StoreOp::create(b, loc, score, scores, s);
        memref::StoreOp::create(
            b, loc, arith::SelectOp::create(b, loc, *cand, c32(0), c32(2)),
            state, s);
      });
    });
    gpu::BarrierOp::create(b, loc);

    // 2. Top-k by warp 0.
    warpTopK(p, scores, state, sk, rounds, warp, lane);
    gpu::BarrierOp::create(b, loc);

    // 3. The selected keys in increasing order, the count, zeros after
    //    (thread 0).
    ifThen(b, loc, eq(tid, c0), [&](OpBuilder &b) {
      auto count = scf::ForOp::create(
          b, loc, c0, p.idx(sk), c1, ValueRange{c0},
          [&](OpBuilder &b, Location loc, Value s, ValueRange n) {
            Value picked = eq(memref::LoadOp::create(b, loc, state, s), c32(1));
            ifThen(b, loc, picked, [&](OpBuilder &b) {
              memref::StoreOp::create(b, loc, p.i32v(s), indices,
                                      ValueRange{bi, c0, t, n[0]});
            });
            scf::YieldOp::create(
                b, loc,
                ValueRange{p.add(n[0], arith::IndexCastUIOp::create(
                                           b, loc, b.getIndexType(), picked))});
          });
      Value n = count.getResult(0);
      memref::StoreOp::create(b, loc, p.i32v(n), num, ValueRange{bi, c0, t});
      forLoop(b, loc, n, p.idx(width), c1, [&](OpBuilder &b, Value e) {
        memref::StoreOp::create(b, loc, c32(0), indices,
                                ValueRange{bi, c0, t, e});
      });
    });
    gpu::ReturnOp::create(b, loc);
  }

  // Host side.
  Value bufs[2] = {hostAlloc(rw, loc, nT), hostAlloc(rw, loc, xT)};
  launchKernel(rw, loc, func, {sq, 1, batch}, kThreads,
               {hostBufferOf(rw, loc, op.getIndexQuery()),
                hostBufferOf(rw, loc, op.getIndexKeys()),
                hostBufferOf(rw, loc, op.getWeights()), bufs[0], bufs[1]},
               {"index_query", "index_keys", "weights", "kv_num_blocks",
                "kv_indices"});
  rw.replaceOp(op, {bufferization::ToTensorOp::create(rw, loc, nT, bufs[0],
                                                      /*restrict=*/true,
                                                      /*writable=*/true),
                    bufferization::ToTensorOp::create(rw, loc, xT, bufs[1],
                                                      /*restrict=*/true,
                                                      /*writable=*/true)});
  return success();
}

} // namespace

LogicalResult
mlir::sparse_attn::checkRoutingLowerableToGPU(Operation *op) {
  auto isHalf = [](Type t) { return t.isF16() || t.isBF16() || t.isF32(); };
  if (auto pool = llvm::dyn_cast<PoolOp>(op)) {
    auto inT = llvm::cast<RankedTensorType>(pool.getInput().getType());
    auto outT = llvm::cast<RankedTensorType>(pool.getOutput().getType());
    if (!inT.hasStaticShape() || !outT.hasStaticShape())
      return op->emitOpError("the GPU lowering needs static shapes");
    (void)isHalf;
    return success();
  }
  if (auto tokens = llvm::dyn_cast<SelectTokensOp>(op)) {
    auto iqT = llvm::cast<RankedTensorType>(tokens.getIndexQuery().getType());
    auto ikT = llvm::cast<RankedTensorType>(tokens.getIndexKeys().getType());
    auto xT = llvm::cast<RankedTensorType>(tokens.getIndices().getType());
    if (!iqT.hasStaticShape() || !ikT.hasStaticShape() || !xT.hasStaticShape())
      return op->emitOpError("the GPU lowering needs static shapes");
    if (ikT.getDimSize(1) > kMaxSelectTokens)
      return op->emitOpError("the GPU lowering keeps at most ")
             << kMaxSelectTokens << " keys in shared memory, got Sk = "
             << ikT.getDimSize(1);
    if (failed(checkSharedTokenPattern(tokens)))
      return failure();
    return verifyPatternCodegen(op->getLoc(), tokens.getPattern(), op,
                                iqT.getDimSize(1), ikT.getDimSize(1));
  }
  auto select = llvm::cast<SelectBlocksOp>(op);
  auto qT = llvm::cast<RankedTensorType>(select.getQuery().getType());
  auto kT = llvm::cast<RankedTensorType>(select.getPooledKeys().getType());
  if (!qT.hasStaticShape() || !kT.hasStaticShape())
    return op->emitOpError("the GPU lowering needs static shapes");
  if (qT.getDimSize(3) > kMaxRow)
    return op->emitOpError("the GPU lowering supports head dimensions up to ")
           << kMaxRow << ", got D = " << qT.getDimSize(3);
  if (kT.getDimSize(2) > kMaxSelectBlocks)
    return op->emitOpError("the GPU lowering keeps at most ")
           << kMaxSelectBlocks << " key blocks in shared memory, got Nk = "
           << kT.getDimSize(2);
  return checkStaticBlockSelection(select, "GPU");
}

void mlir::sparse_attn::populateRoutingToGPUPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerPoolToGPU, LowerSelectBlocksToGPU, LowerSelectTokensToGPU>(
      patterns.getContext());
}
