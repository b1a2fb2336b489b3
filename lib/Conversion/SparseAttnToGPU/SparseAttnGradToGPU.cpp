//===- SparseAttnGradToGPU.cpp - the backward as two GPU kernels ----------===//
//
// sparse_attn.attention_grad -> two gpu.launch_func on one stream
// (GradKernelBuilder.h): the query-block kernel (Delta, dQ), then the
// key-block kernel (dK, dV), which reads Delta. Tiles: the query-block
// kernel's are the forward's (16 x warps rows, block-k keys); the key-block
// kernel's are 16 x warps keys by block-k query rows. Both tile lists are
// compile-time tables from the pattern's block classification: per query
// block (as the forward) and per key block (the transpose). Runtime block
// tables restrict them at run time: each thread block marks the table
// blocks the tables pair with its own (its row, or for the key-block
// kernel its column: the transposition is generated into the kernel) and
// compacts the listed tiles into one list in shared memory.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Conversion/SparseAttnToGPU/SparseAttnToGPU.h"

#include "GradKernelBuilder.h"
#include "KernelModule.h"

#include "sparse_attn/Dialect/SparseAttn/Analysis/PatternAnalysis.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"
#include "sparse_attn/Dialect/SparseAttn/Utils/ConstantGlobals.h"
#include "sparse_attn/Dialect/SparseAttn/Utils/PatternCodegen.h"
#include "sparse_attn/Dialect/SparseAttn/Utils/ScoreModDerivative.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"
#include <algorithm>
#include <numeric>

using namespace mlir;
using namespace mlir::sparse_attn;

/// Shared memory one thread block may use on sm_80 / sm_90 (227 KB).
static constexpr int64_t kMaxSharedBytes = 232448;

namespace {

GradTiles gradTiles(const SparseAttnToGPUOptions &options) {
  return {16 * options.warps, options.blockK, options.blockK,
          16 * options.warps};
}

/// Runtime block tables: after the kernel's tiles in shared memory, the
/// thread block's list of the other side's tiles that run (one entry per
/// tile of that side, then the count) and one bit per table block of the
/// other side (set when the tables list the pair of table blocks).
struct RuntimeListPlan {
  int64_t listOffset, entries, bitsOffset, words, total;
  RuntimeListPlan(int64_t tileBytes, int64_t otherTiles,
                  int64_t otherTableBlocks) {
    listOffset = (tileBytes + 15) / 16 * 16;
    entries = otherTiles + 1;
    bitsOffset = listOffset + 4 * entries;
    words = ceilDivPositive(otherTableBlocks, 32);
    total = bitsOffset + 4 * words;
  }
};

/// The runtime-table list plan of one kernel: the other side is the key
/// tiles of the query-block kernel, the query tiles of the key-block one.
RuntimeListPlan runtimeListPlan(AttentionGradOp op, const GradTiles &tiles,
                                bool keyKernel, int64_t tileBytes) {
  int64_t sq = llvm::cast<ShapedType>(op.getQuery().getType()).getDimSize(2);
  int64_t sk = llvm::cast<ShapedType>(op.getKey().getType()).getDimSize(2);
  ArrayRef<int64_t> tb = *op.getTableBlock();
  return keyKernel ? RuntimeListPlan(tileBytes, ceilDivPositive(sq, tiles.bqt),
                                     ceilDivPositive(sq, tb[0]))
                   : RuntimeListPlan(tileBytes, ceilDivPositive(sk, tiles.bk),
                                     ceilDivPositive(sk, tb[1]));
}

/// Shared memory of one kernel's tiles (and, with runtime block tables, of
/// its list): the bytes it is launched with, less the document masks'
/// optional list.
int64_t kernelSharedBytes(AttentionGradOp op, const GradTiles &tiles,
                          bool keyKernel, int64_t eltBytes, int64_t d,
                          int64_t dv, bool atomicDq, bool wgmma) {
  int64_t bytes =
      keyKernel ? KeyBlockSharedPlan(eltBytes, tiles.bkv, tiles.bqt, d, dv,
                                     atomicDq, wgmma)
                      .total
                : QueryBlockSharedPlan(eltBytes, tiles.bq, tiles.bk, d, dv,
                                       wgmma)
                      .total;
  if (op.hasBlockTables())
    bytes = runtimeListPlan(op, tiles, keyKernel, bytes).total;
  return bytes;
}

/// Compressed rows of the tiles of `kinds` ([nq][nk], row-major) by query
/// block (`byKey` false) or by key block, with the order of the rows by
/// decreasing work. A full tile that runs past Sq or Sk is listed as
/// partial: its bound is checked with the mask. With `sameSegment` (document
/// masks: the kinds when rows and columns share one segment; empty when
/// unknown), partialFlags marks the partial tiles that are full within one
/// segment and run to neither end.
TileTables compressTiles(const std::vector<TileKind> &kinds, int64_t nq,
                         int64_t nk, bool byKey, int64_t bq, int64_t bk,
                         int64_t sq, int64_t sk,
                         const std::vector<TileKind> *sameSegment) {
  TileTables t;
  t.fullOffsets.push_back(0);
  t.partialOffsets.push_back(0);
  int64_t rows = byKey ? nk : nq, cols = byKey ? nq : nk;
  std::vector<int64_t> work(rows);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      int64_t i = byKey ? c : r, j = byKey ? r : c;
      TileKind kind = kinds[i * nk + j];
      bool pastEnd = (i + 1) * bq > sq || (j + 1) * bk > sk;
      if (kind == TileKind::Full && pastEnd)
        kind = TileKind::Partial;
      if (kind == TileKind::Full) {
        t.fullIndices.push_back(c);
      } else if (kind == TileKind::Partial) {
        t.partialIndices.push_back(c);
        if (sameSegment)
          t.partialFlags.push_back(!sameSegment->empty() && !pastEnd &&
                                   (*sameSegment)[i * nk + j] ==
                                       TileKind::Full);
      }
      work[r] += kind == TileKind::Full ? 4 : kind == TileKind::Partial ? 5 : 0;
    }
    t.fullOffsets.push_back(t.fullIndices.size());
    t.partialOffsets.push_back(t.partialIndices.size());
  }
  t.order.resize(rows);
  std::iota(t.order.begin(), t.order.end(), 0);
  std::sort(t.order.begin(), t.order.end(), [&](int32_t a, int32_t b) {
    return work[a] != work[b] ? work[a] > work[b] : a < b;
  });
  return t;
}

} // namespace

