//===- SparseAttnOps.cpp - sparse_attn operations -------------------------===//

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Index/IR/IndexOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/MathExtras.h"
#include <cmath>
#include <tuple>

using namespace mlir;
using namespace mlir::sparse_attn;

#define GET_OP_CLASSES
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.cpp.inc"

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

static bool staticMismatch(int64_t a, int64_t b) {
  return !ShapedType::isDynamic(a) && !ShapedType::isDynamic(b) && a != b;
}

static std::string dimStr(int64_t d) {
  return ShapedType::isDynamic(d) ? std::string("?") : std::to_string(d);
}

static std::string shapeStr(ArrayRef<int64_t> dims) {
  std::string s = "[";
  for (auto [i, d] : llvm::enumerate(dims))
    s += (i ? ", " : "") + dimStr(d);
  return s + "]";
}

static bool shapesCompatible(ArrayRef<int64_t> actual,
                             ArrayRef<int64_t> expected) {
  if (actual.size() != expected.size())
    return false;
  for (auto [a, e] : llvm::zip(actual, expected))
    if (staticMismatch(a, e))
      return false;
  return true;
}


/// The scale an attention-like op applies: its attribute, or 1/sqrt(D) of a
/// static head dimension of the query.
static std::optional<double> effectiveScale(FloatAttr scale, Value query) {
  if (scale)
    return scale.getValueAsDouble();
  int64_t d = llvm::cast<RankedTensorType>(query.getType()).getDimSize(3);
  if (ShapedType::isDynamic(d) || d <= 0)
    return std::nullopt;
  return 1.0 / std::sqrt(static_cast<double>(d));
}

std::optional<double> AttentionOp::getEffectiveScale() {
  return effectiveScale(getScaleAttr(), getQuery());
}

Value AttentionOp::getQuerySegmentIds() {
  return getSegmentIds().empty() ? Value() : getSegmentIds().front();
}
Value AttentionOp::getKeySegmentIds() {
  return getSegmentIds().empty() ? Value() : getSegmentIds().back();
}

namespace {
/// The sizes of an attention: B, Hq, Sq, D (query), Hkv, Sk (key), Dv
/// (value).
struct AttentionDims {
  int64_t b, hq, sq, d, hkv, sk, dv;
};
} // namespace

/// What sparse_attn.attention and sparse_attn.online_attention check alike
/// of their query, key and value (and of the byte sizes of their results,
/// `results`): ranks, element types, sizes that must agree.
static LogicalResult verifyQueryKeyValue(
    Operation *op, RankedTensorType qT, RankedTensorType kT,
    RankedTensorType vT,
    ArrayRef<std::pair<RankedTensorType, const char *>> results, bool isTile,
    AttentionDims &dims) {
  if (qT.getRank() != 4)
    return op->emitOpError("query must be a rank-4 tensor [B, Hq, Sq, D], got ")
           << qT;
  if (kT.getRank() != 4)
    return op->emitOpError("key must be a rank-4 tensor [B, Hkv, Sk, D], got ")
           << kT;
  if (vT.getRank() != 4)
    return op->emitOpError("value must be a rank-4 tensor [B, Hkv, Sk, Dv], got ")
           << vT;
  Type elt = qT.getElementType();
  if (!elt.isF32() && !elt.isF16() && !elt.isBF16())
    return op->emitOpError("query element type must be f32, f16 or bf16, got ")
           << elt;
  if (kT.getElementType() != elt)
    return op->emitOpError("key element type ")
           << kT.getElementType() << " does not match query element type "
           << elt;
  if (vT.getElementType() != elt)
    return op->emitOpError("value element type ")
           << vT.getElementType() << " does not match query element type "
           << elt;

  // Sizes in bytes are 64-bit everywhere (buffers, strides, offsets): a
  // tensor whose static size does not fit is refused here rather than
  // overflowing in a lowering or a runtime.
  SmallVector<std::pair<RankedTensorType, const char *>> sized = {
      {qT, "query"}, {kT, "key"}, {vT, "value"}};
  sized.append(results.begin(), results.end());
  for (auto [t, name] : sized) {
    if (!t.getElementType().isIntOrFloat())
      continue; // refused below with its own message
    int64_t bytes = (t.getElementType().getIntOrFloatBitWidth() + 7) / 8;
    for (int64_t dim : t.getShape())
      if (!ShapedType::isDynamic(dim) &&
          llvm::MulOverflow<int64_t>(bytes, dim, bytes))
        return op->emitOpError(name)
               << " type " << t
               << " has more bytes than a 64-bit size can count";
  }

  int64_t b = qT.getDimSize(0), hq = qT.getDimSize(1), sq = qT.getDimSize(2),
          d = qT.getDimSize(3);
  int64_t hkv = kT.getDimSize(1), sk = kT.getDimSize(2), dv = vT.getDimSize(3);
  dims = {b, hq, sq, d, hkv, sk, dv};
  if (staticMismatch(kT.getDimSize(0), b))
    return op->emitOpError("key batch size ")
           << kT.getDimSize(0) << " does not match query batch size " << b;
  if (staticMismatch(vT.getDimSize(0), b))
    return op->emitOpError("value batch size ")
           << vT.getDimSize(0) << " does not match query batch size " << b;
  if (staticMismatch(vT.getDimSize(1), hkv))
    return op->emitOpError("value has ")
           << vT.getDimSize(1) << " heads but key has " << hkv;
  if (hkv == 0)
    return op->emitOpError("key/value must have at least one head");
  // A tile's query heads are a range of the problem's (checked below).
  if (!isTile && !ShapedType::isDynamic(hq) && !ShapedType::isDynamic(hkv) &&
      hq % hkv != 0)
    return op->emitOpError("query heads (")
           << hq << ") must be a multiple of key/value heads (" << hkv << ")";
  if (staticMismatch(kT.getDimSize(3), d))
    return op->emitOpError("key head dimension ")
           << kT.getDimSize(3) << " does not match query head dimension " << d;
  if (d == 0)
    return op->emitOpError("head dimension D must be positive");
  if (staticMismatch(vT.getDimSize(2), sk))
    return op->emitOpError("value sequence length ")
           << vT.getDimSize(2) << " does not match key sequence length " << sk;

  return success();
}

