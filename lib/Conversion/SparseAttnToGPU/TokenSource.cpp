//===- TokenSource.cpp - token tables: one token's gathered key list ------===//
//
// Part of the GPU kernel builder (KernelBuilder.h).
//
// Runtime tables of single tokens (table_block [1, 1], what
// sparse_attn.select_tokens returns: DeepSeek sparse attention) give every
// query token its own key list, so no two query positions share a key tile.
// What does share one are the query heads that read the same list (a KV
// group when the tables are per KV head or shared): they become the MMA
// rows (the NSA / FlashMLA kernel design).
//
//   grid (Sq, (Hq / P) ceil(P / 16), B), one warp; P = the query heads
//   sharing a list (the group, or 1 for per-query-head tables). Block
//   (t, y, b) runs token t for heads h0 .. h0 + 15 of list group y / ceil(P
//   / 16), row r = head h0 + r (rows past the group clamped, not stored):
//     bits[s] = s is listed for (b', h', t) in either table, s in [0, Sk)
//     keyList = the set bits in increasing order, padded with Sk
//     for each tile of BK list positions: gather the K / V rows (cp.async,
//       the padding zero-filled), then the forward step (ForwardBody.cpp)
//       with key positions read from the list and the pattern applied
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include <limits>

using namespace mlir;
using namespace mlir::sparse_attn;

void KernelBuilder::buildTokenList(Value token) {
  int64_t threads = 32 * warps;
  Value tid = add(muli(warp, 32), lane);
  int64_t words = llvm::cast<MemRefType>(listedBits.getType()).getDimSize(0);
  clearListedBits();
  gpu::BarrierOp::create(b, loc);
  // The tables' row (b', h', t); a token past the tables' Mq (a longer
  // run-time Sq) lists nothing.
  auto shape = llvm::cast<MemRefType>(kvNum.getType()).getShape();
  Value bRow, hRow;
  std::tie(bRow, hRow) = tableCoordinates();
  Value rowListed;
  if (ShapedType::isDynamic(sq))
    rowListed = ult(token, idx(shape[2]));
  Value safeRow =
      rowListed
          ? arith::SelectOp::create(b, loc, rowListed, token, idx(0)).getResult()
          : token;
  Value sk32 = i32c(sk);
  for (auto table :
       {std::pair(kvNum, kvIdx), std::pair(fullNum, fullTableIdx)}) {
    Value num = table.first, indices = table.second;
    if (!num)
      continue;
    int64_t n = llvm::cast<MemRefType>(indices.getType()).getDimSize(3);
    Value count = listedCount(num, n, bRow, hRow, safeRow);
    if (rowListed)
      count = arith::SelectOp::create(b, loc, rowListed, count, i32c(0));
    strided(tid, toIndex(count), threads, [&](Value e) {
      Value key = memref::LoadOp::create(b, loc, indices,
                                         ValueRange{bRow, hRow, safeRow, e});
      // Unsigned: a negative position is out of range too.
      ifThen(ult(key, sk32), [&] { setListedBit(key); });
    });
  }
  gpu::BarrierOp::create(b, loc);
  // Warp 0: 32 words per step, one per lane; a lane's keys go after the
  // keys of the lanes before it (a prefix sum of popcounts by shuffles).
  Value first =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, warp, idx(0));
  ifThen(first, [&] {
    auto loop =
        scf::ForOp::create(b, loc, idx(0), idx(words), idx(32),
                           ValueRange{i32c(0)});
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value base = loop.getRegionIterArgs()[0];
      Value w = add(loop.getInductionVar(), lane);
      Value inside = ult(w, idx(words));
      Value word = arith::SelectOp::create(
          b, loc, inside,
          memref::LoadOp::create(
              b, loc, listedBits,
              ValueRange{arith::SelectOp::create(b, loc, inside, w, idx(0))}),
          i32c(0));
      Value count = LLVM::CtPopOp::create(b, loc, i32, word);
      Value incl = count;
      Value lane32 = i32v(lane);
      for (int32_t off = 1; off < 32; off *= 2) {
        Value up = gpu::ShuffleOp::create(b, loc, incl, off, 32,
                                          gpu::ShuffleMode::UP)
                       .getShuffleResult();
        Value has = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge,
                                          lane32, i32c(off));
        incl = arith::SelectOp::create(
            b, loc, has, arith::AddIOp::create(b, loc, incl, up), incl);
      }
      Value pos0 = arith::AddIOp::create(
          b, loc, base, arith::SubIOp::create(b, loc, incl, count));
      Value key0 = arith::ShLIOp::create(b, loc, i32v(w), i32c(5));
      // The lane's set bits, lowest first.
      auto loopBits = scf::WhileOp::create(
          b, loc, TypeRange{i32, i32}, ValueRange{word, pos0},
          [&](OpBuilder &b, Location loc, ValueRange args) {
            Value more = arith::CmpIOp::create(
                b, loc, arith::CmpIPredicate::ne, args[0], i32c(0));
            scf::ConditionOp::create(b, loc, more, args);
          },
          [&](OpBuilder &b, Location loc, ValueRange args) {
            Value bit = LLVM::CountTrailingZerosOp::create(
                b, loc, i32, args[0], /*is_zero_poison=*/true);
            memref::StoreOp::create(
                b, loc, arith::OrIOp::create(b, loc, key0, bit), keyList,
                ValueRange{toIndex(args[1])});
            Value rest = arith::AndIOp::create(
                b, loc, args[0], arith::SubIOp::create(b, loc, args[0], i32c(1)));
            scf::YieldOp::create(
                b, loc,
                ValueRange{rest, arith::AddIOp::create(b, loc, args[1], i32c(1))});
          });
      (void)loopBits;
      Value total = gpu::ShuffleOp::create(b, loc, incl, 31, 32,
                                           gpu::ShuffleMode::IDX)
                        .getShuffleResult();
      scf::YieldOp::create(
          b, loc, ValueRange{arith::AddIOp::create(b, loc, base, total)});
    }
    // Padding to a whole tile (Sk: masked, zero-filled), and the count.
    Value count = toIndex(loop.getResult(0));
    Value end = muli(arith::DivUIOp::create(b, loc, addi(count, bk - 1), idx(bk)),
                     bk);
    strided(add(count, lane), end, 32, [&](Value p) {
      memref::StoreOp::create(b, loc, sk32, keyList, p);
    });
    Value lane0 =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, idx(0));
    ifThen(lane0, [&] {
      memref::StoreOp::create(b, loc, loop.getResult(0), keyList,
                              idx(listCap));
    });
  });
  gpu::BarrierOp::create(b, loc);
}