std::string
mlir::sparse_attn::gradWgmmaUnsupported(Operation *operation,
                                        const SparseAttnToGPUOptions &options) {
  auto op = llvm::cast<AttentionGradOp>(operation);
  if (options.gradDq != "deterministic")
    return "grad-dq=deterministic (atomic dQ reads the key block with "
           "ldmatrix, not from the swizzled layout)";
  if (options.warps != 4)
    return "warps = 4 (one warpgroup of 64 keys), got " +
           std::to_string(options.warps);
  if (options.blockK % 64 != 0)
    return "block-k a multiple of 64 (as the forward's), got " +
           std::to_string(options.blockK);
  int64_t d = llvm::cast<RankedTensorType>(op.getQuery().getType())
                  .getDimSize(3),
          dv = llvm::cast<RankedTensorType>(op.getValue().getType())
                   .getDimSize(3);
  if (d % 64 != 0 || dv % 64 != 0 || d > 256 || dv > 256)
    return "D and Dv multiples of 64, at most 256, got D = " +
           std::to_string(d) + ", Dv = " + std::to_string(dv);
  // The tiles in shared memory (mma=auto then keeps mma.sync, whose plan
  // checkGradLowerableToGPU measures against the same limit).
  if (llvm::all_of(op->getOperands(), [](Value v) {
        return llvm::cast<ShapedType>(v.getType()).hasStaticShape();
      })) {
    GradTiles tiles = gradTiles(options);
    int64_t eltBytes = llvm::cast<RankedTensorType>(op.getQuery().getType())
                           .getElementTypeBitWidth() / 8;
    int64_t bytes = 0;
    for (bool keyKernel : {false, true})
      bytes = std::max(bytes, kernelSharedBytes(op, tiles, keyKernel, eltBytes,
                                                d, dv, /*atomicDq=*/false,
                                                /*wgmma=*/true));
    if (bytes > kMaxSharedBytes)
      return "the tiles in at most " + std::to_string(kMaxSharedBytes) +
             " bytes of shared memory, got " + std::to_string(bytes);
  }
  return "";
}