/// The scale, and the segment ids the pattern needs: [B, Sq] / [B, Sk]
/// integers, one operand for both only outside tiles with Sq == Sk.
static LogicalResult verifyScaleAndSegments(Operation *op, FloatAttr scale,
                                            SparsityPatternAttrInterface pattern,
                                            ValueRange segs, bool isTile,
                                            const AttentionDims &dims) {
  auto [b, hq, sq, d, hkv, sk, dv] = dims;
  (void)hq, (void)d, (void)hkv, (void)dv;
  if (scale)
    if (!std::isfinite(scale.getValueAsDouble()))
      return op->emitOpError("scale must be a finite number");

  // Runtime segment ids.
  if (pattern.needsSegmentIds() && segs.empty())
    return op->emitOpError("pattern ")
           << pattern
           << " needs segment ids: add segments(%ids : tensor<BxSxi32>)";
  if (!pattern.needsSegmentIds() && !segs.empty())
    return op->emitOpError("segment ids are given but the pattern does not use "
                       "#sparse_attn.segments");
  if (segs.size() > 2)
    return op->emitOpError("expects one or two segment id operands, got ")
           << segs.size();
  if (segs.size() == 1 && !isTile && staticMismatch(sq, sk))
    return op->emitOpError("a single segment id operand needs Sq == Sk (got ")
           << sq << " and " << sk << "); pass segments(%qids, %kids : ...)";
  for (auto [i, seg] : llvm::enumerate(segs)) {
    auto sT = llvm::cast<RankedTensorType>(seg.getType());
    bool isKey = segs.size() == 2 && i == 1;
    SmallVector<int64_t> expected = {b, isKey ? sk : sq};
    if (sT.getRank() != 2 || !sT.getElementType().isSignlessInteger() ||
        !shapesCompatible(sT.getShape(), expected))
      return op->emitOpError(isKey ? "key" : "query")
             << " segment ids must be an integer tensor [B, "
             << (isKey ? "Sk" : "Sq") << "] = " << shapeStr(expected)
             << ", got " << sT;
  }

  return success();
}

static std::array<int64_t, 3> problemShape(ValueRange problemSizes, Value q,
                                           Value k);
static LogicalResult verifyPatternForProblem(Operation *op,
                                             SparsityPatternAttrInterface pattern,
                                             std::array<int64_t, 3> problem);
static LogicalResult verifyTileOperands(Operation *op, ValueRange problemSizes,
                                        ValueRange offsets, size_t numSegments,
                                        int64_t hq, int64_t hkv, int64_t sq,
                                        int64_t sk);

LogicalResult AttentionOp::verify() {
  auto qT = llvm::cast<RankedTensorType>(getQuery().getType());
  auto kT = llvm::cast<RankedTensorType>(getKey().getType());
  auto vT = llvm::cast<RankedTensorType>(getValue().getType());
  SmallVector<std::pair<RankedTensorType, const char *>> results = {
      {llvm::cast<RankedTensorType>(getOutput().getType()), "output"}};
  if (Value lse = getLse())
    results.push_back(
        {llvm::cast<RankedTensorType>(lse.getType()), "log-sum-exp"});
  AttentionDims dims;
  if (failed(verifyQueryKeyValue(*this, qT, kT, vT, results, isTile(), dims)))
    return failure();
  auto [b, hq, sq, d, hkv, sk, dv] = dims;
  (void)d;
  Type elt = qT.getElementType();

  auto oT = llvm::cast<RankedTensorType>(getOutput().getType());
  SmallVector<int64_t> expectedO = {b, hq, sq, dv};
  if (oT.getElementType() != elt)
    return emitOpError("output element type ")
           << oT.getElementType() << " does not match query element type "
           << elt;
  if (!shapesCompatible(oT.getShape(), expectedO))
    return emitOpError("output type ")
           << oT << " does not match [B, Hq, Sq, Dv] = " << shapeStr(expectedO);
  if (Value lse = getLse()) {
    auto lT = llvm::cast<RankedTensorType>(lse.getType());
    SmallVector<int64_t> expectedL = {b, hq, sq};
    if (!lT.getElementType().isF32() ||
        !shapesCompatible(lT.getShape(), expectedL))
      return emitOpError("log-sum-exp type ")
             << lT << " must be an f32 tensor [B, Hq, Sq] = "
             << shapeStr(expectedL);
  }

  SparsityPatternAttrInterface pattern = getPattern();
  if (failed(verifyScaleAndSegments(*this, getScaleAttr(), pattern,
                                    getSegmentIds(), isTile(), dims)))
    return failure();

  if (failed(verifyBlockTables(b, hq, hkv, sq)))
    return failure();

  // Destinations: one per result, of its type.
  if (getInits().size() != getNumResults())
    return emitOpError("expects one destination per result (outs(%o_init) "
                       "or outs(%o_init, %lse_init)), got ")
           << getInits().size() << " for " << getNumResults() << " results";
  for (auto [init, result] : llvm::zip(getInits(), getResults()))
    if (init.getType() != result.getType())
      return emitOpError("destination type ")
             << init.getType() << " does not match result type "
             << result.getType();

  if (failed(verifyTile(hq, hkv, sq, sk)))
    return failure();

  if (failed(verifyPatternForProblem(*this, pattern, getProblemShape())))
    return failure();
  bool staticSeq = !ShapedType::isDynamic(sq) && !ShapedType::isDynamic(sk);

  if (BlockMaskAttr mask = getBlockMaskAttr()) {
    if (!staticSeq)
      return emitOpError("block_mask requires static Sq and Sk");
    int64_t nq = ceilDivPositive(sq, mask.getBlockQ()),
            nk = ceilDivPositive(sk, mask.getBlockK());
    if (mask.getNumQBlocks() != nq || mask.getNumKBlocks() != nk)
      return emitOpError("block_mask has ")
             << mask.getNumQBlocks() << "x" << mask.getNumKBlocks()
             << " blocks but Sq = " << sq << ", Sk = " << sk << " with tiles "
             << mask.getBlockQ() << "x" << mask.getBlockK() << " give " << nq
             << "x" << nk;
  }
  return success();
}

/// The problem's (Hq, Sq, Sk): a tile's constant tile_of sizes, the
/// operands' own sizes otherwise (kDynamic where unknown).
static std::array<int64_t, 3> problemShape(ValueRange problemSizes, Value q,
                                           Value k) {
  if (!problemSizes.empty()) {
    std::array<int64_t, 3> shape;
    for (auto [i, v] : llvm::enumerate(problemSizes)) {
      std::optional<int64_t> c = getConstantIntValue(v);
      shape[i] = c && *c >= 0 ? *c : ShapedType::kDynamic;
    }
    return shape;
  }
  auto qT = llvm::cast<RankedTensorType>(q.getType());
  auto kT = llvm::cast<RankedTensorType>(k.getType());
  return {qT.getDimSize(1), qT.getDimSize(2), kT.getDimSize(2)};
}

std::array<int64_t, 3> AttentionOp::getProblemShape() {
  return problemShape(getProblemSizes(), getQuery(), getKey());
}

/// The pattern's size-dependent checks, against the problem's lengths.
static LogicalResult verifyPatternForProblem(Operation *op,
                                             SparsityPatternAttrInterface pattern,
                                             std::array<int64_t, 3> problem) {
  if (ShapedType::isDynamic(problem[1]) || ShapedType::isDynamic(problem[2]))
    return success();
  return pattern.verifyForSizes([&] { return op->emitOpError(); }, problem[1],
                                problem[2]);
}

