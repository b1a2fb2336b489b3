//===- TileSource.cpp - which key tiles a query block visits
//----------------===//
//
// Part of the fused CPU kernel (CPUKernel.h).
//
//===----------------------------------------------------------------------===//

#include "CPUKernel.h"

using namespace mlir;
using namespace mlir::sparse_attn;

namespace mlir {
namespace sparse_attn {
namespace cpu {

/// Iterates the key blocks listed in [offsets[qb], offsets[qb + 1]).
void emitBlockList(OpBuilder &b, Location loc, Value offsets, Value indices,
                   Value qb, function_ref<void(OpBuilder &, Value)> body) {
  Value c1 = cIdx(b, loc, 1);
  auto toIdx = [&](Value v) {
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  };
  Value start = toIdx(memref::LoadOp::create(b, loc, offsets, ValueRange{qb}));
  Value end = toIdx(memref::LoadOp::create(
      b, loc, offsets, ValueRange{arith::AddIOp::create(b, loc, qb, c1)}));
  scf::ForOp::create(
      b, loc, start, end, c1, ValueRange{},
      [&](OpBuilder &b, Location loc, Value e, ValueRange) {
        Value kb = arith::IndexCastOp::create(
            b, loc, b.getIndexType(),
            memref::LoadOp::create(b, loc, indices, ValueRange{e}));
        body(b, kb);
        scf::YieldOp::create(b, loc);
      });
}

/// The key blocks the runtime tables list for query block `qb` of (b, h):
/// each table's list at (b', h', qb) (b' = b unless B' = 1; h' = h, the KV
/// head or 0 for H' = Hq, Hkv, 1), its count clamped to [0, N], indices
/// outside [0, numKBlocks) skipped, each block visited once (a per-query-
/// block bitmap), `body` called per block. Every read is in bounds whatever
/// the tables hold.
void emitRuntimeTables(OpBuilder &b, Location loc, Kernel &kn, Value bIdx,
                       Value hIdx, Value gIdx, Value heads, Value qb,
                       function_ref<void(OpBuilder &, Value)> body) {
  Value c0 = cIdx(b, loc, 0), c1 = cIdx(b, loc, 1);
  auto eq = [&](Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, x, y);
  };
  auto clampTo = [&](Value x, Value size) { // min(x, size - 1)
    return arith::MinUIOp::create(b, loc, x,
                                  arith::SubIOp::create(b, loc, size, c1));
  };
  // visited[kb]: i8, zero for each query block.
  Value visited = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic}, b.getI8Type()),
      ValueRange{kn.numKBlocks});
  Value zero8 = arith::ConstantIntOp::create(b, loc, 0, 8);
  Value one8 = arith::ConstantIntOp::create(b, loc, 1, 8);
  scf::ForOp::create(b, loc, c0, kn.numKBlocks, c1, ValueRange{},
                     [&](OpBuilder &b, Location loc, Value kb, ValueRange) {
                       memref::StoreOp::create(b, loc, zero8, visited,
                                               ValueRange{kb});
                       scf::YieldOp::create(b, loc);
                     });
  for (auto tables :
       {std::pair(kn.kvNum, kn.kvIdx), std::pair(kn.fullNum, kn.fullIdx)}) {
    // Plain variables: the loop body's lambda captures them.
    Value num = tables.first, idx = tables.second;
    if (!num)
      continue;
    auto dim = [&](Value m, int64_t i) -> Value {
      return memref::DimOp::create(b, loc, m, i);
    };
    Value bp = dim(num, 0), hp = dim(num, 1), mq = dim(num, 2), n = dim(idx, 3);
    Value bRow =
        arith::SelectOp::create(b, loc, eq(bp, c1), c0, clampTo(bIdx, bp));
    Value hRow = arith::SelectOp::create(
        b, loc, eq(hp, c1), c0,
        arith::SelectOp::create(b, loc, eq(hp, heads), clampTo(hIdx, hp),
                                clampTo(gIdx, hp)));
    Value listed =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, qb, mq);
    auto inRow = scf::IfOp::create(b, loc, listed, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(inRow.thenBlock());
    emitTableRow(b, loc, num, idx, n, bRow, hRow, qb, kn.numKBlocks,
                 [&](OpBuilder &b, Value kb) {
                   Value seen =
                       memref::LoadOp::create(b, loc, visited, ValueRange{kb});
                   auto fresh = scf::IfOp::create(b, loc, eq(seen, zero8),
                                                  /*withElseRegion=*/false);
                   OpBuilder::InsertionGuard guard(b);
                   b.setInsertionPointToStart(fresh.thenBlock());
                   memref::StoreOp::create(b, loc, one8, visited,
                                           ValueRange{kb});
                   body(b, kb);
                 });
  }
}

void emitTableRow(OpBuilder &b, Location loc, Value num, Value idx, Value n,
                  Value bRow, Value hRow, Value qb, Value numKBlocks,
                  function_ref<void(OpBuilder &, Value)> body) {
  Value c0 = cIdx(b, loc, 0), c1 = cIdx(b, loc, 1);
  Value count = arith::IndexCastOp::create(
      b, loc, b.getIndexType(),
      memref::LoadOp::create(b, loc, num, ValueRange{bRow, hRow, qb}));
  // Clamp to [0, N] (signed: a negative count lists nothing).
  count = arith::MinSIOp::create(
      b, loc, arith::MaxSIOp::create(b, loc, count, c0), n);
  scf::ForOp::create(
      b, loc, c0, count, c1, ValueRange{},
      [&](OpBuilder &b, Location loc, Value e, ValueRange) {
        Value kb = arith::IndexCastOp::create(
            b, loc, b.getIndexType(),
            memref::LoadOp::create(b, loc, idx, ValueRange{bRow, hRow, qb, e}));
        // Unsigned: a negative index is huge, so out of range too.
        Value inRange = arith::CmpIOp::create(
            b, loc, arith::CmpIPredicate::ult, kb, numKBlocks);
        auto ok = scf::IfOp::create(b, loc, inRange, /*withElseRegion=*/false);
        {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(ok.thenBlock());
          body(b, kb);
        }
        scf::YieldOp::create(b, loc);
      });
}

} // namespace cpu
} // namespace sparse_attn
} // namespace mlir