bool mlir::sparse_attn::gradUsesWgmma(Operation *op,
                                      const SparseAttnToGPUOptions &options) {
  // mma=auto: the warpgroup kernels wherever their requirements hold. They
  // pass the GPU checks and compute-sanitizer (memcheck, racecheck) and run
  // 1.3-1.6x the mma.sync kernels (bench/results/gpu-2026-12-07-h100-wgmma-auto.md).
  return options.mma == "wgmma" ||
         (options.mma == "auto" && gradWgmmaUnsupported(op, options).empty());
}

LogicalResult
mlir::sparse_attn::checkGradLowerableToGPU(Operation *operation,
                                           const SparseAttnToGPUOptions &options) {
  auto op = llvm::cast<AttentionGradOp>(operation);
  if (options.gradDq != "deterministic" && options.gradDq != "atomic")
    return op.emitOpError("grad-dq must be deterministic or atomic, got '")
           << options.gradDq << "'";
  if (options.mma == "wgmma")
    if (std::string why = gradWgmmaUnsupported(op, options); !why.empty())
      return op.emitOpError("mma=wgmma (the backward's kernels on "
                            "warpgroup MMAs) needs ")
             << why;
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
  for (Value v : op->getOperands())
    if (!llvm::cast<ShapedType>(v.getType()).hasStaticShape())
      return op.emitOpError("the GPU backward needs static shapes, got ")
             << v.getType();
  GradTiles tiles = gradTiles(options);
  if (op.hasBlockTables()) {
    // Each kernel tile lies in one table block: both kernels' tile sides
    // divide the table block's.
    ArrayRef<int64_t> tb = *op.getTableBlock();
    if (tb[0] % tiles.bq != 0 || tb[0] % tiles.bqt != 0 ||
        tb[1] % tiles.bk != 0 || tb[1] % tiles.bkv != 0)
      return op.emitOpError("the GPU backward needs a table_block whose "
                            "sides are multiples of 16 x warps (")
             << tiles.bq << ") and of block-k (" << tiles.bk << "), got ["
             << tb[0] << ", " << tb[1] << "]";
  }
  int64_t d = qT.getDimSize(3), dv = vT.getDimSize(3);
  if (d % 16 != 0 || dv % 16 != 0)
    return op.emitOpError("the GPU lowering needs head dimensions D and Dv "
                          "that are multiples of 16, got D = ")
           << d << ", Dv = " << dv;
  int64_t sq = qT.getDimSize(2), sk = kT.getDimSize(2);
  if (sq == 0 || sk == 0 || qT.getDimSize(0) == 0)
    return op.emitOpError("the GPU lowering needs non-empty sequences");
  for (auto [bq, bk] : {std::pair(tiles.bq, tiles.bk),
                        std::pair(tiles.bqt, tiles.bkv)}) {
    std::optional<int64_t> n = numTiles(sq, sk, bq, bk);
    if (!n || *n > kMaxCompileTimeTableTiles)
      return op.emitOpError("has more tiles than the GPU backward's "
                            "compile-time tables hold (")
             << kMaxCompileTimeTableTiles << ")";
  }
  int64_t eltBytes = elt.getIntOrFloatBitWidth() / 8;
  bool atomicDq = options.gradDq == "atomic";
  bool wgmma = gradUsesWgmma(op, options);
  int64_t bytes = std::max(
      kernelSharedBytes(op, tiles, /*keyKernel=*/false, eltBytes, d, dv,
                        atomicDq, wgmma),
      kernelSharedBytes(op, tiles, /*keyKernel=*/true, eltBytes, d, dv,
                        atomicDq, wgmma));
  if (bytes > kMaxSharedBytes)
    return op.emitOpError("the GPU backward would need ")
           << bytes << " bytes of shared memory at warps " << options.warps
           << " and block-k " << options.blockK << ", more than the "
           << kMaxSharedBytes
           << " of a thread block; use fewer warps or a smaller block-k";
  if (FlatSymbolRefAttr name = op.getScoreModAttr()) {
    auto mod = llvm::dyn_cast_or_null<ScoreModOp>(
        SymbolTable::lookupNearestSymbolFrom(op, name));
    if (!mod || failed(getOrCreateScoreModDerivative(mod)))
      return op.emitOpError("needs the derivative of score_mod ")
             << name << " with respect to the score";
  }
  return verifyPatternCodegen(op.getLoc(), op.getPattern(), op, sq, sk);
}