/// A tile's place in its problem (tile_of / at): operand counts, constant
/// offsets and sizes non-negative, the problem's Hq a multiple of Hkv, the
/// tile inside the problem, separate query and key segment ids.
static LogicalResult verifyTileOperands(Operation *op, ValueRange problemSizes,
                                        ValueRange offsets, size_t numSegments,
                                        int64_t hq, int64_t hkv, int64_t sq,
                                        int64_t sk) {
  // The custom form pairs them; the generic form may not.
  if (problemSizes.size() != (offsets.empty() ? 0u : 3u) ||
      offsets.size() != (problemSizes.empty() ? 0u : 4u))
    return op->emitOpError("a tile names the problem's sizes (Hq, Sq, Sk) "
                           "and its offsets (b0, h0, q0, k0): expects 3 and "
                           "4 operands, got ")
           << problemSizes.size() << " and " << offsets.size();
  if (offsets.empty())
    return success();
  if (numSegments == 1)
    return op->emitOpError("a tile takes its query and key segment ids apart: "
                           "segments(%qids, %kids : ...)");
  auto constant = [](Value v) { return getConstantIntValue(v); };
  std::optional<int64_t> problem[3], offset[4];
  for (int i = 0; i < 3; ++i)
    problem[i] = constant(problemSizes[i]);
  for (int i = 0; i < 4; ++i)
    offset[i] = constant(offsets[i]);
  static const char *offsetNames[4] = {"b0", "h0", "q0", "k0"};
  for (int i = 0; i < 4; ++i)
    if (offset[i] && *offset[i] < 0)
      return op->emitOpError("tile offset ")
             << offsetNames[i] << " must be non-negative, got " << *offset[i];
  static const char *sizeNames[3] = {"Hq", "Sq", "Sk"};
  for (int i = 0; i < 3; ++i)
    if (problem[i] && *problem[i] < 0)
      return op->emitOpError("problem size ")
             << sizeNames[i] << " must be non-negative, got " << *problem[i];
  if (problem[0] && !ShapedType::isDynamic(hkv) && *problem[0] % hkv != 0)
    return op->emitOpError("the problem's query heads (")
           << *problem[0] << ") must be a multiple of key/value heads ("
           << hkv << ")";
  // The tile lies inside the problem: offset + tile size <= problem size.
  int64_t tileSize[3] = {hq, sq, sk};
  std::optional<int64_t> tileOffset[3] = {offset[1], offset[2], offset[3]};
  for (int i = 0; i < 3; ++i) {
    // Offsets are non-negative: a tile larger than its problem never fits.
    if (problem[i] && !ShapedType::isDynamic(tileSize[i]) &&
        tileSize[i] > *problem[i])
      return op->emitOpError("the tile's ")
             << sizeNames[i] << " (" << tileSize[i]
             << ") exceeds the problem's " << *problem[i];
    if (!problem[i] || !tileOffset[i] || ShapedType::isDynamic(tileSize[i]))
      continue;
    int64_t end;
    if (llvm::AddOverflow(*tileOffset[i], tileSize[i], end))
      return op->emitOpError("the tile's ")
             << sizeNames[i] << " range starts at " << *tileOffset[i]
             << " and ends past 2^63";
    if (end > *problem[i])
      return op->emitOpError("the tile's ")
             << sizeNames[i] << " range [" << *tileOffset[i] << ", " << end
             << ") is outside the problem's " << *problem[i];
  }
  return success();
}

LogicalResult AttentionOp::verifyTile(int64_t hq, int64_t hkv, int64_t sq,
                                      int64_t sk) {
  if (isTile()) {
    if (hasBlockTables())
      return emitOpError("a tile (tile_of / at) cannot carry block tables: "
                         "they describe the whole problem's tiles");
    if (getBlockMaskAttr())
      return emitOpError("a tile (tile_of / at) cannot carry a block_mask: it "
                         "describes the whole problem's tiles");
  }
  return verifyTileOperands(*this, getProblemSizes(), getOffsets(),
                            getSegmentIds().size(), hq, hkv, sq, sk);
}

/// Runtime block tables (sparse_attn.attention and attention_grad alike):
/// pairs of counts and indices, table_block, shapes [B', H', Mq(, N)].
static LogicalResult verifyBlockTablesOf(Operation *op, Value kvNum,
                                         Value kvIdx, Value fullNum,
                                         Value fullIdx, DenseI64ArrayAttr block,
                                         bool hasBlockMask, int64_t b,
                                         int64_t hq, int64_t hkv, int64_t sq) {
  auto emitOpError = [&](const Twine &msg) { return op->emitOpError(msg); };
  // The custom form pairs them; the generic form may not.
  if (static_cast<bool>(kvNum) != static_cast<bool>(kvIdx) ||
      static_cast<bool>(fullNum) != static_cast<bool>(fullIdx))
    return emitOpError("block tables come in pairs of counts and indices");
  if (fullNum && !kvNum)
    return emitOpError("full_tables needs block_tables");
  if (!kvNum) {
    if (block)
      return emitOpError("table_block is given but the op has no block "
                         "tables");
    return success();
  }
  if (!block)
    return emitOpError("block tables need table_block = array<i64: BQ, BK>");
  // The kernels' tiles are these blocks: the same bound as their block-q /
  // block-k options.
  if (block.size() != 2 || block[0] <= 0 || block[1] <= 0 ||
      block[0] > 65536 || block[1] > 65536)
    return emitOpError("table_block must be two sizes [BQ, BK] between 1 and "
                       "65536, got ")
           << block;
  if (hasBlockMask)
    return emitOpError("block tables and a block_mask attribute exclude each "
                       "other (the attribute is their compile-time form)");
  int64_t mq = ShapedType::isDynamic(sq) ? ShapedType::kDynamic
                                         : ceilDivPositive(sq, block[0]);
  for (auto [num, idx, name] :
       {std::tuple(kvNum, kvIdx, "block_tables"),
        std::tuple(fullNum, fullIdx, "full_tables")}) {
    if (!num)
      continue;
    auto nT = llvm::cast<RankedTensorType>(num.getType());
    auto iT = llvm::cast<RankedTensorType>(idx.getType());
    if (nT.getRank() != 3 || !nT.getElementType().isSignlessInteger(32))
      return emitOpError(name)
             << " counts must be an i32 tensor [B', H', Mq], got " << nT;
    if (iT.getRank() != 4 || !iT.getElementType().isSignlessInteger(32))
      return emitOpError(name)
             << " indices must be an i32 tensor [B', H', Mq, N], got " << iT;
    for (int64_t i = 0; i < 3; ++i)
      if (staticMismatch(nT.getDimSize(i), iT.getDimSize(i)))
        return emitOpError(name) << " counts " << nT << " and indices " << iT
                                 << " disagree on [B', H', Mq]";
    int64_t bp = nT.getDimSize(0), hp = nT.getDimSize(1),
            m = nT.getDimSize(2);
    if (bp != 1 && staticMismatch(bp, b))
      return emitOpError(name) << ": B' must be 1 or B = " << b << ", got "
                               << bp;
    if (!ShapedType::isDynamic(hp) && hp != 1 &&
        !ShapedType::isDynamic(hq) && !ShapedType::isDynamic(hkv) &&
        hp != hq && hp != hkv)
      return emitOpError(name) << ": H' must be 1, Hkv = " << hkv
                               << " or Hq = " << hq << ", got " << hp;
    if (staticMismatch(m, mq))
      return emitOpError(name) << ": Mq must be ceil(Sq / BQ) = " << mq
                               << ", got " << m;
  }
  return success();
}

