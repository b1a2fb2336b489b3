//===- TileSource.cpp - the key tiles a query block visits
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

TileProblem mlir::sparse_attn::tileProblemOf(AttentionOp op) {
  return {op, op.getPattern(),
          llvm::cast<RankedTensorType>(op.getQuery().getType()),
          llvm::cast<RankedTensorType>(op.getKey().getType()),
          (bool)op.getQuerySegmentIds(), op.getBlockMaskAttr()};
}

TileProblem mlir::sparse_attn::tileProblemOf(AttentionGradOp op) {
  return {op, op.getPattern(),
          llvm::cast<RankedTensorType>(op.getQuery().getType()),
          llvm::cast<RankedTensorType>(op.getKey().getType()),
          (bool)op.getQuerySegmentIds(), BlockMaskAttr()};
}

FailureOr<std::vector<TileKind>>
mlir::sparse_attn::classifyTiles(const TileProblem &p, int64_t bq, int64_t bk,
                                 std::vector<TileKind> *sameSegmentKinds) {
  int64_t sq = p.queryType.getDimSize(2), sk = p.keyType.getDimSize(2);
  int64_t nq = ceilDivPositive(sq, bq), nk = ceilDivPositive(sk, bk);
  std::vector<TileKind> kinds;
  // The compile-time classification of `pattern` for (bq, bk) tiles; empty
  // when custom masks depend on batch or head (unknown per tile).
  auto classify = [&](SparsityPatternAttrInterface pattern)
      -> FailureOr<std::vector<TileKind>> {
    MaskInterpreter masks(p.op);
    PatternContext ctx(sq, sk);
    ctx.customMasks = &masks;
    SmallVector<FlatSymbolRefAttr> custom;
    pattern.collectCustomMasks(custom);
    if (llvm::any_of(custom, [&](FlatSymbolRefAttr m) {
          return masks.usesBatchOrHead(m);
        }))
      return std::vector<TileKind>();
    if (!numTiles(sq, sk, bq, bk))
      return p.op->emitOpError("too many tiles for the GPU lowering");
    BlockClassification c = classifyBlocks(pattern, ctx, bq, bk);
    if (masks.hadError())
      return failure();
    return std::move(c.kinds);
  };
  BlockMaskAttr mask = p.blockMask;
  if (mask && mask.getBlockQ() == bq && mask.getBlockK() == bk) {
    kinds.assign(nq * nk, TileKind::Empty);
    for (int64_t i = 0; i < nq; ++i) {
      for (int32_t j = mask.getPartialOffsets()[i];
           j < mask.getPartialOffsets()[i + 1]; ++j)
        kinds[i * nk + mask.getPartialIndices()[j]] = TileKind::Partial;
      for (int32_t j = mask.getFullOffsets()[i];
           j < mask.getFullOffsets()[i + 1]; ++j)
        kinds[i * nk + mask.getFullIndices()[j]] = TileKind::Full;
    }
  } else {
    FailureOr<std::vector<TileKind>> c = classify(p.pattern);
    if (failed(c))
      return failure();
    kinds = c->empty() ? std::vector<TileKind>(nq * nk, TileKind::Partial)
                       : std::move(*c);
  }
  if (sameSegmentKinds && p.segments && impliesSameSegment(p.pattern)) {
    // How each tile looks when its rows and columns share one segment.
    FailureOr<std::vector<TileKind>> c = classify(
        llvm::cast<SparsityPatternAttrInterface>(withoutSegments(p.pattern)));
    if (failed(c))
      return failure();
    *sameSegmentKinds = std::move(*c); // empty: unknown, no tile flagged
  }
  return kinds;
}