namespace {

struct LowerAttentionGradToGPU : OpRewritePattern<AttentionGradOp> {
  LowerAttentionGradToGPU(MLIRContext *ctx,
                          const SparseAttnToGPUOptions &options)
      : OpRewritePattern(ctx), options(options) {}

  LogicalResult matchAndRewrite(AttentionGradOp op,
                                PatternRewriter &rw) const override;

  SparseAttnToGPUOptions options;
};

LogicalResult
LowerAttentionGradToGPU::matchAndRewrite(AttentionGradOp op,
                                         PatternRewriter &rw) const {
  if (failed(checkGradLowerableToGPU(op, options)))
    return rw.notifyMatchFailure(op, "not lowerable to the GPU backward");
  Location loc = op.getLoc();
  MLIRContext *ctx = rw.getContext();
  auto module = op->getParentOfType<ModuleOp>();
  auto qT = llvm::cast<RankedTensorType>(op.getQuery().getType());
  auto kT = llvm::cast<RankedTensorType>(op.getKey().getType());
  auto vT = llvm::cast<RankedTensorType>(op.getValue().getType());
  int64_t batch = qT.getDimSize(0), hq = qT.getDimSize(1),
          sq = qT.getDimSize(2), d = qT.getDimSize(3);
  int64_t hkv = kT.getDimSize(1), sk = kT.getDimSize(2), dv = vT.getDimSize(3);
  Type elt = qT.getElementType();
  int64_t eltBytes = elt.getIntOrFloatBitWidth() / 8;
  GradTiles tiles = gradTiles(options);

  // The tile lists of both kernels.
  // Document masks: partial tiles classified at run time from the segment
  // ids (skipped, unmasked or masked), as the forward does.
  bool segmentSkip =
      op.getQuerySegmentIds() && impliesSameSegment(op.getPattern());
  TileProblem problem = tileProblemOf(op);
  std::vector<TileKind> sameByQuery, sameByKey;
  FailureOr<std::vector<TileKind>> byQuery =
      classifyTiles(problem, tiles.bq, tiles.bk, &sameByQuery);
  FailureOr<std::vector<TileKind>> byKey =
      classifyTiles(problem, tiles.bqt, tiles.bkv, &sameByKey);
  if (failed(byQuery) || failed(byKey))
    return failure();
  int64_t nq = ceilDivPositive(sq, tiles.bq), nk = ceilDivPositive(sk, tiles.bk);
  int64_t nqt = ceilDivPositive(sq, tiles.bqt),
          nkv = ceilDivPositive(sk, tiles.bkv);
  TileTables queryTables =
      compressTiles(*byQuery, nq, nk, /*byKey=*/false, tiles.bq, tiles.bk, sq,
                    sk, segmentSkip ? &sameByQuery : nullptr);
  TileTables keyTables =
      compressTiles(*byKey, nqt, nkv, /*byKey=*/true, tiles.bqt, tiles.bkv, sq,
                    sk, segmentSkip ? &sameByKey : nullptr);

  // Host side: the operands, Delta (a temporary) and the gradients.
  Value qBuf = hostBufferOf(rw, loc, op.getQuery());
  Value kBuf = hostBufferOf(rw, loc, op.getKey());
  Value vBuf = hostBufferOf(rw, loc, op.getValue());
  Value oBuf = hostBufferOf(rw, loc, op.getOutput());
  Value lseBuf = hostBufferOf(rw, loc, op.getLse());
  Value doBuf = hostBufferOf(rw, loc, op.getGradOutput());
  Value qSegBuf, kSegBuf;
  if (op.getQuerySegmentIds()) {
    qSegBuf = hostBufferOf(rw, loc, op.getQuerySegmentIds());
    kSegBuf = hostBufferOf(rw, loc, op.getKeySegmentIds());
  }
  // Runtime block tables (FlexAttention's BlockMask tensors), passed to both
  // kernels as the caller gives them: each thread block reads its row (the
  // query-block kernel) or its column (the key-block kernel: the generated
  // transposition) into a bitmask in shared memory.
  Value kvNumBuf, kvIdxBuf, fullNumBuf, fullIdxBuf;
  if (op.hasBlockTables()) {
    kvNumBuf = hostBufferOf(rw, loc, op.getKvNumBlocks());
    kvIdxBuf = hostBufferOf(rw, loc, op.getKvIndices());
    if (op.getFullNumBlocks()) {
      fullNumBuf = hostBufferOf(rw, loc, op.getFullNumBlocks());
      fullIdxBuf = hostBufferOf(rw, loc, op.getFullIndices());
    }
  }
  auto f32 = rw.getF32Type();
  Value deltaBuf = hostAlloc(rw, loc, RankedTensorType::get({batch, hq, sq}, f32));
  auto resultType = [&](Value v) {
    return llvm::cast<RankedTensorType>(v.getType());
  };
  Value dqBuf = hostAlloc(rw, loc, resultType(op.getGradQuery()));
  Value dkBuf = hostAlloc(rw, loc, resultType(op.getGradKey()));
  Value dvBuf = hostAlloc(rw, loc, resultType(op.getGradValue()));
  ConstantGlobals hostGlobals(module, /*alignment=*/16);

  gpu::GPUModuleOp kernels = getOrCreateKernelModule(rw, loc, module);
  ScoreModOp scoreMod, scoreModGrad;
  if (FlatSymbolRefAttr name = op.getScoreModAttr()) {
    scoreMod = llvm::cast<ScoreModOp>(
        SymbolTable::lookupNearestSymbolFrom(op, name));
    scoreModGrad = *getOrCreateScoreModDerivative(scoreMod); // checked
  }
  int64_t kvTileBytes = tiles.bk * (d + 8) * eltBytes;
  int64_t vTileBytes = tiles.bk * (dv + 8) * eltBytes;
  bool atomicDq = options.gradDq == "atomic";
  // Both kernels' products on warpgroup MMAs (mma=wgmma, checked).
  bool wgmma = gradUsesWgmma(op, options);
  KeyBlockSharedPlan keyPlan(eltBytes, tiles.bkv, tiles.bqt, d, dv, atomicDq,
                             wgmma);
  QueryBlockSharedPlan queryPlan(eltBytes, tiles.bq, tiles.bk, d, dv, wgmma);
  // Atomic dQ: the f32 accumulator the key-block kernel sums into.
  Value dqAccBuf;
  if (atomicDq)
    dqAccBuf = hostAlloc(rw, loc, RankedTensorType::get({batch, hq, sq, d}, f32));
  auto wg = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);