LogicalResult AttentionOp::verifyBlockTables(int64_t b, int64_t hq,
                                             int64_t hkv, int64_t sq) {
  return verifyBlockTablesOf(*this, getKvNumBlocks(), getKvIndices(),
                             getFullNumBlocks(), getFullIndices(),
                             getTableBlockAttr(),
                             static_cast<bool>(getBlockMaskAttr()), b, hq, hkv,
                             sq);
}

/// The custom masks and the score modification name symbols of their kind.
/// `lengthsKnown`: whether lowerings know the problem's Sq and Sk (false for
/// a tile whose tile_of lengths are not constants), which regions that take
/// (sq, sk) need.
static LogicalResult verifyPatternSymbols(Operation *self,
                                          SparsityPatternAttrInterface pattern,
                                          FlatSymbolRefAttr scoreMod,
                                          SymbolTableCollection &symbolTable,
                                          bool lengthsKnown) {
  auto readsLengths = [&](StringRef what, FlatSymbolRefAttr name) {
    return self->emitOpError()
           << what << " " << name
           << " reads the sequence lengths, which a tile with non-constant "
              "tile_of lengths does not know";
  };
  SmallVector<FlatSymbolRefAttr> masks;
  pattern.collectCustomMasks(masks);
  for (FlatSymbolRefAttr name : masks) {
    Operation *op = symbolTable.lookupNearestSymbolFrom(self, name);
    if (!op)
      return self->emitOpError("custom mask ") << name << " does not exist";
    if (!llvm::isa<MaskOp>(op))
      return self->emitOpError("custom mask ")
             << name << " refers to '" << op->getName()
             << "', not a sparse_attn.mask";
    if (!lengthsKnown &&
        llvm::cast<MaskOp>(op).getBody().getNumArguments() == 6)
      return readsLengths("custom mask", name);
  }
  if (FlatSymbolRefAttr name = scoreMod) {
    Operation *op = symbolTable.lookupNearestSymbolFrom(self, name);
    if (!op)
      return self->emitOpError("score_mod ") << name << " does not exist";
    if (!llvm::isa<ScoreModOp>(op))
      return self->emitOpError("score_mod ")
             << name << " refers to '" << op->getName()
             << "', not a sparse_attn.score_mod";
    if (!lengthsKnown &&
        llvm::cast<ScoreModOp>(op).getBody().getNumArguments() == 7)
      return readsLengths("score_mod", name);
  }
  return success();
}

LogicalResult
AttentionOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  std::array<int64_t, 3> problem = getProblemShape();
  bool lengthsKnown = !isTile() || (!ShapedType::isDynamic(problem[1]) &&
                                    !ShapedType::isDynamic(problem[2]));
  return verifyPatternSymbols(*this, getPattern(), getScoreModAttr(),
                              symbolTable, lengthsKnown);
}

//===----------------------------------------------------------------------===//
// AttentionGradOp
//===----------------------------------------------------------------------===//

std::optional<double> AttentionGradOp::getEffectiveScale() {
  return effectiveScale(getScaleAttr(), getQuery());
}

static int64_t rankOf(Value v) {
  return llvm::cast<RankedTensorType>(v.getType()).getRank();
}

ValueRange AttentionGradOp::getSegmentIds() {
  ValueRange extras = getExtras();
  size_t n = 0;
  while (n < extras.size() && n < 2 && rankOf(extras[n]) == 2)
    ++n;
  return extras.take_front(n);
}
Value AttentionGradOp::getQuerySegmentIds() {
  ValueRange s = getSegmentIds();
  return s.empty() ? Value() : s.front();
}
Value AttentionGradOp::getKeySegmentIds() {
  ValueRange s = getSegmentIds();
  return s.empty() ? Value() : s.back();
}
Value AttentionGradOp::tableOperand(unsigned i) {
  ValueRange tables = getExtras().drop_front(getSegmentIds().size());
  return i < tables.size() ? tables[i] : Value();
}

// Custom form: the six operands, then optional `segments(...)`,
// `block_tables(...)` and `full_tables(...)` groups, the attributes, and
// the types (six operands, then the three results).
ParseResult AttentionGradOp::parse(OpAsmParser &parser,
                                   OperationState &result) {
  SmallVector<OpAsmParser::UnresolvedOperand> operands;
  SmallVector<Type> types;
  llvm::SMLoc loc = parser.getCurrentLocation();
  if (parser.parseOperandList(operands, 6))
    return failure();
  SmallVector<OpAsmParser::UnresolvedOperand> extras;
  SmallVector<Type> extraTypes;
  for (auto [keyword, minCount, maxCount] :
       {std::tuple("segments", 1u, 2u), std::tuple("block_tables", 2u, 2u),
        std::tuple("full_tables", 2u, 2u)}) {
    if (failed(parser.parseOptionalKeyword(keyword)))
      continue;
    SmallVector<OpAsmParser::UnresolvedOperand> group;
    SmallVector<Type> groupTypes;
    llvm::SMLoc groupLoc = parser.getCurrentLocation();
    if (parser.parseLParen() || parser.parseOperandList(group) ||
        parser.parseColonTypeList(groupTypes) || parser.parseRParen())
      return failure();
    if (group.size() < minCount || group.size() > maxCount ||
        group.size() != groupTypes.size())
      return parser.emitError(groupLoc)
             << keyword << "(...) takes " << minCount
             << (minCount == maxCount ? "" : " or 2")
             << " operands and as many types";
    extras.append(group);
    extraTypes.append(groupTypes);
  }
  SmallVector<Type> resultTypes;
  if (parser.parseOptionalAttrDict(result.attributes) ||
      parser.parseColonTypeList(types) || parser.parseArrow() ||
      parser.parseTypeList(resultTypes))
    return failure();
  if (types.size() != 6)
    return parser.emitError(loc, "expects six operand types (query, key, "
                                 "value, output, lse, grad_output), got ")
           << types.size();
  if (resultTypes.size() != 3)
    return parser.emitError(loc, "expects three result types (dQ, dK, dV), "
                                 "got ")
           << resultTypes.size();
  operands.append(extras);
  types.append(extraTypes);
  if (parser.resolveOperands(operands, types, loc, result.operands))
    return failure();
  result.addTypes(resultTypes);
  return success();
}

void AttentionGradOp::print(OpAsmPrinter &p) {
  p << ' ' << getQuery() << ", " << getKey() << ", " << getValue() << ", "
    << getOutput() << ", " << getLse() << ", " << getGradOutput();
  auto group = [&](StringRef keyword, ValueRange values) {
    if (values.empty())
      return;
    p << ' ' << keyword << '(' << values << " : " << values.getTypes() << ')';
  };
  group("segments", getSegmentIds());
  if (hasBlockTables())
    group("block_tables", ValueRange{getKvNumBlocks(), getKvIndices()});
  if (getFullNumBlocks())
    group("full_tables", ValueRange{getFullNumBlocks(), getFullIndices()});
  p.printOptionalAttrDict((*this)->getAttrs());
  p << " : ";
  llvm::interleaveComma(getOperation()->getOperands().take_front(6).getTypes(),
                        p);
  p << " -> ";
  llvm::interleaveComma(getResultTypes(), p);
}