/// The tables for (BQ, BK) tiles (classifyTiles). The key block that runs
/// past Sk is moved to the partial list (its bound is checked there), and
/// `order` lists query blocks by decreasing work.
FailureOr<TileTables> mlir::sparse_attn::buildTables(AttentionOp op, int64_t bq,
                                                     int64_t bk) {
  TileProblem p = tileProblemOf(op);
  int64_t sq = p.queryType.getDimSize(2), sk = p.keyType.getDimSize(2);
  int64_t nq = ceilDivPositive(sq, bq), nk = ceilDivPositive(sk, bk);
  std::vector<TileKind> sameSegmentKinds;
  FailureOr<std::vector<TileKind>> classified =
      classifyTiles(p, bq, bk, &sameSegmentKinds);
  if (failed(classified))
    return failure();
  std::vector<TileKind> &kinds = *classified;
  bool segmentTiles =
      op.getQuerySegmentIds() && impliesSameSegment(op.getPattern());
  TileTables t;
  t.fullOffsets.push_back(0);
  t.partialOffsets.push_back(0);
  std::vector<int64_t> work(nq);
  for (int64_t i = 0; i < nq; ++i) {
    for (int64_t j = 0; j < nk; ++j) {
      TileKind kind = kinds[i * nk + j];
      if (kind == TileKind::Full && (j + 1) * bk > sk)
        kind = TileKind::Partial; // the bound Sk is checked with the mask
      if (kind == TileKind::Full)
        t.fullIndices.push_back(j);
      else if (kind == TileKind::Partial) {
        t.partialIndices.push_back(j);
        if (segmentTiles)
          t.partialFlags.push_back(
              !sameSegmentKinds.empty() && (j + 1) * bk <= sk &&
              sameSegmentKinds[i * nk + j] == TileKind::Full);
      }
      // A partial tile costs a little more (the mask).
      work[i] += kind == TileKind::Full ? 4 : kind == TileKind::Partial ? 5 : 0;
    }
    t.fullOffsets.push_back(t.fullIndices.size());
    t.partialOffsets.push_back(t.partialIndices.size());
  }
  t.order.resize(nq);
  std::iota(t.order.begin(), t.order.end(), 0);
  std::sort(t.order.begin(), t.order.end(), [&](int32_t a, int32_t b) {
    return work[a] != work[b] ? work[a] > work[b] : a < b;
  });
  return t;
}

/// Min and max (i64) of `mem[b, pos]` over pos in [lo, lo + count),
/// clamped to the last position `last`; every warp computes it.
std::pair<Value, Value>
KernelBuilder::segmentRange(Value mem, Value lo, int64_t count, int64_t last) {
  auto i64 = b.getI64Type();
  Value mn, mx;
  for (int64_t i = 0; i < count; i += 32) {
    Value pos =
        arith::MinUIOp::create(b, loc, add(lo, addi(lane, i)), idx(last));
    Value id = memref::LoadOp::create(b, loc, mem, ValueRange{bIdx, pos});
    if (id.getType() != i64)
      id = arith::ExtSIOp::create(b, loc, i64, id);
    mn = mn ? arith::MinSIOp::create(b, loc, mn, id).getResult() : id;
    mx = mx ? arith::MaxSIOp::create(b, loc, mx, id).getResult() : id;
  }
  for (int32_t off = 16; off >= 1; off /= 2) {
    mn = arith::MinSIOp::create(b, loc, mn, shuffleXor(mn, off));
    mx = arith::MaxSIOp::create(b, loc, mx, shuffleXor(mx, off));
  }
  return {mn, mx};
}

Value KernelBuilder::classifyTile(Value listIdx, Value kMin, Value kMax) {
  auto cmp = [&](arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  };
  using P = arith::CmpIPredicate;
  Value disjoint = arith::OrIOp::create(b, loc, cmp(P::slt, kMax, qSegMin),
                                        cmp(P::sgt, kMin, qSegMax));
  Value oneSegment = arith::AndIOp::create(
      b, loc,
      arith::AndIOp::create(b, loc, cmp(P::eq, qSegMin, qSegMax),
                            cmp(P::eq, kMin, kMax)),
      cmp(P::eq, qSegMin, kMin));
  Value flag = memref::LoadOp::create(b, loc, partFlags, listIdx);
  Value zero = arith::ConstantIntOp::create(b, loc, i32, 0);
  Value unmasked =
      arith::AndIOp::create(b, loc, oneSegment, cmp(P::ne, flag, zero));
  Value code = arith::SelectOp::create(
      b, loc, unmasked, arith::ConstantIntOp::create(b, loc, i32, 1),
      arith::ConstantIntOp::create(b, loc, i32, 2));
  return arith::SelectOp::create(b, loc, disjoint, zero, code);
}