void KernelBuilder::tokenBody() {
  threadIndices();
  Value token = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value y = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
  bIdx = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
  // The block's heads: h0 + r for rows r < rows (at most 16).
  int64_t blocksPerList = ceilDivPositive(packedHeads, 16);
  Value sub = arith::RemUIOp::create(b, loc, y, idx(blocksPerList));
  Value h0 = add(muli(arith::DivUIOp::create(b, loc, y, idx(blocksPerList)),
                      packedHeads),
                 muli(sub, 16));
  Value rows = arith::MinUIOp::create(
      b, loc, arith::SubIOp::create(b, loc, idx(packedHeads), muli(sub, 16)),
      idx(16));
  hIdx = h0;
  kvh = arith::DivUIOp::create(b, loc, h0, idx(group));
  Value lastRow = arith::SubIOp::create(b, loc, rows, idx(1));
  for (int half = 0; half < 2; ++half)
    rowHeads[half] =
        add(h0, arith::MinUIOp::create(b, loc, addi(g, 8 * half), lastRow));
  q0 = row0 = row1 = row0c = row1c = token;

  // Q fragments: row r is head h0 + r at the token.
  SmallVector<Value> qFrag;
  for (int64_t kk = 0; kk < d / 16; ++kk) {
    Value c0 = add(muli(t, 2), idx(kk * 16));
    Value c1 = addi(c0, 8);
    qFrag.push_back(loadPair(q, {bIdx, rowHeads[0], token, c0}));
    qFrag.push_back(loadPair(q, {bIdx, rowHeads[1], token, c0}));
    qFrag.push_back(loadPair(q, {bIdx, rowHeads[0], token, c1}));
    qFrag.push_back(loadPair(q, {bIdx, rowHeads[1], token, c1}));
  }
  Value negInf = cf(-std::numeric_limits<double>::infinity());
  Value zero = cf(0.0);
  SmallVector<Value> state = {negInf, negInf, zero, zero};
  state.append(dv / 8 * 4, zero);
  if (qSeg)
    qId0 = qId1 = memref::LoadOp::create(b, loc, qSeg, ValueRange{bIdx, token});

  buildTokenList(token);
  Value count = arith::IndexCastOp::create(
      b, loc, b.getIndexType(),
      memref::LoadOp::create(b, loc, keyList, idx(listCap)));
  Value tiles = arith::DivUIOp::create(b, loc, addi(count, bk - 1), idx(bk));
  tileBase = idx(0);
  state = pipelinedLoop(
      tiles, [&](Value j) { return j; }, {}, {}, /*masked=*/true, qFrag, state);

  epilogue(state, [&](int half) {
    Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                          addi(g, 8 * half), rows);
    return std::make_tuple(rowHeads[half], token, inRange);
  });
}