LogicalResult AttentionGradOp::verify() {
  auto qT = llvm::cast<RankedTensorType>(getQuery().getType());
  auto kT = llvm::cast<RankedTensorType>(getKey().getType());
  auto vT = llvm::cast<RankedTensorType>(getValue().getType());
  SmallVector<std::pair<RankedTensorType, const char *>> sized;
  for (auto [v, name] :
       {std::pair(getOutput(), "output"), std::pair(getLse(), "log-sum-exp"),
        std::pair(getGradOutput(), "output gradient"),
        std::pair(getGradQuery(), "query gradient"),
        std::pair(getGradKey(), "key gradient"),
        std::pair(getGradValue(), "value gradient")})
    sized.push_back({llvm::cast<RankedTensorType>(v.getType()), name});
  AttentionDims dims;
  if (failed(verifyQueryKeyValue(*this, qT, kT, vT, sized, /*isTile=*/false,
                                 dims)))
    return failure();
  auto [b, hq, sq, d, hkv, sk, dv] = dims;
  Type elt = qT.getElementType();

  // The extra operands: segment ids (rank 2), then counts and indices
  // (rank 3 and 4) of block_tables and full_tables, in this order.
  ValueRange tables = getExtras().drop_front(getSegmentIds().size());
  if (tables.size() != 0 && tables.size() != 2 && tables.size() != 4)
    return emitOpError("expects segment ids (rank 2) and then block tables "
                       "(pairs of rank-3 counts and rank-4 indices) after the "
                       "six operands, got ")
           << getExtras().size() << " extra operands";
  for (auto [i, t] : llvm::enumerate(tables))
    if (rankOf(t) != (i % 2 == 0 ? 3 : 4))
      return emitOpError("expects segment ids (rank 2) and then block tables "
                         "(pairs of rank-3 counts and rank-4 indices) after "
                         "the six operands; extra operand ")
             << getSegmentIds().size() + i << " has rank " << rankOf(t);

  auto expect = [&](Value v, StringRef name, ArrayRef<int64_t> shape,
                    Type elementType, StringRef what) -> LogicalResult {
    auto t = llvm::cast<RankedTensorType>(v.getType());
    if (t.getElementType() != elementType ||
        !shapesCompatible(t.getShape(), shape))
      return emitOpError(name)
             << " type " << t << " must be " << what << " = "
             << shapeStr(shape) << " of " << elementType;
    return success();
  };
  Type f32 = Float32Type::get(getContext());
  if (failed(expect(getOutput(), "output", {b, hq, sq, dv}, elt,
                    "[B, Hq, Sq, Dv]")) ||
      failed(expect(getLse(), "log-sum-exp", {b, hq, sq}, f32,
                    "[B, Hq, Sq]")) ||
      failed(expect(getGradOutput(), "output gradient", {b, hq, sq, dv}, elt,
                    "[B, Hq, Sq, Dv]")) ||
      failed(expect(getGradQuery(), "query gradient", {b, hq, sq, d}, elt,
                    "[B, Hq, Sq, D]")) ||
      failed(expect(getGradKey(), "key gradient", {b, hkv, sk, d}, elt,
                    "[B, Hkv, Sk, D]")) ||
      failed(expect(getGradValue(), "value gradient", {b, hkv, sk, dv}, elt,
                    "[B, Hkv, Sk, Dv]")))
    return failure();

  SparsityPatternAttrInterface pattern = getPattern();
  if (failed(verifyScaleAndSegments(*this, getScaleAttr(), pattern,
                                    getSegmentIds(), /*isTile=*/false, dims)))
    return failure();
  if (failed(verifyBlockTablesOf(*this, getKvNumBlocks(), getKvIndices(),
                                 getFullNumBlocks(), getFullIndices(),
                                 getTableBlockAttr(), /*hasBlockMask=*/false,
                                 b, hq, hkv, sq)))
    return failure();
  return verifyPatternForProblem(*this, pattern, {hq, sq, sk});
}

LogicalResult
AttentionGradOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  return verifyPatternSymbols(*this, getPattern(), getScoreModAttr(),
                              symbolTable, /*lengthsKnown=*/true);
}

//===----------------------------------------------------------------------===//
// OnlineAttentionOp
//===----------------------------------------------------------------------===//

LogicalResult OnlineAttentionOp::verify() {
  auto qT = llvm::cast<RankedTensorType>(getQuery().getType());
  auto kT = llvm::cast<RankedTensorType>(getKey().getType());
  auto vT = llvm::cast<RankedTensorType>(getValue().getType());
  SmallVector<std::pair<RankedTensorType, const char *>> state = {
      {llvm::cast<RankedTensorType>(getAcc().getType()), "accumulator"},
      {llvm::cast<RankedTensorType>(getMax().getType()), "running maximum"},
      {llvm::cast<RankedTensorType>(getSum().getType()), "running sum"}};
  AttentionDims dims;
  if (failed(verifyQueryKeyValue(*this, qT, kT, vT, state, isTile(), dims)))
    return failure();
  auto [b, hq, sq, d, hkv, sk, dv] = dims;
  (void)d;
  // The state: f32 [B, Hq, Sq, Dv], [B, Hq, Sq], [B, Hq, Sq]; results of
  // the same types.
  SmallVector<int64_t> rows = {b, hq, sq}, accShape = {b, hq, sq, dv};
  for (auto [i, entry] : llvm::enumerate(state)) {
    auto [t, name] = entry;
    ArrayRef<int64_t> expected = i == 0 ? ArrayRef<int64_t>(accShape) : rows;
    if (!t.getElementType().isF32() ||
        !shapesCompatible(t.getShape(), expected))
      return emitOpError(name)
             << " must be an f32 tensor " << (i == 0 ? "[B, Hq, Sq, Dv]" : "[B, Hq, Sq]")
             << " = " << shapeStr(expected) << ", got " << t;
    if (getResult(i).getType() != t)
      return emitOpError("result ")
             << i << " has type " << getResult(i).getType()
             << " but its destination (the " << name << ") has " << t;
  }
  if (failed(verifyScaleAndSegments(*this, getScaleAttr(), getPattern(),
                                    getSegmentIds(), isTile(), dims)) ||
      failed(verifyTileOperands(*this, getProblemSizes(), getOffsets(),
                                getSegmentIds().size(), hq, hkv, sq, sk)))
    return failure();
  return verifyPatternForProblem(
      *this, getPattern(),
      problemShape(getProblemSizes(), getQuery(), getKey()));
}

LogicalResult
OnlineAttentionOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  std::array<int64_t, 3> problem =
      problemShape(getProblemSizes(), getQuery(), getKey());
  bool lengthsKnown = !isTile() || (!ShapedType::isDynamic(problem[1]) &&
                                    !ShapedType::isDynamic(problem[2]));
  return verifyPatternSymbols(*this, getPattern(), getScoreModAttr(),
                              symbolTable, lengthsKnown);
}