/// Fills tileCodes for the block's partial tiles before the main loop, so
/// that the id loads of different tiles overlap instead of adding up in
/// the main loop. When every key block is complete (Sk % BK == 0, so
/// rows of ids are 16-byte aligned), thread t classifies tiles t, t +
/// threads, ... with 16-byte vector loads; else warp w classifies tiles
/// w, w + warps, ... with clamped scalar loads.
void KernelBuilder::classifyPartialTiles(Value qb) {
  auto load = [&](Value mem, Value i) -> Value {
    Value x = memref::LoadOp::create(b, loc, mem, i);
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), x);
  };
  Value lo = load(partOff, qb), hi = load(partOff, addi(qb, 1));
  Type idType = llvm::cast<MemRefType>(kSeg.getType()).getElementType();
  int64_t width = 128 / idType.getIntOrFloatBitWidth();
  if (sk % bk == 0 && bk % width == 0) {
    int64_t threads = 32 * warps;
    Value tid = add(muli(warp, 32), lane);
    auto loop = scf::ForOp::create(b, loc, add(lo, tid), hi, idx(threads));
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value i = loop.getInductionVar();
      Value k0 = muli(load(partIdx, i), bk);
      auto vecTy = VectorType::get({width}, idType);
      Value mn, mx;
      for (int64_t j = 0; j < bk; j += width) {
        Value v = vector::LoadOp::create(
            b, loc, vecTy, kSeg, ValueRange{bIdx, addi(k0, j)},
            /*nontemporal=*/false, llvm::MaybeAlign(16));
        mn = mn ? arith::MinSIOp::create(b, loc, mn, v).getResult() : v;
        mx = mx ? arith::MaxSIOp::create(b, loc, mx, v).getResult() : v;
      }
      auto reduce = [&](vector::CombiningKind kind, Value v) -> Value {
        Value r = vector::ReductionOp::create(b, loc, kind, v);
        if (!idType.isInteger(64))
          r = arith::ExtSIOp::create(b, loc, b.getI64Type(), r);
        return r;
      };
      Value code = classifyTile(i, reduce(vector::CombiningKind::MINSI, mn),
                                reduce(vector::CombiningKind::MAXSI, mx));
      memref::StoreOp::create(b, loc, code, tileCodes,
                              arith::SubIOp::create(b, loc, i, lo).getResult());
    }
    gpu::BarrierOp::create(b, loc);
    return;
  }
  auto loop = scf::ForOp::create(b, loc, add(lo, warp), hi, idx(warps));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value i = loop.getInductionVar();
    Value code = classifyTile(i, load(partIdx, i));
    Value first =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, idx(0));
    auto ifOp = scf::IfOp::create(b, loc, first, /*else=*/false);
    b.setInsertionPointToStart(ifOp.thenBlock());
    memref::StoreOp::create(b, loc, code, tileCodes,
                            arith::SubIOp::create(b, loc, i, lo).getResult());
  }
  gpu::BarrierOp::create(b, loc);
}

void KernelBuilder::warpCompact(Value n,
                                function_ref<Value(Value, Value)> keepAt,
                                function_ref<void(Value, Value)> store) {
  Value first =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, warp, idx(0));
  auto ifWarp = scf::IfOp::create(b, loc, first, /*else=*/false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifWarp.thenBlock());
    auto loop =
        scf::ForOp::create(b, loc, idx(0), n, idx(32), ValueRange{idx(0)});
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(loop.getBody());
      Value base = loop.getRegionIterArgs()[0];
      Value j = add(loop.getInductionVar(), lane);
      Value inList =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, j, n);
      Value jc = arith::SelectOp::create(b, loc, inList, j, idx(0));
      Value keep = keepAt(jc, inList);
      Value next = ballotCompact(keep, lane, base,
                                 [&](Value pos) { store(jc, pos); });
      scf::YieldOp::create(b, loc, ValueRange{next});
    }
    Value count = arith::IndexCastOp::create(b, loc, i32, loop.getResult(0));
    Value lane0 =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, idx(0));
    auto ifLane = scf::IfOp::create(b, loc, lane0, /*else=*/false);
    b.setInsertionPointToStart(ifLane.thenBlock());
    memref::StoreOp::create(b, loc, count, tileCodes, idx(maxPartial));
  }
  gpu::BarrierOp::create(b, loc);
}

/// Compacts tileCodes in place (warp 0, one ballot per 32 entries, in
/// list order): entry j becomes 2 * key block + (needs mask) for the
/// tiles not skipped, and the count goes to slot maxPartial.
void KernelBuilder::compactPartialTiles(Value lo, Value n) {
  Value code;
  warpCompact(
      n,
      [&](Value jc, Value inList) {
        Value zero = arith::ConstantIntOp::create(b, loc, i32, 0);
        code = arith::SelectOp::create(
            b, loc, inList, memref::LoadOp::create(b, loc, tileCodes, jc),
            zero);
        return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, code,
                                     zero)
            .getResult();
      },
      [&](Value jc, Value pos) {
        Value kb = memref::LoadOp::create(b, loc, partIdx, add(lo, jc));
        Value needMask = arith::ExtUIOp::create(
            b, loc, i32,
            arith::CmpIOp::create(
                b, loc, arith::CmpIPredicate::eq, code,
                arith::ConstantIntOp::create(b, loc, i32, 2)));
        Value entry = arith::OrIOp::create(
            b, loc,
            arith::ShLIOp::create(b, loc, kb,
                                  arith::ConstantIntOp::create(b, loc, i32, 1)),
            needMask);
        memref::StoreOp::create(b, loc, entry, tileCodes, pos);
      });
}

