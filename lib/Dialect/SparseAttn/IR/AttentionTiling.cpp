//===- AttentionTiling.cpp - TilingInterface of sparse_attn.attention -----===//
//
// The iteration domain is (batch, query head, query row), all parallel: a
// tile of it is the same op on slices of the query, the destinations and
// the segment ids, with the whole key / value heads and keys, marked as a
// tile of the problem (`tile_of(Hq, Sq, Sk) at(b0, h0, q0, k0)`) so that
// positional patterns, score modifications and the grouped-query head map
// see the problem's positions. A tile of a tile composes the offsets.
//
// Keys are a fourth loop, a reduction (PartialReductionOpInterface): a key
// tile is a sparse_attn.online_attention step that folds its keys into the
// running softmax state (acc, max, sum), the partial result carried across
// key tiles; the merge normalises the state into O and LSE.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include <limits>

using namespace mlir;
using namespace mlir::sparse_attn;

namespace {
/// The query-shaped loops: batch, query head, query row (parallel); then
/// the keys (a reduction).
constexpr unsigned kNumLoops = 3;
constexpr unsigned kKeyLoop = 3;

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
  SmallVector<utils::IteratorType> types(kNumLoops,
                                         utils::IteratorType::parallel);
  types.push_back(utils::IteratorType::reduction);
  return types;
}

SmallVector<Range> AttentionOp::getIterationDomain(OpBuilder &b) {
  Location loc = getLoc();
  SmallVector<Range> domain;
  for (unsigned d = 0; d < kNumLoops; ++d)
    domain.push_back(Range{b.getIndexAttr(0),
                           tensor::getMixedSize(b, loc, getQuery(), d),
                           b.getIndexAttr(1)});
  domain.push_back(Range{b.getIndexAttr(0),
                         tensor::getMixedSize(b, loc, getKey(), 2),
                         b.getIndexAttr(1)});
  return domain;
}

LogicalResult AttentionOp::getResultTilePosition(
    OpBuilder &b, unsigned resultNumber, ArrayRef<OpFoldResult> offsets,
    ArrayRef<OpFoldResult> sizes, SmallVector<OpFoldResult> &resultOffsets,
    SmallVector<OpFoldResult> &resultSizes) {
  // O [B, Hq, Sq, Dv] and LSE [B, Hq, Sq]: the parallel loops are their
  // leading dimensions.
  resultOffsets.assign(offsets.begin(), offsets.begin() + kNumLoops);
  resultSizes.assign(sizes.begin(), sizes.begin() + kNumLoops);
  if (resultNumber == 0) {
    resultOffsets.push_back(b.getIndexAttr(0));
    resultSizes.push_back(tensor::getMixedSize(b, getLoc(), getValue(), 3));
  }
  return success();
}

