//===- SparseAttnToGPU.cpp - fused, block-skipping tensor-core lowering ---===//
//
// sparse_attn.attention -> gpu.launch_func of one kernel per op:
//
//   grid (ceil(Sq / BQ), Hq, B), block (32 * warps); warp w owns query rows
//   [q0 + 16 w, q0 + 16 w + 16) of query block qb = order[blockIdx.x].
//   Q fragments (A operand of m16n8k16) live in registers for the kernel.
//   for kb in full_tiles(qb) ++ partial_tiles(qb):
//     K, V tiles -> shared memory (cp.async, 16 bytes per copy)
//     S  = Q K^T                          mma.sync, K via ldmatrix
//     S2 = log2(e) * score_mod(scale * S) masked on partial tiles only
//     m' = max(m, rowmax S2) (quad shuffles); alpha = 2^(m - m')
//     P  = 2^(S2 - m'), l = alpha l + rowsum P, O = alpha O
//     O += P V                            mma.sync, V via ldmatrix.trans
//   O /= l (0 if l == 0), LSE = ln 2 * (m + log2 l) (-inf if l == 0)
//
// Register fragments follow the PTX ISA's layouts for mma.m16n8k16 with
// lane = 4 * g + t: A regs {(g, 2t), (g + 8, 2t), (g, 2t + 8), (g + 8,
// 2t + 8)} (each a pair along k), B regs {(k = 2t, n = g), (k = 2t + 8,
// n = g)}, C/D elements {(g, 2t), (g, 2t + 1), (g + 8, 2t), (g + 8, 2t + 1)}.
// The C layout of two adjacent n8 score tiles is the A layout of one k16
// step of P V, which is why P never leaves registers.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Conversion/Passes.h"

#include "sparse_attn/Dialect/SparseAttn/Analysis/PatternAnalysis.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"
#include "sparse_attn/Dialect/SparseAttn/Utils/ConstantGlobals.h"
#include "sparse_attn/Dialect/SparseAttn/Utils/PatternCodegen.h"
#include "llvm/Support/ErrorHandling.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace mlir {
namespace sparse_attn {
#define GEN_PASS_DEF_CONVERTSPARSEATTNTOGPU
#include "sparse_attn/Conversion/Passes.h.inc"
} // namespace sparse_attn
} // namespace mlir

using namespace mlir;
using namespace mlir::sparse_attn;

static constexpr const char *kKernelModuleName = "sparse_attn_kernels";
/// Shared memory one thread block may use on sm_80 / sm_90 (227 KB).
static constexpr int64_t kMaxSharedBytes = 232448;

namespace {

/// The kernel's dynamic shared memory: one plan for the size checks and the
/// kernel builder. Offsets are bytes from the start of the dynamic shared
/// memory, except qOff / kOff / vOff (wgmma), which count from its first
/// 1024-byte boundary (found at run time; the plan reserves 1024 bytes).
///
///   mma.sync: [K tile 0 | K tile 1 | V tile 0 | V tile 1]  rows padded by 8
///   wgmma:    [<= 1024 | Q 64 x D | K 0 | K 1 | V 0 | V 1]  swizzled
///   then      [tile list: i32 entries, count] [listed table blocks: i32
///             bit words] [4 mbarriers (TMA)]
struct SharedPlan {
  int64_t kTileBytes = 0, vTileBytes = 0;
  int64_t qOff = 0, kOff = 0, vOff = 0;
  int64_t listOffset = 0, listEntries = 0;
  int64_t bitsOffset = 0, bitsWords = 0;
  int64_t mbarOff = 0;
  int64_t total = 0;
};

SharedPlan planSharedMemory(bool wgmma, bool tma, int64_t eltBytes,
                            int64_t bk, int64_t d, int64_t dv,
                            int64_t listEntries, int64_t bitsWords) {
  SharedPlan p;
  p.kTileBytes = bk * (d + 8) * eltBytes;
  p.vTileBytes = bk * (dv + 8) * eltBytes;
  p.kOff = 64 * d * eltBytes;
  p.vOff = p.kOff + 2 * bk * d * eltBytes;
  int64_t end = wgmma ? 1024 + p.vOff + 2 * bk * dv * eltBytes
                      : 2 * (p.kTileBytes + p.vTileBytes);
  p.listOffset = end;
  p.listEntries = listEntries;
  end += 4 * listEntries;
  p.bitsOffset = end;
  p.bitsWords = bitsWords;
  end += 4 * bitsWords;
  p.mbarOff = (end + 7) / 8 * 8;
  p.total = tma ? p.mbarOff + 32 : end;
  return p;
}

/// The kernel's tiles: BQ = 16 x warps query rows, BK = block-k keys.
int64_t queryTile(const SparseAttnToGPUOptions &options) {
  return 16 * options.warps;
}

/// Whether the kernel builds its tile list on the device (runtime block
/// tables, sequence lengths known only at run time, or more tiles than a
/// compile-time table should hold: kMaxCompileTimeTableTiles, the CPU
/// kernel's limit too) instead of reading compile-time tables.
bool deviceTileList(AttentionOp op, const SparseAttnToGPUOptions &options) {
  auto qT = llvm::cast<ShapedType>(op.getQuery().getType());
  auto kT = llvm::cast<ShapedType>(op.getKey().getType());
  if (op.hasBlockTables() || qT.isDynamicDim(2) || kT.isDynamicDim(2))
    return true;
  std::optional<int64_t> tiles = numTiles(qT.getDimSize(2), kT.getDimSize(2),
                                          queryTile(options), options.blockK);
  return !tiles || *tiles > kMaxCompileTimeTableTiles;
}

/// The i32 tile list and the bit words the kernel keeps in shared memory.
/// A device-built list holds one chunk of key tiles (every key tile when a
/// static Sk has at most 4096 of them, else chunks of 1024 rounded to whole
/// table blocks) and the count, plus one bit per table block of the chunk
/// with tables; otherwise there is room for the longest list of partial
/// tiles classified at run time (document masks, at most 4096 kept in
/// shared memory) and no bits.
std::pair<int64_t, int64_t> listSizes(AttentionOp op,
                                      const SparseAttnToGPUOptions &options) {
  if (!deviceTileList(op, options))
    return {4097, 0};
  int64_t sk = llvm::cast<ShapedType>(op.getKey().getType()).getDimSize(2);
  int64_t perBlock =
      op.hasBlockTables() ? op.getTableBlock()->back() / options.blockK : 1;
  int64_t chunk = ceilDivPositive(1024, perBlock) * perBlock;
  if (!ShapedType::isDynamic(sk) && ceilDivPositive(sk, options.blockK) <= 4096)
    chunk = ceilDivPositive(sk, options.blockK);
  int64_t words = op.hasBlockTables()
                      ? ceilDivPositive(ceilDivPositive(chunk, perBlock), 32)
                      : 0;
  return {chunk + 1, words};
}

} // namespace

LogicalResult
mlir::sparse_attn::checkLowerableToGPU(Operation *operation,
                                       const SparseAttnToGPUOptions &options) {
  auto op = llvm::cast<AttentionOp>(operation);
  if (op.isTile())
    return op.emitOpError("tiles (tile_of / at) are not lowered by the GPU "
                          "pipeline yet (the fused CPU lowering runs them)");
  if (options.warps < 1 || options.warps > 16)
    return op.emitOpError("warps must be between 1 and 16");
  if (options.blockK < 16 || options.blockK % 16 != 0 || options.blockK > 256)
    return op.emitOpError("block-k must be a multiple of 16 between 16 and 256");
  auto qT = llvm::cast<RankedTensorType>(op.getQuery().getType());
  auto kT = llvm::cast<RankedTensorType>(op.getKey().getType());
  auto vT = llvm::cast<RankedTensorType>(op.getValue().getType());
  Type elt = qT.getElementType();
  if (!elt.isF16() && !elt.isBF16())
    return op.emitOpError("the GPU lowering needs f16 or bf16 inputs (tensor "
                          "cores), got ")
           << elt;
  // B, Sq and Sk may be known only at run time; heads and head dimensions
  // are part of the kernel.
  for (auto t : {qT, kT, vT})
    if (t.isDynamicDim(1) || t.isDynamicDim(3))
      return op.emitOpError("the GPU lowering needs static head counts and "
                            "head dimensions, got ")
             << t;
  if (qT.isDynamicDim(0) != kT.isDynamicDim(0) ||
      kT.isDynamicDim(2) != vT.isDynamicDim(2))
    return op.emitOpError("the GPU lowering needs the batch size static or "
                          "dynamic in all of query, key and value, and Sk "
                          "likewise in key and value");
  for (Value seg : {op.getQuerySegmentIds(), op.getKeySegmentIds()}) {
    if (!seg)
      continue;
    auto st = llvm::cast<ShapedType>(seg.getType());
    auto of = seg == op.getQuerySegmentIds() ? qT : kT;
    if (st.isDynamicDim(0) != of.isDynamicDim(0) ||
        st.isDynamicDim(1) != of.isDynamicDim(2))
      return op.emitOpError("the GPU lowering needs segment ids whose sizes "
                            "are static exactly where the query's / key's "
                            "are, got ")
             << seg.getType();
  }
  if (op.hasBlockTables()) {
    for (Value t : {op.getKvNumBlocks(), op.getKvIndices(),
                    op.getFullNumBlocks(), op.getFullIndices()})
      if (t && !llvm::cast<ShapedType>(t.getType()).hasStaticShape())
        return op.emitOpError("the GPU lowering needs block tables of static "
                              "shapes, got ")
               << t.getType();
    if (qT.isDynamicDim(0) &&
        llvm::cast<ShapedType>(op.getKvNumBlocks().getType()).getDimSize(0) !=
            1)
      return op.emitOpError("the GPU lowering needs block tables with B' = 1 "
                            "when the batch size is dynamic");
    // A kernel tile lies in one table block: the query tile divides BQ and
    // block-k divides BK.
    ArrayRef<int64_t> tb = *op.getTableBlock();
    if (tb[0] % queryTile(options) != 0 || tb[1] % options.blockK != 0)
      return op.emitOpError("the GPU kernel needs a table_block that is a "
                            "multiple of its tile [")
             << queryTile(options) << ", " << options.blockK
             << "] (16 x warps query rows, block-k keys), got [" << tb[0]
             << ", " << tb[1] << "]";
  }
  if (qT.getDimSize(3) % 16 != 0 || vT.getDimSize(3) % 16 != 0)
    return op.emitOpError("the GPU lowering needs head dimensions D and Dv "
                          "that are multiples of 16, got D = ")
           << qT.getDimSize(3) << ", Dv = " << vT.getDimSize(3);
  if (qT.getDimSize(2) == 0 || kT.getDimSize(2) == 0 || qT.getDimSize(0) == 0)
    return op.emitOpError("the GPU lowering needs non-empty sequences");
  if (options.mma == "wgmma")
    if (std::string why = wgmmaUnsupported(op, options); !why.empty())
      return op.emitOpError("mma=wgmma needs ") << why;
  bool wgmma = options.mma == "wgmma" ||
               (options.mma == "auto" && wgmmaUnsupported(op, options).empty());
  if (!wgmma) {
    auto [entries, words] = listSizes(op, options);
    int64_t bytes = planSharedMemory(/*wgmma=*/false, /*tma=*/false, 2,
                                     options.blockK, qT.getDimSize(3),
                                     vT.getDimSize(3), entries, words)
                        .total;
    if (bytes > kMaxSharedBytes)
      return op.emitOpError("the GPU kernel would need up to ")
             << bytes << " bytes of shared memory at block-k "
             << options.blockK << ", more than the " << kMaxSharedBytes
             << " of a thread block; use a smaller block-k";
  }
  // The kernel evaluates the pattern's scalar predicate on partial tiles; a
  // pattern without code generation is refused here (never computed as if
  // every pair were allowed).
  return verifyPatternCodegen(op.getLoc(), op.getPattern(), op,
                              qT.getDimSize(2), kT.getDimSize(2));
}

