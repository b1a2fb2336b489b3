//===- SparseAttnToGPU.cpp - fused, block-skipping tensor-core lowering ---===//
//
// sparse_attn.attention -> gpu.launch_func of one kernel per op:
//
//   grid (ceil(Sq / BQ), Hq, B), block (32 * warps); warp w owns query rows
//   [q0 + 16 w, q0 + 16 w + 16) of query block qb = order[blockIdx.x]
//   (compile-time tables) or gridDim.x - 1 - blockIdx.x (device-built list).
//   Q fragments (A operand of m16n8k16) live in registers for the kernel.
//   for kb in full_tiles(qb) ++ partial_tiles(qb)   (or the device-built
//                                                    list, TileSource.cpp):
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

#include "KernelBuilder.h"
#include "KernelModule.h"

#include "sparse_attn/Dialect/SparseAttn/Analysis/PatternAnalysis.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"
#include "sparse_attn/Dialect/SparseAttn/Utils/ConstantGlobals.h"
#include "sparse_attn/Dialect/SparseAttn/Utils/PatternCodegen.h"
#include "llvm/Support/ErrorHandling.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
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

/// Shared memory one thread block may use on sm_80 / sm_90 (227 KB).
static constexpr int64_t kMaxSharedBytes = 232448;
/// The longest document-mask tile list compacted in shared memory (longer
/// ones are classified tile by tile in the loop).
static constexpr int64_t kMaxListedTiles = 4096;

namespace {

/// The kernel's dynamic shared memory: one plan for the size checks and the
/// kernel builder. Offsets are bytes from the start of the dynamic shared
/// memory, except qOff / kOff / vOff (wgmma), which count from its first
/// 1024-byte boundary (found at run time; the plan reserves 1024 bytes).
///
///   mma.sync: [K tile 0 | K tile 1 | V tile 0 | V tile 1]  rows padded by 8
///   wgmma:    [<= 1024 | Q BQ x D | K 0 | K 1 | V 0 | V 1]  swizzled
///             (Q: one 64-row tile per warpgroup)
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
                            int64_t bq, int64_t bk, int64_t d, int64_t dv,
                            int64_t listEntries, int64_t bitsWords,
                            int64_t mbarriers = 4) {
  SharedPlan p;
  p.kTileBytes = bk * (d + 8) * eltBytes;
  p.vTileBytes = bk * (dv + 8) * eltBytes;
  p.kOff = bq * d * eltBytes;
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
  p.total = tma ? p.mbarOff + 8 * mbarriers : end;
  return p;
}

/// The kernel's mbarriers: with TMA, full K / V per buffer (4), and with
/// warp-specialize empty K / V per buffer too (8). The one count both the
/// shared-memory checks and the kernel's plan use.
int64_t mbarriersOf(const SparseAttnToGPUOptions &options) {
  return options.warpSpecialize ? 8 : 4;
}

/// chooseForwardWarps: the mean number of key tiles per 128-row query
/// block from which two warpgroups per block win.
constexpr int64_t kTwoWarpgroupMinTiles = 32;

/// The kernel's tiles: BQ = 16 x warps query rows, BK = block-k keys.
int64_t queryTile(const SparseAttnToGPUOptions &options) {
  return 16 * options.warps;
}

/// Whether `op` reads token tables (table_block [1, 1]): the kernel of
/// TokenSource.cpp, one query token per thread block.
bool tokenTables(AttentionOp op) {
  return op.hasBlockTables() && op.getTableBlock()->front() == 1 &&
         op.getTableBlock()->back() == 1;
}

