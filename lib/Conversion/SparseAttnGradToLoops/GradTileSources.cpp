//===- GradTileSources.cpp - which tiles the backward kernels visit -------===//
//
// Part of the CPU backward (GradKernel.h). The query-block kernel visits
// the tiles of a query block as the forward does; the key-block kernel
// needs the transpose: per key block, the query blocks that see it.
//
//  - static lengths: the compile-time classification, as compressed rows
//    both ways (full and partial lists per query block and per key block);
//  - runtime block tables: the tables' lists per query block (the
//    forward's walk), and their transpose built at run time into a byte
//    map per (b', h') before the key-block kernel;
//  - otherwise every block, classified at run time by the pattern's
//    generated classifier.
//
//===----------------------------------------------------------------------===//

#include "GradKernel.h"

using namespace mlir;
using namespace mlir::sparse_attn;

namespace mlir {
namespace sparse_attn {
namespace cpu {

void emitStaticTileLists(OpBuilder &b, GradKernel &g,
                         const BlockClassification &blocks, TileLists &t) {
  Location loc = g.kn.loc;
  // rows[kind] as CSR: offsets, indices. byQ: rows are query blocks.
  for (bool byQ : {true, false}) {
    int64_t numRows = byQ ? blocks.numQ : blocks.numK;
    int64_t numCols = byQ ? blocks.numK : blocks.numQ;
    for (TileKind kind : {TileKind::Full, TileKind::Partial}) {
      SmallVector<int32_t> offsets{0}, indices;
      for (int64_t r = 0; r < numRows; ++r) {
        for (int64_t c = 0; c < numCols; ++c)
          if ((byQ ? blocks.at(r, c) : blocks.at(c, r)) == kind)
            indices.push_back(static_cast<int32_t>(c));
        offsets.push_back(static_cast<int32_t>(indices.size()));
      }
      std::string hint = std::string("__sparse_attn_grad_") +
                         (kind == TileKind::Full ? "full" : "partial") +
                         (byQ ? "_by_q" : "_by_k");
      Value off = g.kn.tables->getI32(b, loc, offsets, hint + "_offsets");
      Value idx = g.kn.tables->getI32(b, loc, indices, hint + "_indices");
      Value *dst = byQ ? (kind == TileKind::Full ? t.fullByQ : t.partialByQ)
                       : (kind == TileKind::Full ? t.fullByK : t.partialByK);
      dst[0] = off;
      dst[1] = idx;
    }
  }
}

void emitTransposedRuntimeTables(OpBuilder &b, GradKernel &g, TileLists &t) {
  Kernel &kn = g.kn;
  Location loc = kn.loc;
  Value c0 = cIdx(b, loc, 0), c1 = cIdx(b, loc, 1);
  auto dim = [&](OpBuilder &b, Value m, int64_t i) -> Value {
    return memref::DimOp::create(b, loc, m, i);
  };
  Value zero8 = arith::ConstantIntOp::create(b, loc, 0, 8);
  Value one8 = arith::ConstantIntOp::create(b, loc, 1, 8);
  auto dyn = ShapedType::kDynamic;
  for (auto [which, num, idx] : {std::tuple(0, kn.kvNum, kn.kvIdx),
                                 std::tuple(1, kn.fullNum, kn.fullIdx)}) {
    if (!num)
      continue;
    // Plain variables: the loop bodies' lambdas capture them.
    Value tnum = num, tidx = idx;
    Value bp = dim(b, tnum, 0), hp = dim(b, tnum, 1);
    Value mq = dim(b, tnum, 2), n = dim(b, tidx, 3);
    Value listed = memref::AllocOp::create(
        b, loc, MemRefType::get({dyn, dyn, dyn, dyn}, b.getI8Type()),
        ValueRange{bp, hp, kn.numKBlocks, g.numQBlocks},
        b.getI64IntegerAttr(64));
    t.listedByK[which] = listed;
    Value rowsListed = arith::MinUIOp::create(b, loc, mq, g.numQBlocks);
    scf::ParallelOp::create(
        b, loc, ValueRange{c0, c0}, ValueRange{bp, hp}, ValueRange{c1, c1},
        [&](OpBuilder &b, Location loc, ValueRange ivs) {
          Value row[2] = {ivs[0], ivs[1]};
          scf::ForOp::create(
              b, loc, c0, kn.numKBlocks, c1, ValueRange{},
              [&](OpBuilder &b, Location loc, Value kb, ValueRange) {
                scf::ForOp::create(
                    b, loc, c0, g.numQBlocks, c1, ValueRange{},
                    [&](OpBuilder &b, Location loc, Value qb, ValueRange) {
                      memref::StoreOp::create(
                          b, loc, zero8, listed,
                          ValueRange{row[0], row[1], kb, qb});
                      scf::YieldOp::create(b, loc);
                    });
                scf::YieldOp::create(b, loc);
              });
          scf::ForOp::create(
              b, loc, c0, rowsListed, c1, ValueRange{},
              [&](OpBuilder &b, Location loc, Value qb, ValueRange) {
                emitTableRow(b, loc, tnum, tidx, n, row[0], row[1], qb,
                             kn.numKBlocks, [&](OpBuilder &b, Value kb) {
                               memref::StoreOp::create(
                                   b, loc, one8, listed,
                                   ValueRange{row[0], row[1], kb, qb});
                             });
                scf::YieldOp::create(b, loc);
              });
          scf::ReduceOp::create(b, loc);
        });
  }
}

/// The run-time kind of tile (qb, kb) through the pattern's classifier;
/// calls `tile` with masked = false for a full tile, true for a partial
/// one, nothing for an empty one.
static void classified(OpBuilder &b, GradKernel &g, Value qb, Value kb,
                       function_ref<void(OpBuilder &, bool)> tile) {
  Kernel &kn = g.kn;
  Location loc = kn.loc;
  Value bqV = cIdx(b, loc, kn.bq), bkV = cIdx(b, loc, kn.bk);
  Value q0 = arith::MulIOp::create(b, loc, qb, bqV);
  Value k0 = arith::MulIOp::create(b, loc, kb, bkV);
  TileBounds bounds{
      q0,
      arith::MinUIOp::create(b, loc, arith::AddIOp::create(b, loc, q0, bqV),
                             kn.sq),
      k0,
      arith::MinUIOp::create(b, loc, arith::AddIOp::create(b, loc, k0, bkV),
                             kn.sk),
      kn.sq, kn.sk};
  FailureOr<TileKindValues> kind = buildTileKind(b, loc, kn.pattern, bounds);
  if (failed(kind)) // the pass verified the pattern's code generation
    llvm::report_fatal_error("sparse-attn: tile classifier failed after "
                             "verifying it");
  auto full = scf::IfOp::create(b, loc, kind->full, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(full.thenBlock());
  tile(b, false);
  b.setInsertionPointToStart(full.elseBlock());
  Value live = arith::XOrIOp::create(
      b, loc, kind->empty, arith::ConstantIntOp::create(b, loc, 1, 1));
  auto partial = scf::IfOp::create(b, loc, live, /*withElseRegion=*/false);
  b.setInsertionPointToStart(partial.thenBlock());
  tile(b, true);
}

void forEachKeyBlock(OpBuilder &b, GradKernel &g, TileLists &t,
                     QueryBlock &q,
                     function_ref<void(OpBuilder &, Value, bool)> tile) {
  Kernel &kn = g.kn;
  Location loc = kn.loc;
  if (t.fullByQ[0]) {
    emitBlockList(b, loc, t.fullByQ[0], t.fullByQ[1], q.qb,
                  [&](OpBuilder &b, Value kb) { tile(b, kb, false); });
    emitBlockList(b, loc, t.partialByQ[0], t.partialByQ[1], q.qb,
                  [&](OpBuilder &b, Value kb) { tile(b, kb, true); });
    return;
  }
  auto visit = [&](OpBuilder &b, Value kb) {
    classified(b, g, q.qb, kb,
               [&](OpBuilder &b, bool masked) { tile(b, kb, masked); });
  };
  if (kn.kvNum) {
    emitRuntimeTables(b, loc, kn, q.bIdx, q.hIdx, q.gIdx, g.heads, q.qb,
                      visit);
    return;
  }
  Value c0 = cIdx(b, loc, 0), c1 = cIdx(b, loc, 1);
  scf::ForOp::create(b, loc, c0, kn.numKBlocks, c1, ValueRange{},
                     [&](OpBuilder &b, Location loc, Value kb, ValueRange) {
                       visit(b, kb);
                       scf::YieldOp::create(b, loc);
                     });
}

void forEachQueryBlock(OpBuilder &b, GradKernel &g, TileLists &t, Value bIdx,
                       Value hIdx, Value gIdx, Value kb,
                       function_ref<void(OpBuilder &, Value, bool)> tile) {
  Kernel &kn = g.kn;
  Location loc = kn.loc;
  if (t.fullByK[0]) {
    emitBlockList(b, loc, t.fullByK[0], t.fullByK[1], kb,
                  [&](OpBuilder &b, Value qb) { tile(b, qb, false); });
    emitBlockList(b, loc, t.partialByK[0], t.partialByK[1], kb,
                  [&](OpBuilder &b, Value qb) { tile(b, qb, true); });
    return;
  }
  Value c0 = cIdx(b, loc, 0), c1 = cIdx(b, loc, 1);
  auto visit = [&](OpBuilder &b, Value qb) {
    classified(b, g, qb, kb,
               [&](OpBuilder &b, bool masked) { tile(b, qb, masked); });
  };
  if (!t.listedByK[0]) {
    scf::ForOp::create(b, loc, c0, g.numQBlocks, c1, ValueRange{},
                       [&](OpBuilder &b, Location loc, Value qb, ValueRange) {
                         visit(b, qb);
                         scf::YieldOp::create(b, loc);
                       });
    return;
  }
  // Each table's row (b', h'): b' = b unless B' = 1; h' = h, the KV head
  // or 0 for H' = Hq, Hkv, 1 (as the forward reads them).
  auto eq = [&](Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, x, y);
  };
  SmallVector<std::pair<Value, std::array<Value, 2>>> maps;
  for (Value listed : t.listedByK) {
    if (!listed)
      continue;
    Value bp = memref::DimOp::create(b, loc, listed, 0);
    Value hp = memref::DimOp::create(b, loc, listed, 1);
    Value bRow = arith::SelectOp::create(b, loc, eq(bp, c1), c0, bIdx);
    Value hRow = arith::SelectOp::create(
        b, loc, eq(hp, c1), c0,
        arith::SelectOp::create(b, loc, eq(hp, g.heads), hIdx, gIdx));
    maps.push_back({listed, {bRow, hRow}});
  }
  Value zero8 = arith::ConstantIntOp::create(b, loc, 0, 8);
  scf::ForOp::create(
      b, loc, c0, g.numQBlocks, c1, ValueRange{},
      [&](OpBuilder &b, Location loc, Value qb, ValueRange) {
        Value any;
        for (auto &[listed, row] : maps) {
          Value l = memref::LoadOp::create(b, loc, listed,
                                           ValueRange{row[0], row[1], kb, qb});
          Value set =
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, l, zero8);
          any = any ? arith::OrIOp::create(b, loc, any, set).getResult() : set;
        }
        auto ifOp = scf::IfOp::create(b, loc, any, /*withElseRegion=*/false);
        {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(ifOp.thenBlock());
          visit(b, qb);
        }
        scf::YieldOp::create(b, loc);
      });
}

} // namespace cpu
} // namespace sparse_attn
} // namespace mlir