std::string
mlir::sparse_attn::wgmmaUnsupported(Operation *operation,
                                    const SparseAttnToGPUOptions &options) {
  auto op = llvm::cast<AttentionOp>(operation);
  auto qT = llvm::cast<RankedTensorType>(op.getQuery().getType());
  auto vT = llvm::cast<RankedTensorType>(op.getValue().getType());
  if (options.warps != 4)
    return "warps = 4 (one warpgroup of 64 query rows), got " +
           std::to_string(options.warps);
  if (options.blockK % 64 != 0)
    return "block-k a multiple of 64, got " + std::to_string(options.blockK);
  int64_t d = qT.getDimSize(3), dv = vT.getDimSize(3);
  if (d % 64 != 0 || dv % 64 != 0 || dv > 256)
    return "D and Dv multiples of 64 (Dv at most 256), got D = " +
           std::to_string(d) + ", Dv = " + std::to_string(dv);
  auto [entries, words] = listSizes(op, options);
  int64_t bytes = planSharedMemory(/*wgmma=*/true, options.tma, 2,
                                   options.blockK, d, dv, entries, words)
                      .total;
  if (bytes > kMaxSharedBytes)
    return "Q, K and V tiles that fit in shared memory (" +
           std::to_string(bytes) + " bytes at block-k " +
           std::to_string(options.blockK) + ", more than " +
           std::to_string(kMaxSharedBytes) + ")";
  return "";
}

namespace {

/// Compressed-row tile lists of one kernel, host-side.
struct TileTables {
  std::vector<int32_t> fullOffsets, fullIndices, partialOffsets,
      partialIndices, order;
  /// With segment ids: per partial tile, 1 if the tile is full whenever all
  /// its query and key positions share one segment (checked at run time),
  /// else 0.
  std::vector<int32_t> partialFlags;
};

/// The tables for (BQ, BK) tiles: from the op's block_mask when it has these
/// tile sizes, else from the block analysis; every tile partial when the
/// pattern cannot be classified statically (per-head custom masks). The key
/// block that runs past Sk is moved to the partial list (its bound is
/// checked there), and `order` lists query blocks by decreasing work.
FailureOr<TileTables> buildTables(AttentionOp op, int64_t bq, int64_t bk) {
  auto qT = llvm::cast<RankedTensorType>(op.getQuery().getType());
  auto kT = llvm::cast<RankedTensorType>(op.getKey().getType());
  int64_t sq = qT.getDimSize(2), sk = kT.getDimSize(2);
  int64_t nq = ceilDivPositive(sq, bq), nk = ceilDivPositive(sk, bk);
  std::vector<TileKind> kinds, sameSegmentKinds;
  // The compile-time classification of `pattern` for (bq, bk) tiles; empty
  // when custom masks depend on batch or head (unknown per tile).
  auto classify = [&](SparsityPatternAttrInterface pattern)
      -> FailureOr<std::vector<TileKind>> {
    MaskInterpreter masks(op);
    PatternContext ctx(sq, sk);
    ctx.customMasks = &masks;
    SmallVector<FlatSymbolRefAttr> custom;
    pattern.collectCustomMasks(custom);
    if (llvm::any_of(custom, [&](FlatSymbolRefAttr m) {
          return masks.usesBatchOrHead(m);
        }))
      return std::vector<TileKind>();
    if (!numTiles(sq, sk, bq, bk))
      return op.emitOpError("too many tiles for the GPU lowering");
    BlockClassification c = classifyBlocks(pattern, ctx, bq, bk);
    if (masks.hadError())
      return failure();
    return std::move(c.kinds);
  };
  BlockMaskAttr mask = op.getBlockMaskAttr();
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
    FailureOr<std::vector<TileKind>> c = classify(op.getPattern());
    if (failed(c))
      return failure();
    kinds = c->empty() ? std::vector<TileKind>(nq * nk, TileKind::Partial)
                       : std::move(*c);
  }
  bool segmentTiles =
      op.getQuerySegmentIds() && impliesSameSegment(op.getPattern());
  if (segmentTiles) {
    // How each tile looks when its rows and columns share one segment.
    FailureOr<std::vector<TileKind>> c = classify(
        llvm::cast<SparsityPatternAttrInterface>(withoutSegments(op.getPattern())));
    if (failed(c))
      return failure();
    sameSegmentKinds = std::move(*c); // empty: unknown, no tile flagged
  }
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

/// The row-major view of `ptr` (a kernel argument) as a memref of `shape`:
/// `ptr` itself when the shape is static, else a bare pointer (memref<1 x
/// elt>) reinterpreted with its dynamic sizes: `sizes[0]` for dimension 0
/// (the batch), `sizes[1]` for any other (a sequence length).
Value viewAs(OpBuilder &b, Location loc, Value ptr, ArrayRef<int64_t> shape,
             ArrayRef<Value> sizes) {
  if (llvm::none_of(shape, ShapedType::isDynamic))
    return ptr;
  auto elt = llvm::cast<MemRefType>(ptr.getType()).getElementType();
  int64_t rank = shape.size();
  SmallVector<OpFoldResult> dims(rank), strides(rank);
  SmallVector<int64_t> staticStrides(rank);
  OpFoldResult stride = b.getIndexAttr(1);
  for (int64_t i = rank - 1; i >= 0; --i) {
    strides[i] = stride;
    std::optional<int64_t> c = getConstantIntValue(stride);
    staticStrides[i] = c ? *c : ShapedType::kDynamic;
    dims[i] = ShapedType::isDynamic(shape[i]) ? OpFoldResult(sizes[i ? 1 : 0])
                                              : b.getIndexAttr(shape[i]);
    std::optional<int64_t> d = getConstantIntValue(dims[i]);
    if (c && d)
      stride = b.getIndexAttr(*c * *d);
    else
      stride = arith::MulIOp::create(
                   b, loc, getValueOrCreateConstantIndexOp(b, loc, stride),
                   getValueOrCreateConstantIndexOp(b, loc, dims[i]))
                   .getResult();
  }
  auto type = MemRefType::get(
      shape, elt, StridedLayoutAttr::get(b.getContext(), 0, staticStrides));
  return memref::ReinterpretCastOp::create(b, loc, type, ptr,
                                           b.getIndexAttr(0), dims, strides);
}

/// Emits the kernel body. Everything the builders below need.
struct KernelBuilder {
  KernelBuilder(OpBuilder &b, Location loc, AttentionOp op)
      : b(b), loc(loc), op(op) {}
  OpBuilder &b;
  Location loc;
  AttentionOp op;
  Type elt, f32, i32;

  int64_t warps, bq, bk, d, dv, group;
  /// Sequence lengths: static (ShapedType::kDynamic when known only at run
  /// time, then sqV / skV hold them).
  int64_t sq, sk;
  Value sqV, skV;
  bool dynamicLengths() const {
    return ShapedType::isDynamic(sq) || ShapedType::isDynamic(sk);
  }
  Value queryLen() { return ShapedType::isDynamic(sq) ? sqV : idx(sq); }
  Value keyLen() { return ShapedType::isDynamic(sk) ? skV : idx(sk); }
  Value lastQuery() {
    return ShapedType::isDynamic(sq) ? arith::SubIOp::create(b, loc, sqV, idx(1))
                                     : idx(sq - 1);
  }
  Value lastKey() {
    return ShapedType::isDynamic(sk) ? arith::SubIOp::create(b, loc, skV, idx(1))
                                     : idx(sk - 1);
  }
  /// Whether the last key tile may run past Sk.
  bool raggedKeys() const { return ShapedType::isDynamic(sk) || sk % bk != 0; }
  /// ceil(Sk / n) (n > 0).
  Value keyBlocks(int64_t n) {
    if (!ShapedType::isDynamic(sk))
      return idx(ceilDivPositive(sk, n));
    return arith::DivUIOp::create(b, loc, addi(skV, n - 1), idx(n));
  }
  double scale;
  ScoreModOp scoreMod;
  ConstantGlobals *deviceGlobals;
  // Kernel arguments.
  Value q, k, v, qSeg, kSeg, out, lse, fullOff, fullIdx, partOff, partIdx,
      partFlags, order;
  /// Runtime block tables (FlexAttention's BlockMask tensors): counts
  /// [B', H', Mq] and indices [B', H', Mq, N] of the tables that may list a
  /// tile partially (kv) or fully (full; optional); table blocks of tbq x
  /// tbk positions; Hq query heads. `listedBits` (shared memory): one bit
  /// per table block, set when a table lists it for the thread block's
  /// query rows.
  Value kvNum, kvIdx, fullNum, fullTableIdx;
  int64_t tbq = 0, tbk = 0, hq = 0;
  Value listedBits;
  /// Dynamic shared memory: K tiles (two buffers), then V tiles (two).
  Value smem;
  MemRefType ksType, vsType;
  int64_t kTileBytes = 0, vTileBytes = 0;
  Value kView(Value buf) { return view(buf, 0, kTileBytes, ksType); }
  Value vView(Value buf) { return view(buf, 2 * kTileBytes, vTileBytes, vsType); }
  Value view(Value buf, int64_t base, int64_t bytes, MemRefType type) {
    Value shift = addi(muli(buf, bytes), base);
    return memref::ViewOp::create(b, loc, type, smem, shift, ValueRange{});
  }
  int64_t maxPartial = 0; // entries of tileCodes before the count slot

  //===--- mma=wgmma: operands in 128-byte-swizzled shared memory ---------===//
  // Layout (bytes from `aligned`, the first 1024-byte boundary of the
  // dynamic shared memory): Q [64 x D], two K tiles [BK x D], two V tiles
  // [BK x Dv] (P stays in registers). A [rows x width] tile is stored as width / 64
  // column blocks of [rows x 64] elements (128-byte rows); 16-byte chunk c
  // of row r sits at chunk c ^ (r % 8) (the hardware's 128-byte swizzle,
  // which XORs address bits 4-6 with bits 7-9, hence the 1024-byte
  // alignment). Q and K are read K-major, V MN-major (transposed).
  bool wgmma = false;
  /// K / V tiles by TMA (cp.async.bulk.tensor, 128-byte swizzle) into the
  /// same layout, thread 0 issuing, one mbarrier per buffer.
  bool tma = false;
  /// With tma: the next tile's Q K^T overlaps this tile's softmax.
  bool overlap = false;
  Value kMap, vMap;       // generic pointers to the CUtensorMaps
  int64_t mbarOff = 0;    // byte offset of the two mbarriers in `smem`
  Value tileBase;         // tiles loaded by earlier loops (mbarrier phases)
  Value aligned;     // byte offset of the aligned area in `smem` (index)
  Value alignedAddr; // its shared-window address (i64)
  int64_t qOff = 0, kOff = 0, vOff = 0;

