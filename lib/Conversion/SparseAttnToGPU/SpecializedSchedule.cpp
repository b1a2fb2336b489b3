//===- SpecializedSchedule.cpp - the warp-specialised forward schedule ----===//
//
// Part of the GPU kernel builder (KernelBuilder.h). With warp-specialize,
// warpgroup 0 of the thread block is a producer: one of its threads walks
// the query block's tile lists and issues every K / V TMA into the two
// buffers, waiting on "empty" mbarriers for the consumers to release a
// buffer; the other warpgroups (the consumers, `warps` warps) run the
// tiles without any block barrier in the loop. setmaxnreg hands the
// producer's registers to the consumers. With two consumer warpgroups,
// named barriers make them take turns issuing tensor-core work
// (ping-pong): while one issues S_j and P_{j-1} V_{j-1}, the other runs a
// softmax. docs/gpu-lowering.md, "The warp-specialised schedule".
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::sparse_attn;

namespace {
/// Registers per thread after setmaxnreg with two consumer warpgroups (as
/// FlashAttention-3). setmaxnreg.inc blocks until the block's pool has the
/// registers, so the two together must not exceed what the block holds at
/// entry: 168 per thread (ptxas's cap for 384 threads at one block per
/// SM, the kernel's nvvm.minctasm = 1), 128 x 24 + 256 x 240 = 64512.
constexpr int32_t kProducerRegisters = 24;
constexpr int32_t kConsumerRegisters = 240;
constexpr int32_t kEntryRegisters = 168;
static_assert(128 * kProducerRegisters + 256 * kConsumerRegisters <=
                  384 * kEntryRegisters,
              "setmaxnreg.inc would wait forever for registers");
} // namespace

void KernelBuilder::specializedBody(Value qb) {
  alignSharedBase();
  // Full barriers: one arrival (the producer's arrive.expect_tx) per
  // phase; empty barriers: lane 0 of every consumer warp arrives once per
  // phase.
  ifThen(threadZero(), [&] {
    for (int64_t i = 0; i < 8; ++i)
      NVVM::MBarrierInitOp::create(
          b, loc, mbarrier(idx(i)),
          arith::ConstantIntOp::create(b, loc, i32, i < 4 ? 1 : warps),
          Value());
    // The initialised barriers, visible to the async proxy (the TMA unit
    // completes transactions on them).
    fenceAsyncProxy();
    acquireTensorMaps(); // thread 0 issues every TMA
  });
  gpu::BarrierOp::create(b, loc); // the barriers are initialised
  // Tile lists made with block barriers are made by every warp of the
  // block before the roles split (the pieces spread their work over
  // `warps`); the producer and the consumers then walk the same list.
  auto byAllWarps = [&](function_ref<void()> build) {
    int64_t consumers = warps;
    warps += kProducerWarps;
    build();
    warps = consumers;
  };
  q0 = muli(qb, bq);
  if (!fullOff) {
    // Runtime block tables or run-time lengths: the device list of the
    // query block's tiles (one chunk: checkLowerableToGPU).
    byAllWarps([&] { buildRuntimeTileList(qb, idx(0)); });
  } else if (segmentSkip && tileCodes) {
    // Document masks: the partial tiles classified from the segment-id
    // ranges, warp 0 compacting the survivors into tileCodes.
    std::tie(qSegMin, qSegMax) = segmentRange(qSeg, q0, bq, sq - 1);
    byAllWarps([&] {
      classifyPartialTiles(qb);
      Value lo = listEntry(partOff, qb);
      compactPartialTiles(
          lo,
          arith::SubIOp::create(b, loc, listEntry(partOff, addi(qb, 1)), lo));
    });
  }
  bool twoGroups = warps == 8;
  Value isProducer = ult(warp, idx(kProducerWarps));
  auto ifOp = scf::IfOp::create(b, loc, isProducer, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifOp.thenBlock());
  if (twoGroups)
    NVVM::SetMaxRegisterOp::create(b, loc, kProducerRegisters,
                                   NVVM::SetMaxRegisterAction::decrease);
  ifThen(threadZero(), [&] { producerLoop(qb); });
  b.setInsertionPointToStart(ifOp.elseBlock());
  if (twoGroups)
    NVVM::SetMaxRegisterOp::create(b, loc, kConsumerRegisters,
                                   NVVM::SetMaxRegisterAction::increase);
  warp = arith::SubIOp::create(b, loc, warp, idx(kProducerWarps));
  // Warpgroup 0 issues first: warpgroup 1 hands it the first turn.
  Value second = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::ne,
      arith::DivUIOp::create(b, loc, warp, idx(4)), idx(0));
  if (twoGroups)
    ifThen(second, [&] {
      NVVM::BarrierArriveOp::create(b, loc, i32c(kTurnBarrier),
                                    i32c(32 * warps));
    });
  queryBlock(qb);
  // Every turn handed over is taken: warpgroup 0 takes the turn that
  // warpgroup 1 handed over after its last products.
  if (twoGroups)
    ifThen(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, warp,
                                 idx(4)),
           [&] { turnSync(); });
}

