//===- AttentionTiling.cpp - TilingInterface of sparse_attn.attention -----===//
//
// The iteration domain is (batch, query head, query row), all parallel: a
// tile of it is the same op on slices of the query, the destinations and
// the segment ids, with the whole key / value heads and keys, marked as a
// tile of the problem (`tile_of(Hq, Sq, Sk) at(b0, h0, q0, k0)`) so that
// positional patterns, score modifications and the grouped-query head map
// see the problem's positions. A tile of a tile composes the offsets.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::sparse_attn;

namespace {
/// The query-shaped loops: batch, query head, query row.
constexpr unsigned kNumLoops = 3;

/// `a + b` folded where both are constants.
OpFoldResult add(OpBuilder &b, Location loc, OpFoldResult x, OpFoldResult y) {
  AffineExpr s0, s1;
  bindSymbols(b.getContext(), s0, s1);
  return affine::makeComposedFoldedAffineApply(b, loc, s0 + s1, {x, y});
}

/// A slice of `source` at `offsets` / `sizes` (unit strides); dimensions
/// past the given ones are taken whole.
Value slice(OpBuilder &b, Location loc, Value source,
            ArrayRef<OpFoldResult> offsets, ArrayRef<OpFoldResult> sizes,
            SmallVectorImpl<Operation *> &slices) {
  auto type = llvm::cast<RankedTensorType>(source.getType());
  SmallVector<OpFoldResult> off(offsets), sz(sizes);
  for (int64_t d = off.size(); d < type.getRank(); ++d) {
    off.push_back(b.getIndexAttr(0));
    sz.push_back(tensor::getMixedSize(b, loc, source, d));
  }
  SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
  auto op = tensor::ExtractSliceOp::create(b, loc, source, off, sz, strides);
  slices.push_back(op);
  return op.getResult();
}
} // namespace

SmallVector<utils::IteratorType> AttentionOp::getLoopIteratorTypes() {
  return SmallVector<utils::IteratorType>(kNumLoops,
                                          utils::IteratorType::parallel);
}

SmallVector<Range> AttentionOp::getIterationDomain(OpBuilder &b) {
  Location loc = getLoc();
  SmallVector<Range> domain;
  for (unsigned d = 0; d < kNumLoops; ++d)
    domain.push_back(Range{b.getIndexAttr(0),
                           tensor::getMixedSize(b, loc, getQuery(), d),
                           b.getIndexAttr(1)});
  return domain;
}

LogicalResult AttentionOp::getResultTilePosition(
    OpBuilder &b, unsigned resultNumber, ArrayRef<OpFoldResult> offsets,
    ArrayRef<OpFoldResult> sizes, SmallVector<OpFoldResult> &resultOffsets,
    SmallVector<OpFoldResult> &resultSizes) {
  // O [B, Hq, Sq, Dv] and LSE [B, Hq, Sq]: the loops are their leading
  // dimensions.
  resultOffsets.assign(offsets.begin(), offsets.end());
  resultSizes.assign(sizes.begin(), sizes.end());
  if (resultNumber == 0) {
    resultOffsets.push_back(b.getIndexAttr(0));
    resultSizes.push_back(tensor::getMixedSize(b, getLoc(), getValue(), 3));
  }
  return success();
}