  /// A 1-D view of `elements` elements at byte `offset` of the aligned area.
  Value flatView(Value offset, int64_t elements) {
    auto wg = gpu::AddressSpaceAttr::get(b.getContext(),
                                         gpu::AddressSpace::Workgroup);
    auto type = MemRefType::get({elements}, elt, MemRefLayoutAttrInterface(),
                                wg);
    return memref::ViewOp::create(b, loc, type, smem, add(aligned, offset),
                                  ValueRange{});
  }
  /// Element index of (row, col) in a swizzled [rows x width] tile; col is
  /// a multiple of 8 plus `within` (< 8).
  Value swizzledIndex(Value row, Value col, int64_t rows, Value within = {}) {
    Value block = arith::DivUIOp::create(b, loc, col, idx(64));
    Value chunk = arith::DivUIOp::create(
        b, loc, arith::RemUIOp::create(b, loc, col, idx(64)), idx(8));
    Value sw = arith::XOrIOp::create(
        b, loc, chunk, arith::RemUIOp::create(b, loc, row, idx(8)));
    Value e = add(add(muli(block, rows * 64), muli(row, 64)), muli(sw, 8));
    return within ? add(e, within) : e;
  }
  /// The wgmma shared-memory descriptor of a swizzled operand starting at
  /// byte `offset` of the aligned area: 128-byte swizzle, stride byte offset
  /// 1024 (eight 128-byte rows), leading byte offset `lbo` (K-major: unused;
  /// MN-major: the distance of 64-element column blocks).
  Value descriptor(Value offset, int64_t lbo) {
    auto i64 = b.getI64Type();
    auto c64 = [&](int64_t v) {
      return arith::ConstantIntOp::create(b, loc, i64, v);
    };
    Value addr = arith::AddIOp::create(
        b, loc, alignedAddr, arith::IndexCastOp::create(b, loc, i64, offset));
    Value start = arith::AndIOp::create(
        b, loc, arith::ShRUIOp::create(b, loc, addr, c64(4)), c64(0x3fff));
    int64_t fixed = ((lbo >> 4) << 16) | ((int64_t)(1024 >> 4) << 32) |
                    ((int64_t)1 << 62);
    return arith::OrIOp::create(b, loc, start, c64(fixed));
  }
  /// Issues S = Q K^T for the K tile in buffer `buf` as warpgroup MMAs (Q
  /// and K K-major: step kk reads 32 bytes into column block kk / 4) and
  /// commits them without waiting: the returned accumulator struct may only
  /// be read after a later wgmma.wait_group.
  Value issueScores(Value buf) {
    MLIRContext *ctx = b.getContext();
    auto structTy = LLVM::LLVMStructType::getLiteral(
        ctx, SmallVector<Type>(bk / 2, f32));
    Value acc = LLVM::UndefOp::create(b, loc, structTy);
    Value kBase = addi(muli(buf, bk * d * 2), kOff);
    NVVM::WgmmaFenceAlignedOp::create(b, loc);
    NVVM::WGMMATypes ty =
        elt.isF16() ? NVVM::WGMMATypes::f16 : NVVM::WGMMATypes::bf16;
    for (int64_t kk = 0; kk < d / 16; ++kk)
      acc = NVVM::WgmmaMmaAsyncOp::create(
          b, loc, structTy, acc,
          descriptor(idx(qOff + (kk / 4) * 64 * 128 + (kk % 4) * 32), 16),
          descriptor(addi(kBase, (kk / 4) * bk * 128 + (kk % 4) * 32), 16),
          NVVM::MMAShapeAttr::get(ctx, 64, bk, 16), ty, ty,
          NVVM::WGMMATypes::f32,
          kk ? NVVM::WGMMAScaleOut::one : NVVM::WGMMAScaleOut::zero,
          NVVM::WGMMAScaleIn::one, NVVM::WGMMAScaleIn::one,
          NVVM::MMALayout::row, NVVM::MMALayout::col,
          NVVM::MMAIntOverflowAttr());
    NVVM::WgmmaGroupSyncAlignedOp::create(b, loc);
    return acc;
  }
  SmallVector<Value> extractAll(Value structV, int64_t n) {
    SmallVector<Value> out;
    for (int64_t i = 0; i < n; ++i)
      out.push_back(
          LLVM::ExtractValueOp::create(b, loc, structV, ArrayRef<int64_t>{i}));
    return out;
  }

  /// wgmma + TMA: like pipelinedLoop, but the next tile's Q K^T runs on the
  /// tensor cores while this tile's softmax runs on the CUDA cores. K runs
  /// one tile ahead of V: iteration j waits for K of tile j + 1, issues
  /// S_{j+1} = Q K_{j+1}^T (not waited for), does the softmax of S_j, waits
  /// for V_j, issues O += P_j V_j and waits for both; meanwhile TMA loads
  /// K_{j+2} and V_{j+1}. Two K and two V buffers suffice: K_{j+2} replaces
  /// K_j (consumed by S_j, complete) and V_{j+1} replaces V_{j-1}.
  SmallVector<Value> overlappedLoop(Value n, function_ref<Value(Value)> kbAt,
                                    function_ref<Value(Value)> maskAt,
                                    bool masked, SmallVector<Value> state) {
    gpu::BarrierOp::create(b, loc); // readers of every buffer are done
    Value base = tileBase;
    tileBase = add(tileBase, n);
    auto ult = [&](Value x, Value y) {
      return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, y);
    };
    auto ifThen = [&](Value cond, function_ref<void()> body) {
      auto ifOp = scf::IfOp::create(b, loc, cond, /*else=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifOp.thenBlock());
      body();
    };
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
    ifThen(ult(j2, n), [&] {
      tmaLoad(kbAt(j2), bufOf(t), /*values=*/false);
    });
    ifThen(ult(j1, n), [&] {
      tmaLoad(kbAt(j1), bufOf(addi(t, 1)), /*values=*/true);
    });
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

  /// D (n / 2 f32 per thread, updated in place) += A B for one k16 step of
  /// a warpgroup MMA whose A comes from registers (four 32-bit registers of
  /// packed pairs, mma.sync's A layout per warp) and B, transposed (MN-major),
  /// from shared memory. The NVVM op takes A from shared memory only, so
  /// this is the PTX instruction as inline assembly (as the NVVM op itself
  /// lowers); the caller issues the fence, commit and wait.
  void wgmmaRegisterA(int64_t n, ArrayRef<Value> a, Value descB,
                      MutableArrayRef<Value> d) {
    MLIRContext *ctx = b.getContext();
    int64_t m = n / 2;
    std::string asmStr, constraints;
    llvm::raw_string_ostream os(asmStr), cs(constraints);
    os << "{\n.reg .pred p;\n.reg .b32 one;\nmov.b32 one, 1;\n"
          "setp.ne.b32 p, one, 0;\nwgmma.mma_async.sync.aligned.m64n"
       << n << "k16.f32." << (elt.isF16() ? "f16.f16" : "bf16.bf16") << " {";
    for (int64_t i = 0; i < m; ++i)
      os << (i ? ", " : "") << "$" << i;
    os << "}, {$" << 2 * m << ", $" << 2 * m + 1 << ", $" << 2 * m + 2
       << ", $" << 2 * m + 3 << "}, $" << 2 * m + 4 << ", p, 1, 1, 1;\n}";
    SmallVector<Value> operands;
    for (int64_t i = 0; i < m; ++i)
      cs << (i ? "," : "") << "=f";
    for (int64_t i = 0; i < m; ++i) {
      cs << "," << i; // tied to output i
      operands.push_back(d[i]);
    }
    for (Value r : a) {
      cs << ",r";
      if (r.getType() != i32) // f16: vector<2xf16>
        r = LLVM::BitcastOp::create(b, loc, i32, r);
      operands.push_back(r);
    }
    cs << ",l";
    operands.push_back(descB);
    auto structTy =
        LLVM::LLVMStructType::getLiteral(ctx, SmallVector<Type>(m, f32));
    auto op = LLVM::InlineAsmOp::create(
        b, loc, structTy, operands, b.getStringAttr(asmStr),
        b.getStringAttr(constraints), b.getUnitAttr(), UnitAttr(),
        LLVM::TailCallKindAttr(), LLVM::AsmDialectAttr::get(
                                      ctx, LLVM::AsmDialect::AD_ATT),
        ArrayAttr());
    for (int64_t i = 0; i < m; ++i)
      d[i] = LLVM::ExtractValueOp::create(b, loc, op.getResult(0),
                                          ArrayRef<int64_t>{i});
  }