namespace {
/// The operands of a tile of `op` at (batch, head, query, key) offsets /
/// sizes: query and query ids sliced on the first three, key, value and key
/// ids on batch and keys (all heads), and the tile's place in the problem
/// (composed with `op`'s own when it is a tile already).
struct TileOperands {
  Value q, k, v;
  SmallVector<Value> segments, problem, at;
};

FailureOr<TileOperands> sliceOperands(AttentionOp op, OpBuilder &b,
                                      ArrayRef<OpFoldResult> offsets,
                                      ArrayRef<OpFoldResult> sizes,
                                      SmallVectorImpl<Operation *> &slices) {
  if (op.hasBlockTables())
    return op.emitOpError("cannot tile an op with runtime block tables: they "
                          "describe the whole problem's tiles");
  Location loc = op.getLoc();
  OpFoldResult bOff = offsets[0], hOff = offsets[1], qOff = offsets[2],
               kOff = offsets[3];
  OpFoldResult bSize = sizes[0], hSize = sizes[1], qSize = sizes[2],
               kSize = sizes[3];
  TileOperands t;
  t.q = slice(b, loc, op.getQuery(), {bOff, hOff, qOff},
              {bSize, hSize, qSize}, slices);
  OpFoldResult allHeads = tensor::getMixedSize(b, loc, op.getKey(), 1);
  t.k = slice(b, loc, op.getKey(), {bOff, b.getIndexAttr(0), kOff},
              {bSize, allHeads, kSize}, slices);
  t.v = slice(b, loc, op.getValue(), {bOff, b.getIndexAttr(0), kOff},
              {bSize, allHeads, kSize}, slices);
  if (Value qIds = op.getQuerySegmentIds()) {
    // A tile's query and key ids are operands apart (one operand serves
    // both only while the query and key ranges coincide).
    t.segments.push_back(
        slice(b, loc, qIds, {bOff, qOff}, {bSize, qSize}, slices));
    t.segments.push_back(slice(b, loc, op.getKeySegmentIds(), {bOff, kOff},
                               {bSize, kSize}, slices));
  }
  SmallVector<OpFoldResult> problem, at;
  if (op.isTile()) {
    problem = getAsOpFoldResult(op.getProblemSizes());
    SmallVector<OpFoldResult> old = getAsOpFoldResult(op.getOffsets());
    at = {add(b, loc, old[0], bOff), add(b, loc, old[1], hOff),
          add(b, loc, old[2], qOff), add(b, loc, old[3], kOff)};
  } else {
    problem = {tensor::getMixedSize(b, loc, op.getQuery(), 1),
               tensor::getMixedSize(b, loc, op.getQuery(), 2),
               tensor::getMixedSize(b, loc, op.getKey(), 2)};
    at = {bOff, hOff, qOff, kOff};
  }
  t.problem = getValueOrCreateConstantIndexOp(b, loc, problem);
  t.at = getValueOrCreateConstantIndexOp(b, loc, at);
  return t;
}

/// Offsets and sizes for all four loops (keys whole when not given).
void withKeys(AttentionOp op, OpBuilder &b, ArrayRef<OpFoldResult> offsets,
              ArrayRef<OpFoldResult> sizes, SmallVectorImpl<OpFoldResult> &off,
              SmallVectorImpl<OpFoldResult> &sz) {
  off.assign(offsets.begin(), offsets.end());
  sz.assign(sizes.begin(), sizes.end());
  if (off.size() == kNumLoops) {
    off.push_back(b.getIndexAttr(0));
    sz.push_back(tensor::getMixedSize(b, op.getLoc(), op.getKey(), 2));
  }
}
} // namespace

FailureOr<TilingResult>
AttentionOp::getTiledImplementation(OpBuilder &b,
                                    ArrayRef<OpFoldResult> offsets,
                                    ArrayRef<OpFoldResult> sizes) {
  if ((offsets.size() != kNumLoops && offsets.size() != kNumLoops + 1) ||
      offsets.size() != sizes.size())
    return emitOpError("tiles over (batch, query head, query row[, key]): "
                       "expects 3 or 4 offsets and sizes");
  Location loc = getLoc();
  SmallVector<OpFoldResult> off, sz;
  withKeys(*this, b, offsets, sizes, off, sz);
  // A parallel tile takes every key: the softmax normalises over them.
  auto wholeKeys = [&](OpFoldResult size) {
    if (isEqualConstantIntOrValue(size,
                                  tensor::getMixedSize(b, loc, getKey(), 2)))
      return true;
    // A dynamic Sk: the iteration domain's tensor.dim of the key.
    auto dim = llvm::dyn_cast_if_present<Value>(size)
                   ? llvm::cast<Value>(size).getDefiningOp<tensor::DimOp>()
                   : tensor::DimOp();
    return dim && dim.getSource() == getKey() &&
           isConstantIntValue(dim.getIndex(), 2);
  };
  if (!isConstantIntValue(off[kKeyLoop], 0) || !wholeKeys(sz[kKeyLoop]))
    return emitOpError("keys are a reduction: tile them as a partial "
                       "reduction (transform.structured."
                       "tile_reduction_using_for), not as parallel tiles");
  SmallVector<Operation *> slices;
  FailureOr<TileOperands> t = sliceOperands(*this, b, off, sz, slices);
  if (failed(t))
    return failure();
  SmallVector<Value> inits;
  SmallVector<Type> resultTypes;
  for (auto [r, init] : llvm::enumerate(getInits())) {
    SmallVector<OpFoldResult> rOff, rSize;
    (void)getResultTilePosition(b, r, off, sz, rOff, rSize);
    inits.push_back(slice(b, loc, init, rOff, rSize, slices));
    resultTypes.push_back(inits.back().getType());
  }
  auto tiled = AttentionOp::create(
      b, loc, resultTypes, t->q, t->k, t->v, t->segments,
      /*kv_num_blocks=*/Value(), /*kv_indices=*/Value(),
      /*full_num_blocks=*/Value(), /*full_indices=*/Value(), t->problem,
      t->at, inits, getPattern(), getScaleAttr(), getScoreModAttr(),
      // A block_mask classifies the problem's tiles, not this tile's.
      BlockMaskAttr(), DenseI64ArrayAttr());
  return TilingResult{{tiled.getOperation()},
                      SmallVector<Value>(tiled->getResults()), slices};
}

