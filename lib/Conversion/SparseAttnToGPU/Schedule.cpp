//===- Schedule.cpp - the loops over a query block's tiles
//------------------===//
//
// Part of the GPU kernel builder (KernelBuilder.h).
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include <algorithm>
#include <limits>
#include <numeric>

using namespace mlir;
using namespace mlir::sparse_attn;

/// wgmma + TMA: like pipelinedLoop, but the next tile's Q K^T runs on the
/// tensor cores while this tile's softmax runs on the CUDA cores. K runs
/// one tile ahead of V: iteration j waits for K of tile j + 1, issues
/// S_{j+1} = Q K_{j+1}^T (not waited for), does the softmax of S_j, waits
/// for V_j, issues O += P_j V_j and waits for both; meanwhile TMA loads
/// K_{j+2} and V_{j+1}. Two K and two V buffers suffice: K_{j+2} replaces
/// K_j (consumed by S_j, complete) and V_{j+1} replaces V_{j-1}.
SmallVector<Value>
KernelBuilder::overlappedLoop(Value n, function_ref<Value(Value)> kbAt,
                              function_ref<Value(Value)> maskAt, bool masked,
                              SmallVector<Value> state) {
  gpu::BarrierOp::create(b, loc); // readers of every buffer are done
  Value base = tileBase;
  tileBase = add(tileBase, n);
  auto bufOf = [&](Value t) {
    return arith::RemUIOp::create(b, loc, t, idx(2)).getResult();
  };
  // Prologue: K_0, V_0, K_1; S_0.
  ifThen(ult(idx(0), n), [&] {
    tmaLoad(kbAt(idx(0)), bufOf(base), /*values=*/false);
    tmaLoad(kbAt(idx(0)), bufOf(base), /*values=*/true);
  });
  ifThen(ult(idx(1), n), [&] {
    tmaLoad(kbAt(idx(1)), bufOf(addi(base, 1)), /*values=*/false);
  });
  SmallVector<Value> s0(bk / 2, cf(0.0));
  {
    auto ifOp = scf::IfOp::create(b, loc, TypeRange(ValueRange(s0)),
                                  ult(idx(0), n), /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    tmaWait(base, /*values=*/false);
    Value acc = issueScores(bufOf(base));
    NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);
    scf::YieldOp::create(b, loc, extractAll(acc, bk / 2));
    b.setInsertionPointToStart(ifOp.elseBlock());
    scf::YieldOp::create(b, loc, s0);
    b.setInsertionPointAfter(ifOp);
    s0.assign(ifOp.getResults().begin(), ifOp.getResults().end());
  }
  SmallVector<Value> init = state;
  llvm::append_range(init, s0);
  auto loop = scf::ForOp::create(b, loc, idx(0), n, idx(1), init);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  SmallVector<Value> args(loop.getRegionIterArgs().begin(),
                          loop.getRegionIterArgs().end());
  SmallVector<Value> st(args.begin(), args.begin() + state.size());
  SmallVector<Value> sj(args.begin() + state.size(), args.end());
  Value j = loop.getInductionVar();
  Value t = add(base, j);
  // Everyone is done with K_j (S_j completed last iteration) and V_{j-1}.
  gpu::BarrierOp::create(b, loc);
  Value j1 = addi(j, 1), j2 = addi(j, 2);
  ifThen(ult(j2, n), [&] { tmaLoad(kbAt(j2), bufOf(t), /*values=*/false); });
  ifThen(ult(j1, n),
         [&] { tmaLoad(kbAt(j1), bufOf(addi(t, 1)), /*values=*/true); });
  Value next;
  auto issueNext = [&]() {
    // K_{j+1} (a stale buffer after the last tile: issued anyway, so the
    // accumulators never pass through a branch; the result is unused).
    ifThen(ult(j1, n), [&] { tmaWait(addi(t, 1), /*values=*/false); });
    next = issueScores(bufOf(addi(t, 1)));
  };
  auto waitValues = [&]() { tmaWait(t, /*values=*/true); };
  Value mask = maskAt ? maskAt(j) : Value();
  tile(kbAt(j), bufOf(t), masked, mask, {}, st, sj, issueNext, waitValues);
  // tile() ended with wgmma.wait_group 0: S_{j+1} is complete too.
  llvm::append_range(st, extractAll(next, bk / 2));
  scf::YieldOp::create(b, loc, st);
  return SmallVector<Value>(loop.getResults().begin(),
                            loop.getResults().begin() + state.size());
}

