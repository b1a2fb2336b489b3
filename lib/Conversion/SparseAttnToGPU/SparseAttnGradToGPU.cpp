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

/// The query-block kernel's shared memory: two K and two V tiles of block-k
/// rows padded by 8 elements (the forward's mma.sync plan).
int64_t queryKernelSharedBytes(int64_t eltBytes, int64_t bk, int64_t d,
                               int64_t dv) {
  return 2 * (bk * (d + 8) + bk * (dv + 8)) * eltBytes;
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
                          int64_t dv, bool atomicDq) {
  int64_t bytes =
      keyKernel ? KeyBlockSharedPlan(eltBytes, tiles.bkv, tiles.bqt, d, dv,
                                     atomicDq)
                      .total
                : queryKernelSharedBytes(eltBytes, tiles.bk, d, dv);
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

LogicalResult
mlir::sparse_attn::checkGradLowerableToGPU(Operation *operation,
                                           const SparseAttnToGPUOptions &options) {
  auto op = llvm::cast<AttentionGradOp>(operation);
  if (options.mma == "wgmma")
    return op.emitOpError("is lowered with mma.sync only (mma=wgmma is not "
                          "implemented for the backward yet; use mma=sync "
                          "or auto)");
  if (options.gradDq != "deterministic" && options.gradDq != "atomic")
    return op.emitOpError("grad-dq must be deterministic or atomic, got '")
           << options.gradDq << "'";
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
  int64_t bytes = std::max(
      kernelSharedBytes(op, tiles, /*keyKernel=*/false, eltBytes, d, dv,
                        atomicDq),
      kernelSharedBytes(op, tiles, /*keyKernel=*/true, eltBytes, d, dv,
                        atomicDq));
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
  SmallVector<std::pair<Value, std::string>> tableArgs;
  if (op.hasBlockTables()) {
    tableArgs.push_back({hostBufferOf(rw, loc, op.getKvNumBlocks()),
                         "kv_num_blocks"});
    tableArgs.push_back({hostBufferOf(rw, loc, op.getKvIndices()),
                         "kv_indices"});
    if (op.getFullNumBlocks()) {
      tableArgs.push_back({hostBufferOf(rw, loc, op.getFullNumBlocks()),
                           "full_num_blocks"});
      tableArgs.push_back({hostBufferOf(rw, loc, op.getFullIndices()),
                           "full_indices"});
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
  KeyBlockSharedPlan keyPlan(eltBytes, tiles.bkv, tiles.bqt, d, dv, atomicDq);
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
  };

  // One kernel: its arguments (value, role), tables, body and launch.
  auto emitKernel = [&](StringRef name, bool keyKernel) {
    SmallVector<std::pair<Value, std::string>> args = {
        {qBuf, "query"}, {kBuf, "key"}, {vBuf, "value"}};
    if (!keyKernel)
      args.push_back({oBuf, "output"});
    args.push_back({lseBuf, "lse"});
    args.push_back({doBuf, "grad_output"});
    if (qSegBuf) {
      args.push_back({qSegBuf, "query_segment_ids"});
      args.push_back({kSegBuf, "key_segment_ids"});
    }
    args.push_back({deltaBuf, "delta"});
    if (keyKernel) {
      args.push_back({dkBuf, "grad_key"});
      args.push_back({dvBuf, "grad_value"});
      if (dqAccBuf)
        args.push_back({dqAccBuf, "dq_accumulator"});
    } else {
      args.push_back({dqBuf, "grad_query"});
    }
    args.append(tableArgs.begin(), tableArgs.end());
    const TileTables &tt = keyKernel ? keyTables : queryTables;
    std::string prefix =
        keyKernel ? "__sparse_attn_grad_by_key" : "__sparse_attn_grad_by_query";
    for (auto [data, what] :
         {std::pair(&tt.fullOffsets, "_full_offsets"),
          std::pair(&tt.fullIndices, "_full_indices"),
          std::pair(&tt.partialOffsets, "_partial_offsets"),
          std::pair(&tt.partialIndices, "_partial_indices"),
          std::pair(&tt.order, "_order"),
          std::pair(&tt.partialFlags, "_partial_flags")}) {
      if (data == &tt.partialFlags && !segmentSkip)
        continue;
      memref::GetGlobalOp g =
          hostGlobals.getI32(rw, loc, *data, prefix + what);
      args.push_back({g, ("table:" + g.getName()).str()});
    }
    SmallVector<Type> argTypes;
    SmallVector<Value> operands;
    SmallVector<StringRef> roles;
    for (auto &[v, role] : args) {
      argTypes.push_back(v.getType());
      operands.push_back(v);
      roles.push_back(role);
    }
    int64_t shared = keyKernel ? keyPlan.total
                               : queryKernelSharedBytes(eltBytes, tiles.bk, d,
                                                        dv);
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
      func = createKernel(rw, loc, kernels, name, argTypes, {},
                          32 * options.warps);
      Block &entry = func.getBody().front();
      GradKernelBuilder kb(rw, loc, op);
      configure(kb);
      kb.scoreMod = scoreMod;
      kb.scoreModGrad = scoreModGrad;
      ConstantGlobals deviceGlobals(kernels, /*alignment=*/16);
      kb.deviceGlobals = &deviceGlobals;
      unsigned i = 0;
      auto next = [&]() -> Value { return entry.getArgument(i++); };
      kb.q = next();
      kb.k = next();
      kb.v = next();
      if (!keyKernel)
        kb.o = next();
      kb.lseIn = next();
      kb.dO = next();
      if (qSegBuf) {
        kb.qSeg = next();
        kb.kSeg = next();
      }
      kb.delta = next();
      if (keyKernel) {
        kb.dkOut = next();
        kb.dvOut = next();
        if (dqAccBuf)
          kb.dqAcc = next();
      } else {
        kb.dqOut = next();
      }
      if (op.hasBlockTables())
        kb.bindBlockTables(op, next);
      kb.fullOffsets = next();
      kb.fullIndices = next();
      kb.partialOffsets = next();
      kb.partialIndices = next();
      kb.blockOrder = next();
      if (segmentSkip) {
        kb.partFlags = next();
        kb.segmentSkip = true;
      }
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
    auto c = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(rw, loc, v);
    };
    int64_t gridX = keyKernel ? nkv : nq;
    auto launch = gpu::LaunchFuncOp::create(
        rw, loc, func,
        gpu::KernelDim3{c(gridX), c(keyKernel ? hkv : hq), c(batch)},
        gpu::KernelDim3{c(32 * options.warps), c(1), c(1)},
        arith::ConstantIntOp::create(rw, loc, rw.getI32Type(), shared),
        operands);
    SmallVector<Attribute> r;
    for (StringRef role : roles)
      r.push_back(rw.getStringAttr(role));
    launch->setAttr(kKernelArgsAttrName, rw.getArrayAttr(r));
  };
  // Atomic dQ's first and last kernels, grid (query blocks, Hq, B): no
  // tables, no shared memory.
  auto emitRowKernel = [&](StringRef name, bool prepare) {
    SmallVector<std::pair<Value, std::string>> args;
    if (prepare)
      args = {{oBuf, "output"},
              {doBuf, "grad_output"},
              {deltaBuf, "delta"},
              {dqAccBuf, "dq_accumulator"}};
    else
      args = {{dqAccBuf, "dq_accumulator"}, {dqBuf, "grad_query"}};
    SmallVector<Type> argTypes;
    SmallVector<Value> operands;
    SmallVector<Attribute> roles;
    for (auto &[v, role] : args) {
      argTypes.push_back(v.getType());
      operands.push_back(v);
      roles.push_back(rw.getStringAttr(role));
    }
    gpu::GPUFuncOp func;
    {
      OpBuilder::InsertionGuard guard(rw);
      func = createKernel(rw, loc, kernels, name, argTypes, {},
                          32 * options.warps);
      Block &entry = func.getBody().front();
      GradKernelBuilder kb(rw, loc, op);
      configure(kb);
      if (prepare) {
        kb.o = entry.getArgument(0);
        kb.dO = entry.getArgument(1);
        kb.delta = entry.getArgument(2);
        kb.dqAcc = entry.getArgument(3);
        kb.prepareKernel();
      } else {
        kb.dqAcc = entry.getArgument(0);
        kb.dqOut = entry.getArgument(1);
        kb.dqKernel();
      }
      gpu::ReturnOp::create(rw, loc);
    }
    auto c = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(rw, loc, v);
    };
    auto launch = gpu::LaunchFuncOp::create(
        rw, loc, func, gpu::KernelDim3{c(nq), c(hq), c(batch)},
        gpu::KernelDim3{c(32 * options.warps), c(1), c(1)},
        arith::ConstantIntOp::create(rw, loc, rw.getI32Type(), 0), operands);
    launch->setAttr(kKernelArgsAttrName, rw.getArrayAttr(roles));
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
