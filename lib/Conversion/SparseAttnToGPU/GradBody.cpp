//===- GradBody.cpp - the two kernels of the GPU backward -----------------===//
//
// Part of the GPU backward (GradKernelBuilder.h). Register fragments follow
// mma.m16n8k16's layouts with lane = 4 g + t (SparseAttnToGPU.cpp): the
// accumulator of an n8 tile holds (g, 2t), (g, 2t + 1), (g + 8, 2t),
// (g + 8, 2t + 1).
//
//===----------------------------------------------------------------------===//

#include "GradKernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include <limits>

using namespace mlir;
using namespace mlir::sparse_attn;

static constexpr double kLog2e = 1.4426950408889634;

void GradKernelBuilder::setUpThread() {
  i32 = b.getI32Type();
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  warp = arith::DivUIOp::create(b, loc, tid, idx(32));
  lane = arith::RemUIOp::create(b, loc, tid, idx(32));
  g = arith::DivUIOp::create(b, loc, lane, idx(4));
  t = arith::RemUIOp::create(b, loc, lane, idx(4));
  bIdx = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
}

SmallVector<Value> GradKernelBuilder::rowFragments(Value mem, Value head,
                                                   Value r0, Value r1,
                                                   int64_t width) {
  SmallVector<Value> frag;
  for (int64_t kk = 0; kk < width / 16; ++kk) {
    Value c0 = add(muli(t, 2), idx(kk * 16));
    Value c1 = addi(c0, 8);
    frag.push_back(loadPair(mem, {bIdx, head, r0, c0}));
    frag.push_back(loadPair(mem, {bIdx, head, r1, c0}));
    frag.push_back(loadPair(mem, {bIdx, head, r0, c1}));
    frag.push_back(loadPair(mem, {bIdx, head, r1, c1}));
  }
  return frag;
}

SmallVector<Value> GradKernelBuilder::rowProducts(ArrayRef<Value> aFrag,
                                                  Value aTile, Value aRow0,
                                                  Value bTile, int64_t n,
                                                  int64_t width) {
  SmallVector<Value> acc(n / 8 * 4, cf(0.0));
  Value lane8 = arith::RemUIOp::create(b, loc, lane, idx(8));
  Value lane16 = arith::RemUIOp::create(b, loc, lane, idx(16));
  Value quarter = arith::DivUIOp::create(b, loc, lane, idx(8));  // 0..3
  Value half = arith::DivUIOp::create(b, loc, lane, idx(16));    // 0..1
  Value quarterOdd = arith::RemUIOp::create(b, loc, quarter, idx(2));
  for (int64_t kk = 0; kk < width / 16; ++kk) {
    // A (16 x 16) of this step: matrices (rows 0-7 | 8-15) x (columns 0-7 |
    // 8-15), lane l addressing a row of matrix l / 8.
    SmallVector<Value> a;
    if (!aFrag.empty())
      a.assign(aFrag.begin() + kk * 4, aFrag.begin() + kk * 4 + 4);
    else
      a = ldmatrix(aTile, add(aRow0, lane16),
                   add(muli(half, 8), idx(kk * 16)), 4, /*transpose=*/false);
    // B of two n8 tiles: matrices (tile j | j + 1) x (k 0-7 | 8-15).
    for (int64_t j = 0; j < n / 8; j += 2) {
      Value row = add(lane8, muli(addi(half, j), 8));
      Value col = add(muli(quarterOdd, 8), idx(kk * 16));
      SmallVector<Value> regs = ldmatrix(bTile, row, col, 4, false);
      mma(a, {regs[0], regs[1]}, MutableArrayRef<Value>(acc).slice(j * 4, 4));
      mma(a, {regs[2], regs[3]},
          MutableArrayRef<Value>(acc).slice((j + 1) * 4, 4));
    }
  }
  return acc;
}

void GradKernelBuilder::accumulateProducts(ArrayRef<Value> x, int64_t rows,
                                           Value yTile, int64_t width,
                                           MutableArrayRef<Value> acc) {
  Value lane16 = arith::RemUIOp::create(b, loc, lane, idx(16));
  Value half = arith::DivUIOp::create(b, loc, lane, idx(16));
  for (int64_t j = 0; j < rows / 16; ++j) {
    // Two n8 accumulator tiles of X are the A registers of one k16 step.
    SmallVector<Value> a = {packF32(x[(2 * j) * 4 + 0], x[(2 * j) * 4 + 1]),
                            packF32(x[(2 * j) * 4 + 2], x[(2 * j) * 4 + 3]),
                            packF32(x[(2 * j + 1) * 4 + 0],
                                    x[(2 * j + 1) * 4 + 1]),
                            packF32(x[(2 * j + 1) * 4 + 2],
                                    x[(2 * j + 1) * 4 + 3])};
    Value row = addi(lane16, j * 16);
    for (int64_t n = 0; n < width / 8; n += 2) {
      Value col = add(muli(half, 8), idx(n * 8));
      SmallVector<Value> regs = ldmatrix(yTile, row, col, 4, true);
      mma(a, {regs[0], regs[1]}, acc.slice(n * 4, 4));
      mma(a, {regs[2], regs[3]}, acc.slice((n + 1) * 4, 4));
    }
  }
}

Value GradKernelBuilder::log2Lse(Value lse) {
  Value negInf = cf(-std::numeric_limits<double>::infinity());
  Value empty =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, lse, negInf);
  return arith::SelectOp::create(b, loc, empty,
                                 cf(std::numeric_limits<double>::infinity()),
                                 fmul(lse, cf(kLog2e)));
}

std::pair<Value, Value> GradKernelBuilder::probability(Value s, Value lse2,
                                                       Value qPos,
                                                       Value kPos) {
  if (!scoreMod) // one multiply-add: s scale log2e - LSE log2e
    return {ex2(fsub(fmul(s, cf(scale * kLog2e)), lse2)), Value()};
  Value x = fmul(s, cf(scale));
  auto inlineMod = [&](ScoreModOp m) {
    FailureOr<Value> r = inlineScoreMod(b, loc, m, x, bIdx, hIdx, qPos, kPos,
                                        queryLen(), keyLen());
    if (failed(r)) // the lengths are always known here
      llvm::report_fatal_error("sparse-attn: score_mod inlining failed");
    return *r;
  };
  Value mod = inlineMod(scoreMod);
  Value dmod = inlineMod(scoreModGrad);
  return {ex2(fsub(fmul(mod, cf(kLog2e)), lse2)), dmod};
}

Value GradKernelBuilder::scoreGrad(Value p, Value dp, Value dlt, Value dmod) {
  Value ds = fmul(p, fsub(dp, dlt));
  return dmod ? fmul(ds, dmod) : ds;
}