  /// Makes this thread's shared-memory writes (cp.async, stores) visible to
  /// wgmma's asynchronous proxy.
  void fenceAsyncProxy() {
    NVVM::FenceProxyOp::create(
        b, loc,
        NVVM::ProxyKindAttr::get(b.getContext(), NVVM::ProxyKind::async_shared),
        NVVM::SharedSpaceAttr::get(b.getContext(),
                                   NVVM::SharedSpace::shared_cta));
  }
  /// An !llvm.ptr<3> to byte `offset` of the dynamic shared memory.
  Value sharedPtr(Value offset) {
    Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, smem);
    Value addr = arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                            add(base, offset));
    return LLVM::IntToPtrOp::create(
        b, loc, LLVM::LLVMPointerType::get(b.getContext(), 3), addr);
  }
  Value mbarrier(Value buf) { return sharedPtr(addi(muli(buf, 8), mbarOff)); }
  Value threadZero() {
    Value tid = add(muli(warp, 32), lane);
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, tid,
                                 idx(0));
  }
  Value i32v(Value index) {
    return arith::IndexCastOp::create(b, loc, b.getI32Type(), index);
  }
  /// With segmentSkip: the run-time class of each partial tile of the
  /// block's list (0 skip, 1 no mask, 2 mask), computed by all warps before
  /// the main loop; null when the list can be too long (then each tile is
  /// classified in the loop).
  Value tileCodes;
  /// The pattern implies "same segment": partial tiles whose query and key
  /// segment-id ranges do not overlap are skipped at run time.
  bool segmentSkip = false;
  Value qSegMin, qSegMax; // over the block's query rows (i64)
  Value qId0, qId1;       // segment ids of this thread's rows g and g + 8
  // Per-thread values.
  Value bIdx, hIdx, kvh, lane, g, t, warp, q0, row0, row1, row0c, row1c;

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value cf(double v) {
    return arith::ConstantFloatOp::create(b, loc, b.getF32Type(),
                                          APFloat((float)v));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value addi(Value x, int64_t c) { return c ? add(x, idx(c)) : x; }
  Value muli(Value x, int64_t c) { return mul(x, idx(c)); }
  Value fmul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value fadd(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value fsub(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value fmax(Value x, Value y) {
    return arith::MaximumFOp::create(b, loc, x, y);
  }
  Value ex2(Value x) {
    return LLVM::CallIntrinsicOp::create(
               b, loc, f32, b.getStringAttr("llvm.nvvm.ex2.approx.ftz.f32"),
                                         ValueRange{x})
        .getResult(0);
  }
  Value lg2(Value x) {
    return LLVM::CallIntrinsicOp::create(
               b, loc, f32, b.getStringAttr("llvm.nvvm.lg2.approx.ftz.f"),
                                         ValueRange{x})
        .getResult(0);
  }
  Value shuffleXor(Value x, int32_t offset) {
    return gpu::ShuffleOp::create(b, loc, x, offset, 32, gpu::ShuffleMode::XOR)
        .getShuffleResult();
  }
  /// The register type of one pair of input elements in an mma operand:
  /// vector<2xf16> for f16, i32 for bf16 (what nvvm.mma.sync takes).
  Value packVec(Value pair) { // pair: vector<2 x elt>
    if (elt.isF16())
      return pair;
    Value w = vector::BitCastOp::create(b, loc, VectorType::get({1}, i32), pair);
    return vector::ExtractOp::create(b, loc, w, ArrayRef<int64_t>{0});
  }
  Value packF32(Value x, Value y) {
    Value v = vector::FromElementsOp::create(
        b, loc, VectorType::get({2}, f32), ValueRange{x, y});
    v = arith::TruncFOp::create(b, loc, VectorType::get({2}, elt), v);
    return packVec(v);
  }
  /// Two consecutive elements at an even column (4-byte aligned: rows of
  /// D elements, D even, and 16-byte aligned buffers).
  Value loadPair(Value mem, ValueRange indices) {
    return packVec(vector::LoadOp::create(b, loc, VectorType::get({2}, elt),
                                          mem, indices, /*nontemporal=*/false,
                                          llvm::MaybeAlign(4)));
  }
  /// ldmatrix of `tiles` 8x8 matrices; lane l addresses row (row, col) of
  /// matrix l / 8. Returns one register per matrix.
  SmallVector<Value> ldmatrix(Value smem, Value row, Value col, int tiles,
                              bool transpose) {
    auto type = VectorType::get({tiles, 2}, elt);
    Value m = nvgpu::LdMatrixOp::create(b, loc, type, smem,
                                        ValueRange{row, col}, transpose, tiles);
    SmallVector<Value> regs;
    for (int i = 0; i < tiles; ++i)
      regs.push_back(packVec(
          vector::ExtractOp::create(b, loc, m, ArrayRef<int64_t>{i})));
    return regs;
  }
  /// c += a * b on one m16n8k16 tile.
  void mma(ArrayRef<Value> a, ArrayRef<Value> bb, MutableArrayRef<Value> c) {
    auto s = LLVM::LLVMStructType::getLiteral(b.getContext(),
                                              {f32, f32, f32, f32});
    NVVM::MMATypes ty =
        elt.isF16() ? NVVM::MMATypes::f16 : NVVM::MMATypes::bf16;
    Value r = NVVM::MmaOp::create(
        b, loc, s, a, bb, c, ArrayRef<int64_t>{16, 8, 16}, std::nullopt,
        std::nullopt, std::array<NVVM::MMATypes, 2>{ty, ty},
        std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                       NVVM::MMALayout::col});
    for (int i = 0; i < 4; ++i)
      c[i] = LLVM::ExtractValueOp::create(b, loc, r, ArrayRef<int64_t>{i});
  }

  /// allowed(b, h, q, k) of the pattern (with `k < Sk` when the last key
  /// block is ragged); positions are clamped into range for the loads the
  /// predicate may do.
  /// With segment ids, `qId` / `kId` are the ids of qPos / kPos, loaded
  /// once per row and per tile column by the caller.
  Value allowed(Value qPos, Value kPos, Value qId = {}, Value kId = {}) {
    Value kc = arith::MinUIOp::create(b, loc, kPos, lastKey());
    PatternCodegenInputs in;
    in.b = bIdx;
    in.h = hIdx;
    in.q = qPos;
    in.k = kc;
    in.sq = sq;
    in.sk = sk;
    in.symbolScope = op;
    in.querySegmentIds = qSeg;
    in.keySegmentIds = kSeg;
    auto qIdFn = [&](OpBuilder &, Location, Value, Value) { return qId; };
    auto kIdFn = [&](OpBuilder &, Location, Value, Value) { return kId; };
    if (qId && kId) {
      in.querySegment = qIdFn;
      in.keySegment = kIdFn;
    }
    auto load = [&](OpBuilder &b, Location loc, DenseIntElementsAttr table,
                    Value i, Value j) {
      return deviceGlobals->loadBoolTableEntry(b, loc, table, i, j);
    };
    in.loadTable = load;
    FailureOr<Value> a = buildAllowed(b, loc, op.getPattern(), in);
    // checkLowerableToGPU verified the predicate before anything was built.
    if (failed(a))
      llvm::report_fatal_error("sparse-attn: pattern code generation failed "
                               "after verifying it");
    Value ok = *a;
    if (raggedKeys())
      ok = arith::AndIOp::create(
          b, loc, ok,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, kPos,
                                keyLen()));
    return ok;
  }

  /// Starts copying the (K, V) tile of key block `kb` into shared buffer
  /// `buf` (cp.async; the caller commits and waits). Rows past Sk are
  /// clamped to the last row (masked later).
  /// TMA of the K (`values` false) or V tile of key block `kb` into buffer
  /// `buf`: thread 0 expects the bytes on that buffer's mbarrier (K: 0, 1;
  /// V: 2, 3), then issues one box of [BK rows x 64 columns] per 64-column
  /// block.
  void tmaLoad(Value kb, Value buf, bool values) {
    auto ifOp = scf::IfOp::create(b, loc, threadZero(), /*else=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    Value bar = mbarrier(values ? addi(buf, 2) : buf);
    int64_t width = values ? dv : d;
    NVVM::MBarrierArriveExpectTxOp::create(
        b, loc, Type(), bar,
        arith::ConstantIntOp::create(b, loc, i32, bk * width * 2),
        NVVM::MemScopeKind::CTA, /*relaxed=*/false, Value());
    Value k0 = i32v(muli(kb, bk));
    Value map = values ? vMap : kMap;
    int64_t off = values ? vOff : kOff;
    for (int64_t cb = 0; cb < width / 64; ++cb) {
      // The CTA's own shared::cta address, as a shared::cluster one.
      Value dst = LLVM::AddrSpaceCastOp::create(
          b, loc, LLVM::LLVMPointerType::get(b.getContext(), 7),
          sharedPtr(add(aligned,
                        addi(muli(buf, bk * width * 2), off + cb * bk * 128))));
      NVVM::CpAsyncBulkTensorGlobalToSharedClusterOp::create(
          b, loc, dst, map,
          ValueRange{arith::ConstantIntOp::create(b, loc, i32, cb * 64), k0,
                     i32v(kvh), i32v(bIdx)},
          bar, ValueRange{}, Value(), Value(), NVVM::TMALoadMode::TILE,
          /*isCTAOnly=*/false, NVVM::CTAGroupKindAttr(), Value());
    }
  }
  /// Waits until the K (or V) tile number `t` of the block (counted over
  /// all its loops) has landed in buffer t % 2: phase parity (t / 2) % 2 of
  /// that buffer's mbarrier.
  void tmaWait(Value t, bool values) {
    Value buf = arith::RemUIOp::create(b, loc, t, idx(2));
    Value parity = i32v(arith::RemUIOp::create(
        b, loc, arith::DivUIOp::create(b, loc, t, idx(2)), idx(2)));
    NVVM::MBarrierTryWaitParityOp::create(
        b, loc, mbarrier(values ? addi(buf, 2) : buf), parity,
        arith::ConstantIntOp::create(b, loc, i32, 0x989680));
  }

  void loadTile(Value kb, Value buf) {
    if (tma) {
      tmaLoad(kb, buf, /*values=*/false);
      tmaLoad(kb, buf, /*values=*/true);
      return;
    }
    if (wgmma) {
      Value k0 = muli(kb, bk);
      copyRows(k, k0, flatView(addi(muli(buf, bk * d * 2), kOff), bk * d),
               bk, d, /*kv=*/true);
      copyRows(v, k0,
               flatView(addi(muli(buf, bk * dv * 2), vOff), bk * dv), bk, dv,
               /*kv=*/true);
      return;
    }
    Value ks = kView(buf), vs = vView(buf);
    int64_t threads = 32 * warps;
    Value k0 = muli(kb, bk);
    Value tid = add(muli(warp, 32), lane);
    auto copy = [&](Value src, Value dst, int64_t width) {
      int64_t chunksPerRow = width / 8;
      int64_t total = bk * chunksPerRow;
      for (int64_t i = 0; i < total; i += threads) {
        Value c = addi(tid, i);
        auto body = [&](OpBuilder &, Location) {
          Value r = arith::DivUIOp::create(b, loc, c, idx(chunksPerRow));
          Value col = muli(arith::RemUIOp::create(b, loc, c, idx(chunksPerRow)),
                           8);
          Value gr = arith::MinUIOp::create(b, loc, add(k0, r), lastKey());
          nvgpu::DeviceAsyncCopyOp::create(
              b, loc, dst, ValueRange{r, col}, src,
              ValueRange{bIdx, kvh, gr, col}, b.getIndexAttr(8),
              pastEndZeroFill(/*kv=*/true, add(k0, r), bk),
              /*bypassL1=*/b.getUnitAttr());
        };
        if (i + threads <= total) {
          body(b, loc);
        } else {
          Value inRange = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::ult, c, idx(total));
          auto ifOp = scf::IfOp::create(b, loc, inRange, /*else=*/false);
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(ifOp.thenBlock());
          body(b, loc);
        }
      }
    };
    copy(k, ks, d);
    copy(v, vs, dv);
  }

  /// The source-element count of a cp.async of 8 elements of key / value
  /// row `row`: 0 past the sequence end (the copy zero-fills the shared
  /// row, so a key past Sk contributes exactly nothing to the tile
  /// products, whatever the clamped source row holds), none (a full copy)
  /// when the sequence is a whole number of tiles or for query rows.
  Value pastEndZeroFill(bool kv, Value row, int64_t rows) {
    if (!kv || (!ShapedType::isDynamic(sk) && sk % rows == 0))
      return Value();
    Value inside =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row, keyLen());
    return arith::SelectOp::create(b, loc, inside, idx(8), idx(0));
  }

  /// cp.async of rows [r0, r0 + rows) (clamped to the sequence) of `src`
  /// (K or V at [b, kv head], else Q at [b, h]) into a swizzled tile.
  void copyRows(Value src, Value r0, Value dst, int64_t rows, int64_t width,
                bool kv) {
    int64_t threads = 32 * warps;
    Value tid = add(muli(warp, 32), lane);
    int64_t chunksPerRow = width / 8;
    int64_t total = rows * chunksPerRow;
    for (int64_t i = 0; i < total; i += threads) {
      Value c = addi(tid, i);
      auto body = [&]() {
        Value r = arith::DivUIOp::create(b, loc, c, idx(chunksPerRow));
        Value col =
            muli(arith::RemUIOp::create(b, loc, c, idx(chunksPerRow)), 8);
        Value gr = arith::MinUIOp::create(b, loc, add(r0, r),
                                          kv ? lastKey() : lastQuery());
        nvgpu::DeviceAsyncCopyOp::create(
            b, loc, dst, ValueRange{swizzledIndex(r, col, rows)}, src,
            ValueRange{bIdx, kv ? kvh : hIdx, gr, col}, b.getIndexAttr(8),
            pastEndZeroFill(kv, add(r0, r), rows),
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

  /// Commits the copies issued since the last commit (possibly none) as one
  /// group; returns its token.
  Value commit() {
    auto tokenTy = nvgpu::DeviceAsyncTokenType::get(b.getContext());
    return nvgpu::DeviceAsyncCreateGroupOp::create(b, loc, tokenTy,
                                                   ValueRange{});
  }

  /// One key tile: updates the running state `st` = [m0, m1, l0, l1, O...].
  /// With `masked`, the pattern's mask is applied to the scores; only when
  /// the i1 `maskIf` holds if it is given (a run-time choice that shares
  /// one copy of the tile's code between masked and unmasked tiles).
  /// The tile's K and V are in shared buffer `buf`.
  void tile(Value kb, Value buf, bool masked, Value maskIf,
            ArrayRef<Value> qFrag, SmallVector<Value> &st,
            ArrayRef<Value> sIn = {}, function_ref<void()> afterScores = {},
            function_ref<void()> beforeValues = {}) {
    int64_t nTiles = bk / 8;
    Value k0 = muli(kb, bk);
    // S = Q K^T (or given: the overlapped loop computed it already).
    SmallVector<Value> s(nTiles * 4, cf(0.0));
    int64_t kSteps = d / 16;
    Value ks, vs;
    if (!sIn.empty()) {
      s.assign(sIn.begin(), sIn.end());
    } else if (wgmma) {
      Value acc = issueScores(buf);
      NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);
      s = extractAll(acc, bk / 2);
    } else {
      ks = kView(buf);
      vs = vView(buf);
    }
    Value rowInTile = arith::RemUIOp::create(b, loc, lane, idx(8));
    Value colGroup = arith::DivUIOp::create(b, loc, lane, idx(8));
    for (int64_t n = 0; !wgmma && n < nTiles; ++n) {
      Value row = addi(rowInTile, n * 8);
      for (int64_t kk = 0; kk < kSteps;) {
        bool two = kk + 1 < kSteps;
        Value col = add(muli(colGroup, 8), idx(kk * 16));
        SmallVector<Value> regs = ldmatrix(ks, row, col, two ? 4 : 2, false);
        for (int64_t step = 0; step < (two ? 2 : 1); ++step) {
          ArrayRef<Value> a = qFrag.slice((kk + step) * 4, 4);
          mma(a, {regs[step * 2], regs[step * 2 + 1]},
              MutableArrayRef<Value>(s).slice(n * 4, 4));
        }
        kk += two ? 2 : 1;
      }
    }
    if (afterScores)
      afterScores();
    // Scale, score_mod, mask; into the base-2 domain.
    const double log2e = 1.4426950408889634;
    Value negInf = cf(-std::numeric_limits<double>::infinity());
    Value scaleAll = cf(scoreMod ? scale : scale * log2e);
    Value log2eV = cf(log2e);
    auto kPosOf = [&](int64_t n, int64_t e) {
      return add(k0, addi(muli(t, 2), n * 8 + (e & 1)));
    };
    for (int64_t n = 0; n < nTiles; ++n)
      for (int64_t e = 0; e < 4; ++e) {
        Value &x = s[n * 4 + e];
        x = fmul(x, scaleAll);
        if (!scoreMod)
          continue;
        Value qPos = e < 2 ? row0c : row1c;
        x = inlineRegion(b, scoreMod.getBody(),
                         {x, bIdx, hIdx, qPos,
                          arith::MinUIOp::create(b, loc, kPosOf(n, e),
                                                 lastKey())})
                .front();
        x = fmul(x, log2eV);
      }
    auto applyMask = [&](SmallVector<Value> &s) {
      for (int64_t n = 0; n < nTiles; ++n)
        for (int64_t par = 0; par < 2; ++par) {
          Value kPos = kPosOf(n, par);
          Value kId;
          if (qSeg) // one load per column, shared by both rows
            kId = memref::LoadOp::create(
                b, loc, kSeg,
                ValueRange{bIdx,
                           arith::MinUIOp::create(b, loc, kPos, lastKey())});
          for (int64_t half = 0; half < 2; ++half) {
            Value &x = s[n * 4 + 2 * half + par];
            Value ok = allowed(half ? row1c : row0c, kPos,
                               half ? qId1 : qId0, kId);
            x = arith::SelectOp::create(b, loc, ok, x, negInf);
          }
        }
    };
    if (masked && !maskIf) {
      applyMask(s);
    } else if (masked) {
      auto ifOp = scf::IfOp::create(b, loc, TypeRange(ValueRange(s)), maskIf,
                                    /*withElseRegion=*/true);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifOp.thenBlock());
      SmallVector<Value> inner = s;
      applyMask(inner);
      scf::YieldOp::create(b, loc, inner);
      b.setInsertionPointToStart(ifOp.elseBlock());
      scf::YieldOp::create(b, loc, s);
      b.setInsertionPointAfter(ifOp);
      s.assign(ifOp.getResults().begin(), ifOp.getResults().end());
    }
    // Online softmax, rows g (elements 0, 1) and g + 8 (elements 2, 3).
    Value zero = cf(0.0);
    int64_t nOut = dv / 8;
    for (int half = 0; half < 2; ++half) {
      Value mx = st[half];
      for (int64_t n = 0; n < nTiles; ++n)
        mx = fmax(mx, fmax(s[n * 4 + 2 * half], s[n * 4 + 2 * half + 1]));
      mx = fmax(mx, shuffleXor(mx, 1));
      mx = fmax(mx, shuffleXor(mx, 2));
      // Nothing allowed so far: keep exponents finite (2^(-inf - 0) = 0).
      Value isInf = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, mx,
                                          negInf);
      Value base = arith::SelectOp::create(b, loc, isInf, zero, mx);
      Value alpha = ex2(fsub(st[half], base));
      Value sum = zero;
      for (int64_t n = 0; n < nTiles; ++n)
        for (int e = 0; e < 2; ++e) {
          Value &x = s[n * 4 + 2 * half + e];
          x = ex2(fsub(x, base));
          sum = fadd(sum, x);
        }
      st[2 + half] = fadd(fmul(st[2 + half], alpha), sum);
      st[half] = mx;
      for (int64_t n = 0; n < nOut; ++n)
        for (int e = 0; e < 2; ++e) {
          Value &o = st[4 + n * 4 + 2 * half + e];
          o = fmul(o, alpha);
        }
    }
    // O += P V.
    if (wgmma) {
      // P stays in registers: the accumulator layout of two adjacent n8
      // column tiles is the A-register layout of one k16 step (as for
      // mma.sync). V is read MN-major (transposed) from shared memory; step
      // kk covers keys 16 kk .. 16 kk + 15.
      if (beforeValues)
        beforeValues();
      Value vBase = addi(muli(buf, bk * dv * 2), vOff);
      SmallVector<Value> o(st.begin() + 4, st.begin() + 4 + dv / 2);
      // Every A register is written before the fence (wgmma must not read
      // registers written after the last wgmma.fence).
      SmallVector<SmallVector<Value>> a;
      SmallVector<Value> descs;
      for (int64_t kk = 0; kk < bk / 16; ++kk) {
        a.push_back({packF32(s[(2 * kk) * 4 + 0], s[(2 * kk) * 4 + 1]),
                     packF32(s[(2 * kk) * 4 + 2], s[(2 * kk) * 4 + 3]),
                     packF32(s[(2 * kk + 1) * 4 + 0], s[(2 * kk + 1) * 4 + 1]),
                     packF32(s[(2 * kk + 1) * 4 + 2], s[(2 * kk + 1) * 4 + 3])});
        descs.push_back(descriptor(addi(vBase, kk * 16 * 128), bk * 128));
      }
      NVVM::WgmmaFenceAlignedOp::create(b, loc);
      for (int64_t kk = 0; kk < bk / 16; ++kk)
        wgmmaRegisterA(dv, a[kk], descs[kk], o);
      NVVM::WgmmaGroupSyncAlignedOp::create(b, loc);
      NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);
      for (int64_t i = 0; i < dv / 2; ++i)
        st[4 + i] = o[i];
      return;
    }
    Value vRow = arith::RemUIOp::create(b, loc, lane, idx(16));
    Value vColGroup = arith::DivUIOp::create(b, loc, lane, idx(16));
    for (int64_t j = 0; j < bk / 16; ++j) {
      SmallVector<Value> a = {
          packF32(s[(2 * j) * 4 + 0], s[(2 * j) * 4 + 1]),
          packF32(s[(2 * j) * 4 + 2], s[(2 * j) * 4 + 3]),
          packF32(s[(2 * j + 1) * 4 + 0], s[(2 * j + 1) * 4 + 1]),
          packF32(s[(2 * j + 1) * 4 + 2], s[(2 * j + 1) * 4 + 3])};
      Value row = addi(vRow, j * 16);
      for (int64_t n = 0; n < nOut; n += 2) {
        Value col = add(muli(vColGroup, 8), idx(n * 8));
        SmallVector<Value> regs = ldmatrix(vs, row, col, 4, true);
        mma(a, {regs[0], regs[1]},
            MutableArrayRef<Value>(st).slice(4 + n * 4, 4));
        mma(a, {regs[2], regs[3]},
            MutableArrayRef<Value>(st).slice(4 + (n + 1) * 4, 4));
      }
    }
  }

  /// Min and max (i64) of `mem[b, pos]` over pos in [lo, lo + count),
  /// clamped to the last position `last`; every warp computes it.
  std::pair<Value, Value> segmentRange(Value mem, Value lo, int64_t count,
                                       int64_t last) {
    auto i64 = b.getI64Type();
    Value mn, mx;
    for (int64_t i = 0; i < count; i += 32) {
      Value pos = arith::MinUIOp::create(b, loc, add(lo, addi(lane, i)),
                                         idx(last));
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

  /// The run-time class of partial tile `listIdx` (key block `kb`): 0 when
  /// the query and key segment-id ranges are disjoint (skip), 1 when all
  /// positions share one segment and the tile is full within a segment (no
  /// mask), else 2.
  Value classifyTile(Value listIdx, Value kb) {
    auto [kMin, kMax] = segmentRange(kSeg, muli(kb, bk), bk, sk - 1);
    return classifyTile(listIdx, kMin, kMax);
  }
  Value classifyTile(Value listIdx, Value kMin, Value kMax) {
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
    Value unmasked = arith::AndIOp::create(b, loc, oneSegment,
                                           cmp(P::ne, flag, zero));
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
  void classifyPartialTiles(Value qb) {
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
          Value v = vector::LoadOp::create(b, loc, vecTy, kSeg,
                                           ValueRange{bIdx, addi(k0, j)},
                                           /*nontemporal=*/false,
                                           llvm::MaybeAlign(16));
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
        memref::StoreOp::create(
            b, loc, code, tileCodes,
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

  /// Compacts tileCodes in place (warp 0, one ballot per 32 entries, in
  /// list order): entry j becomes 2 * key block + (needs mask) for the
  /// tiles not skipped, and the count goes to slot maxPartial.
  void compactPartialTiles(Value lo, Value n) {
    Value first =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, warp, idx(0));
    auto ifWarp = scf::IfOp::create(b, loc, first, /*else=*/false);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifWarp.thenBlock());
      auto loop = scf::ForOp::create(b, loc, idx(0), n, idx(32),
                                     ValueRange{idx(0)});
      {
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(loop.getBody());
        Value base = loop.getRegionIterArgs()[0];
        Value j = add(loop.getInductionVar(), lane);
        Value inList =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, j, n);
        Value zero = arith::ConstantIntOp::create(b, loc, i32, 0);
        Value jc = arith::SelectOp::create(b, loc, inList, j, idx(0));
        Value code = arith::SelectOp::create(
            b, loc, inList, memref::LoadOp::create(b, loc, tileCodes, jc),
            zero);
        Value keep =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, code, zero);
        Value all = arith::ConstantIntOp::create(b, loc, i32, -1);
        Value ballot = NVVM::VoteSyncOp::create(b, loc, i32, all, keep,
                                                NVVM::VoteSyncKind::ballot);
        Value laneI32 = arith::IndexCastOp::create(b, loc, i32, lane);
        Value below = arith::SubIOp::create(
            b, loc,
            arith::ShLIOp::create(b, loc,
                                  arith::ConstantIntOp::create(b, loc, i32, 1),
                                  laneI32),
            arith::ConstantIntOp::create(b, loc, i32, 1));
        auto popc = [&](Value x) -> Value {
          Value c = LLVM::CtPopOp::create(b, loc, i32, x);
          return arith::IndexCastOp::create(b, loc, b.getIndexType(), c);
        };
        Value pos = add(base, popc(arith::AndIOp::create(b, loc, ballot, below)));
        auto ifKeep = scf::IfOp::create(b, loc, keep, /*else=*/false);
        {
          OpBuilder::InsertionGuard g3(b);
          b.setInsertionPointToStart(ifKeep.thenBlock());
          Value kb = memref::LoadOp::create(b, loc, partIdx, add(lo, jc));
          Value needMask = arith::ExtUIOp::create(
              b, loc, i32,
              arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::eq, code,
                  arith::ConstantIntOp::create(b, loc, i32, 2)));
          Value entry = arith::OrIOp::create(
              b, loc,
              arith::ShLIOp::create(
                  b, loc, kb, arith::ConstantIntOp::create(b, loc, i32, 1)),
              needMask);
          memref::StoreOp::create(b, loc, entry, tileCodes, pos);
        }
        scf::YieldOp::create(b, loc, ValueRange{add(base, popc(ballot))});
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

  /// Runs the tiles j = 0 .. n - 1 (key block kbAt(j)) with the copy of
  /// tile j + 1 in flight while tile j computes (two shared buffers, one
  /// barrier per tile). `maskAt(j)` (if set) chooses the mask at run time;
  /// `runAt(j)` (if set) skips tiles whose result it is false for.
  SmallVector<Value> pipelinedLoop(Value n, function_ref<Value(Value)> kbAt,
                                   function_ref<Value(Value)> maskAt,
                                   function_ref<Value(Value)> runAt,
                                   bool masked, ArrayRef<Value> qFrag,
                                   SmallVector<Value> state) {
    // Readers of both buffers (a previous loop) are done.
    gpu::BarrierOp::create(b, loc);
    // Tile j of this loop is tile t = base + j of the block: buffer t % 2,
    // the (t / 2)-th use of that buffer (its mbarrier's phase parity).
    Value base = tileBase;
    tileBase = add(tileBase, n);
    Value any = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, n,
                                      idx(0));
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
      nvgpu::DeviceAsyncWaitOp::create(b, loc, commit(),
                                       b.getI32IntegerAttr(0));
      if (wgmma)
        fenceAsyncProxy();
    }
    gpu::BarrierOp::create(b, loc);
    Value next = addi(j, 1);
    {
      Value more = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                         next, n);
      auto ifOp = scf::IfOp::create(b, loc, more, /*else=*/false);
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(ifOp.thenBlock());
      loadTile(kbAt(next), arith::SubIOp::create(b, loc, idx(1), buf));
    }
    commit();
    Value kb = kbAt(j);
    Value mask = maskAt ? maskAt(j) : Value();
    if (runAt) {
      auto ifOp = scf::IfOp::create(b, loc, TypeRange(ValueRange(st)),
                                    runAt(j), /*withElseRegion=*/true);
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
    return SmallVector<Value>(loop.getResults().begin(),
                              loop.getResults().end());
  }

  /// The tiles of query block `qb` in the compressed-row table (offsets,
  /// indices): full tiles unmasked, partial tiles masked (document masks:
  /// classified and compacted first, or classified in the loop).
  SmallVector<Value> tileLoop(Value offsets, Value indices, Value qb,
                              bool masked, ArrayRef<Value> qFrag,
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
    auto i32c = [&](int64_t v) {
      return arith::ConstantIntOp::create(b, loc, i32, v);
    };
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
      return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne,
                                   codeAt(j), i32c(0));
    };
    auto maskAt = [&](Value j) -> Value {
      return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                   codeAt(j), i32c(2));
    };
    return pipelinedLoop(n, tableKb, maskAt, runAt, masked, qFrag, state);
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
  void buildRuntimeTileList(Value qb, Value c0) {
    int64_t threads = 32 * warps;
    Value tid = add(muli(warp, 32), lane);
    auto i32c = [&](int64_t v) {
      return arith::ConstantIntOp::create(b, loc, i32, v).getResult();
    };
    auto toIndex = [&](Value x) -> Value {
      return arith::IndexCastOp::create(b, loc, b.getIndexType(), x);
    };
    auto toI32 = [&](Value x) -> Value {
      return arith::IndexCastOp::create(b, loc, i32, x);
    };
    auto strided = [&](Value from, Value to, int64_t step,
                       function_ref<void(Value)> body) {
      auto loop = scf::ForOp::create(b, loc, from, to, idx(step));
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      body(loop.getInductionVar());
    };
    int64_t perBlock = kvNum ? tbk / bk : 1; // key tiles per table block
    // The chunk's table blocks: [t0, t0 + 32 words).
    Value t0;
    if (kvNum) {
      int64_t words =
          llvm::cast<MemRefType>(listedBits.getType()).getDimSize(0);
      t0 = toI32(arith::DivUIOp::create(b, loc, c0, idx(perBlock)));
      Value tableBlocks = toI32(keyBlocks(tbk));
      strided(tid, idx(words), threads, [&](Value w) {
        memref::StoreOp::create(b, loc, i32c(0), listedBits, w);
      });
      gpu::BarrierOp::create(b, loc);
      // The tables' row for (b, h, qb): b' = b unless B' = 1; h' = h, the
      // KV head, or 0 for H' = Hq, Hkv, 1 (Hq first when Hq = Hkv). A
      // query block past the tables' Mq (a longer run-time Sq) lists
      // nothing.
      auto shape = llvm::cast<MemRefType>(kvNum.getType()).getShape();
      Value bRow = shape[0] == 1 ? idx(0) : bIdx;
      Value hRow = shape[1] == 1 ? idx(0) : shape[1] == hq ? hIdx : kvh;
      Value row = arith::DivUIOp::create(b, loc, qb, idx(tbq / bq));
      Value rowListed;
      if (ShapedType::isDynamic(sq))
        rowListed = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                          row, idx(shape[2]));
      for (auto table : {std::pair(kvNum, kvIdx),
                         std::pair(fullNum, fullTableIdx)}) {
        // Plain variables: the loop body's lambda captures them.
        Value num = table.first, indices = table.second;
        if (!num)
          continue;
        int64_t n = llvm::cast<MemRefType>(indices.getType()).getDimSize(3);
        Value safeRow =
            rowListed ? arith::SelectOp::create(b, loc, rowListed, row, idx(0))
                            .getResult()
                      : row;
        Value count = memref::LoadOp::create(b, loc, num,
                                             ValueRange{bRow, hRow, safeRow});
        count = arith::MinSIOp::create(
            b, loc, arith::MaxSIOp::create(b, loc, count, i32c(0)), i32c(n));
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
          Value bit = arith::ShLIOp::create(
              b, loc, i32c(1), arith::AndIOp::create(b, loc, rel, i32c(31)));
          Value word = toIndex(arith::ShRUIOp::create(b, loc, rel, i32c(5)));
          memref::AtomicRMWOp::create(b, loc, arith::AtomicRMWKind::ori, bit,
                                      listedBits, ValueRange{word});
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
      auto loop = scf::ForOp::create(b, loc, c0, end, idx(32),
                                     ValueRange{idx(0)});
      {
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(loop.getBody());
        Value base = loop.getRegionIterArgs()[0];
        Value kbRaw = add(loop.getInductionVar(), lane);
        Value inList = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                             kbRaw, end);
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
            arith::MinUIOp::create(b, loc, addi(k0, bk), keyLen())};
        FailureOr<TileKindValues> kind =
            buildTileKind(b, loc, op.getPattern(), bounds);
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
        Value all = i32c(-1);
        Value ballot = NVVM::VoteSyncOp::create(b, loc, i32, all, keep,
                                                NVVM::VoteSyncKind::ballot);
        Value below = arith::SubIOp::create(
            b, loc, arith::ShLIOp::create(b, loc, i32c(1), toI32(lane)),
            i32c(1));
        auto popc = [&](Value x) -> Value {
          return toIndex(LLVM::CtPopOp::create(b, loc, i32, x));
        };
        Value pos =
            add(base, popc(arith::AndIOp::create(b, loc, ballot, below)));
        auto ifKeep = scf::IfOp::create(b, loc, keep, /*else=*/false);
        {
          OpBuilder::InsertionGuard g3(b);
          b.setInsertionPointToStart(ifKeep.thenBlock());
          Value entry = arith::OrIOp::create(
              b, loc, arith::ShLIOp::create(b, loc, toI32(kbi), i32c(1)),
              arith::ExtUIOp::create(b, loc, i32, needMask));
          memref::StoreOp::create(b, loc, entry, tileCodes, pos);
        }
        scf::YieldOp::create(b, loc, ValueRange{add(base, popc(ballot))});
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

  /// The key tiles of query block `qb` from device-built lists: one chunk
  /// of maxPartial tiles when the list holds every key tile, else a loop
  /// over chunks (the state and the count of loaded tiles carried).
  SmallVector<Value> runtimeTileLoop(Value qb, ArrayRef<Value> qFrag,
                                     SmallVector<Value> state) {
    if (!ShapedType::isDynamic(sk) && ceilDivPositive(sk, bk) <= maxPartial) {
      buildRuntimeTileList(qb, idx(0));
      return compactedLoop(/*masked=*/true, qFrag, state);
    }
    SmallVector<Value> init = state;
    init.push_back(tileBase);
    auto loop = scf::ForOp::create(b, loc, idx(0), keyBlocks(bk),
                                   idx(maxPartial), init);
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
  SmallVector<Value> compactedLoop(bool masked, ArrayRef<Value> qFrag,
                                   SmallVector<Value> state) {
    auto i32c = [&](int64_t v) {
      return arith::ConstantIntOp::create(b, loc, i32, v);
    };
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
    return overlap
               ? overlappedLoop(count, kbAt, maskAt, masked, state)
               : pipelinedLoop(count, kbAt, maskAt, {}, masked, qFrag, state);
  }

  void body() {
    i32 = b.getI32Type();
    Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    warp = arith::DivUIOp::create(b, loc, tid, idx(32));
    lane = arith::RemUIOp::create(b, loc, tid, idx(32));
    g = arith::DivUIOp::create(b, loc, lane, idx(4));
    t = arith::RemUIOp::create(b, loc, lane, idx(4));
    Value slot = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
    hIdx = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
    bIdx = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
    kvh = arith::DivUIOp::create(b, loc, hIdx, idx(group));
    // Query blocks by decreasing work (compile-time tables), or last first
    // (device-built lists: under causal-like patterns later rows have more
    // keys, and the longest blocks should not start last).
    Value qb;
    if (order)
      qb = arith::IndexCastOp::create(
          b, loc, b.getIndexType(), memref::LoadOp::create(b, loc, order, slot));
    else
      qb = arith::SubIOp::create(
          b, loc,
          arith::SubIOp::create(
              b, loc, gpu::GridDimOp::create(b, loc, gpu::Dimension::x),
              slot),
          idx(1));
    q0 = muli(qb, bq);
    row0 = add(add(q0, muli(warp, 16)), g);
    row1 = addi(row0, 8);
    row0c = arith::MinUIOp::create(b, loc, row0, lastQuery());
    row1c = arith::MinUIOp::create(b, loc, row1, lastQuery());

    // Q fragments for every k16 step of D (wgmma: Q in shared memory).
    SmallVector<Value> qFrag;
    if (wgmma) {
      Value addr = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, smem);
      Value mod = arith::RemUIOp::create(b, loc, addr, idx(1024));
      aligned = arith::RemUIOp::create(
          b, loc, arith::SubIOp::create(b, loc, idx(1024), mod), idx(1024));
      alignedAddr = arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                               add(addr, aligned));
      copyRows(q, q0, flatView(idx(qOff), 64 * d), 64, d, /*kv=*/false);
      if (tma) { // one arrival (thread 0's arrive.expect_tx) per phase
        auto ifOp = scf::IfOp::create(b, loc, threadZero(), /*else=*/false);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(ifOp.thenBlock());
        for (int64_t i = 0; i < 4; ++i)
          NVVM::MBarrierInitOp::create(
              b, loc, mbarrier(idx(i)),
              arith::ConstantIntOp::create(b, loc, i32, 1), Value());
        // The tensor maps were written to global memory by a host copy:
        // acquire them for the tensormap proxy before the first TMA (the
        // issuing thread's view is what matters).
        for (Value map : {kMap, vMap})
          NVVM::FenceProxyAcquireOp::create(
              b, loc,
              NVVM::MemScopeKindAttr::get(b.getContext(),
                                          NVVM::MemScopeKind::SYS),
              map, arith::ConstantIntOp::create(b, loc, i32, 128),
              NVVM::ProxyKindAttr::get(b.getContext(),
                                       NVVM::ProxyKind::GENERIC),
              NVVM::ProxyKindAttr::get(b.getContext(),
                                       NVVM::ProxyKind::TENSORMAP));
      }
      nvgpu::DeviceAsyncWaitOp::create(b, loc, commit(),
                                       b.getI32IntegerAttr(0));
      fenceAsyncProxy();
      gpu::BarrierOp::create(b, loc);
    }
    for (int64_t kk = 0; !wgmma && kk < d / 16; ++kk) {
      Value c0 = add(muli(t, 2), idx(kk * 16));
      Value c1 = addi(c0, 8);
      qFrag.push_back(loadPair(q, {bIdx, hIdx, row0c, c0}));
      qFrag.push_back(loadPair(q, {bIdx, hIdx, row1c, c0}));
      qFrag.push_back(loadPair(q, {bIdx, hIdx, row0c, c1}));
      qFrag.push_back(loadPair(q, {bIdx, hIdx, row1c, c1}));
    }
    Value negInf = cf(-std::numeric_limits<double>::infinity());
    Value zero = cf(0.0);
    SmallVector<Value> state = {negInf, negInf, zero, zero};
    state.append(dv / 8 * 4, zero);
    if (qSeg) {
      qId0 = memref::LoadOp::create(b, loc, qSeg, ValueRange{bIdx, row0c});
      qId1 = memref::LoadOp::create(b, loc, qSeg, ValueRange{bIdx, row1c});
    }
    if (segmentSkip) {
      std::tie(qSegMin, qSegMax) = segmentRange(qSeg, q0, bq, sq - 1);
      if (tileCodes)
        classifyPartialTiles(qb);
    }
    tileBase = idx(0);
    if (!fullOff) { // a device-built tile list
      state = runtimeTileLoop(qb, qFrag, state);
    } else {
      state = tileLoop(fullOff, fullIdx, qb, /*masked=*/false, qFrag, state);
      state = tileLoop(partOff, partIdx, qb, /*masked=*/true, qFrag, state);
    }

    // Epilogue.
    for (int half = 0; half < 2; ++half) {
      Value l = state[2 + half];
      l = fadd(l, shuffleXor(l, 1));
      l = fadd(l, shuffleXor(l, 2));
      Value none =
          arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, l, zero);
      Value inv = arith::SelectOp::create(
          b, loc, none, zero, arith::DivFOp::create(b, loc, cf(1.0), l));
      Value row = half ? row1 : row0;
      Value inRange =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row,
                                queryLen());
      auto ifOp = scf::IfOp::create(b, loc, inRange, /*else=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifOp.thenBlock());
      for (int64_t n = 0; n < dv / 8; ++n) {
        // A row with no allowed key is exactly 0 whatever its accumulator
        // holds: the tile products may have multiplied its 0 weights by
        // non-finite values of keys it does not attend.
        Value x = arith::SelectOp::create(
            b, loc, none, zero, fmul(state[4 + n * 4 + 2 * half], inv));
        Value y = arith::SelectOp::create(
            b, loc, none, zero, fmul(state[4 + n * 4 + 2 * half + 1], inv));
        Value pair = vector::FromElementsOp::create(
            b, loc, VectorType::get({2}, f32), ValueRange{x, y});
        pair = arith::TruncFOp::create(b, loc, VectorType::get({2}, elt), pair);
        vector::StoreOp::create(b, loc, pair, out,
                                ValueRange{bIdx, hIdx, row,
                                           add(muli(t, 2), idx(n * 8))},
                                /*nontemporal=*/false, llvm::MaybeAlign(4));
      }
      if (lse) {
        Value first =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, t, idx(0));
        auto ifFirst = scf::IfOp::create(b, loc, first, /*else=*/false);
        b.setInsertionPointToStart(ifFirst.thenBlock());
        Value m = state[half];
        Value value = fmul(fadd(m, lg2(l)), cf(0.6931471805599453));
        value = arith::SelectOp::create(
            b, loc, none, cf(-std::numeric_limits<double>::infinity()), value);
        memref::StoreOp::create(b, loc, value, lse,
                                ValueRange{bIdx, hIdx, row});
      }
    }
  }
};