Value KernelBuilder::listEntry(Value mem, Value i) {
  Value x = memref::LoadOp::create(b, loc, mem, i);
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), x);
}

Value KernelBuilder::codedKeyBlock(Value entry) {
  return arith::ShRUIOp::create(b, loc, entry, idx(1));
}

Value KernelBuilder::codedNeedsMask(Value entry) {
  Value bit = arith::AndIOp::create(b, loc, entry, idx(1));
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, bit, idx(0));
}

void KernelBuilder::producerLoop(Value qb) {
  // Tile i's buffer was last used by tile i - 2: wait for the phase of its
  // empty barrier that those reads completed ((i / 2 - 1) % 2; for i < 2,
  // parity 1 of a fresh barrier counts as completed).
  auto waitEmpty = [&](Value tileNo, bool values) {
    Value buf = arith::RemUIOp::create(b, loc, tileNo, idx(2));
    Value use = arith::DivUIOp::create(b, loc, tileNo, idx(2));
    Value parity = i32v(arith::XOrIOp::create(
        b, loc, arith::RemUIOp::create(b, loc, use, idx(2)), idx(1)));
    NVVM::MBarrierTryWaitParityOp::create(
        b, loc, mbarrier(addi(buf, values ? 6 : 4)), parity,
        arith::ConstantIntOp::create(b, loc, i32, 0x989680));
  };
  Value tileNo = idx(0);
  bool deviceList = !fullOff;
  for (bool partial : {false, true}) {
    // The full list, then the partial list (document masks: the compacted
    // one, entries 2 key block + needs mask, the count at maxPartial); a
    // device-built list is all "partial".
    if (deviceList && !partial)
      continue;
    bool compacted = partial && (deviceList || (segmentSkip && tileCodes));
    Value offsets = partial ? partOff : fullOff;
    Value lo = compacted ? idx(0) : listEntry(offsets, qb);
    Value hi = compacted ? listEntry(tileCodes, idx(maxPartial))
                         : listEntry(offsets, addi(qb, 1));
    auto loop = scf::ForOp::create(b, loc, lo, hi, idx(1), ValueRange{tileNo});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value i = loop.getRegionIterArgs()[0];
    Value j = loop.getInductionVar();
    Value kb = compacted ? codedKeyBlock(listEntry(tileCodes, j))
                         : listEntry(partial ? partIdx : fullIdx, j);
    Value buf = arith::RemUIOp::create(b, loc, i, idx(2));
    waitEmpty(i, /*values=*/false);
    tmaLoad(kb, buf, /*values=*/false);
    waitEmpty(i, /*values=*/true);
    tmaLoad(kb, buf, /*values=*/true);
    scf::YieldOp::create(b, loc, ValueRange{addi(i, 1)});
    b.setInsertionPointAfter(loop);
    tileNo = loop.getResult(0);
  }
}

void KernelBuilder::releaseBuffer(Value tileNo, bool values) {
  // After the wgmma.wait_group that completed the warp's reads (executed
  // by every lane, .sync.aligned): one arrival per warp.
  Value buf = arith::RemUIOp::create(b, loc, tileNo, idx(2));
  ifThen(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, idx(0)),
         [&] {
           NVVM::MBarrierArriveOp::create(
               b, loc, Type(), mbarrier(addi(buf, values ? 6 : 4)), Value());
         });
}