std::pair<Value, Value> GradKernelBuilder::pairGrad(Value s, Value dp,
                                                    Value lse2, Value dlt,
                                                    Value qPos, Value kPos,
                                                    Value ok) {
  auto [p, dmod] = probability(s, lse2, qPos, kPos);
  Value ds = scoreGrad(p, dp, dlt, dmod);
  if (ok) { // pairs that do not contribute: exactly 0, whatever dP holds
    p = arith::SelectOp::create(b, loc, ok, p, cf(0.0));
    ds = arith::SelectOp::create(b, loc, ok, ds, cf(0.0));
  }
  return {p, ds};
}

void GradKernelBuilder::copyPaddedRows(Value src, Value head, Value r0,
                                       Value last, Value len, Value dst,
                                       int64_t rows, int64_t width) {
  int64_t threads = 32 * warps;
  Value tid = add(muli(warp, 32), lane);
  int64_t chunksPerRow = width / 8;
  int64_t total = rows * chunksPerRow;
  for (int64_t i = 0; i < total; i += threads) {
    Value c = addi(tid, i);
    auto body = [&]() {
      Value r = arith::DivUIOp::create(b, loc, c, idx(chunksPerRow));
      Value col = muli(arith::RemUIOp::create(b, loc, c, idx(chunksPerRow)), 8);
      Value pos = add(r0, r);
      Value gr = arith::MinUIOp::create(b, loc, pos, last);
      Value count;
      if (len) // 0 source elements past the end: the row is zero-filled
        count = arith::SelectOp::create(
            b, loc,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, pos, len),
            idx(8), idx(0));
      nvgpu::DeviceAsyncCopyOp::create(
          b, loc, dst, ValueRange{r, col}, src,
          ValueRange{bIdx, head, gr, col}, b.getIndexAttr(8), count,
          /*bypassL1=*/b.getUnitAttr());
    };
    if (i + threads <= total) {
      body();
    } else {
      Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                            c, idx(total));
      auto ifOp = scf::IfOp::create(b, loc, inRange, /*else=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifOp.thenBlock());
      body();
    }
  }
}

SmallVector<Value> GradKernelBuilder::bufferedLoop(
    Value n, function_ref<void(Value, Value)> load,
    function_ref<void(Value, Value, SmallVector<Value> &)> step,
    SmallVector<Value> state) {
  // Readers of both buffers (a previous loop) are done.
  gpu::BarrierOp::create(b, loc);
  Value any =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, n, idx(0));
  {
    auto ifOp = scf::IfOp::create(b, loc, any, /*else=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    load(idx(0), idx(0));
  }
  commit();
  auto loop = scf::ForOp::create(b, loc, idx(0), n, idx(1), state);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  SmallVector<Value> st(loop.getRegionIterArgs().begin(),
                        loop.getRegionIterArgs().end());
  Value j = loop.getInductionVar();
  Value buf = arith::RemUIOp::create(b, loc, j, idx(2));
  // Tile j has landed (this thread's copies; the barrier: everyone's, and
  // every warp is done with tile j - 1, whose buffer is refilled next).
  nvgpu::DeviceAsyncWaitOp::create(b, loc, commit(), b.getI32IntegerAttr(0));
  if (wgmma) // the tile is read by warpgroup MMAs (the async proxy)
    fenceAsyncProxy();
  gpu::BarrierOp::create(b, loc);
  Value next = addi(j, 1);
  {
    Value more =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, next, n);
    auto ifOp = scf::IfOp::create(b, loc, more, /*else=*/false);
    OpBuilder::InsertionGuard g2(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    load(next, arith::SubIOp::create(b, loc, idx(1), buf));
  }
  commit();
  step(j, buf, st);
  scf::YieldOp::create(b, loc, st);
  return SmallVector<Value>(loop.getResults().begin(), loop.getResults().end());
}

GradKernelBuilder::TableRow GradKernelBuilder::tableRow(Value offsets,
                                                       Value indices,
                                                       Value row) {
  auto load = [this](Value mem, Value i) -> Value {
    Value x = memref::LoadOp::create(b, loc, mem, i);
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), x);
  };
  Value lo = load(offsets, row), hi = load(offsets, addi(row, 1));
  Value n = arith::SubIOp::create(b, loc, hi, lo);
  return {n, lo, [this, load, lo, indices](Value j) {
            return load(indices, add(lo, j));
          }};
}

SmallVector<Value> GradKernelBuilder::compactedLoop(
    function_ref<void(Value, Value)> load,
    function_ref<void(Value, Value, bool, Value, SmallVector<Value> &)> body,
    SmallVector<Value> state) {
  // Entry j = 2 other + needs mask; the count at slot maxPartial.
  auto entry = [&](Value j) -> Value {
    return memref::LoadOp::create(b, loc, tileCodes, j);
  };
  auto otherAt = [&](Value j) -> Value {
    return arith::IndexCastOp::create(
        b, loc, b.getIndexType(),
        arith::ShRUIOp::create(b, loc, entry(j), i32c(1)));
  };
  Value count = arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                           entry(idx(maxPartial)));
  return bufferedLoop(
      count, [&](Value j, Value buf) { load(otherAt(j), buf); },
      [&](Value j, Value buf, SmallVector<Value> &st) {
        Value maskIf = arith::CmpIOp::create(
            b, loc, arith::CmpIPredicate::ne,
            arith::AndIOp::create(b, loc, entry(j), i32c(1)), i32c(0));
        body(otherAt(j), buf, /*masked=*/true, maskIf, st);
      },
      state);
}

SmallVector<Value> GradKernelBuilder::tableLoops(
    Value row, function_ref<void(Value, Value)> load,
    function_ref<std::pair<Value, Value>(Value)> tileRange,
    function_ref<void(Value, Value, bool, Value, SmallVector<Value> &)> body,
    SmallVector<Value> state) {
  if (listedBits) // runtime block tables: one list of every tile that runs
    return compactedLoop(load, body, state);
  for (bool masked : {false, true}) {
    if (masked && segmentSkip && tileCodes) { // the compacted partial tiles
      state = compactedLoop(load, body, state);
      continue;
    }
    TableRow r = masked ? tableRow(partialOffsets, partialIndices, row)
                        : tableRow(fullOffsets, fullIndices, row);
    state = bufferedLoop(
        r.n, [&](Value j, Value buf) { load(r.at(j), buf); },
        [&](Value j, Value buf, SmallVector<Value> &st) {
          Value other = r.at(j);
          if (!masked || !segmentSkip) {
            body(other, buf, masked, Value(), st);
            return;
          }
          // A document mask's partial tile, classified from the segment
          // ids: skipped (no shared segment), unmasked (one segment, full
          // within it) or masked.
          auto [mn, mx] = tileRange(other);
          Value code = classifyTile(add(r.lo, j), mn, mx);
          Value run = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne,
                                            code, i32c(0));
          Value maskIf = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::eq, code, i32c(2));
          auto ifOp = scf::IfOp::create(b, loc, TypeRange(ValueRange(st)), run,
                                        /*withElseRegion=*/true);
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(ifOp.thenBlock());
          SmallVector<Value> inner = st;
          body(other, buf, /*masked=*/true, maskIf, inner);
          scf::YieldOp::create(b, loc, inner);
          b.setInsertionPointToStart(ifOp.elseBlock());
          scf::YieldOp::create(b, loc, st);
          b.setInsertionPointAfter(ifOp);
          st.assign(ifOp.getResults().begin(), ifOp.getResults().end());
        },
        state);
  }
  return state;
}