struct LowerAttentionToGPU : OpRewritePattern<AttentionOp> {
  LowerAttentionToGPU(MLIRContext *ctx, const SparseAttnToGPUOptions &options)
      : OpRewritePattern(ctx), options(options) {}

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rw) const override;

  SparseAttnToGPUOptions options;
};

LogicalResult
LowerAttentionToGPU::matchAndRewrite(AttentionOp op,
                                     PatternRewriter &rw) const {
  Location loc = op.getLoc();
  auto module = op->getParentOfType<ModuleOp>();
  MLIRContext *ctx = rw.getContext();
  auto qT = llvm::cast<RankedTensorType>(op.getQuery().getType());
  auto kT = llvm::cast<RankedTensorType>(op.getKey().getType());
  auto vT = llvm::cast<RankedTensorType>(op.getValue().getType());
  int64_t bq = queryTile(options), bk = options.blockK;
  // What the pass checked, for drivers that only add the pattern: nothing
  // is built for an op the kernel cannot compute.
  if (failed(checkLowerableToGPU(op, options)))
    return rw.notifyMatchFailure(op, "not lowerable to the GPU kernel");
  // The tile source: compile-time tables, or (runtime block tables, lengths
  // known only at run time) a tile list each thread block builds.
  bool runtimeTables = op.hasBlockTables();
  bool deviceList = deviceTileList(op, options);
  // Sizes known only at run time (B, Sq, Sk) are kernel arguments, named in
  // the kernel signature.
  bool dynamic = qT.isDynamicDim(0) || qT.isDynamicDim(2) || kT.isDynamicDim(2);
  TileTables tables;
  if (!deviceList) {
    FailureOr<TileTables> t = buildTables(op, bq, bk);
    if (failed(t))
      return failure();
    tables = std::move(*t);
  }

  // The kernel module.
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                  rw.getUnitAttr());
  auto kernels = module.lookupSymbol<gpu::GPUModuleOp>(kKernelModuleName);
  if (!kernels) {
    OpBuilder::InsertionGuard guard(rw);
    rw.setInsertionPointToEnd(module.getBody());
    kernels = gpu::GPUModuleOp::create(rw, loc, kKernelModuleName);
  }

  // mma=auto: wgmma wherever the op meets its requirements.
  bool wgmma = options.mma == "wgmma" ||
               (options.mma == "auto" && wgmmaUnsupported(op, options).empty());
  bool tma = wgmma && options.tma;

  // Host side: buffers and tables.
  auto bufferOf = [&](Value tensor) -> Value {
    auto t = llvm::cast<RankedTensorType>(tensor.getType());
    return bufferization::ToBufferOp::create(
        rw, loc, MemRefType::get(t.getShape(), t.getElementType()), tensor,
        /*read_only=*/true);
  };
  // The kernel signature: one role per argument and, in a kernel with
  // run-time sizes, each argument's dimensions (a size or the name of a
  // run-time size). An argument with run-time sizes travels as a bare
  // pointer (memref<1 x elt>) that the kernel views with the sizes it is
  // given (the bare-pointer calling convention needs static shapes).
  SmallVector<Value> args;
  SmallVector<Attribute> roles, argDims;
  auto addArg = [&](Value v, StringRef role,
                    ArrayRef<StringRef> names = {}) {
    if (dynamic) {
      SmallVector<Attribute> dims;
      if (auto t = llvm::dyn_cast<MemRefType>(v.getType())) {
        for (int64_t i = 0; i < t.getRank(); ++i)
          dims.push_back(t.isDynamicDim(i)
                             ? Attribute(rw.getStringAttr(names[i]))
                             : Attribute(rw.getI64IntegerAttr(t.getDimSize(i))));
        if (!t.hasStaticShape())
          v = memref::ReinterpretCastOp::create(
              rw, loc, MemRefType::get({1}, t.getElementType()), v,
              /*offset=*/0, /*sizes=*/ArrayRef<int64_t>{1},
              /*strides=*/ArrayRef<int64_t>{1});
      }
      argDims.push_back(rw.getArrayAttr(dims));
    }
    args.push_back(v);
    roles.push_back(rw.getStringAttr(role));
  };
  const SmallVector<StringRef> qNames = {"B", "", "Sq", ""},
                               kNames = {"B", "", "Sk", ""};
  Value qBuf = bufferOf(op.getQuery()), kBuf = bufferOf(op.getKey());
  addArg(qBuf, "query", qNames);
  addArg(kBuf, "key", kNames);
  addArg(bufferOf(op.getValue()), "value", kNames);
  bool segs = (bool)op.getQuerySegmentIds();
  if (segs) {
    addArg(bufferOf(op.getQuerySegmentIds()), "query_segment_ids",
           {"B", "Sq"});
    addArg(bufferOf(op.getKeySegmentIds()), "key_segment_ids", {"B", "Sk"});
  }
  // The run-time sizes, where dynamic (null otherwise).
  Value batchV = qT.isDynamicDim(0) ? memref::DimOp::create(rw, loc, qBuf, 0)
                                    : Value();
  Value sqV = qT.isDynamicDim(2) ? memref::DimOp::create(rw, loc, qBuf, 2)
                                 : Value();
  Value skV = kT.isDynamicDim(2) ? memref::DimOp::create(rw, loc, kBuf, 2)
                                 : Value();
  auto resultSizes = [&](RankedTensorType t) {
    SmallVector<Value> sizes;
    if (t.isDynamicDim(0))
      sizes.push_back(batchV);
    if (t.isDynamicDim(2))
      sizes.push_back(sqV);
    return sizes;
  };
  auto oT = llvm::cast<RankedTensorType>(op.getOutput().getType());
  Value outBuf = memref::AllocOp::create(
      rw, loc, MemRefType::get(oT.getShape(), oT.getElementType()),
      resultSizes(oT), rw.getI64IntegerAttr(64));
  addArg(outBuf, "output", qNames);
  Value lseBuf;
  if (Value l = op.getLse()) {
    auto lT = llvm::cast<RankedTensorType>(l.getType());
    lseBuf = memref::AllocOp::create(
        rw, loc, MemRefType::get(lT.getShape(), rw.getF32Type()),
        resultSizes(lT), rw.getI64IntegerAttr(64));
    addArg(lseBuf, "lse", qNames);
  }
  ConstantGlobals hostGlobals(module, /*alignment=*/16);
  auto table = [&](ArrayRef<int32_t> data, StringRef hint) {
    memref::GetGlobalOp g = hostGlobals.getI32(rw, loc, data, hint);
    addArg(g, ("table:" + g.getName()).str());
  };
  // Document masks skip partial tiles at run time from compile-time flags
  // (a device-built list classifies every tile instead).
  bool segmentSkip =
      !deviceList && segs && impliesSameSegment(op.getPattern());
  if (runtimeTables) {
    // FlexAttention's BlockMask tensors, passed by the caller as they are.
    addArg(bufferOf(op.getKvNumBlocks()), "kv_num_blocks");
    addArg(bufferOf(op.getKvIndices()), "kv_indices");
    if (op.getFullNumBlocks()) {
      addArg(bufferOf(op.getFullNumBlocks()), "full_num_blocks");
      addArg(bufferOf(op.getFullIndices()), "full_indices");
    }
  } else if (!deviceList) {
    table(tables.fullOffsets, "__sparse_attn_full_offsets");
    table(tables.fullIndices, "__sparse_attn_full_indices");
    table(tables.partialOffsets, "__sparse_attn_partial_offsets");
    table(tables.partialIndices, "__sparse_attn_partial_indices");
    table(tables.order, "__sparse_attn_order");
    if (segmentSkip)
      table(tables.partialFlags, "__sparse_attn_partial_flags");
  }
  if (tma) {
    // 128-byte CUtensorMaps of K and V (4-D, box [1, 1, BK, 64], 128-byte
    // swizzle, zero fill past Sk), encoded by whoever launches the kernel
    // for the buffers it passes (the artifact runtime does); role
    // "tensormap:<argument>:<box rows>x<box columns>".
    for (StringRef what : {"key", "value"}) {
      Value m = memref::AllocOp::create(
          rw, loc, MemRefType::get({128}, rw.getI8Type()),
          rw.getI64IntegerAttr(64));
      addArg(m, ("tensormap:" + what + ":" + Twine(bk) + "x64").str());
    }
  }
  // Run-time sizes last (role size:<name>).
  for (auto [value, name] : {std::pair(batchV, "B"), std::pair(sqV, "Sq"),
                             std::pair(skV, "Sk")})
    if (value)
      addArg(value, (Twine("size:") + name).str());

  // The kernel.
  SmallVector<Type> argTypes;
  for (Value a : args)
    argTypes.push_back(a.getType());
  auto wg = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  Type elt = qT.getElementType();
  int64_t d = qT.getDimSize(3), dv = vT.getDimSize(3);
  // Rows padded by 8 elements (16 bytes): ldmatrix rows hit distinct banks.
  auto ksType = MemRefType::get({bk, d + 8}, elt, MemRefLayoutAttrInterface(), wg);
  auto vsType = MemRefType::get({bk, dv + 8}, elt, MemRefLayoutAttrInterface(), wg);
  // The tile list in shared memory: run-time tile classes of one query
  // block's partial tiles (document masks), when the longest list is short
  // enough; with runtime block tables, every key tile the tables list and
  // one bit per table block.
  int64_t maxPartial = 0, bitsWords = 0;
  bool codesInShared;
  if (deviceList) {
    auto [entries, words] = listSizes(op, options);
    maxPartial = entries - 1;
    bitsWords = words;
    codesInShared = true;
  } else {
    for (size_t i = 0; i + 1 < tables.partialOffsets.size(); ++i)
      maxPartial = std::max<int64_t>(
          maxPartial, tables.partialOffsets[i + 1] - tables.partialOffsets[i]);
    codesInShared = segmentSkip && maxPartial > 0 && maxPartial <= 4096;
  }
  // All shared memory is dynamic (more than the 48 KB of static shared
  // memory at D = 128; and the lowering of gpu.dynamic_shared_memory
  // addresses it from offset 0 of the block's shared memory, so no static
  // shared variable may exist besides it).
  int64_t eltBytes = elt.getIntOrFloatBitWidth() / 8;
  SharedPlan plan =
      planSharedMemory(wgmma, tma, eltBytes, bk, d, dv,
                       codesInShared ? maxPartial + 1 : 0, bitsWords);
  int64_t dynamicShared = plan.total;

  SmallVector<Type> workgroup;
  gpu::GPUFuncOp func;
  {
    OpBuilder::InsertionGuard guard(rw);
    rw.setInsertionPointToEnd(kernels.getBody());
    func = gpu::GPUFuncOp::create(rw, loc, "sparse_attention",
                                  rw.getFunctionType(argTypes, {}),
                                  workgroup, TypeRange{});
    SymbolTable(kernels).insert(func); // unique name
    func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), rw.getUnitAttr());
    func.setKnownBlockSizeAttr(
        rw.getDenseI32ArrayAttr({(int32_t)(32 * options.warps), 1, 1}));
    Block &entry = func.getBody().front();
    rw.setInsertionPointToStart(&entry);
    ConstantGlobals deviceGlobals(kernels, /*alignment=*/16);
    KernelBuilder kb(rw, loc, op);
    kb.elt = elt;
    kb.f32 = rw.getF32Type();
    kb.warps = options.warps;
    kb.bq = bq;
    kb.bk = bk;
    kb.d = d;
    kb.dv = dv;
    kb.sq = qT.getDimSize(2);
    kb.sk = kT.getDimSize(2);
    kb.group = qT.getDimSize(1) / kT.getDimSize(1);
    kb.scale = *op.getEffectiveScale();
    if (FlatSymbolRefAttr name = op.getScoreModAttr())
      kb.scoreMod = llvm::dyn_cast_or_null<ScoreModOp>(
          SymbolTable::lookupNearestSymbolFrom(op, name));
    kb.deviceGlobals = &deviceGlobals;
    kb.segmentSkip = segmentSkip;
    unsigned i = 0;
    auto next = [&]() -> Value { return entry.getArgument(i++); };
    // Run-time sizes: the last arguments.
    unsigned numSizes = (bool)batchV + (bool)sqV + (bool)skV;
    unsigned sizeArg = entry.getNumArguments() - numSizes;
    Value batchArg = batchV ? entry.getArgument(sizeArg++) : Value();
    kb.sqV = sqV ? entry.getArgument(sizeArg++) : Value();
    kb.skV = skV ? entry.getArgument(sizeArg++) : Value();
    // Arguments with run-time sizes, viewed with their sizes.
    kb.q = viewAs(rw, loc, next(), qT.getShape(), {batchArg, kb.sqV});
    kb.k = viewAs(rw, loc, next(), kT.getShape(), {batchArg, kb.skV});
    kb.v = viewAs(rw, loc, next(), vT.getShape(), {batchArg, kb.skV});
    if (segs) {
      auto qsT = llvm::cast<ShapedType>(op.getQuerySegmentIds().getType());
      auto ksT = llvm::cast<ShapedType>(op.getKeySegmentIds().getType());
      kb.qSeg = viewAs(rw, loc, next(), qsT.getShape(), {batchArg, kb.sqV});
      kb.kSeg = viewAs(rw, loc, next(), ksT.getShape(), {batchArg, kb.skV});
    }
    kb.out = viewAs(rw, loc, next(), oT.getShape(), {batchArg, kb.sqV});
    if (lseBuf)
      kb.lse = viewAs(
          rw, loc, next(),
          llvm::cast<ShapedType>(op.getLse().getType()).getShape(),
          {batchArg, kb.sqV});
    if (runtimeTables) {
      kb.kvNum = next();
      kb.kvIdx = next();
      if (op.getFullNumBlocks()) {
        kb.fullNum = next();
        kb.fullTableIdx = next();
      }
      kb.tbq = op.getTableBlock()->front();
      kb.tbk = op.getTableBlock()->back();
    }
    kb.hq = qT.getDimSize(1);
    if (!deviceList) {
      kb.fullOff = next();
      kb.fullIdx = next();
      kb.partOff = next();
      kb.partIdx = next();
      kb.order = next();
      if (segmentSkip)
        kb.partFlags = next();
    }
    if (tma) {
      auto genericPtr = [&](Value m) -> Value {
        Value a = memref::ExtractAlignedPointerAsIndexOp::create(rw, loc, m);
        a = arith::IndexCastOp::create(rw, loc, rw.getI64Type(), a);
        return LLVM::IntToPtrOp::create(
            rw, loc, LLVM::LLVMPointerType::get(rw.getContext()), a);
      };
      kb.kMap = genericPtr(next());
      kb.vMap = genericPtr(next());
      kb.tma = true;
      kb.overlap = options.overlap;
    }
    // cp.async (16 bytes) and ldmatrix rows need 16-byte aligned tiles:
    // the dynamic shared memory is 16-byte aligned and so are the offsets.
    kb.smem = gpu::DynamicSharedMemoryOp::create(
        rw, loc,
        MemRefType::get({ShapedType::kDynamic}, rw.getI8Type(),
                        MemRefLayoutAttrInterface(), wg));
    kb.ksType = ksType;
    kb.vsType = vsType;
    kb.kTileBytes = plan.kTileBytes;
    kb.vTileBytes = plan.vTileBytes;
    kb.maxPartial = maxPartial;
    kb.wgmma = wgmma;
    kb.mbarOff = plan.mbarOff;
    kb.qOff = plan.qOff;
    kb.kOff = plan.kOff;
    kb.vOff = plan.vOff;
    auto sharedI32 = [&](int64_t offset, int64_t n) -> Value {
      return memref::ViewOp::create(
          rw, loc,
          MemRefType::get({n}, rw.getI32Type(), MemRefLayoutAttrInterface(),
                          wg),
          kb.smem, arith::ConstantIndexOp::create(rw, loc, offset),
          ValueRange{});
    };
    if (codesInShared)
      kb.tileCodes = sharedI32(plan.listOffset, maxPartial + 1);
    if (runtimeTables)
      kb.listedBits = sharedI32(plan.bitsOffset, bitsWords);
    kb.body();
    gpu::ReturnOp::create(rw, loc);
  }

  // The launch.
  auto c = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(rw, loc, v);
  };
  // Grid (ceil(Sq / BQ), Hq, B), from the run-time sizes where dynamic.
  Value gridX =
      sqV ? arith::DivUIOp::create(
                rw, loc, arith::AddIOp::create(rw, loc, sqV, c(bq - 1)), c(bq))
                .getResult()
          : c(ceilDivPositive(qT.getDimSize(2), bq));
  Value gridZ = batchV ? batchV : c(qT.getDimSize(0));
  auto launch = gpu::LaunchFuncOp::create(
      rw, loc, func, gpu::KernelDim3{gridX, c(qT.getDimSize(1)), gridZ},
      gpu::KernelDim3{c(32 * options.warps), c(1), c(1)},
      /*dynamicSharedMemorySize=*/
      arith::ConstantIntOp::create(rw, loc, rw.getI32Type(), dynamicShared),
      args);
  launch->setAttr(kKernelArgsAttrName, rw.getArrayAttr(roles));
  if (dynamic) {
    // The grid in the names of the run-time sizes, for launchers that know
    // only the signature (the artifact runtime).
    std::string x = sqV ? "ceil(Sq/" + std::to_string(bq) + ")"
                        : std::to_string(ceilDivPositive(qT.getDimSize(2), bq));
    launch->setAttr(kKernelArgDimsAttrName, rw.getArrayAttr(argDims));
    launch->setAttr(kKernelGridAttrName,
                    rw.getStrArrayAttr(
                        {x, std::to_string(qT.getDimSize(1)),
                         batchV ? "B" : std::to_string(qT.getDimSize(0))}));
  }

  SmallVector<Value> results;
  results.push_back(bufferization::ToTensorOp::create(
      rw, loc, oT, outBuf, /*restrict=*/true, /*writable=*/true));
  if (lseBuf)
    results.push_back(bufferization::ToTensorOp::create(
        rw, loc, op.getLse().getType(), lseBuf, /*restrict=*/true,
        /*writable=*/true));
  rw.replaceOp(op, results);
  return success();
}