void KernelBuilder::turnSync() {
  if (warps != 8)
    return;
  Value wg = arith::DivUIOp::create(b, loc, warp, idx(4));
  NVVM::BarrierOp::create(b, loc, Type(), i32v(addi(wg, kTurnBarrier)),
                          i32c(32 * warps), NVVM::BarrierReductionAttr(),
                          Value());
}

void KernelBuilder::turnArrive() {
  if (warps != 8)
    return;
  // The other warpgroup's turn barrier: 2 + (1 - wg).
  Value wg = arith::DivUIOp::create(b, loc, warp, idx(4));
  Value other = arith::SubIOp::create(b, loc, idx(kTurnBarrier + 1), wg);
  NVVM::BarrierArriveOp::create(b, loc, i32v(other), i32c(32 * warps));
}

void KernelBuilder::consumerBarrier() {
  if (!specialized) {
    gpu::BarrierOp::create(b, loc);
    return;
  }
  NVVM::BarrierOp::create(b, loc, Type(), i32c(kConsumerBarrier),
                          i32c(32 * warps), NVVM::BarrierReductionAttr(),
                          Value());
}

SmallVector<Value> KernelBuilder::specializedTileLoop(Value qb,
                                                      SmallVector<Value> state) {
  if (!fullOff) {
    // The device-built list (built before the roles split): entry j is 2
    // key block + needs mask, the count at maxPartial.
    auto kbAt = [&](Value j) { return codedKeyBlock(listEntry(tileCodes, j)); };
    auto maskAt = [&](Value j) {
      return codedNeedsMask(listEntry(tileCodes, j));
    };
    return consumerLoop(listEntry(tileCodes, idx(maxPartial)), kbAt, maskAt,
                        /*masked=*/true, state);
  }
  bool compacted = segmentSkip && tileCodes;
  Value fullLo = listEntry(fullOff, qb);
  Value fullN =
      arith::SubIOp::create(b, loc, listEntry(fullOff, addi(qb, 1)), fullLo);
  Value partLo = compacted ? idx(0) : listEntry(partOff, qb);
  Value partN = compacted ? listEntry(tileCodes, idx(maxPartial))
                          : arith::SubIOp::create(
                                b, loc, listEntry(partOff, addi(qb, 1)), partLo)
                                .getResult();
  auto isPartial = [&](Value j) -> Value {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, j, fullN);
  };
  // Tile j: entry j of the full list, else entry j - fullN of the partial
  // one (each load only on its side: the other index may be out of range).
  auto entryAt = [&](Value j, bool full) -> Value {
    if (full)
      return listEntry(fullIdx, add(fullLo, j));
    Value pos = add(partLo, arith::SubIOp::create(b, loc, j, fullN));
    return listEntry(compacted ? tileCodes : partIdx, pos);
  };
  // No query block has a partial tile: no mask code at all.
  bool masked = maxPartial > 0;
  auto kbAt = [&](Value j) -> Value {
    if (!masked)
      return entryAt(j, /*full=*/true);
    auto ifOp = scf::IfOp::create(b, loc, TypeRange{b.getIndexType()},
                                  isPartial(j), /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    Value e = entryAt(j, /*full=*/false);
    if (compacted)
      e = codedKeyBlock(e);
    scf::YieldOp::create(b, loc, e);
    b.setInsertionPointToStart(ifOp.elseBlock());
    scf::YieldOp::create(b, loc, entryAt(j, /*full=*/true));
    return ifOp.getResult(0);
  };
  auto maskAt = [&](Value j) -> Value {
    if (!compacted)
      return isPartial(j);
    auto ifOp = scf::IfOp::create(b, loc, TypeRange{b.getI1Type()},
                                  isPartial(j), /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    scf::YieldOp::create(b, loc,
                         ValueRange{codedNeedsMask(entryAt(j, /*full=*/false))});
    b.setInsertionPointToStart(ifOp.elseBlock());
    scf::YieldOp::create(b, loc,
                         ValueRange{arith::ConstantIntOp::create(
                             b, loc, b.getI1Type(), 0)});
    return ifOp.getResult(0);
  };
  Value n = add(fullN, partN);
  if (!masked)
    return consumerLoop(n, kbAt, {}, /*masked=*/false, state);
  return consumerLoop(n, kbAt, maskAt, /*masked=*/true, state);
}

SmallVector<Value> KernelBuilder::consumerLoop(
    Value n, function_ref<Value(Value)> kbAt, function_ref<Value(Value)> maskAt,
    bool masked, SmallVector<Value> state) {
  Value base = tileBase;
  tileBase = add(tileBase, n);
  auto bufOf = [&](Value tileNo) -> Value {
    return arith::RemUIOp::create(b, loc, tileNo, idx(2));
  };
  auto valuesAt = [&](Value tileNo) {
    return addi(muli(bufOf(tileNo), bk * dv * 2), vOff);
  };
  auto packAll = [&](ArrayRef<Value> x) {
    SmallVector<Value> a;
    for (int64_t kk = 0; kk < bk / 16; ++kk)
      llvm::append_range(a, packRegisterA(x, kk));
    return a;
  };
  auto outputOf = [&](SmallVector<Value> &st) {
    return MutableArrayRef<Value>(st).slice(4, dv / 2);
  };
  auto ifOp = scf::IfOp::create(b, loc, TypeRange(ValueRange(state)),
                                ult(idx(0), n), /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifOp.elseBlock());
  scf::YieldOp::create(b, loc, state);
  b.setInsertionPointToStart(ifOp.thenBlock());
  SmallVector<Value> st = state;

  // Tile 0: S_0 and its softmax (nothing else in flight: O rescaled now).
  tmaWait(base, /*values=*/false);
  turnSync();
  Value acc0 = issueScores(bufOf(base));
  turnArrive();
  NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);
  SmallVector<Value> p = extractAll(acc0, bk / 2);
  fenceOperands(p);
  releaseBuffer(base, /*values=*/false);
  scoresToProbabilities(muli(kbAt(idx(0)), bk), p, masked,
                        maskAt ? maskAt(idx(0)) : Value(), st);
  // P carried packed to bf16 / f16 pairs: half the registers of f32.
  p = packAll(p);

  // Tiles 1 .. n - 1, carrying the state and P of the previous tile.
  SmallVector<Value> init = st;
  llvm::append_range(init, p);
  auto loop = scf::ForOp::create(b, loc, idx(1), n, idx(1), init);
  {
    OpBuilder::InsertionGuard g2(b);
    b.setInsertionPointToStart(loop.getBody());
    SmallVector<Value> args(loop.getRegionIterArgs().begin(),
                            loop.getRegionIterArgs().end());
    SmallVector<Value> cur(args.begin(), args.begin() + state.size());
    SmallVector<Value> prevP(args.begin() + state.size(), args.end());
    Value j = loop.getInductionVar();
    Value tileNo = add(base, j);
    Value prev = arith::SubIOp::create(b, loc, tileNo, idx(1));
    tmaWait(tileNo, /*values=*/false);
    turnSync();
    Value acc = issueScores(bufOf(tileNo));
    tmaWait(prev, /*values=*/true);
    accumulatePackedA(prevP, bk, valuesAt(prev), dv, outputOf(cur),
                      /*wait=*/false);
    turnArrive();
    // S_j is the older group: complete once at most one is pending.
    NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 1);
    SmallVector<Value> s = extractAll(acc, bk / 2);
    fenceOperands(s);
    releaseBuffer(tileNo, /*values=*/false);
    SmallVector<Value> alphas;
    scoresToProbabilities(muli(kbAt(j), bk), s, masked,
                          maskAt ? maskAt(j) : Value(), cur, &alphas);
    NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);
    fenceOperands(outputOf(cur));
    releaseBuffer(prev, /*values=*/true);
    rescaleOutput(cur, alphas);
    llvm::append_range(cur, packAll(s));
    scf::YieldOp::create(b, loc, cur);
  }
  SmallVector<Value> out(loop.getResults().begin(), loop.getResults().end());
  st.assign(out.begin(), out.begin() + state.size());
  p.assign(out.begin() + state.size(), out.end());

  // The last tile's P V.
  Value last = arith::SubIOp::create(b, loc, tileBase, idx(1));
  tmaWait(last, /*values=*/true);
  turnSync();
  accumulatePackedA(p, bk, valuesAt(last), dv, outputOf(st), /*wait=*/false);
  turnArrive();
  NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);
  fenceOperands(outputOf(st));
  releaseBuffer(last, /*values=*/true);
  scf::YieldOp::create(b, loc, st);
  return SmallVector<Value>(ifOp.getResults().begin(), ifOp.getResults().end());
}