void GradKernelBuilder::compactRow(
    Value row, function_ref<std::pair<Value, Value>(Value)> tileRange) {
  TableRow r = tableRow(partialOffsets, partialIndices, row);
  // Warp w classifies tiles w, w + warps, ...; lane 0 writes the code.
  auto loop = scf::ForOp::create(b, loc, warp, r.n, idx(warps));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value i = loop.getInductionVar();
    auto [mn, mx] = tileRange(r.at(i));
    Value code = classifyTile(add(r.lo, i), mn, mx);
    Value first =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, idx(0));
    auto ifOp = scf::IfOp::create(b, loc, first, /*else=*/false);
    b.setInsertionPointToStart(ifOp.thenBlock());
    memref::StoreOp::create(b, loc, code, tileCodes, i);
  }
  gpu::BarrierOp::create(b, loc);
  partIdx = partialIndices;
  compactPartialTiles(r.lo, r.n);
}

void GradKernelBuilder::markListed(bool byKey, Value fixed) {
  int64_t threads = 32 * warps;
  Value tid = add(muli(warp, 32), lane);
  // Readers of the previous list are done; the bits start clear.
  gpu::BarrierOp::create(b, loc);
  clearListedBits();
  gpu::BarrierOp::create(b, loc);
  // The tables' rows for (b, h).
  auto shape = llvm::cast<MemRefType>(kvNum.getType()).getShape();
  Value bRow, hRow;
  std::tie(bRow, hRow) = tableCoordinates();
  int64_t rows = shape[2];
  Value keyTableBlocks = i32c(ceilDivPositive(sk, tbk));
  for (auto table :
       {std::pair(kvNum, kvIdx), std::pair(fullNum, fullTableIdx)}) {
    // Plain variables: the lambdas capture them.
    Value num = table.first, indices = table.second;
    if (!num)
      continue;
    int64_t n = llvm::cast<MemRefType>(indices.getType()).getDimSize(3);
    // Entries past the count are not read (counts clamped to [0, N]).
    auto countOf = [&](Value row) -> Value {
      return listedCount(num, n, bRow, hRow, row);
    };
    if (!byKey) {
      // The row of query table block `fixed`: each listed key table block
      // (an index outside the key blocks is ignored; unsigned, so a
      // negative one is too).
      Value count = countOf(fixed);
      strided(tid, toIndex(count), threads, [&](Value e) {
        Value block = memref::LoadOp::create(b, loc, indices,
                                             ValueRange{bRow, hRow, fixed, e});
        Value inRange = arith::CmpIOp::create(
            b, loc, arith::CmpIPredicate::ult, block, keyTableBlocks);
        auto ifOp = scf::IfOp::create(b, loc, inRange, /*else=*/false);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(ifOp.thenBlock());
        setListedBit(block);
      });
      continue;
    }
    // The transposition: thread i scans the rows i, i + threads, ... and
    // sets bit i when row i lists key table block `fixed`.
    Value fixedI32 = arith::IndexCastOp::create(b, loc, i32, fixed);
    strided(tid, idx(rows), threads, [&](Value row) {
      Value count = toIndex(countOf(row));
      Value no = arith::ConstantIntOp::create(b, loc, 0, 1);
      auto scan = scf::ForOp::create(b, loc, idx(0), count, idx(1),
                                     ValueRange{no});
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(scan.getBody());
        Value block = memref::LoadOp::create(
            b, loc, indices,
            ValueRange{bRow, hRow, row, scan.getInductionVar()});
        Value hit = arith::OrIOp::create(
            b, loc, scan.getRegionIterArgs()[0],
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, block,
                                  fixedI32));
        scf::YieldOp::create(b, loc, hit);
      }
      auto ifOp = scf::IfOp::create(b, loc, scan.getResult(0), /*else=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifOp.thenBlock());
      setListedBit(arith::IndexCastOp::create(b, loc, i32, row));
    });
  }
  gpu::BarrierOp::create(b, loc);
}

void GradKernelBuilder::runtimeRow(
    Value row, bool byKey,
    function_ref<std::pair<Value, Value>(Value)> tileRange) {
  // The table blocks of the fixed side and of the other side's tiles.
  Value fixed = byKey ? arith::DivUIOp::create(b, loc, row, idx(tbk / bkv))
                      : arith::DivUIOp::create(b, loc, row, idx(tbq / bq));
  int64_t perBlock = byKey ? tbq / bqt : tbk / bk;
  markListed(byKey, fixed);
  TableRow full = tableRow(fullOffsets, fullIndices, row);
  TableRow part = tableRow(partialOffsets, partialIndices, row);
  Value total = add(full.n, part.n);
  // Document masks: the run-time class of each partial tile first (0 skip,
  // 1 unmasked, 2 masked), at entry full.n + i.
  if (segmentSkip) {
    auto loop = scf::ForOp::create(b, loc, warp, part.n, idx(warps));
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value i = loop.getInductionVar();
      auto [mn, mx] = tileRange(part.at(i));
      Value code = classifyTile(add(part.lo, i), mn, mx);
      Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                          lane, idx(0));
      auto ifOp = scf::IfOp::create(b, loc, first, /*else=*/false);
      b.setInsertionPointToStart(ifOp.thenBlock());
      memref::StoreOp::create(b, loc, code, tileCodes, add(full.n, i));
    }
    gpu::BarrierOp::create(b, loc);
  }
  // Warp 0 compacts the full tiles, then the partial ones, whose table
  // block is listed (and, document masks, whose class is not skip): entry
  // 2 other + needs mask.
  Value code, otherIdx;
  warpCompact(
      total,
      [&](Value j, Value inList) {
        Value isFull =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, j, full.n);
        // The other tile: its entry in the full or the partial table row
        // (j = 0 past the end reads a valid entry of either).
        auto ifF = scf::IfOp::create(b, loc, TypeRange{i32}, isFull,
                                     /*withElseRegion=*/true);
        {
          OpBuilder::InsertionGuard g3(b);
          b.setInsertionPointToStart(ifF.thenBlock());
          scf::YieldOp::create(
              b, loc,
              ValueRange{memref::LoadOp::create(b, loc, fullIndices,
                                                add(full.lo, j))
                             .getResult()});
          b.setInsertionPointToStart(ifF.elseBlock());
          Value pj = arith::SubIOp::create(b, loc, j, full.n);
          scf::YieldOp::create(
              b, loc,
              ValueRange{memref::LoadOp::create(b, loc, partialIndices,
                                                add(part.lo, pj))
                             .getResult()});
        }
        otherIdx = ifF.getResult(0);
        code = segmentSkip
                   ? arith::SelectOp::create(
                         b, loc, isFull, i32c(1),
                         memref::LoadOp::create(b, loc, tileCodes, j))
                         .getResult()
                   : arith::SelectOp::create(b, loc, isFull, i32c(1), i32c(2))
                         .getResult();
        // The other tile's table block is listed.
        Value tb = arith::DivUIOp::create(b, loc, otherIdx, i32c(perBlock));
        Value word = memref::LoadOp::create(
            b, loc, listedBits,
            ValueRange{arith::IndexCastOp::create(
                b, loc, b.getIndexType(),
                arith::ShRUIOp::create(b, loc, tb, i32c(5)))});
        Value listed = arith::CmpIOp::create(
            b, loc, arith::CmpIPredicate::ne,
            arith::AndIOp::create(
                b, loc,
                arith::ShRUIOp::create(
                    b, loc, word, arith::AndIOp::create(b, loc, tb, i32c(31))),
                i32c(1)),
            i32c(0));
        return arith::AndIOp::create(
                   b, loc, arith::AndIOp::create(b, loc, inList, listed),
                   arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne,
                                         code, i32c(0)))
            .getResult();
      },
      [&](Value, Value pos) {
        Value needMask = arith::ExtUIOp::create(
            b, loc, i32,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, code,
                                  i32c(2)));
        Value entry = arith::OrIOp::create(
            b, loc, arith::ShLIOp::create(b, loc, otherIdx, i32c(1)),
            needMask);
        memref::StoreOp::create(b, loc, entry, tileCodes, pos);
      });
}