/// Runs the tiles j = 0 .. n - 1 (key block kbAt(j)) with the copy of
/// tile j + 1 in flight while tile j computes (two shared buffers, one
/// barrier per tile). `maskAt(j)` (if set) chooses the mask at run time;
/// `runAt(j)` (if set) skips tiles whose result it is false for.
SmallVector<Value>
KernelBuilder::pipelinedLoop(Value n, function_ref<Value(Value)> kbAt,
                             function_ref<Value(Value)> maskAt,
                             function_ref<Value(Value)> runAt, bool masked,
                             ArrayRef<Value> qFrag, SmallVector<Value> state) {
  // Readers of both buffers (a previous loop) are done.
  gpu::BarrierOp::create(b, loc);
  // Tile j of this loop is tile t = base + j of the block: buffer t % 2,
  // the (t / 2)-th use of that buffer (its mbarrier's phase parity).
  Value base = tileBase;
  tileBase = add(tileBase, n);
  Value any =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, n, idx(0));
  {
    auto ifOp = scf::IfOp::create(b, loc, any, /*else=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    loadTile(kbAt(idx(0)), arith::RemUIOp::create(b, loc, base, idx(2)));
  }
  commit();
  auto loop = scf::ForOp::create(b, loc, idx(0), n, idx(1), state);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  SmallVector<Value> st(loop.getRegionIterArgs().begin(),
                        loop.getRegionIterArgs().end());
  Value j = loop.getInductionVar();
  Value tNow = add(base, j);
  Value buf = arith::RemUIOp::create(b, loc, tNow, idx(2));
  // Tile j has landed (this thread's copies; the barrier: everyone's),
  // and every warp is done with tile j - 1, whose buffer is refilled.
  if (tma) {
    tmaWait(tNow, /*values=*/false);
    tmaWait(tNow, /*values=*/true);
  } else {
    nvgpu::DeviceAsyncWaitOp::create(b, loc, commit(), b.getI32IntegerAttr(0));
    if (wgmma)
      fenceAsyncProxy();
  }
  gpu::BarrierOp::create(b, loc);
  Value next = addi(j, 1);
  {
    Value more =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, next, n);
    auto ifOp = scf::IfOp::create(b, loc, more, /*else=*/false);
    OpBuilder::InsertionGuard g2(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    loadTile(kbAt(next), arith::SubIOp::create(b, loc, idx(1), buf));
  }
  commit();
  Value kb = kbAt(j);
  Value mask = maskAt ? maskAt(j) : Value();
  if (runAt) {
    auto ifOp = scf::IfOp::create(b, loc, TypeRange(ValueRange(st)), runAt(j),
                                  /*withElseRegion=*/true);
    OpBuilder::InsertionGuard g2(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    SmallVector<Value> inner = st;
    tile(kb, buf, masked, mask, qFrag, inner);
    scf::YieldOp::create(b, loc, inner);
    b.setInsertionPointToStart(ifOp.elseBlock());
    scf::YieldOp::create(b, loc, st);
    b.setInsertionPointAfter(ifOp);
    st.assign(ifOp.getResults().begin(), ifOp.getResults().end());
  } else {
    tile(kb, buf, masked, mask, qFrag, st);
  }
  scf::YieldOp::create(b, loc, st);
  return SmallVector<Value>(loop.getResults().begin(), loop.getResults().end());
}

