//===- RuntimeChecks.cpp - run-time checks of dynamic operand sizes
//---------===//
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

/// A tile (tile_of / at) lies inside its problem: offsets >= 0, h0 + Hq'
/// <= Hq, q0 + Sq' <= Sq, k0 + Sk' <= Sk, and Hq a multiple of Hkv (the
/// verifier checks what is constant; the kernel trusts the rest).
void assertTileInProblem(OpBuilder &b, Location loc, AttentionOp op, Kernel &kn,
                         Value heads) {
  auto sizes = op.getProblemSizes();
  auto offsets = op.getOffsets();
  Value c0 = cIdx(b, loc, 0);
  auto le = [&](Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, x, y);
  };
  auto all = [&](ArrayRef<Value> conds) {
    Value ok = conds.front();
    for (Value c : conds.drop_front())
      ok = arith::AndIOp::create(b, loc, ok, c);
    return ok;
  };
  Value hkv = memref::DimOp::create(b, loc, kn.k, 1);
  // off + tile <= size as tile <= size and off <= size - tile (no
  // wrap-around); Hkv > 0 before it divides (a zero is replaced by 1 in
  // the remainder, the comparison fails).
  auto fits = [&](Value off, Value tile, Value size) {
    return arith::AndIOp::create(
        b, loc, le(tile, size),
        le(off, arith::SubIOp::create(b, loc, size, tile)));
  };
  Value hkvPositive =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, hkv, c0);
  Value safeHkv =
      arith::SelectOp::create(b, loc, hkvPositive, hkv, cIdx(b, loc, 1));
  Value ok = all({le(c0, offsets[0]), le(c0, offsets[1]), le(c0, offsets[2]),
                  le(c0, offsets[3]), fits(offsets[1], heads, sizes[0]),
                  fits(offsets[2], kn.sq, sizes[1]),
                  fits(offsets[3], kn.sk, sizes[2]), hkvPositive,
                  arith::CmpIOp::create(
                      b, loc, arith::CmpIPredicate::eq,
                      arith::RemUIOp::create(b, loc, sizes[0], safeHkv), c0)});
  cf::AssertOp::create(b, loc, ok,
                       "sparse-attn: a tile (tile_of / at) lies outside its "
                       "problem, or the problem's query heads are not a "
                       "multiple of the key/value heads");
}

/// Run-time checks of what the verifier cannot see in dynamic table shapes:
/// counts and indices agree on [B', H', Mq], B' is 1 or B, H' is 1, Hkv or
/// Hq. emitRuntimeTables indexes both tensors with the counts' sizes, so a
/// mismatch reaching it would read out of bounds. Nothing is emitted for a
/// fact the verifier already proved from static sizes.
void assertTableShapes(OpBuilder &b, Location loc, AttentionOp op, Kernel &kn,
                       Value batch, Value heads) {
  assertTableShapes(b, loc, "sparse_attn.attention", op.getQuery(),
                    op.getKey(), {op.getKvNumBlocks(), op.getKvIndices()},
                    {op.getFullNumBlocks(), op.getFullIndices()}, kn, batch,
                    heads);
}

void assertTableShapes(OpBuilder &b, Location loc, StringRef opName,
                       Value query, Value key, std::pair<Value, Value> kvTables,
                       std::pair<Value, Value> fullTables, Kernel &kn,
                       Value batch, Value heads) {
  auto qT = llvm::cast<RankedTensorType>(query.getType());
  auto kT = llvm::cast<RankedTensorType>(key.getType());
  Value c1 = cIdx(b, loc, 1);
  auto eq = [&](Value x, Value y) -> Value {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, x, y);
  };
  auto any = [&](ArrayRef<Value> cs) {
    Value r = cs.front();
    for (Value c : cs.drop_front())
      r = arith::OrIOp::create(b, loc, r, c);
    return r;
  };
  for (auto [numT, idxT, num, idx, name] :
       {std::tuple(kvTables.first, kvTables.second, kn.kvNum, kn.kvIdx,
                   "block_tables"),
        std::tuple(fullTables.first, fullTables.second, kn.fullNum,
                   kn.fullIdx, "full_tables")}) {
    if (!num)
      continue;
    auto nT = llvm::cast<RankedTensorType>(numT.getType());
    auto iT = llvm::cast<RankedTensorType>(idxT.getType());
    std::string prefix = (opName + ": " + name).str();
    for (int64_t i = 0; i < 3; ++i)
      if (nT.isDynamicDim(i) || iT.isDynamicDim(i))
        cf::AssertOp::create(
            b, loc,
            eq(memref::DimOp::create(b, loc, num, i),
               memref::DimOp::create(b, loc, idx, i)),
            prefix + " counts and indices disagree on [B', H', Mq]");
    if (nT.isDynamicDim(0) || qT.isDynamicDim(0)) {
      Value bp = memref::DimOp::create(b, loc, num, 0);
      cf::AssertOp::create(b, loc, any({eq(bp, c1), eq(bp, batch)}),
                           prefix + ": B' must be 1 or B");
    }
    if (nT.isDynamicDim(1) || qT.isDynamicDim(1) || kT.isDynamicDim(1)) {
      Value hp = memref::DimOp::create(b, loc, num, 1);
      Value hkv = memref::DimOp::create(b, loc, kn.k, 1);
      cf::AssertOp::create(b, loc,
                           any({eq(hp, c1), eq(hp, heads), eq(hp, hkv)}),
                           prefix + ": H' must be 1, Hkv or Hq");
    }
  }
}

} // namespace cpu
} // namespace sparse_attn
} // namespace mlir