SmallVector<Value>
GradKernelBuilder::maskValues(bool masked, Value maskIf, int64_t n,
                              function_ref<Value(int64_t)> allowedAt) {
  if (!masked)
    return {};
  auto all = [&]() {
    SmallVector<Value> oks;
    for (int64_t i = 0; i < n; ++i)
      oks.push_back(allowedAt(i));
    return oks;
  };
  if (!maskIf)
    return all();
  SmallVector<Type> types(n, b.getI1Type());
  auto ifOp = scf::IfOp::create(b, loc, types, maskIf, /*withElseRegion=*/true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    scf::YieldOp::create(b, loc, all());
    b.setInsertionPointToStart(ifOp.elseBlock());
    Value yes = arith::ConstantIntOp::create(b, loc, 1, 1);
    scf::YieldOp::create(b, loc, SmallVector<Value>(n, yes));
  }
  return SmallVector<Value>(ifOp.getResults().begin(), ifOp.getResults().end());
}

//===----------------------------------------------------------------------===//
// The query-block kernel: Delta and dQ.
//===----------------------------------------------------------------------===//

void GradKernelBuilder::deltaOfRows(function_ref<void(int, Value)> perHalf) {
  // Delta of rows g (half 0) and g + 8 (half 1): this thread's columns,
  // then the quad's.
  Value dlt[2] = {cf(0.0), cf(0.0)};
  auto pairF32 = [&](Value mem, Value row, Value col) {
    Value v = vector::LoadOp::create(b, loc, VectorType::get({2}, elt), mem,
                                     ValueRange{bIdx, hIdx, row, col},
                                     /*nontemporal=*/false,
                                     llvm::MaybeAlign(4));
    v = arith::ExtFOp::create(b, loc, VectorType::get({2}, f32), v);
    return std::pair<Value, Value>(
        vector::ExtractOp::create(b, loc, v, ArrayRef<int64_t>{0}),
        vector::ExtractOp::create(b, loc, v, ArrayRef<int64_t>{1}));
  };
  for (int64_t n = 0; n < dv / 8; ++n)
    for (int half = 0; half < 2; ++half) {
      Value row = half ? row1c : row0c, col = add(muli(t, 2), idx(n * 8));
      auto [o0, o1] = pairF32(o, row, col);
      auto [d0, d1] = pairF32(dO, row, col);
      dlt[half] = fadd(dlt[half], fadd(fmul(o0, d0), fmul(o1, d1)));
    }
  for (int half = 0; half < 2; ++half) {
    dlt[half] = fadd(dlt[half], shuffleXor(dlt[half], 1));
    dlt[half] = fadd(dlt[half], shuffleXor(dlt[half], 2));
    Value row = half ? row1 : row0;
    Value store = arith::AndIOp::create(
        b, loc,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row,
                              queryLen()),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, t, idx(0)));
    auto ifOp = scf::IfOp::create(b, loc, store, /*else=*/false);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifOp.thenBlock());
      memref::StoreOp::create(b, loc, dlt[half], delta,
                              ValueRange{bIdx, hIdx, row});
    }
    perHalf(half, dlt[half]);
  }
}

/// The thread block's query block of the grid (x: query block, y: head,
/// z: batch), its rows and their clamped copies.
static void setUpQueryBlock(GradKernelBuilder &kb) {
  OpBuilder &b = kb.b;
  Location loc = kb.loc;
  kb.hIdx = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
  kb.kvh = arith::DivUIOp::create(b, loc, kb.hIdx, kb.idx(kb.group));
  kb.q0 = kb.muli(gpu::BlockIdOp::create(b, loc, gpu::Dimension::x), kb.bq);
  kb.row0 = kb.add(kb.add(kb.q0, kb.muli(kb.warp, 16)), kb.g);
  kb.row1 = kb.addi(kb.row0, 8);
  kb.row0c = arith::MinUIOp::create(b, loc, kb.row0, kb.lastQuery());
  kb.row1c = arith::MinUIOp::create(b, loc, kb.row1, kb.lastQuery());
}