std::pair<Value, Value> KernelBuilder::tableCoordinates() {
  auto shape = llvm::cast<MemRefType>(kvNum.getType()).getShape();
  Value bRow = shape[0] == 1 ? idx(0) : bIdx;
  Value hRow = shape[1] == 1 ? idx(0) : shape[1] == hq ? hIdx : kvh;
  return {bRow, hRow};
}

Value KernelBuilder::listedCount(Value num, int64_t n, Value bRow, Value hRow,
                                 Value row) {
  Value c = memref::LoadOp::create(b, loc, num, ValueRange{bRow, hRow, row});
  return arith::MinSIOp::create(
      b, loc,
      arith::MaxSIOp::create(b, loc, c,
                             arith::ConstantIntOp::create(b, loc, i32, 0)),
      arith::ConstantIntOp::create(b, loc, i32, n));
}

void KernelBuilder::clearListedBits() {
  int64_t words = llvm::cast<MemRefType>(listedBits.getType()).getDimSize(0);
  Value tid = add(muli(warp, 32), lane);
  auto loop = scf::ForOp::create(b, loc, tid, idx(words), idx(32 * warps));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  memref::StoreOp::create(b, loc, arith::ConstantIntOp::create(b, loc, i32, 0),
                          listedBits, loop.getInductionVar());
}

void KernelBuilder::setListedBit(Value pos) {
  Value bit = arith::ShLIOp::create(
      b, loc, i32c(1), arith::AndIOp::create(b, loc, pos, i32c(31)));
  Value word = arith::IndexCastOp::create(
      b, loc, b.getIndexType(), arith::ShRUIOp::create(b, loc, pos, i32c(5)));
  memref::AtomicRMWOp::create(b, loc, arith::AtomicRMWKind::ori, bit,
                              listedBits, ValueRange{word});
}