/// The tiles of query block `qb` in the compressed-row table (offsets,
/// indices): full tiles unmasked, partial tiles masked (document masks:
/// classified and compacted first, or classified in the loop).
SmallVector<Value> KernelBuilder::tileLoop(Value offsets, Value indices,
                                           Value qb, bool masked,
                                           ArrayRef<Value> qFrag,
                                           SmallVector<Value> state) {
  auto load = [&](Value mem, Value i) -> Value {
    Value x = memref::LoadOp::create(b, loc, mem, i);
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), x);
  };
  Value lo = load(offsets, qb), hi = load(offsets, addi(qb, 1));
  Value n = arith::SubIOp::create(b, loc, hi, lo);
  auto tableKb = [&](Value j) { return load(indices, add(lo, j)); };
  if (!(masked && segmentSkip))
    return overlap ? overlappedLoop(n, tableKb, {}, masked, state)
                   : pipelinedLoop(n, tableKb, {}, {}, masked, qFrag, state);
  if (tileCodes) {
    compactPartialTiles(lo, n);
    return compactedLoop(masked, qFrag, state);
  }
  // Lists too long for shared memory: classify each tile in the loop.
  auto codeAt = [&](Value j) {
    Value i = add(lo, j);
    return classifyTile(i, load(indices, i));
  };
  auto runAt = [&](Value j) -> Value {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, codeAt(j),
                                 i32c(0));
  };
  auto maskAt = [&](Value j) -> Value {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, codeAt(j),
                                 i32c(2));
  };
  return pipelinedLoop(n, tableKb, maskAt, runAt, masked, qFrag, state);
}

/// The key tiles of query block `qb` from device-built lists: one chunk
/// of maxPartial tiles when the list holds every key tile, else a loop
/// over chunks (the state and the count of loaded tiles carried).
SmallVector<Value> KernelBuilder::runtimeTileLoop(Value qb,
                                                  ArrayRef<Value> qFrag,
                                                  SmallVector<Value> state) {
  if (!ShapedType::isDynamic(sk) && ceilDivPositive(sk, bk) <= maxPartial) {
    buildRuntimeTileList(qb, idx(0));
    return compactedLoop(/*masked=*/true, qFrag, state);
  }
  SmallVector<Value> init = state;
  init.push_back(tileBase);
  auto loop =
      scf::ForOp::create(b, loc, idx(0), keyBlocks(bk), idx(maxPartial), init);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  SmallVector<Value> st(loop.getRegionIterArgs().begin(),
                        loop.getRegionIterArgs().end());
  tileBase = st.pop_back_val();
  // Every warp is done with the previous chunk's list.
  gpu::BarrierOp::create(b, loc);
  buildRuntimeTileList(qb, loop.getInductionVar());
  st = compactedLoop(/*masked=*/true, qFrag, st);
  st.push_back(tileBase);
  scf::YieldOp::create(b, loc, st);
  SmallVector<Value> out(loop.getResults().begin(), loop.getResults().end());
  tileBase = out.pop_back_val();
  return out;
}

/// The tiles of the compacted list in tileCodes (entry j: 2 key block +
/// needs mask; the count in slot maxPartial).
SmallVector<Value> KernelBuilder::compactedLoop(bool masked,
                                                ArrayRef<Value> qFrag,
                                                SmallVector<Value> state) {
  auto entry = [&](Value j) -> Value {
    return memref::LoadOp::create(b, loc, tileCodes, j);
  };
  Value count = arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                           entry(idx(maxPartial)));
  auto kbAt = [&](Value j) -> Value {
    Value kb = arith::ShRUIOp::create(b, loc, entry(j), i32c(1));
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), kb);
  };
  auto maskAt = [&](Value j) -> Value {
    return arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::ne,
        arith::AndIOp::create(b, loc, entry(j), i32c(1)), i32c(0));
  };
  return overlap ? overlappedLoop(count, kbAt, maskAt, masked, state)
                 : pipelinedLoop(count, kbAt, maskAt, {}, masked, qFrag, state);
}