/// `body(row, col)` for this thread's chunks of four columns of the
/// rows [q0, q0 + bq) below Sq (threads strided over the block's chunks).
static void forEachRowChunk(GradKernelBuilder &kb,
                            function_ref<void(Value, Value)> body) {
  OpBuilder &b = kb.b;
  Location loc = kb.loc;
  int64_t threads = 32 * kb.warps, perRow = kb.d / 4;
  Value tid = kb.add(kb.muli(kb.warp, 32), kb.lane);
  auto loop = scf::ForOp::create(b, loc, tid, kb.idx(kb.bq * perRow),
                                 kb.idx(threads));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  Value i = loop.getInductionVar();
  Value row =
      kb.add(kb.q0, arith::DivUIOp::create(b, loc, i, kb.idx(perRow)));
  Value col =
      kb.muli(arith::RemUIOp::create(b, loc, i, kb.idx(perRow)), 4);
  auto ifOp = scf::IfOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row,
                            kb.queryLen()),
      /*else=*/false);
  b.setInsertionPointToStart(ifOp.thenBlock());
  body(row, col);
}

void GradKernelBuilder::prepareKernel() {
  setUpThread();
  setUpQueryBlock(*this);
  deltaOfRows([](int, Value) {});
  // The accumulator's rows: 0, four floats a store.
  auto v4 = VectorType::get({4}, f32);
  Value zeros = arith::ConstantOp::create(
      b, loc, v4, DenseElementsAttr::get(v4, b.getF32FloatAttr(0.0f)));
  forEachRowChunk(*this, [&](Value row, Value col) {
    vector::StoreOp::create(b, loc, zeros, dqAcc,
                            ValueRange{bIdx, hIdx, row, col});
  });
}

void GradKernelBuilder::dqKernel() {
  setUpThread();
  setUpQueryBlock(*this);
  auto v4 = VectorType::get({4}, f32);
  forEachRowChunk(*this, [&](Value row, Value col) {
    Value x = vector::LoadOp::create(b, loc, v4, dqAcc,
                                     ValueRange{bIdx, hIdx, row, col});
    Value factor = vector::BroadcastOp::create(b, loc, v4, cf(scale));
    x = arith::MulFOp::create(b, loc, x, factor);
    x = arith::TruncFOp::create(b, loc, VectorType::get({4}, elt), x);
    vector::StoreOp::create(b, loc, x, dqOut,
                            ValueRange{bIdx, hIdx, row, col},
                            /*nontemporal=*/false, llvm::MaybeAlign(8));
  });
}

void GradKernelBuilder::atomicDq(Value dsTile, Value kBlock, Value qs0) {
  Value lane16 = arith::RemUIOp::create(b, loc, lane, idx(16));
  Value half = arith::DivUIOp::create(b, loc, lane, idx(16));
  // Warp w: slabs w, w + warps, ... of 16 query rows.
  auto slabs = scf::ForOp::create(b, loc, warp, idx(bqt / 16), idx(warps));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(slabs.getBody());
  Value r0 = muli(slabs.getInductionVar(), 16);
  SmallVector<Value> acc(d / 8 * 4, cf(0.0));
  for (int64_t kk = 0; kk < bkv / 16; ++kk) {
    // A: rows r0 .. r0 + 15 of dS, keys 16 kk .. 16 kk + 15 (lane l
    // addresses a row of matrix l / 8: rows 0-7 | 8-15 x keys 0-7 | 8-15).
    SmallVector<Value> a = ldmatrix(dsTile, add(r0, lane16),
                                    add(muli(half, 8), idx(kk * 16)), 4,
                                    /*transpose=*/false);
    // B: K rows 16 kk .. 16 kk + 15 read transposed, two n8 tiles a load.
    Value row = addi(lane16, kk * 16);
    for (int64_t n = 0; n < d / 8; n += 2) {
      Value col = add(muli(half, 8), idx(n * 8));
      SmallVector<Value> regs = ldmatrix(kBlock, row, col, 4, true);
      mma(a, {regs[0], regs[1]}, MutableArrayRef<Value>(acc).slice(n * 4, 4));
      mma(a, {regs[2], regs[3]},
          MutableArrayRef<Value>(acc).slice((n + 1) * 4, 4));
    }
  }
  for (int halfRow = 0; halfRow < 2; ++halfRow) {
    Value qPos = add(add(qs0, r0), addi(g, halfRow * 8));
    auto ifOp = scf::IfOp::create(
        b, loc,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, qPos,
                              queryLen()),
        /*else=*/false);
    OpBuilder::InsertionGuard g2(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    for (int64_t n = 0; n < d / 8; ++n)
      for (int par = 0; par < 2; ++par)
        memref::AtomicRMWOp::create(
            b, loc, arith::AtomicRMWKind::addf,
            acc[n * 4 + 2 * halfRow + par], dqAcc,
            ValueRange{bIdx, hIdx, qPos, add(muli(t, 2), idx(n * 8 + par))});
  }
}