  // Every kernel's builder: types, tiles, sizes, scale.
  auto configure = [&](GradKernelBuilder &kb) {
    kb.elt = elt;
    kb.f32 = f32;
    kb.warps = options.warps;
    kb.bq = tiles.bq;
    kb.bk = tiles.bk;
    kb.bqt = tiles.bqt;
    kb.bkv = tiles.bkv;
    kb.d = d;
    kb.dv = dv;
    kb.sq = sq;
    kb.sk = sk;
    kb.group = hq / hkv;
    kb.hq = hq;
    kb.scale = *op.getEffectiveScale();
    kb.overlapProducts = wgmma && options.overlap;
  };

  // One kernel: its arguments (value, role, builder field), tables, body
  // and launch.
  auto emitKernel = [&](StringRef name, bool keyKernel) {
    GradKernelBuilder kb(rw, loc, op);
    KernelSignature sig;
    sig.add(qBuf, "query", &kb.q);
    sig.add(kBuf, "key", &kb.k);
    sig.add(vBuf, "value", &kb.v);
    if (!keyKernel)
      sig.add(oBuf, "output", &kb.o);
    sig.add(lseBuf, "lse", &kb.lseIn);
    sig.add(doBuf, "grad_output", &kb.dO);
    if (qSegBuf) {
      sig.add(qSegBuf, "query_segment_ids", &kb.qSeg);
      sig.add(kSegBuf, "key_segment_ids", &kb.kSeg);
    }
    sig.add(deltaBuf, "delta", &kb.delta);
    if (keyKernel) {
      sig.add(dkBuf, "grad_key", &kb.dkOut);
      sig.add(dvBuf, "grad_value", &kb.dvOut);
      if (dqAccBuf)
        sig.add(dqAccBuf, "dq_accumulator", &kb.dqAcc);
    } else {
      sig.add(dqBuf, "grad_query", &kb.dqOut);
    }
    // Runtime block tables (FlexAttention's BlockMask tensors), passed to
    // both kernels as the caller gives them: each thread block reads its
    // row (the query-block kernel) or its column (the key-block kernel: the
    // generated transposition) into a bitmask in shared memory.
    if (op.hasBlockTables()) {
      sig.add(kvNumBuf, "kv_num_blocks", &kb.kvNum);
      sig.add(kvIdxBuf, "kv_indices", &kb.kvIdx);
      if (fullNumBuf) {
        sig.add(fullNumBuf, "full_num_blocks", &kb.fullNum);
        sig.add(fullIdxBuf, "full_indices", &kb.fullTableIdx);
      }
    }
    const TileTables &tt = keyKernel ? keyTables : queryTables;
    std::string prefix =
        keyKernel ? "__sparse_attn_grad_by_key" : "__sparse_attn_grad_by_query";
    for (auto [data, what, field] :
         {std::tuple(&tt.fullOffsets, "_full_offsets", &kb.fullOffsets),
          std::tuple(&tt.fullIndices, "_full_indices", &kb.fullIndices),
          std::tuple(&tt.partialOffsets, "_partial_offsets",
                     &kb.partialOffsets),
          std::tuple(&tt.partialIndices, "_partial_indices",
                     &kb.partialIndices),
          std::tuple(&tt.order, "_order", &kb.blockOrder),
          std::tuple(&tt.partialFlags, "_partial_flags", &kb.partFlags)}) {
      if (data == &tt.partialFlags && !segmentSkip)
        continue;
      memref::GetGlobalOp g =
          hostGlobals.getI32(rw, loc, *data, prefix + what);
      sig.add(g, ("table:" + g.getName()).str(), field);
    }
    int64_t shared = keyKernel ? keyPlan.total : queryPlan.total;
    // Document masks: the compacted list of a row's partial tiles (entries
    // and the count) after the tiles, when it fits. Runtime block tables:
    // the list of every tile that runs and the bitmask of listed table
    // blocks (always; checked to fit).
    int64_t maxPartial = 0, listOffset = (shared + 15) / 16 * 16, words = 0,
            bitsOffset = 0;
    bool codesInShared;
    if (op.hasBlockTables()) {
      RuntimeListPlan plan = runtimeListPlan(op, tiles, keyKernel, shared);
      maxPartial = plan.entries - 1;
      listOffset = plan.listOffset;
      words = plan.words;
      bitsOffset = plan.bitsOffset;
      shared = plan.total;
      codesInShared = true;
    } else {
      for (size_t i = 0; i + 1 < tt.partialOffsets.size(); ++i)
        maxPartial = std::max<int64_t>(
            maxPartial, tt.partialOffsets[i + 1] - tt.partialOffsets[i]);
      codesInShared = segmentSkip && maxPartial > 0 && maxPartial <= 4096 &&
                      listOffset + 4 * (maxPartial + 1) <= kMaxSharedBytes;
      if (codesInShared)
        shared = listOffset + 4 * (maxPartial + 1);
    }
    gpu::GPUFuncOp func;
    {
      OpBuilder::InsertionGuard guard(rw);
      func = createKernel(rw, loc, kernels, name, sig.types(), {},
                          32 * options.warps);
      configure(kb);
      kb.scoreMod = scoreMod;
      kb.scoreModGrad = scoreModGrad;
      ConstantGlobals deviceGlobals(kernels, /*alignment=*/16);
      kb.deviceGlobals = &deviceGlobals;
      sig.bind(func);
      if (op.hasBlockTables()) {
        kb.tbq = op.getTableBlock()->front();
        kb.tbk = op.getTableBlock()->back();
      }
      kb.segmentSkip = segmentSkip;
      kb.smem = gpu::DynamicSharedMemoryOp::create(
          rw, loc,
          MemRefType::get({ShapedType::kDynamic}, rw.getI8Type(),
                          MemRefLayoutAttrInterface(), wg));
      kb.ksType = MemRefType::get({tiles.bk, d + 8}, elt,
                                  MemRefLayoutAttrInterface(), wg);
      kb.vsType = MemRefType::get({tiles.bk, dv + 8}, elt,
                                  MemRefLayoutAttrInterface(), wg);
      kb.kTileBytes = kvTileBytes;
      kb.vTileBytes = vTileBytes;
      kb.keyPlan = &keyPlan;
      kb.wgmma = wgmma;
      if (wgmma && !keyKernel) {
        kb.qOff = queryPlan.qOff;
        kb.gradOutOff = queryPlan.doOff;
        kb.kOff = queryPlan.kOff;
        kb.vOff = queryPlan.vOff;
      }
      kb.maxPartial = maxPartial;
      if (codesInShared)
        kb.tileCodes = memref::ViewOp::create(
            rw, loc,
            MemRefType::get({maxPartial + 1}, rw.getI32Type(),
                            MemRefLayoutAttrInterface(), wg),
            kb.smem, arith::ConstantIndexOp::create(rw, loc, listOffset),
            ValueRange{});
      if (op.hasBlockTables())
        kb.listedBits = memref::ViewOp::create(
            rw, loc,
            MemRefType::get({words}, rw.getI32Type(),
                            MemRefLayoutAttrInterface(), wg),
            kb.smem, arith::ConstantIndexOp::create(rw, loc, bitsOffset),
            ValueRange{});
      if (keyKernel)
        kb.keyBlockKernel();
      else
        kb.queryBlockKernel();
      gpu::ReturnOp::create(rw, loc);
      if (options.approxTanh)
        func.walk([&](math::TanhOp t) {
          if (!t.getType().isF32())
            return;
          OpBuilder::InsertionGuard g2(rw);
          rw.setInsertionPoint(t);
          GpuPrimitives prims(rw, t.getLoc());
          rw.replaceOp(t, prims.tanhApprox(t.getOperand()));
        });
    }
    launchKernel(rw, loc, func,
                 {keyKernel ? nkv : nq, keyKernel ? hkv : hq, batch},
                 32 * options.warps, sig.operands(), sig.roles(), shared);
  };
  // Atomic dQ's first and last kernels, grid (query blocks, Hq, B): no
  // tables, no shared memory.
  auto emitRowKernel = [&](StringRef name, bool prepare) {
    GradKernelBuilder kb(rw, loc, op);
    KernelSignature sig;
    if (prepare) {
      sig.add(oBuf, "output", &kb.o);
      sig.add(doBuf, "grad_output", &kb.dO);
      sig.add(deltaBuf, "delta", &kb.delta);
      sig.add(dqAccBuf, "dq_accumulator", &kb.dqAcc);
    } else {
      sig.add(dqAccBuf, "dq_accumulator", &kb.dqAcc);
      sig.add(dqBuf, "grad_query", &kb.dqOut);
    }
    gpu::GPUFuncOp func;
    {
      OpBuilder::InsertionGuard guard(rw);
      func = createKernel(rw, loc, kernels, name, sig.types(), {},
                          32 * options.warps);
      configure(kb);
      sig.bind(func);
      if (prepare)
        kb.prepareKernel();
      else
        kb.dqKernel();
      gpu::ReturnOp::create(rw, loc);
    }
    launchKernel(rw, loc, func, {nq, hq, batch}, 32 * options.warps,
                 sig.operands(), sig.roles(), /*sharedBytes=*/0);
  };
  if (atomicDq) {
    // Delta and a zeroed accumulator; dK, dV and the atomic sums of dQ;
    // dQ scaled and rounded.
    emitRowKernel("sparse_attention_grad_prepare", /*prepare=*/true);
    emitKernel("sparse_attention_grad_key", /*keyKernel=*/true);
    emitRowKernel("sparse_attention_grad_dq", /*prepare=*/false);
  } else {
    // Delta first: the key-block kernel reads it.
    emitKernel("sparse_attention_grad_query", /*keyKernel=*/false);
    emitKernel("sparse_attention_grad_key", /*keyKernel=*/true);
  }

  SmallVector<Value> results;
  for (auto [buf, res] : {std::pair(dqBuf, op.getGradQuery()),
                          std::pair(dkBuf, op.getGradKey()),
                          std::pair(dvBuf, op.getGradValue())})
    results.push_back(bufferization::ToTensorOp::create(
        rw, loc, res.getType(), buf, /*restrict=*/true, /*writable=*/true));
  rw.replaceOp(op, results);
  return success();
}

} // namespace

void mlir::sparse_attn::populateSparseAttnGradToGPUPatterns(
    RewritePatternSet &patterns, const SparseAttnToGPUOptions &options) {
  patterns.add<LowerAttentionGradToGPU>(patterns.getContext(), options);
}