/// Token tables: the query heads that share one key list (a KV group, or
/// one head when the tables are per query head).
int64_t packedHeads(AttentionOp op) {
  int64_t hq = llvm::cast<ShapedType>(op.getQuery().getType()).getDimSize(1);
  int64_t hkv = llvm::cast<ShapedType>(op.getKey().getType()).getDimSize(1);
  int64_t hp =
      llvm::cast<ShapedType>(op.getKvNumBlocks().getType()).getDimSize(1);
  return hp == hq && hq != hkv ? 1 : hq / hkv;
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
  if (tokenTables(op)) {
    // The key list (at most min(Sk, both tables' widths) keys, padded to a
    // whole tile) and the count; one bit per key position (static Sk).
    int64_t n = llvm::cast<ShapedType>(op.getKvIndices().getType())
                    .getDimSize(3);
    if (Value full = op.getFullIndices())
      n += llvm::cast<ShapedType>(full.getType()).getDimSize(3);
    int64_t cap = ceilDivPositive(std::max<int64_t>(1, std::min(n, sk)),
                                  options.blockK) *
                  options.blockK;
    return {cap + 1, ceilDivPositive(sk, 32)};
  }
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
    // block-k divides BK. Token tables have their own kernel.
    ArrayRef<int64_t> tb = *op.getTableBlock();
    if (tokenTables(op)) {
      if (kT.isDynamicDim(2))
        return op.emitOpError("the GPU kernel for token tables (table_block "
                              "[1, 1]) needs a static Sk (one bit per key "
                              "position in shared memory)");
    } else if (tb[0] % queryTile(options) != 0 ||
               tb[1] % options.blockK != 0)
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
  bool wgmma = forwardUsesWgmma(op, options);
  if (options.warpSpecialize) {
    if (!wgmma || !options.tma)
      return op.emitOpError("warp-specialize needs the warpgroup kernel with "
                            "TMA (mma=wgmma, or auto where wgmma applies, and "
                            "tma=true)");
    // A device-built list (runtime tables, run-time lengths) is built by
    // the whole block before the roles split: it must be one chunk.
    if (deviceTileList(op, options) &&
        (kT.isDynamicDim(2) ||
         ceilDivPositive(kT.getDimSize(2), options.blockK) > kMaxListedTiles))
      return op.emitOpError("warp-specialize needs a static Sk of at most ")
             << kMaxListedTiles
             << " key tiles with runtime block tables or run-time lengths "
                "(longer or run-time key lengths are listed in chunks, each "
                "built by the whole block while the tiles run)";
    // Document masks: the compacted list must fit in shared memory (the
    // lists longer than that are classified tile by tile in the loop,
    // with block barriers); at most one entry per key tile.
    if (op.getQuerySegmentIds() && impliesSameSegment(op.getPattern()) &&
        ceilDivPositive(kT.getDimSize(2), options.blockK) > kMaxListedTiles)
      return op.emitOpError("warp-specialize supports document masks up to ")
             << kMaxListedTiles << " key tiles (" << kMaxListedTiles
             << " x block-k keys), got "
             << ceilDivPositive(kT.getDimSize(2), options.blockK);
  }
  if (!wgmma) {
    auto [entries, words] = listSizes(op, options);
    int64_t bytes = planSharedMemory(/*wgmma=*/false, /*tma=*/false, 2,
                                     queryTile(options), options.blockK, qT.getDimSize(3),
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

bool mlir::sparse_attn::forwardUsesWgmma(
    Operation *op, const SparseAttnToGPUOptions &options) {
  if (options.mma == "wgmma")
    return true;
  // mma=auto: wgmma wherever the op meets its requirements (one warpgroup,
  // or two with warps = 8: both pass the GPU checks).
  return options.mma == "auto" && wgmmaUnsupported(op, options).empty();
}

int64_t
mlir::sparse_attn::chooseForwardWarps(Operation *operation,
                                      const SparseAttnToGPUOptions &options) {
  auto op = llvm::cast<AttentionOp>(operation);
  SparseAttnToGPUOptions two = options;
  two.warps = 8;
  two.mma = "wgmma";
  // Two warpgroups need warpgroup MMAs, and their win is measured at D =
  // Dv = 128 (bench/results/gpu-2026-12-07-h100-wgmma-auto.md: 1.19-1.23x
  // on dense and causal; at D = 64 the one-warpgroup block already fits
  // four times per SM and two lose 2-3%).
  auto qT = llvm::cast<ShapedType>(op.getQuery().getType());
  auto vT = llvm::cast<ShapedType>(op.getValue().getType());
  if (options.mma == "sync" || op.isTile() || qT.getDimSize(3) != 128 ||
      vT.getDimSize(3) != 128 || !wgmmaUnsupported(op, two).empty())
    return 4;
  // The work per query block must be known at compile time: runtime
  // tables, run-time lengths and document masks (segments known at run
  // time) keep one warpgroup.
  if (deviceTileList(op, two) || op.getQuerySegmentIds())
    return 4;
  // The cost model: two warpgroups share each K / V tile, which pays where
  // a query block visits many tiles; where rows are short (window 1024
  // and BigBird at S = 8192: about 18-19 tiles per block) the 128-row
  // block measured 7-10% slower at D = 128 (more rows masked at the
  // pattern's edges, half as many blocks). Two warpgroups where the 128-row query blocks average at
  // least 32 key tiles (causal at S = 8192: 65; dense: 128).
  ScopedDiagnosticHandler quiet(op.getContext(),
                                [](Diagnostic &) { return success(); });
  FailureOr<TileTables> tables = buildTables(op, queryTile(two), two.blockK);
  if (failed(tables) || tables->fullOffsets.size() < 2)
    return 4;
  int64_t blocks = tables->fullOffsets.size() - 1;
  int64_t tiles = tables->fullIndices.size() + tables->partialIndices.size();
  return tiles >= kTwoWarpgroupMinTiles * blocks ? 8 : 4;
}

std::string
mlir::sparse_attn::wgmmaUnsupported(Operation *operation,
                                    const SparseAttnToGPUOptions &options) {
  auto op = llvm::cast<AttentionOp>(operation);
  auto qT = llvm::cast<RankedTensorType>(op.getQuery().getType());
  auto vT = llvm::cast<RankedTensorType>(op.getValue().getType());
  if (tokenTables(op))
    return "tables of at least 64 query rows per block (token tables, "
           "table_block [1, 1], run on mma.sync with the query heads as "
           "rows)";
  if (options.warps != 4 && options.warps != 8)
    return "warps = 4 or 8 (one or two warpgroups of 64 query rows), got " +
           std::to_string(options.warps);
  if (options.blockK % 64 != 0)
    return "block-k a multiple of 64, got " + std::to_string(options.blockK);
  int64_t d = qT.getDimSize(3), dv = vT.getDimSize(3);
  if (d % 64 != 0 || dv % 64 != 0 || dv > 256)
    return "D and Dv multiples of 64 (Dv at most 256), got D = " +
           std::to_string(d) + ", Dv = " + std::to_string(dv);
  auto [entries, words] = listSizes(op, options);
  int64_t bytes = planSharedMemory(/*wgmma=*/true, options.tma, 2,
                                   queryTile(options), options.blockK, d, dv,
                                   entries, words, mbarriersOf(options))
                      .total;
  if (bytes > kMaxSharedBytes)
    return "Q, K and V tiles that fit in shared memory (" +
           std::to_string(bytes) + " bytes at block-k " +
           std::to_string(options.blockK) + ", more than " +
           std::to_string(kMaxSharedBytes) + ")";
  return "";
}

namespace {

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

} // namespace


void KernelBuilder::threadIndices() {
  i32 = b.getI32Type();
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  warp = arith::DivUIOp::create(b, loc, tid, idx(32));
  lane = arith::RemUIOp::create(b, loc, tid, idx(32));
  g = arith::DivUIOp::create(b, loc, lane, idx(4));
  t = arith::RemUIOp::create(b, loc, lane, idx(4));
}

void KernelBuilder::body() {
  threadIndices();
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
  if (specialized)
    specializedBody(qb);
  else
    queryBlock(qb);
}

void KernelBuilder::queryBlock(Value qb) {
  q0 = muli(qb, bq);
  row0 = add(add(q0, muli(warp, 16)), g);
  row1 = addi(row0, 8);
  row0c = arith::MinUIOp::create(b, loc, row0, lastQuery());
  row1c = arith::MinUIOp::create(b, loc, row1, lastQuery());

  // Q fragments for every k16 step of D (wgmma: Q in shared memory).
  SmallVector<Value> qFrag;
  if (wgmma) {
    if (!aligned)
      alignSharedBase();
    // One 64-row Q tile per warpgroup (warps 4 w .. 4 w + 3).
    for (int64_t wg = 0; wg < warps / 4; ++wg)
      copyRows(q, addi(q0, 64 * wg), flatView(idx(qOff + wg * 64 * d * 2), 64 * d),
               64, d, /*kv=*/false);
    qTile = warps == 4
                ? idx(qOff)
                : addi(muli(arith::DivUIOp::create(b, loc, warp, idx(4)),
                            64 * d * 2),
                       qOff);
    if (tma && !specialized) { // one arrival (thread 0's expect_tx) per phase
      auto ifOp = scf::IfOp::create(b, loc, threadZero(), /*else=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifOp.thenBlock());
      for (int64_t i = 0; i < 4; ++i)
        NVVM::MBarrierInitOp::create(
            b, loc, mbarrier(idx(i)),
            arith::ConstantIntOp::create(b, loc, i32, 1), Value());
      acquireTensorMaps();
    }
    nvgpu::DeviceAsyncWaitOp::create(b, loc, commit(),
                                     b.getI32IntegerAttr(0));
    fenceAsyncProxy();
    consumerBarrier();
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
  if (segmentSkip && !specialized) { // specialized: before the roles split
    std::tie(qSegMin, qSegMax) = segmentRange(qSeg, q0, bq, sq - 1);
    if (tileCodes)
      classifyPartialTiles(qb);
  }
  tileBase = idx(0);
  if (specialized) { // its lists were built before the roles split
    state = specializedTileLoop(qb, state);
  } else if (!fullOff) { // a device-built tile list
    state = runtimeTileLoop(qb, qFrag, state);
  } else {
    state = tileLoop(fullOff, fullIdx, qb, /*masked=*/false, qFrag, state);
    state = tileLoop(partOff, partIdx, qb, /*masked=*/true, qFrag, state);
  }

  // Epilogue.
  epilogue(state, [&](int half) {
    Value row = half ? row1 : row0;
    Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                          row, queryLen());
    return std::make_tuple(hIdx, row, inRange);
  });
}

void KernelBuilder::epilogue(
    ArrayRef<Value> state,
    function_ref<std::tuple<Value, Value, Value>(int)> where) {
  Value zero = cf(0.0);
  for (int half = 0; half < 2; ++half) {
    Value l = state[2 + half];
    l = fadd(l, shuffleXor(l, 1));
    l = fadd(l, shuffleXor(l, 2));
    Value none =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, l, zero);
    Value inv = arith::SelectOp::create(
        b, loc, none, zero, arith::DivFOp::create(b, loc, cf(1.0), l));
    auto [head, row, inRange] = where(half);
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
                              ValueRange{bIdx, head, row,
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
                              ValueRange{bIdx, head, row});
    }
  }
}

namespace {

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
  // Token tables: one query token and up to 16 query heads per thread
  // block, one warp (TokenSource.cpp).
  bool tokens = tokenTables(op);
  int64_t warps = tokens ? 1 : options.warps;
  int64_t bq = tokens ? 1 : queryTile(options), bk = options.blockK;
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
  gpu::GPUModuleOp kernels = getOrCreateKernelModule(rw, loc, module);

  bool wgmma = forwardUsesWgmma(op, options);
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
    codesInShared =
        segmentSkip && maxPartial > 0 && maxPartial <= kMaxListedTiles;
  }
  // All shared memory is dynamic (more than the 48 KB of static shared
  // memory at D = 128; and the lowering of gpu.dynamic_shared_memory
  // addresses it from offset 0 of the block's shared memory, so no static
  // shared variable may exist besides it).
  int64_t eltBytes = elt.getIntOrFloatBitWidth() / 8;
  SharedPlan plan =
      planSharedMemory(wgmma, tma, eltBytes, bq, bk, d, dv,
                       codesInShared ? maxPartial + 1 : 0, bitsWords,
                       mbarriersOf(options));
  int64_t dynamicShared = plan.total;
  // warp-specialize: the producer warpgroup in front of the consumers.
  int64_t threads = 32 * (warps + (options.warpSpecialize
                                       ? KernelBuilder::kProducerWarps
                                       : 0));

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
        rw.getDenseI32ArrayAttr({(int32_t)threads, 1, 1}));
    // warp-specialize: one block per SM, which also tells ptxas the
    // register count at entry that setmaxnreg needs (without it ptxas may
    // ignore setmaxnreg: warning C7508).
    if (options.warpSpecialize)
      func->setAttr(NVVM::NVVMDialect::getMinctasmAttrName(),
                    rw.getI32IntegerAttr(1));
    Block &entry = func.getBody().front();
    rw.setInsertionPointToStart(&entry);
    ConstantGlobals deviceGlobals(kernels, /*alignment=*/16);
    KernelBuilder kb(rw, loc, op, op.getPattern());
    kb.elt = elt;
    kb.f32 = rw.getF32Type();
    kb.warps = warps;
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
    if (runtimeTables)
      kb.bindBlockTables(op, next);
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
      kb.specialized = options.warpSpecialize;
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
    if (tokens) {
      kb.tokens = true;
      kb.packedHeads = packedHeads(op);
      kb.listCap = maxPartial;
      kb.keyList = sharedI32(plan.listOffset, maxPartial + 1);
    } else if (codesInShared) {
      kb.tileCodes = sharedI32(plan.listOffset, maxPartial + 1);
    }
    if (runtimeTables)
      kb.listedBits = sharedI32(plan.bitsOffset, bitsWords);
    if (tokens)
      kb.tokenBody();
    else
      kb.body();
    gpu::ReturnOp::create(rw, loc);
    // Score modifications' tanh as the hardware approximation.
    if (options.approxTanh)
      func.walk([&](math::TanhOp t) {
        if (!t.getType().isF32())
          return;
        OpBuilder::InsertionGuard guard(rw);
        rw.setInsertionPoint(t);
        GpuPrimitives prims(rw, t.getLoc());
        rw.replaceOp(t, prims.tanhApprox(t.getOperand()));
      });
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
  // Y: the query heads, or (token tables) the blocks of up to 16 heads of
  // each list.
  int64_t gridY = qT.getDimSize(1);
  if (tokens)
    gridY = gridY / packedHeads(op) * ceilDivPositive(packedHeads(op), 16);
  auto launch = gpu::LaunchFuncOp::create(
      rw, loc, func, gpu::KernelDim3{gridX, c(gridY), gridZ},
      gpu::KernelDim3{c(threads), c(1), c(1)},
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
                        {x, std::to_string(gridY),
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
    SparseAttnToGPUOptions options{warps,      blockK, mma,   tma, overlap,
                                   approxTanh, gradDq, warpSpecialize};
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
    module.walk([&](Operation *op) {
      if (llvm::isa<AttentionOp>(op) && failed(checkLowerableToGPU(op, options)))
        ok = false;
      if (llvm::isa<PoolOp, SelectBlocksOp, SelectTokensOp>(op) &&
          failed(checkRoutingLowerableToGPU(op)))
        ok = false;
    });
    // Fail closed on what the GPU pipeline does not lower (it would reach
    // the LLVM translation unconverted).
    module.walk([&](Operation *op) {
      if (llvm::isa<MergeOp>(op) && failed(checkMergeLowerableToGPU(op)))
        ok = false;
      if (llvm::isa<OnlineAttentionOp>(op)) {
        op->emitOpError("is not lowered by the GPU pipeline yet (the CPU "
                        "pipelines lower it)");
        ok = false;
      }
      if (llvm::isa<AttentionGradOp>(op) &&
          failed(checkGradLowerableToGPU(op, options)))
        ok = false;
    });
    if (!ok)
      return signalPassFailure();
    RewritePatternSet patterns(&getContext());
    populateSparseAttnToGPUPatterns(patterns, options);
    populateSparseAttnGradToGPUPatterns(patterns, options);
    populateRoutingToGPUPatterns(patterns);
    populateMergeToGPUPatterns(patterns);
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