namespace {
/// Replaces the pattern by its canonical form (see simplifyPattern).
struct SimplifyAttentionPattern : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    Attribute simplified = simplifyPattern(op.getPattern());
    if (simplified == op.getPattern())
      return failure();
    auto pattern = llvm::cast<SparsityPatternAttrInterface>(simplified);
    rewriter.modifyOpInPlace(op, [&] {
      op.setPatternAttr(pattern);
      // The canonical form may no longer read segment ids (union<[dense,
      // segments]> is dense): the operands go with it, as the verifier
      // requires them exactly when the pattern uses them.
      if (!pattern.needsSegmentIds())
        op.getSegmentIdsMutable().clear();
    });
    return success();
  }
};
} // namespace

void AttentionOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                              MLIRContext *context) {
  results.add<SimplifyAttentionPattern>(context);
}

//===----------------------------------------------------------------------===//
// MaskOp, ScoreModOp
//===----------------------------------------------------------------------===//

static ParseResult parseSymbolWithRegion(OpAsmParser &parser,
                                         OperationState &result) {
  StringAttr name;
  if (parser.parseSymbolName(name, SymbolTable::getSymbolAttrName(),
                             result.attributes))
    return failure();
  SmallVector<OpAsmParser::Argument> args;
  if (parser.parseArgumentList(args, OpAsmParser::Delimiter::Paren,
                               /*allowType=*/true) ||
      parser.parseOptionalAttrDictWithKeyword(result.attributes))
    return failure();
  Region *body = result.addRegion();
  return parser.parseRegion(*body, args);
}

static void printSymbolWithRegion(OpAsmPrinter &p, Operation *op,
                                  StringRef name, Region &body) {
  p << ' ';
  p.printSymbolName(name);
  p << '(';
  if (!body.empty())
    llvm::interleaveComma(body.getArguments(), p,
                          [&](BlockArgument a) { p.printRegionArgument(a); });
  p << ')';
  p.printOptionalAttrDictWithKeyword(op->getAttrs(),
                                     {SymbolTable::getSymbolAttrName()});
  p << ' ';
  p.printRegion(body, /*printEntryBlockArgs=*/false);
}

/// Integer division, remainder and shifts are undefined in LLVM for some
/// operands (x / 0 and x % 0 trap on x86, INT_MIN / -1 overflows, a shift
/// by the bit width or more is poison). A region runs on every allowed pair,
/// so such an op is accepted only when its right operand is a constant for
/// which it is defined everywhere: a non-zero divisor (other than -1 for
/// signed division and remainder), a shift amount below the bit width.
LogicalResult MergeOp::verify() {
  auto oT = llvm::cast<RankedTensorType>(getOutputA().getType());
  auto lT = llvm::cast<RankedTensorType>(getLseA().getType());
  if (oT.getRank() != 4)
    return emitOpError("outputs must be [B, H, S, Dv] tensors, got ") << oT;
  Type elt = oT.getElementType();
  if (!elt.isF32() && !elt.isF16() && !elt.isBF16())
    return emitOpError("outputs must have f32, f16 or bf16 elements, got ")
           << elt;
  if (lT.getRank() != 3 || !lT.getElementType().isF32())
    return emitOpError("log-sum-exps must be [B, H, S] f32 tensors, got ")
           << lT;
  for (int64_t i = 0; i < 3; ++i)
    if (!oT.isDynamicDim(i) && !lT.isDynamicDim(i) &&
        oT.getDimSize(i) != lT.getDimSize(i))
      return emitOpError("log-sum-exp dimension ")
             << i << " (" << lT.getDimSize(i)
             << ") does not match the output's (" << oT.getDimSize(i) << ")";
  return success();
}

//===----------------------------------------------------------------------===//
// PoolOp
//===----------------------------------------------------------------------===//

int64_t PoolOp::numBlocks(int64_t s, int64_t block, int64_t stride) {
  if (s <= 0)
    return 0;
  if (s <= block)
    return 1;
  return ceilDivPositive(s - block, stride) + 1;
}

static bool isAttentionFloat(Type t) { return t.isF32() || t.isF16() || t.isBF16(); }

LogicalResult PoolOp::verify() {
  auto inT = llvm::cast<RankedTensorType>(getInput().getType());
  auto outT = llvm::cast<RankedTensorType>(getOutput().getType());
  if (getKind() != "mean" && getKind() != "max")
    return emitOpError("kind must be \"mean\" or \"max\", got \"")
           << getKind() << "\"";
  int64_t block = static_cast<int64_t>(getBlock()),
          stride = getEffectiveStride();
  if (block < 1)
    return emitOpError("block must be positive, got ") << block;
  if (stride < 1 || stride > block)
    return emitOpError("stride must be between 1 and block (")
           << block << "), got " << stride
           << " (a larger stride would skip rows)";
  if (inT.getRank() != 4 || outT.getRank() != 4)
    return emitOpError("pools [B, H, S, D] tensors into [B, H, N, D] "
                       "tensors, got ")
           << inT << " -> " << outT;
  if (!isAttentionFloat(inT.getElementType()))
    return emitOpError("input must have f32, f16 or bf16 elements, got ")
           << inT.getElementType();
  if (outT.getElementType() != inT.getElementType() &&
      !outT.getElementType().isF32())
    return emitOpError("result element type must be the input's or f32, got ")
           << outT.getElementType();
  for (int64_t i : {0, 1, 3})
    if (staticMismatch(inT.getDimSize(i), outT.getDimSize(i)))
      return emitOpError("result dimension ")
             << i << " (" << outT.getDimSize(i) << ") must equal the input's ("
             << inT.getDimSize(i) << ")";
  if (!inT.isDynamicDim(2) && !outT.isDynamicDim(2)) {
    int64_t n = numBlocks(inT.getDimSize(2), block, stride);
    if (outT.getDimSize(2) != n)
      return emitOpError("pooling ")
             << inT.getDimSize(2) << " rows in blocks of " << block
             << " every " << stride << " gives " << n << " blocks, but the "
             << "result has " << outT.getDimSize(2);
  }
  return success();
}

//===----------------------------------------------------------------------===//
// SelectBlocksOp
//===----------------------------------------------------------------------===//

bool SelectBlocksOp::isPerKVHead() {
  auto qT = llvm::cast<RankedTensorType>(getQuery().getType());
  auto nT = llvm::cast<RankedTensorType>(getKvNumBlocks().getType());
  return nT.getDimSize(1) != qT.getDimSize(1);
}

std::optional<int64_t> SelectBlocksOp::getStaticKeyLength() {
  if (Value len = getKeyLength())
    return getConstantIntValue(len);
  auto kT = llvm::cast<RankedTensorType>(getPooledKeys().getType());
  if (kT.isDynamicDim(2))
    return std::nullopt;
  return kT.getDimSize(2) * getBlockK();
}