/// The device-built tile list (runtime block tables, or lengths known only
/// at run time): fills tileCodes with the key tiles of chunk [c0, c0 +
/// maxPartial) that query block `qb` runs, in key order: entry 2 kb +
/// (needs mask) for each key tile kb whose run-time class (the pattern's
/// buildTileKind: work per tile, never per pair) is not empty and, with
/// tables, whose table block is listed; the count goes to slot
/// maxPartial. With tables, each thread block first sets one bit per
/// listed table block of the chunk (counts clamped to [0, N], indices
/// outside the key blocks ignored), so every read stays in bounds
/// whatever the tables hold and a block listed twice (or in both tables)
/// runs once. `c0` is a multiple of maxPartial, itself a multiple of the
/// tiles per table block.
void KernelBuilder::buildRuntimeTileList(Value qb, Value c0) {
  int64_t threads = 32 * warps;
  Value tid = add(muli(warp, 32), lane);
  auto toI32 = [&](Value x) -> Value {
    return arith::IndexCastOp::create(b, loc, i32, x);
  };
  int64_t perBlock = kvNum ? tbk / bk : 1; // key tiles per table block
  // The chunk's table blocks: [t0, t0 + 32 words).
  Value t0;
  if (kvNum) {
    int64_t words = llvm::cast<MemRefType>(listedBits.getType()).getDimSize(0);
    t0 = toI32(arith::DivUIOp::create(b, loc, c0, idx(perBlock)));
    Value tableBlocks = toI32(keyBlocks(tbk));
    clearListedBits();
    gpu::BarrierOp::create(b, loc);
    // The tables' row for (b, h, qb). A query block past the tables' Mq (a
    // longer run-time Sq) lists nothing.
    auto shape = llvm::cast<MemRefType>(kvNum.getType()).getShape();
    Value bRow, hRow;
    std::tie(bRow, hRow) = tableCoordinates();
    Value row = arith::DivUIOp::create(b, loc, qb, idx(tbq / bq));
    Value rowListed;
    if (ShapedType::isDynamic(sq))
      rowListed = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row,
                                        idx(shape[2]));
    for (auto table :
         {std::pair(kvNum, kvIdx), std::pair(fullNum, fullTableIdx)}) {
      // Plain variables: the loop body's lambda captures them.
      Value num = table.first, indices = table.second;
      if (!num)
        continue;
      int64_t n = llvm::cast<MemRefType>(indices.getType()).getDimSize(3);
      Value safeRow =
          rowListed ? arith::SelectOp::create(b, loc, rowListed, row, idx(0))
                          .getResult()
                    : row;
      Value count = listedCount(num, n, bRow, hRow, safeRow);
      if (rowListed)
        count = arith::SelectOp::create(b, loc, rowListed, count, i32c(0));
      strided(tid, toIndex(count), threads, [&](Value e) {
        Value block = memref::LoadOp::create(
            b, loc, indices, ValueRange{bRow, hRow, safeRow, e});
        // Unsigned: a negative index is out of range too.
        Value rel = arith::SubIOp::create(b, loc, block, t0);
        Value inRange = arith::AndIOp::create(
            b, loc,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, block,
                                  tableBlocks),
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, rel,
                                  i32c(32 * words)));
        auto ifOp = scf::IfOp::create(b, loc, inRange, /*else=*/false);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(ifOp.thenBlock());
        setListedBit(rel);
      });
    }
  }
  gpu::BarrierOp::create(b, loc);
  // Warp 0 compacts the chunk's listed, non-empty key tiles in key order,
  // 32 at a time (one ballot each).
  Value numKTiles = keyBlocks(bk);
  Value end = arith::MinUIOp::create(b, loc, addi(c0, maxPartial), numKTiles);
  Value first =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, warp, idx(0));
  auto ifWarp = scf::IfOp::create(b, loc, first, /*else=*/false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifWarp.thenBlock());
    auto loop =
        scf::ForOp::create(b, loc, c0, end, idx(32), ValueRange{idx(0)});
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(loop.getBody());
      Value base = loop.getRegionIterArgs()[0];
      Value kbRaw = add(loop.getInductionVar(), lane);
      Value inList =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, kbRaw, end);
      Value kbi = arith::SelectOp::create(b, loc, inList, kbRaw, c0);
      Value keep = inList;
      if (kvNum) {
        Value rel = arith::SubIOp::create(
            b, loc, toI32(arith::DivUIOp::create(b, loc, kbi, idx(perBlock))),
            t0);
        Value word = memref::LoadOp::create(
            b, loc, listedBits,
            ValueRange{toIndex(arith::ShRUIOp::create(b, loc, rel, i32c(5)))});
        Value listed = arith::CmpIOp::create(
            b, loc, arith::CmpIPredicate::ne,
            arith::AndIOp::create(
                b, loc,
                arith::ShRUIOp::create(
                    b, loc, word, arith::AndIOp::create(b, loc, rel, i32c(31))),
                i32c(1)),
            i32c(0));
        keep = arith::AndIOp::create(b, loc, keep, listed);
      }
      // The tile's run-time class.
      Value k0 = muli(kbi, bk);
      TileBounds bounds{
          q0, arith::MinUIOp::create(b, loc, addi(q0, bq), queryLen()), k0,
          arith::MinUIOp::create(b, loc, addi(k0, bk), keyLen()), queryLen(),
          keyLen()};
      FailureOr<TileKindValues> kind =
          buildTileKind(b, loc, pattern, bounds);
      if (failed(kind)) // the default ("partial") never fails
        llvm::report_fatal_error("sparse-attn: tile classifier failed");
      Value trueV = arith::ConstantIntOp::create(b, loc, 1, 1);
      keep = arith::AndIOp::create(
          b, loc, keep, arith::XOrIOp::create(b, loc, kind->empty, trueV));
      // A tile past Sk checks the bound with the mask.
      Value needMask = arith::XOrIOp::create(b, loc, kind->full, trueV);
      if (raggedKeys())
        needMask = arith::OrIOp::create(
            b, loc, needMask,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt,
                                  addi(k0, bk), keyLen()));
      Value next = ballotCompact(keep, lane, base, [&](Value pos) {
        Value entry = arith::OrIOp::create(
            b, loc, arith::ShLIOp::create(b, loc, toI32(kbi), i32c(1)),
            arith::ExtUIOp::create(b, loc, i32, needMask));
        memref::StoreOp::create(b, loc, entry, tileCodes, pos);
      });
      scf::YieldOp::create(b, loc, ValueRange{next});
    }
    Value lane0 =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, idx(0));
    auto ifLane = scf::IfOp::create(b, loc, lane0, /*else=*/false);
    b.setInsertionPointToStart(ifLane.thenBlock());
    memref::StoreOp::create(b, loc, toI32(loop.getResult(0)), tileCodes,
                            idx(maxPartial));
  }
  gpu::BarrierOp::create(b, loc);
}