void GradKernelBuilder::queryBlockKernel() {
  setUpThread();
  hIdx = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
  kvh = arith::DivUIOp::create(b, loc, hIdx, idx(group));
  Value slot = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value qb = arith::IndexCastOp::create(
      b, loc, b.getIndexType(),
      memref::LoadOp::create(b, loc, blockOrder, slot));
  q0 = muli(qb, bq);
  row0 = add(add(q0, muli(warp, 16)), g);
  row1 = addi(row0, 8);
  row0c = arith::MinUIOp::create(b, loc, row0, lastQuery());
  row1c = arith::MinUIOp::create(b, loc, row1, lastQuery());
  // Q and dO rows: A fragments in registers (mma.sync), or swizzled in
  // shared memory for warpgroup MMAs (waited for with the first tile).
  SmallVector<Value> qFrag, doFrag;
  if (wgmma) {
    alignSharedBase();
    copyRows(q, q0, flatView(idx(qOff), bq * d), bq, d, /*kv=*/false);
    copyRows(dO, q0, flatView(idx(gradOutOff), bq * dv), bq, dv,
             /*kv=*/false);
  } else {
    qFrag = rowFragments(q, hIdx, row0c, row1c, d);
    doFrag = rowFragments(dO, hIdx, row0c, row1c, dv);
  }

  Value dlt[2], lse2[2];
  deltaOfRows([&](int half, Value value) {
    dlt[half] = value;
    lse2[half] = log2Lse(memref::LoadOp::create(
        b, loc, lseIn, ValueRange{bIdx, hIdx, half ? row1c : row0c}));
  });

  // dQ over the key tiles of the block: full tiles, then partial ones.
  auto keyRange = [&](Value kb) {
    return segmentRange(kSeg, muli(kb, bk), bk, sk - 1);
  };
  if (segmentSkip)
    std::tie(qSegMin, qSegMax) = segmentRange(qSeg, q0, bq, sq - 1);
  if (listedBits)
    runtimeRow(qb, /*byKey=*/false, keyRange);
  else if (segmentSkip && tileCodes)
    compactRow(qb, keyRange);
  SmallVector<Value> acc(d / 8 * 4, cf(0.0));
  acc = tableLoops(
      qb, [&](Value kb, Value buf) { loadTile(kb, buf); }, keyRange,
      [&](Value kb, Value buf, bool masked, Value maskIf,
          SmallVector<Value> &st) {
        Value ks, vs, kBase;
        if (!wgmma) {
          ks = kView(buf);
          vs = vView(buf);
        }
        Value k0 = muli(kb, bk);
        auto kPosOf = [&](int64_t e) {
          return add(k0, addi(muli(t, 2), (e / 4) * 8 + (e & 1)));
        };
        auto masks = [&] {
          return maskValues(masked, maskIf, bk / 8 * 4, [&](int64_t e) {
            return allowed((e % 4) / 2 ? row1c : row0c, kPosOf(e));
          });
        };
        if (wgmma && overlapProducts && !scoreMod) {
          // overlap: S and dP issued; the masks; S waited for, P made
          // while dP runs; dP waited for, dS; dQ += dS K. (With a score
          // modification its derivative would live beside P: both waited
          // for together, below.)
          kBase = addi(muli(buf, bk * d * 2), kOff);
          Value sAcc = issueKMajorProduct(idx(qOff), kBase, bk, d);
          Value dpAcc = issueKMajorProduct(
              idx(gradOutOff), addi(muli(buf, bk * dv * 2), vOff), bk, dv);
          SmallVector<Value> oks = masks();
          NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 1);
          SmallVector<Value> p = extractAll(sAcc, bk / 2);
          for (int64_t e = 0; e < bk / 8 * 4; ++e) {
            int half = (e % 4) / 2;
            Value kc = arith::MinUIOp::create(b, loc, kPosOf(e), lastKey());
            p[e] = probability(p[e], lse2[half], half ? row1c : row0c, kc)
                       .first;
          }
          NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);
          SmallVector<Value> ds = extractAll(dpAcc, bk / 2);
          for (int64_t e = 0; e < bk / 8 * 4; ++e) {
            ds[e] = scoreGrad(p[e], ds[e], dlt[(e % 4) / 2], Value());
            if (masked) // exactly 0, whatever P and dP hold
              ds[e] = arith::SelectOp::create(b, loc, oks[e], ds[e], cf(0.0));
          }
          accumulateRegisterA(ds, bk, kBase, d, st);
          return;
        }
        SmallVector<Value> s, dp;
        if (wgmma) {
          // The forward's swizzled K / V tiles (loadTile), K-major for S =
          // Q K^T and dP = dO V^T, K MN-major for dQ += dS K.
          kBase = addi(muli(buf, bk * d * 2), kOff);
          Value sAcc = issueKMajorProduct(idx(qOff), kBase, bk, d);
          Value dpAcc = issueKMajorProduct(
              idx(gradOutOff), addi(muli(buf, bk * dv * 2), vOff), bk, dv);
          NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);
          s = extractAll(sAcc, bk / 2);
          dp = extractAll(dpAcc, bk / 2);
        } else {
          s = rowProducts(qFrag, {}, {}, ks, bk, d);
          dp = rowProducts(doFrag, {}, {}, vs, bk, dv);
        }
        SmallVector<Value> oks = masks();
        for (int64_t e = 0; e < bk / 8 * 4; ++e) {
          int half = (e % 4) / 2;
          Value kc = arith::MinUIOp::create(b, loc, kPosOf(e), lastKey());
          s[e] = pairGrad(s[e], dp[e], lse2[half], dlt[half],
                          half ? row1c : row0c, kc,
                          masked ? oks[e] : Value())
                     .second;
        }
        if (wgmma)
          accumulateRegisterA(s, bk, kBase, d, st);
        else
          accumulateProducts(s, bk, ks, d, st);
      },
      acc);
  if (wgmma) // Q and dO's copies are complete even when no tile read them
    nvgpu::DeviceAsyncWaitOp::create(b, loc, commit(), b.getI32IntegerAttr(0));

  // dQ = scale * sum dS K, rows in range.
  for (int half = 0; half < 2; ++half) {
    Value row = half ? row1 : row0;
    Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                          row, queryLen());
    auto ifOp = scf::IfOp::create(b, loc, inRange, /*else=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    for (int64_t n = 0; n < d / 8; ++n) {
      Value pair = vector::FromElementsOp::create(
          b, loc, VectorType::get({2}, f32),
          ValueRange{fmul(acc[n * 4 + 2 * half], cf(scale)),
                     fmul(acc[n * 4 + 2 * half + 1], cf(scale))});
      pair = arith::TruncFOp::create(b, loc, VectorType::get({2}, elt), pair);
      vector::StoreOp::create(b, loc, pair, dqOut,
                              ValueRange{bIdx, hIdx, row,
                                         add(muli(t, 2), idx(n * 8))},
                              /*nontemporal=*/false, llvm::MaybeAlign(4));
    }
  }
}

//===----------------------------------------------------------------------===//
// The key-block kernel: dK and dV.
//===----------------------------------------------------------------------===//