LogicalResult SelectBlocksOp::verify() {
  auto qT = llvm::cast<RankedTensorType>(getQuery().getType());
  auto kT = llvm::cast<RankedTensorType>(getPooledKeys().getType());
  auto nT = llvm::cast<RankedTensorType>(getKvNumBlocks().getType());
  auto xT = llvm::cast<RankedTensorType>(getKvIndices().getType());
  if (qT.getRank() != 4 || kT.getRank() != 4)
    return emitOpError("expects a [B, Hq, Sq, D] query and [B, Hkv, Nk, D] "
                       "pooled keys, got ")
           << qT << " and " << kT;
  for (auto [t, what] : {std::pair(qT, "query"), std::pair(kT, "pooled keys")})
    if (!isAttentionFloat(t.getElementType()))
      return emitOpError(what) << " must have f32, f16 or bf16 elements, got "
                               << t.getElementType();
  if (staticMismatch(qT.getDimSize(0), kT.getDimSize(0)))
    return emitOpError("query and pooled keys have different batch sizes (")
           << qT.getDimSize(0) << " and " << kT.getDimSize(0) << ")";
  if (staticMismatch(qT.getDimSize(3), kT.getDimSize(3)))
    return emitOpError("query and pooled keys have different head "
                       "dimensions (")
           << qT.getDimSize(3) << " and " << kT.getDimSize(3) << ")";
  int64_t hq = qT.getDimSize(1), hkv = kT.getDimSize(1);
  if (ShapedType::isDynamic(hq) || ShapedType::isDynamic(hkv))
    return emitOpError("needs static head counts (the tables' H' says "
                       "whether they are per query head or per KV head)");
  if (hkv == 0 || hq % hkv != 0)
    return emitOpError("query heads (")
           << hq << ") must be a multiple of the pooled keys' heads (" << hkv
           << ")";
  ArrayRef<int64_t> block = getTableBlock();
  if (block.size() != 2 || block[0] < 1 || block[1] < 1)
    return emitOpError("table_block must be two positive sizes "
                       "array<i64: BQ, BK>");
  for (auto [v, what] :
       {std::pair(static_cast<int64_t>(getTopK()), "top_k"),
        std::pair(static_cast<int64_t>(getSink()), "sink"),
        std::pair(static_cast<int64_t>(getLocal()), "local")})
    if (v < 0)
      return emitOpError(what) << " must be non-negative, got " << v;
  if (nT.getRank() != 3 || !nT.getElementType().isInteger(32) ||
      xT.getRank() != 4 || !xT.getElementType().isInteger(32))
    return emitOpError("results must be i32 counts [B, H', Mq] and i32 "
                       "indices [B, H', Mq, N], got ")
           << nT << " and " << xT;
  for (int64_t i = 0; i < 3; ++i)
    if (staticMismatch(nT.getDimSize(i), xT.getDimSize(i)))
      return emitOpError("counts and indices disagree on dimension ") << i;
  if (staticMismatch(nT.getDimSize(0), qT.getDimSize(0)))
    return emitOpError("tables must have the query's batch size (")
           << qT.getDimSize(0) << "), got " << nT.getDimSize(0);
  int64_t hp = nT.getDimSize(1);
  if (hp != hq && hp != hkv)
    return emitOpError("tables must be per query head (H' = ")
           << hq << ") or per KV head (H' = " << hkv << "), got H' = "
           << dimStr(hp);
  if (!qT.isDynamicDim(2) && !nT.isDynamicDim(2) &&
      nT.getDimSize(2) != ceilDivPositive(qT.getDimSize(2), block[0]))
    return emitOpError("tables must have Mq = ceil(Sq / BQ) = ")
           << ceilDivPositive(qT.getDimSize(2), block[0])
           << " query-block rows, got " << nT.getDimSize(2);
  std::optional<int64_t> sk = getStaticKeyLength();
  if (sk && *sk < 0)
    return emitOpError("key_length must be non-negative, got ") << *sk;
  if (sk && !kT.isDynamicDim(2) &&
      kT.getDimSize(2) != ceilDivPositive(*sk, block[1]))
    return emitOpError("pooled keys must have Nk = ceil(Sk / BK) = ")
           << ceilDivPositive(*sk, block[1]) << " rows for Sk = " << *sk
           << ", got " << kT.getDimSize(2);
  if (!kT.isDynamicDim(2) && !xT.isDynamicDim(3)) {
    int64_t need = std::min<int64_t>(
        static_cast<int64_t>(getTopK() + getSink() + getLocal()),
        kT.getDimSize(2));
    if (xT.getDimSize(3) < need)
      return emitOpError("tables must hold min(top_k + sink + local, Nk) = ")
             << need << " blocks per row, got N = " << xT.getDimSize(3);
  }
  SparsityPatternAttrInterface pattern = getPattern();
  if (pattern.needsSegmentIds())
    return emitOpError("the static pattern of a block selection cannot read "
                       "segment ids");
  if (!qT.isDynamicDim(2) && sk)
    return pattern.verifyForSizes([&] { return emitOpError(); },
                                  qT.getDimSize(2), *sk);
  return success();
}

LogicalResult
SelectBlocksOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  return verifyPatternSymbols(*this, getPattern(), FlatSymbolRefAttr(),
                              symbolTable, /*lengthsKnown=*/true);
}

//===----------------------------------------------------------------------===//
// SelectTokensOp
//===----------------------------------------------------------------------===//