FailureOr<TilingResult>
AttentionOp::getTiledImplementation(OpBuilder &b,
                                    ArrayRef<OpFoldResult> offsets,
                                    ArrayRef<OpFoldResult> sizes) {
  if (offsets.size() != kNumLoops || sizes.size() != kNumLoops)
    return emitOpError("tiles over (batch, query head, query row): expects 3 "
                       "offsets and sizes");
  if (hasBlockTables())
    return emitOpError("cannot tile an op with runtime block tables: they "
                       "describe the whole problem's tiles");
  Location loc = getLoc();
  SmallVector<Operation *> slices;
  OpFoldResult bOff = offsets[0], hOff = offsets[1], qOff = offsets[2];
  OpFoldResult bSize = sizes[0], hSize = sizes[1], qSize = sizes[2];

  Value q = slice(b, loc, getQuery(), {bOff, hOff, qOff}, {bSize, hSize, qSize},
                  slices);
  // Keys and values: the tile's batches, every head and key.
  Value k = slice(b, loc, getKey(), {bOff}, {bSize}, slices);
  Value v = slice(b, loc, getValue(), {bOff}, {bSize}, slices);
  SmallVector<Value> segments;
  if (Value qIds = getQuerySegmentIds()) {
    // A tile's query and key ids are operands apart (one operand serves
    // both only while the query and key ranges coincide).
    segments.push_back(
        slice(b, loc, qIds, {bOff, qOff}, {bSize, qSize}, slices));
    segments.push_back(
        slice(b, loc, getKeySegmentIds(), {bOff}, {bSize}, slices));
  }
  SmallVector<Value> inits;
  SmallVector<Type> resultTypes;
  for (auto [r, init] : llvm::enumerate(getInits())) {
    SmallVector<OpFoldResult> rOff, rSize;
    (void)getResultTilePosition(b, r, offsets, sizes, rOff, rSize);
    inits.push_back(slice(b, loc, init, rOff, rSize, slices));
    resultTypes.push_back(inits.back().getType());
  }

  // The problem and the tile's place in it (composed with this op's own,
  // when it is a tile already).
  SmallVector<OpFoldResult> problem, at;
  if (isTile()) {
    problem = getAsOpFoldResult(getProblemSizes());
    SmallVector<OpFoldResult> old = getAsOpFoldResult(getOffsets());
    at = {add(b, loc, old[0], bOff), add(b, loc, old[1], hOff),
          add(b, loc, old[2], qOff), old[3]};
  } else {
    problem = {tensor::getMixedSize(b, loc, getQuery(), 1),
               tensor::getMixedSize(b, loc, getQuery(), 2),
               tensor::getMixedSize(b, loc, getKey(), 2)};
    at = {bOff, hOff, qOff, b.getIndexAttr(0)};
  }
  auto values = [&](ArrayRef<OpFoldResult> ofrs) {
    return getValueOrCreateConstantIndexOp(b, loc, ofrs);
  };

  auto tiled = AttentionOp::create(
      b, loc, resultTypes, q, k, v, segments,
      /*kv_num_blocks=*/Value(), /*kv_indices=*/Value(),
      /*full_num_blocks=*/Value(), /*full_indices=*/Value(), values(problem),
      values(at), inits, getPattern(), getScaleAttr(), getScoreModAttr(),
      // A block_mask classifies the problem's tiles, not this tile's.
      BlockMaskAttr(), DenseI64ArrayAttr());
  // The scale's default depends on D, which tiles keep; an explicit one
  // travels as it is.
  return TilingResult{{tiled.getOperation()},
                      SmallVector<Value>(tiled->getResults()), slices};
}

FailureOr<TilingResult> AttentionOp::generateResultTileValue(
    OpBuilder &b, unsigned resultNumber, ArrayRef<OpFoldResult> offsets,
    ArrayRef<OpFoldResult> sizes) {
  // Result dimensions 0..2 are the loops; O's last (Dv) is never tiled.
  if (offsets.size() < kNumLoops || sizes.size() < kNumLoops)
    return failure();
  if (resultNumber == 0 && offsets.size() > kNumLoops) {
    OpFoldResult dv = tensor::getMixedSize(b, getLoc(), getValue(), 3);
    if (!isConstantIntValue(offsets[kNumLoops], 0) ||
        !isEqualConstantIntOrValue(sizes[kNumLoops], dv))
      return failure();
  }
  return getTiledImplementation(b, offsets.take_front(kNumLoops),
                                sizes.take_front(kNumLoops));
}