//===----------------------------------------------------------------------===//
// Keys as a partial reduction: the online-softmax state is the partial
// result.
//===----------------------------------------------------------------------===//

/// Only the key loop reduces; the state lives outside the key tiles.
static LogicalResult checkKeyReduction(AttentionOp op,
                                       const SetVector<unsigned> &dims) {
  if (dims.size() != 1 || dims.front() != kKeyLoop)
    return op.emitOpError("the keys (loop 3) are the only reduction");
  return success();
}

FailureOr<SmallVector<Value>>
AttentionOp::generateInitialTensorForPartialReduction(
    OpBuilder &b, Location loc, ArrayRef<OpFoldResult> tileSizes,
    const SetVector<unsigned> &reductionDims) {
  if (failed(checkKeyReduction(*this, reductionDims)))
    return failure();
  if (hasBlockTables())
    return emitOpError("cannot tile an op with runtime block tables: they "
                       "describe the whole problem's tiles");
  return buildOnlineAttentionEmptyState(b, loc, getQuery(), getValue());
}

LogicalResult AttentionOp::getPartialResultTilePosition(
    OpBuilder &b, unsigned resultNumber, ReductionTilingStrategy strategy,
    ArrayRef<OpFoldResult> offsets, ArrayRef<OpFoldResult> sizes,
    const SetVector<unsigned> &reductionDims,
    ArrayRef<OpFoldResult> splitReductionIvs,
    SmallVector<OpFoldResult> &resultOffsets,
    SmallVector<OpFoldResult> &resultSizes) {
  // The state (acc, max, sum) is laid out as the results (O, LSE): acc has
  // Dv besides the parallel loops.
  return getResultTilePosition(b, resultNumber, offsets, sizes, resultOffsets,
                               resultSizes);
}

FailureOr<TilingResult> AttentionOp::tileToPartialReduction(
    OpBuilder &b, Location loc, ReductionTilingStrategy strategy,
    ValueRange init, ArrayRef<OpFoldResult> offsets,
    ArrayRef<OpFoldResult> sizes, const SetVector<unsigned> &reductionDims,
    ArrayRef<OpFoldResult> splitReductionIvs) {
  if (failed(checkKeyReduction(*this, reductionDims)))
    return failure();
  if (strategy != ReductionTilingStrategy::PartialReductionOuterReduction)
    return emitOpError("key tiles fold into one running state: only the "
                       "outer-reduction strategy (a loop over key tiles) "
                       "applies");
  if (offsets.size() != kNumLoops + 1 || init.size() != 3)
    return emitOpError("a key tile needs offsets for the four loops and the "
                       "three state tensors");
  SmallVector<Operation *> slices;
  FailureOr<TileOperands> t = sliceOperands(*this, b, offsets, sizes, slices);
  if (failed(t))
    return failure();
  SmallVector<Value> state;
  SmallVector<Type> types;
  for (auto [r, v] : llvm::enumerate(init)) {
    SmallVector<OpFoldResult> rOff, rSize;
    (void)getPartialResultTilePosition(b, r, strategy, offsets, sizes,
                                       reductionDims, splitReductionIvs, rOff,
                                       rSize);
    state.push_back(slice(b, loc, v, rOff, rSize, slices));
    types.push_back(state.back().getType());
  }
  auto step = OnlineAttentionOp::create(
      b, loc, types, t->q, t->k, t->v, t->segments, t->problem, t->at,
      state[0], state[1], state[2], getPattern(), getScaleAttr(),
      getScoreModAttr());
  return TilingResult{{step.getOperation()},
                      SmallVector<Value>(step->getResults()), slices};
}

FailureOr<MergeResult>
AttentionOp::mergeReductions(OpBuilder &b, Location loc,
                             ValueRange partialReduce,
                             const SetVector<unsigned> &reductionDims) {
  if (failed(checkKeyReduction(*this, reductionDims)) ||
      partialReduce.size() != 3)
    return failure();
  SmallVector<Value> results = buildOnlineAttentionFinish(
      b, loc, partialReduce[0], partialReduce[1], partialReduce[2],
      getInits()[0], getLse() ? getInits()[1] : Value());
  // The combining op is O's normalisation (the LSE's, when there is one,
  // is its sibling): upstream's tile_reduction_using_for hands out one
  // handle per merge op and expects exactly one.
  MergeResult merge;
  merge.mergeOps.push_back(results.front().getDefiningOp());
  merge.replacements = results;
  return merge;
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