LogicalResult SelectTokensOp::verify() {
  auto iqT = llvm::cast<RankedTensorType>(getIndexQuery().getType());
  auto ikT = llvm::cast<RankedTensorType>(getIndexKeys().getType());
  auto wT = llvm::cast<RankedTensorType>(getWeights().getType());
  auto nT = llvm::cast<RankedTensorType>(getNum().getType());
  auto xT = llvm::cast<RankedTensorType>(getIndices().getType());
  if (iqT.getRank() != 4 || ikT.getRank() != 3 || wT.getRank() != 3)
    return emitOpError("expects index queries [B, Sq, HI, DI], index keys "
                       "[B, Sk, DI] and weights [B, Sq, HI], got ")
           << iqT << ", " << ikT << " and " << wT;
  for (auto [t, what] : {std::pair(iqT, "index queries"),
                         std::pair(ikT, "index keys"),
                         std::pair(wT, "weights")})
    if (!isAttentionFloat(t.getElementType()))
      return emitOpError(what) << " must have f32, f16 or bf16 elements, got "
                               << t.getElementType();
  if (staticMismatch(iqT.getDimSize(0), ikT.getDimSize(0)) ||
      staticMismatch(iqT.getDimSize(0), wT.getDimSize(0)))
    return emitOpError("index queries, index keys and weights must have one "
                       "batch size");
  if (staticMismatch(iqT.getDimSize(3), ikT.getDimSize(2)))
    return emitOpError("index queries and keys have different dimensions (")
           << iqT.getDimSize(3) << " and " << ikT.getDimSize(2) << ")";
  if (staticMismatch(iqT.getDimSize(1), wT.getDimSize(1)) ||
      staticMismatch(iqT.getDimSize(2), wT.getDimSize(2)))
    return emitOpError("weights must be [B, Sq, HI] of the index queries");
  if (static_cast<int64_t>(getTopK()) < 0)
    return emitOpError("top_k must be non-negative, got ")
           << static_cast<int64_t>(getTopK());
  if (nT.getRank() != 3 || !nT.getElementType().isInteger(32) ||
      xT.getRank() != 4 || !xT.getElementType().isInteger(32))
    return emitOpError("results must be i32 counts [B, 1, Sq] and i32 "
                       "indices [B, 1, Sq, N], got ")
           << nT << " and " << xT;
  for (int64_t i = 0; i < 3; ++i)
    if (staticMismatch(nT.getDimSize(i), xT.getDimSize(i)))
      return emitOpError("counts and indices disagree on dimension ") << i;
  if (staticMismatch(nT.getDimSize(0), iqT.getDimSize(0)) ||
      staticMismatch(nT.getDimSize(2), iqT.getDimSize(1)) ||
      nT.getDimSize(1) != 1)
    return emitOpError("tables must be [B, 1, Sq] (one list per query token, "
                       "shared by all heads), got ")
           << nT;
  if (!ikT.isDynamicDim(1) && !xT.isDynamicDim(3)) {
    int64_t need = std::min<int64_t>(static_cast<int64_t>(getTopK()),
                                     ikT.getDimSize(1));
    if (xT.getDimSize(3) < need)
      return emitOpError("tables must hold min(top_k, Sk) = ")
             << need << " keys per row, got N = " << xT.getDimSize(3);
  }
  SparsityPatternAttrInterface pattern = getPattern();
  if (pattern.needsSegmentIds())
    return emitOpError("the static pattern of a token selection cannot read "
                       "segment ids");
  if (!iqT.isDynamicDim(1) && !ikT.isDynamicDim(1))
    return pattern.verifyForSizes([&] { return emitOpError(); },
                                  iqT.getDimSize(1), ikT.getDimSize(1));
  return success();
}

LogicalResult
SelectTokensOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  return verifyPatternSymbols(*this, getPattern(), FlatSymbolRefAttr(),
                              symbolTable, /*lengthsKnown=*/true);
}

static LogicalResult verifyDefinedArithmetic(Operation *op, StringRef what) {
  bool isSigned = isa<arith::DivSIOp, arith::RemSIOp, arith::CeilDivSIOp,
                      arith::FloorDivSIOp, index::DivSOp, index::RemSOp,
                      index::CeilDivSOp, index::FloorDivSOp>(op);
  bool isDivision =
      isSigned || isa<arith::DivUIOp, arith::RemUIOp, arith::CeilDivUIOp,
                      index::DivUOp, index::RemUOp, index::CeilDivUOp>(op);
  bool isShift = isa<arith::ShLIOp, arith::ShRUIOp, arith::ShRSIOp,
                     index::ShlOp, index::ShrSOp, index::ShrUOp>(op);
  if (!isDivision && !isShift)
    return success();
  Value rhs = op->getOperand(1);
  APInt c;
  if (!matchPattern(rhs, m_ConstantInt(&c)))
    return op->emitOpError("in a ")
           << what << " needs a constant "
           << (isShift ? "shift amount" : "divisor")
           << ": the region runs on every pair, and "
           << (isShift ? "a shift by the bit width or more is undefined"
                       : "division by zero traps");
  if (isDivision && c.isZero())
    return op->emitOpError("divides by zero");
  if (isSigned && c.isAllOnes())
    return op->emitOpError("divides by -1, which overflows for the most "
                           "negative value (negate instead)");
  unsigned width = getElementTypeOrSelf(rhs.getType()).isIndex()
                       ? 64
                       : getElementTypeOrSelf(rhs.getType()).getIntOrFloatBitWidth();
  if (isShift && c.uge(width))
    return op->emitOpError("shifts by ")
           << llvm::toString(c, 10, /*Signed=*/false)
           << ", not below the bit width " << width;
  return success();
}

/// Checks the signature (argument types, one yielded value of `resultType`)
/// and that the body is free of side effects.
static LogicalResult verifySymbolRegion(Operation *op, Region &body,
                                        StringRef what,
                                        ArrayRef<Type> argTypes,
                                        StringRef signature, Type resultType) {
  Block &block = body.front();
  if (block.getNumArguments() != argTypes.size() ||
      !llvm::equal(block.getArgumentTypes(), argTypes))
    return op->emitOpError("region must take ")
           << signature << ", got " << block.getNumArguments()
           << " argument(s) of types (" << block.getArgumentTypes() << ")";
  // Defensive: terminators of other dialects without a parent constraint.
  auto yield = llvm::dyn_cast<YieldOp>(block.back());
  if (!yield)
    return op->emitOpError("region must end with sparse_attn.yield");
  if (yield.getValues().size() != 1 ||
      yield.getValues().front().getType() != resultType)
    return yield.emitOpError("in a ")
           << what << " must yield exactly one " << resultType << " value";
  for (Operation &inner : block.without_terminator())
    if (!isMemoryEffectFree(&inner))
      return inner.emitOpError("has side effects, which are not allowed in a ")
             << what;
  WalkResult undefined = body.walk([&](Operation *inner) {
    if (failed(verifyDefinedArithmetic(inner, what)))
      return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return failure(undefined.wasInterrupted());
}

ParseResult MaskOp::parse(OpAsmParser &parser, OperationState &result) {
  return parseSymbolWithRegion(parser, result);
}
void MaskOp::print(OpAsmPrinter &p) {
  printSymbolWithRegion(p, *this, getSymName(), getBody());
}
LogicalResult MaskOp::verifyRegions() {
  Type index = IndexType::get(getContext());
  // (b, h, q, k), optionally followed by the sizes (Sq, Sk).
  bool withSizes = getBody().front().getNumArguments() == 6;
  SmallVector<Type> args(withSizes ? 6 : 4, index);
  return verifySymbolRegion(
      *this, getBody(), "sparse_attn.mask", args,
      "(b: index, h: index, q: index, k: index) or (b: index, h: index, "
      "q: index, k: index, sq: index, sk: index)",
      IntegerType::get(getContext(), 1));
}

ParseResult ScoreModOp::parse(OpAsmParser &parser, OperationState &result) {
  return parseSymbolWithRegion(parser, result);
}
void ScoreModOp::print(OpAsmPrinter &p) {
  printSymbolWithRegion(p, *this, getSymName(), getBody());
}
LogicalResult ScoreModOp::verifyRegions() {
  Type index = IndexType::get(getContext());
  Type f32 = Float32Type::get(getContext());
  bool withSizes = getBody().front().getNumArguments() == 7;
  SmallVector<Type> args{f32, index, index, index, index};
  if (withSizes)
    args.append({index, index});
  return verifySymbolRegion(
      *this, getBody(), "sparse_attn.score_mod", args,
      "(score: f32, b: index, h: index, q: index, k: index) or (score: f32, "
      "b: index, h: index, q: index, k: index, sq: index, sk: index)",
      f32);
}