struct ConvertSparseAttnToGPUPass
    : sparse_attn::impl::ConvertSparseAttnToGPUBase<ConvertSparseAttnToGPUPass> {
  using ConvertSparseAttnToGPUBase::ConvertSparseAttnToGPUBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SparseAttnToGPUOptions options{warps, blockK, mma, tma, overlap};
    if (mma != "sync" && mma != "wgmma" && mma != "auto") {
      module.emitError(
          "convert-sparse-attn-to-gpu: mma must be sync, wgmma or auto");
      return signalPassFailure();
    }
    if (warps < 1 || warps > 16 || blockK < 16 || blockK % 16 != 0 ||
        blockK > 256) {
      module.emitError("convert-sparse-attn-to-gpu: warps must be between 1 "
                       "and 16, block-k a multiple of 16 between 16 and 256");
      return signalPassFailure();
    }
    bool ok = true;
    module.walk([&](AttentionOp op) {
      if (failed(checkLowerableToGPU(op, options)))
        ok = false;
    });
    // Fail closed on what the GPU pipeline does not lower (it would reach
    // the LLVM translation unconverted).
    module.walk([&](Operation *op) {
      if (llvm::isa<MergeOp, OnlineAttentionOp>(op)) {
        op->emitOpError("is not lowered by the GPU pipeline yet (the CPU "
                        "pipelines lower it)");
        ok = false;
      }
    });
    if (!ok)
      return signalPassFailure();
    RewritePatternSet patterns(&getContext());
    populateSparseAttnToGPUPatterns(patterns, options);
    GreedyRewriteConfig config;
    config.enableFolding(false);
    config.setRegionSimplificationLevel(GreedySimplifyRegionLevel::Disabled);
    if (failed(applyPatternsGreedily(module, std::move(patterns), config)))
      return signalPassFailure();
    if (failed(finishAttentionLowering(module, "gpu")))
      signalPassFailure();
  }
};
} // namespace

void mlir::sparse_attn::populateSparseAttnToGPUPatterns(
    RewritePatternSet &patterns, const SparseAttnToGPUOptions &options) {
  patterns.add<LowerAttentionToGPU>(patterns.getContext(), options);
}