void GradKernelBuilder::keyBlockKernel() {
  setUpThread();
  kvh = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
  Value slot = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value kb = arith::IndexCastOp::create(
      b, loc, b.getIndexType(),
      memref::LoadOp::create(b, loc, blockOrder, slot));
  Value k0 = muli(kb, bkv);
  Value key0 = add(add(k0, muli(warp, 16)), g), key1 = addi(key0, 8);
  Value warpRow = muli(warp, 16); // this warp's first row of the K / V block
  auto wg =
      gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  auto tileView = [&](int64_t offset, Value buf, int64_t bufBytes,
                      int64_t rows, int64_t width) -> Value {
    auto type = MemRefType::get({rows, width + 8}, elt,
                                MemRefLayoutAttrInterface(), wg);
    return memref::ViewOp::create(b, loc, type, smem,
                                  addi(muli(buf, bufBytes), offset),
                                  ValueRange{});
  };
  // mma=wgmma: the plan's offsets count from the aligned area.
  if (wgmma)
    alignSharedBase();
  auto rowView = [&](int64_t offset, Value buf) -> Value {
    auto type =
        MemRefType::get({bqt}, f32, MemRefLayoutAttrInterface(), wg);
    Value at = addi(muli(buf, bqt * 4), offset);
    return memref::ViewOp::create(b, loc, type, smem,
                                  wgmma ? add(aligned, at) : at, ValueRange{});
  };
  const KeyBlockSharedPlan &plan = *keyPlan;
  // The block's K and V rows, zero past Sk (waited for with the first
  // query tile): padded rows for mma.sync, swizzled for warpgroup MMAs.
  Value kBlock, vBlock;
  if (wgmma) {
    copyRows(k, k0, flatView(idx(plan.kOff), bkv * d), bkv, d, /*kv=*/true);
    copyRows(v, k0, flatView(idx(plan.vOff), bkv * dv), bkv, dv, /*kv=*/true);
  } else {
    kBlock = tileView(plan.kOff, idx(0), 0, bkv, d);
    vBlock = tileView(plan.vOff, idx(0), 0, bkv, dv);
    copyPaddedRows(k, kvh, k0, lastKey(), raggedKeys() ? keyLen() : Value(),
                   kBlock, bkv, d);
    copyPaddedRows(v, kvh, k0, lastKey(), raggedKeys() ? keyLen() : Value(),
                   vBlock, bkv, dv);
  }
  bool raggedQueries = sq % bqt != 0;
  // Byte offsets (aligned area) of buffer `buf`'s swizzled Q / dO tile.
  auto qBase = [&](Value buf) { return addi(muli(buf, plan.qBytes), plan.qOff); };
  auto doBase = [&](Value buf) {
    return addi(muli(buf, plan.doBytes), plan.doOff);
  };

  // One query tile (query block qb of head hIdx) into buffer `buf`: Q and
  // dO rows by cp.async, LSE (log2 domain) and Delta by plain stores.
  auto loadQueryTile = [&](Value qb, Value buf) {
    Value qs0 = muli(qb, bqt);
    if (wgmma) {
      copyRows(q, qs0, flatView(qBase(buf), bqt * d), bqt, d, /*kv=*/false);
      copyRows(dO, qs0, flatView(doBase(buf), bqt * dv), bqt, dv,
               /*kv=*/false);
    } else {
      copyPaddedRows(q, hIdx, qs0, lastQuery(), Value(),
                     tileView(plan.qOff, buf, plan.qBytes, bqt, d), bqt, d);
      copyPaddedRows(dO, hIdx, qs0, lastQuery(), Value(),
                     tileView(plan.doOff, buf, plan.doBytes, bqt, dv), bqt,
                     dv);
    }
    Value tid = add(muli(warp, 32), lane);
    for (int64_t i = 0; i < bqt; i += 32 * warps) {
      Value r = addi(tid, i);
      auto ifOp = scf::IfOp::create(
          b, loc,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, r,
                                idx(bqt)),
          /*else=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifOp.thenBlock());
      Value pos = arith::MinUIOp::create(b, loc, add(qs0, r), lastQuery());
      Value l = memref::LoadOp::create(b, loc, lseIn,
                                       ValueRange{bIdx, hIdx, pos});
      memref::StoreOp::create(b, loc, log2Lse(l),
                              rowView(plan.lseOff, buf), r);
      Value dl = memref::LoadOp::create(b, loc, delta,
                                        ValueRange{bIdx, hIdx, pos});
      memref::StoreOp::create(b, loc, dl, rowView(plan.deltaOff, buf), r);
    }
  };

  // One query tile: S^T = K Q^T, P^T; dV += P^T dO; dP^T = V dO^T, dS^T;
  // dK += dS^T Q. st = [dK accumulators, dV accumulators].
  auto tileStep = [&](Value qb, Value buf, bool masked, Value maskIf,
                      SmallVector<Value> &st) {
    Value qs, dos;
    if (!wgmma) {
      qs = tileView(plan.qOff, buf, plan.qBytes, bqt, d);
      dos = tileView(plan.doOff, buf, plan.doBytes, bqt, dv);
    }
    Value lseS = rowView(plan.lseOff, buf), dltS = rowView(plan.deltaOff, buf);
    Value qs0 = muli(qb, bqt);
    // Element e = 4 nt + 2 half + par: key row (half), query column
    // 8 nt + 2 t + par of the tile.
    auto colOf = [&](int64_t e) {
      return addi(muli(t, 2), (e / 4) * 8 + (e & 1));
    };
    auto keyOf = [&](int64_t e) { return (e % 4) / 2 ? key1 : key0; };
    auto masks = [&] {
      return maskValues(masked, maskIf, bqt / 8 * 4, [&](int64_t e) {
        Value qPos = add(qs0, colOf(e));
        Value ok = allowed(arith::MinUIOp::create(b, loc, qPos, lastQuery()),
                           keyOf(e));
        if (raggedQueries)
          ok = arith::AndIOp::create(
              b, loc, ok,
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, qPos,
                                    queryLen()));
        return ok;
      });
    };
    // Every element with its column's LSE and Delta (loads a caller does
    // not use are erased) and its clamped query and key positions.
    auto forEachPair =
        [&](function_ref<void(int64_t, Value, Value, Value, Value)> fn) {
          for (int64_t nt = 0; nt < bqt / 8; ++nt)
            for (int64_t par = 0; par < 2; ++par) {
              Value col = colOf(nt * 4 + par);
              Value qc =
                  arith::MinUIOp::create(b, loc, add(qs0, col), lastQuery());
              Value l2 = memref::LoadOp::create(b, loc, lseS, col);
              Value dl = memref::LoadOp::create(b, loc, dltS, col);
              for (int64_t half = 0; half < 2; ++half) {
                int64_t e = nt * 4 + 2 * half + par;
                fn(e, l2, dl, qc,
                   arith::MinUIOp::create(b, loc, keyOf(e), lastKey()));
              }
            }
        };
    MutableArrayRef<Value> dkAcc(st.data(), d / 8 * 4);
    MutableArrayRef<Value> dvAcc(st.data() + d / 8 * 4, dv / 8 * 4);
    if (wgmma && overlapProducts && !scoreMod) {
      // The warpgroup's 64 keys x the tile's queries (warp w holds keys
      // 16 w .. 16 w + 15 in mma.sync's accumulator order), the tensor
      // cores kept busy while the CUDA cores work: S^T and dP^T issued;
      // the masks; S^T waited for, P^T made while dP^T runs; dV += P^T dO
      // issued; dP^T waited for, dS^T made while dV runs; dK += dS^T Q.
      Value sAcc = issueKMajorProduct(idx(plan.kOff), qBase(buf), bqt, d);
      Value dpAcc = issueKMajorProduct(idx(plan.vOff), doBase(buf), bqt, dv);
      SmallVector<Value> oks = masks();
      NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 1);
      SmallVector<Value> p = extractAll(sAcc, bqt / 2);
      forEachPair([&](int64_t e, Value l2, Value, Value qc, Value kc) {
        p[e] = probability(p[e], l2, qc, kc).first;
        if (masked)
          p[e] = arith::SelectOp::create(b, loc, oks[e], p[e], cf(0.0));
      });
      accumulateRegisterA(p, bqt, doBase(buf), dv, dvAcc, {}, /*wait=*/false);
      NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 1);
      SmallVector<Value> ds = extractAll(dpAcc, bqt / 2);
      forEachPair([&](int64_t e, Value, Value dl, Value, Value) {
        ds[e] = scoreGrad(p[e], ds[e], dl, Value());
        if (masked) // exactly 0, whatever dP holds
          ds[e] = arith::SelectOp::create(b, loc, oks[e], ds[e], cf(0.0));
      });
      accumulateRegisterA(ds, bqt, qBase(buf), d, dkAcc, {}, /*wait=*/false);
      NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);
      return;
    }
    SmallVector<Value> s, dp;
    if (wgmma) {
      // The warpgroup's 64 keys x the tile's queries: warp w holds keys
      // 16 w .. 16 w + 15 in mma.sync's accumulator order.
      Value sAcc = issueKMajorProduct(idx(plan.kOff), qBase(buf), bqt, d);
      Value dpAcc = issueKMajorProduct(idx(plan.vOff), doBase(buf), bqt, dv);
      NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);
      s = extractAll(sAcc, bqt / 2);
      dp = extractAll(dpAcc, bqt / 2);
    } else {
      s = rowProducts({}, kBlock, warpRow, qs, bqt, d);
      dp = rowProducts({}, vBlock, warpRow, dos, bqt, dv);
    }
    SmallVector<Value> oks = masks();
    forEachPair([&](int64_t e, Value l2, Value dl, Value qc, Value kc) {
      std::tie(s[e], dp[e]) =
          pairGrad(s[e], dp[e], l2, dl, qc, kc, masked ? oks[e] : Value());
    });
    if (wgmma) {
      // overlap with a score modification (its derivative would live
      // beside P^T between two halves, and ptxas spills): P^T and dS^T in
      // the one pass above, dV and dK issued back to back.
      accumulateRegisterA(s, bqt, doBase(buf), dv, dvAcc, {},
                          /*wait=*/!overlapProducts);
      accumulateRegisterA(dp, bqt, qBase(buf), d, dkAcc);
      return;
    }
    accumulateProducts(s, bqt, dos, dv, dvAcc);
    accumulateProducts(dp, bqt, qs, d, dkAcc);
    if (!dqAcc)
      return;
    // Atomic dQ: this warp's dS^T (16 keys x the tile's queries) stored
    // transposed into the dS tile (query rows, key columns), then every
    // warp's rows of dQ += dS K.
    Value dsTile = tileView(plan.dsOff, idx(0), 0, bqt, bkv);
    for (int64_t nt = 0; nt < bqt / 8; ++nt)
      for (int64_t e4 = 0; e4 < 4; ++e4) {
        int64_t e = nt * 4 + e4;
        Value key = addi(add(warpRow, g), (e4 / 2) * 8);
        Value x = arith::TruncFOp::create(b, loc, elt, dp[e]);
        memref::StoreOp::create(b, loc, x, dsTile, ValueRange{colOf(e), key});
      }
    gpu::BarrierOp::create(b, loc);
    atomicDq(dsTile, kBlock, qs0);
  };

  // Over the query heads of the group, the query tiles that see the block:
  // full tiles, then partial ones. Document masks: the block's key range is
  // the fixed side of the run-time classification.
  auto queryRange = [&](Value qb) {
    return segmentRange(qSeg, muli(qb, bqt), bqt, sq - 1);
  };
  if (segmentSkip)
    std::tie(qSegMin, qSegMax) = segmentRange(kSeg, k0, bkv, sk - 1);
  // Runtime block tables per query head list different tiles for each head
  // of the group: the list is built in the head loop. Otherwise it does not
  // depend on the head: built once.
  bool perHeadList =
      listedBits && group > 1 &&
      llvm::cast<MemRefType>(kvNum.getType()).getDimSize(1) == hq;
  if (listedBits && !perHeadList) {
    hIdx = kvh; // the tables' head when H' = Hq = Hkv
    runtimeRow(kb, /*byKey=*/true, queryRange);
  } else if (!listedBits && segmentSkip && tileCodes) {
    compactRow(kb, queryRange);
  }
  SmallVector<Value> init(d / 8 * 4 + dv / 8 * 4, cf(0.0));
  auto heads = scf::ForOp::create(b, loc, idx(0), idx(group), idx(1), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(heads.getBody());
    hIdx = add(muli(kvh, group), heads.getInductionVar());
    SmallVector<Value> st(heads.getRegionIterArgs().begin(),
                          heads.getRegionIterArgs().end());
    if (perHeadList)
      runtimeRow(kb, /*byKey=*/true, queryRange);
    st = tableLoops(
        kb, [&](Value qb, Value buf) { loadQueryTile(qb, buf); },
        queryRange, tileStep, st);
    scf::YieldOp::create(b, loc, st);
  }
  SmallVector<Value> acc(heads.getResults().begin(), heads.getResults().end());
  // The K / V block's copies are complete even when no tile read them.
  nvgpu::DeviceAsyncWaitOp::create(b, loc, commit(), b.getI32IntegerAttr(0));

  // dK = scale * sum dS^T Q and dV, keys in range.
  for (int half = 0; half < 2; ++half) {
    Value key = half ? key1 : key0;
    Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                          key, keyLen());
    auto ifOp = scf::IfOp::create(b, loc, inRange, /*else=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    auto store = [&](Value mem, int64_t base, int64_t width, double factor) {
      for (int64_t n = 0; n < width / 8; ++n) {
        Value x = acc[base + n * 4 + 2 * half];
        Value y = acc[base + n * 4 + 2 * half + 1];
        if (factor != 1.0) {
          x = fmul(x, cf(factor));
          y = fmul(y, cf(factor));
        }
        Value pair = vector::FromElementsOp::create(
            b, loc, VectorType::get({2}, f32), ValueRange{x, y});
        pair =
            arith::TruncFOp::create(b, loc, VectorType::get({2}, elt), pair);
        vector::StoreOp::create(b, loc, pair, mem,
                                ValueRange{bIdx, kvh, key,
                                           add(muli(t, 2), idx(n * 8))},
                                /*nontemporal=*/false, llvm::MaybeAlign(4));
      }
    };
    store(dkOut, 0, d, scale);
    store(dvOut, d / 8 * 4, dv, 1.0);
  }
}
