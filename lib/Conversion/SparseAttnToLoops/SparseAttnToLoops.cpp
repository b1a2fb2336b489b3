//===- SparseAttnToLoops.cpp - fused, block-skipping CPU lowering ---------===//
//
// sparse_attn.attention -> scf.parallel over (batch, head, query block)
//   for each non-empty key block of the query block (block_mask tables):
//     for each query row r of the tile:
//       s[c]  = scale * q_r . k_c            (vector<D> products, f32)
//       s[c]  = score_mod(s[c]); masked only on partial tiles
//       m'    = max(m, max_c s[c]);  alpha = exp(m - m')
//       l'    = alpha * l + sum_c exp(s[c] - m')
//       acc_r = alpha * acc_r + sum_c exp(s[c] - m') * v_c   (vector<Dv>)
//   O_r = acc_r / l (0 when l == 0), LSE_r = m + log(l) (-inf when l == 0)
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Conversion/Passes.h"

#include "CPUKernel.h"

#include "sparse_attn/Dialect/SparseAttn/Analysis/PatternAnalysis.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"
#include "sparse_attn/Dialect/SparseAttn/Utils/ConstantGlobals.h"
#include "sparse_attn/Dialect/SparseAttn/Utils/PatternCodegen.h"
#include "llvm/Support/ErrorHandling.h"

#include "mlir/Dialect/AMX/AMXDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include <limits>

namespace mlir {
namespace sparse_attn {
#define GEN_PASS_DEF_CONVERTSPARSEATTNTOLOOPS
#include "sparse_attn/Conversion/Passes.h.inc"
} // namespace sparse_attn
} // namespace mlir

using namespace mlir;
using namespace mlir::sparse_attn;
using namespace mlir::sparse_attn::cpu;

namespace {

struct LowerAttention : OpRewritePattern<AttentionOp> {
  LowerAttention(MLIRContext *ctx, const SparseAttnToLoopsOptions &options)
      : OpRewritePattern(ctx), options(options) {}

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rw) const override;

  SparseAttnToLoopsOptions options;
};

/// Lanes of the vector form checked before rewriting (the kernel uses its
/// padded query-block height; a pattern's vector form does not depend on
/// the lane count).
constexpr int64_t kVectorCheckLanes = 16;

/// Every predicate the kernel builds must build, before anything is
/// rewritten: the op's pattern and, for document masks, its single-segment
/// form, each in the vector form too where the pattern claims one.
/// Diagnoses the first that does not.
LogicalResult verifyMaskCodegen(AttentionOp op) {
  // Predicates see the problem's lengths (a tile's tile_of sizes).
  auto [hq, sq, sk] = op.getProblemShape();
  (void)hq;
  SmallVector<Attribute, 2> masks{op.getPattern()};
  if (op.getQuerySegmentIds() && impliesSameSegment(op.getPattern()))
    masks.push_back(withoutSegments(op.getPattern()));
  for (Attribute m : masks) {
    if (failed(verifyPatternCodegen(op.getLoc(), m, op, sq, sk)))
      return failure();
    if (isVectorizablePattern(m) &&
        failed(verifyPatternCodegen(op.getLoc(), m, op, sq, sk,
                                    kVectorCheckLanes)))
      return failure();
  }
  return success();
}

LogicalResult LowerAttention::matchAndRewrite(AttentionOp op,
                                              PatternRewriter &rw) const {
  Location loc = op.getLoc();
  auto qT = llvm::cast<RankedTensorType>(op.getQuery().getType());
  auto kT = llvm::cast<RankedTensorType>(op.getKey().getType());
  auto vT = llvm::cast<RankedTensorType>(op.getValue().getType());
  Kernel kn(op, loc);
  kn.pattern = op.getPattern();
  kn.elt = qT.getElementType();
  kn.f32 = rw.getF32Type();
  kn.d = qT.getDimSize(3);
  kn.dv = vT.getDimSize(3);
  if (ShapedType::isDynamic(kn.d) || ShapedType::isDynamic(kn.dv))
    return rw.notifyMatchFailure(op, "dynamic head dimension");
  kn.scale = *op.getEffectiveScale();
  // What the pass checked, for drivers that only add the pattern (the op
  // is left in place; finishAttentionLowering reports it).
  if (failed(verifyMaskCodegen(op)))
    return rw.notifyMatchFailure(op, "no code generation for the pattern");
  auto module = op->getParentOfType<ModuleOp>();
  kn.symbolScope = op;
  if (FlatSymbolRefAttr name = op.getScoreModAttr())
    kn.scoreMod = llvm::dyn_cast_or_null<ScoreModOp>(
        SymbolTable::lookupNearestSymbolFrom(op, name));
  kn.scoreModOnVectors =
      kn.scoreMod && isVectorizableRegion(kn.scoreMod.getBody());
  ConstantGlobals tables(module);
  kn.tables = &tables;

  bindAttentionOperands(rw, loc, kn, op);

  auto dim = [&](Value mem, int64_t i) -> Value {
    return memref::DimOp::create(rw, loc, mem, i);
  };
  Value batch = dim(kn.q, 0), heads = dim(kn.q, 1);
  kn.sq = dim(kn.q, 2);
  kn.sk = dim(kn.k, 2);
  std::array<int64_t, 3> problem = op.getProblemShape();
  kn.problemSq = problem[1];
  kn.problemSk = problem[2];
  if (op.isTile()) {
    for (auto [i, v] : llvm::enumerate(op.getOffsets()))
      kn.at[i] = v;
    // The tile must lie inside its problem (checked first: the head map
    // divides by Hkv); query head h0 + h reads key/value head
    // (h0 + h) / (Hq / Hkv) of the problem.
    assertTileInProblem(rw, loc, op, kn, heads);
    Value problemHq = op.getProblemSizes()[0];
    kn.group = arith::DivUIOp::create(rw, loc, problemHq, dim(kn.k, 1));
  } else {
    kn.group = arith::DivUIOp::create(rw, loc, heads, dim(kn.k, 1));
  }

  // Outputs.
  if (op.hasBlockTables())
    assertTableShapes(rw, loc, op, kn, batch, heads);

  auto oT = llvm::cast<RankedTensorType>(op.getOutput().getType());
  SmallVector<Value> oDyn;
  Value dynDims[4] = {batch, heads, kn.sq, nullptr};
  for (int64_t i = 0; i < 3; ++i)
    if (oT.isDynamicDim(i))
      oDyn.push_back(dynDims[i]);
  kn.out = memref::AllocOp::create(
      rw, loc, MemRefType::get(oT.getShape(), oT.getElementType()), oDyn,
      rw.getI64IntegerAttr(64));
  if (Value lse = op.getLse()) {
    auto lT = llvm::cast<RankedTensorType>(lse.getType());
    SmallVector<Value> lDyn;
    for (int64_t i = 0; i < 3; ++i)
      if (lT.isDynamicDim(i))
        lDyn.push_back(dynDims[i]);
    kn.lse = memref::AllocOp::create(
        rw, loc, MemRefType::get(lT.getShape(), rw.getF32Type()), lDyn,
        rw.getI64IntegerAttr(64));
  }

  // Block tables.
  BlockMaskAttr mask = op.getBlockMaskAttr();
  int64_t sqStatic = qT.getDimSize(2), skStatic = kT.getDimSize(2);
  bool staticSeq = !ShapedType::isDynamic(sqStatic) &&
                   !ShapedType::isDynamic(skStatic);
  std::optional<int64_t> tileCount =
      staticSeq ? numTiles(sqStatic, skStatic, options.blockQ, options.blockK)
                : std::nullopt;
  if (!mask && !op.hasBlockTables() && !op.isTile() && tileCount &&
      *tileCount <= kMaxCompileTimeTableTiles) {
    MaskInterpreter masks(op);
    PatternContext ctx(sqStatic, skStatic);
    ctx.customMasks = &masks;
    SmallVector<FlatSymbolRefAttr> custom;
    op.getPattern().collectCustomMasks(custom);
    bool perHead = llvm::any_of(custom, [&](FlatSymbolRefAttr m) {
      return masks.usesBatchOrHead(m);
    });
    if (!perHead) {
      mask = toBlockMaskAttr(rw.getContext(),
                             classifyBlocks(op.getPattern(), ctx,
                                            options.blockQ, options.blockK));
      if (masks.hadError())
        return failure();
    }
  }
  if (mask) {
    kn.bq = mask.getBlockQ();
    kn.bk = mask.getBlockK();
    kn.partialOffsets = tables.getI32(rw, loc, mask.getPartialOffsets(), "__sparse_attn_partial_offsets");
    kn.partialIndices = tables.getI32(rw, loc, mask.getPartialIndices(), "__sparse_attn_partial_indices");
    kn.fullOffsets = tables.getI32(rw, loc, mask.getFullOffsets(), "__sparse_attn_full_offsets");
    kn.fullIndices = tables.getI32(rw, loc, mask.getFullIndices(), "__sparse_attn_full_indices");
  } else if (op.hasBlockTables()) {
    // The kernel's tiles are the tables' blocks.
    kn.bq = op.getTableBlock()->front();
    kn.bk = op.getTableBlock()->back();
  } else {
    kn.bq = options.blockQ;
    kn.bk = options.blockK;
  }
  // A tile larger than a static sequence is that sequence (same partition:
  // one block); it bounds the scratch buffers. With a dynamic length the
  // tile size is used as given.
  if (!ShapedType::isDynamic(sqStatic) && kn.bq > sqStatic)
    kn.bq = std::max<int64_t>(sqStatic, 1);
  if (!ShapedType::isDynamic(skStatic) && kn.bk > skStatic)
    kn.bk = std::max<int64_t>(skStatic, 1);
  kn.bqPad = (kn.bq + 15) / 16 * 16;
  kn.amx = options.amx && kn.elt.isBF16() && kn.d % 32 == 0 &&
           kn.dv % 16 == 0 && kn.bk % 32 == 0;
  kn.bf16Dot =
      !kn.amx && options.bf16Dot && kn.elt.isBF16() && kn.d % 2 == 0;
  // Both keep the query block in bf16 pairs of dimensions.
  bool qPairs = kn.amx || kn.bf16Dot;
  Value bqV = cIdx(rw, loc, kn.bq), bkV = cIdx(rw, loc, kn.bk);
  Value c0 = cIdx(rw, loc, 0), c1 = cIdx(rw, loc, 1);
  Value numQBlocks = arith::CeilDivUIOp::create(rw, loc, kn.sq, bqV);
  kn.numKBlocks = arith::CeilDivUIOp::create(rw, loc, kn.sk, bkV);

  if (kn.amx) {
    // Linux hands out the AMX register state on request only (the first
    // tile instruction of a process that did not ask dies of SIGILL).
    auto i32 = rw.getI32Type(), i64 = rw.getI64Type();
    auto prctlType = rw.getFunctionType({i32, i64}, {i32});
    if (!module.lookupSymbol<func::FuncOp>("arch_prctl")) {
      OpBuilder::InsertionGuard guard(rw);
      rw.setInsertionPointToStart(module.getBody());
      func::FuncOp::create(rw, loc, "arch_prctl", prctlType).setPrivate();
    }
    constexpr int64_t kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    Value granted = func::CallOp::create(
                        rw, loc, "arch_prctl", TypeRange{i32},
                        ValueRange{arith::ConstantIntOp::create(
                                       rw, loc, i32, kArchReqXcompPerm),
                                   arith::ConstantIntOp::create(
                                       rw, loc, i64, kXfeatureXtiledata)})
                        .getResult(0);
    cf::AssertOp::create(
        rw, loc,
        arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq, granted,
                              arith::ConstantIntOp::create(rw, loc, i32, 0)),
        "sparse-attn: this kernel was compiled for AMX, but the operating "
        "system did not grant the AMX tile state (arch_prctl)");

    // V^T, once per call: vT[b][g][n][k] = v[b][g][k][n] (0 for k >= Sk),
    // built from pairs of keys interleaved (one 32-bit word per value
    // column) and 16 x 16 transposes of those words.
    Value hkv = dim(kn.k, 1);
    Value skPad = arith::MulIOp::create(rw, loc, kn.numKBlocks, bkV);
    kn.vT = memref::AllocOp::create(
        rw, loc,
        MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic, kn.dv,
                         ShapedType::kDynamic},
                        kn.elt),
        ValueRange{batch, hkv, skPad}, rw.getI64IntegerAttr(64));
    scf::ParallelOp::create(
        rw, loc, ValueRange{c0, c0, c0}, ValueRange{batch, hkv, kn.numKBlocks},
        ValueRange{c1, c1, c1},
        [&](OpBuilder &b, Location loc, ValueRange ivs) {
          Value k0 = arith::MulIOp::create(b, loc, ivs[2], bkV);
          auto v16h = VectorType::get({16}, kn.elt);
          auto v16i = VectorType::get({16}, b.getI32Type());
          auto v32h = VectorType::get({32}, kn.elt);
          Value zero16 = arith::ConstantOp::create(
              b, loc, v16h, DenseElementsAttr::get(v16h, b.getZeroAttr(kn.elt)));
          Value lastKey = arith::SubIOp::create(b, loc, kn.sk, c1);
          auto row = [&](OpBuilder &b, Value key, Value n0) -> Value {
            Value inside = arith::CmpIOp::create(
                b, loc, arith::CmpIPredicate::slt, key, kn.sk);
            Value r = vector::LoadOp::create(
                b, loc, v16h, kn.v,
                ValueRange{ivs[0], ivs[1],
                           arith::MinSIOp::create(b, loc, key, lastKey), n0});
            return arith::SelectOp::create(b, loc, inside, r, zero16);
          };
          scf::ForOp::create(
              b, loc, c0, bkV, cIdx(b, loc, 32), ValueRange{},
              [&](OpBuilder &b, Location loc, Value kc, ValueRange) {
                Value key0 = arith::AddIOp::create(b, loc, k0, kc);
                scf::ForOp::create(
                    b, loc, c0, cIdx(b, loc, kn.dv), cIdx(b, loc, 16),
                    ValueRange{},
                    [&](OpBuilder &b, Location loc, Value n0, ValueRange) {
                      SmallVector<Value> words;
                      for (int64_t p = 0; p < 16; ++p) {
                        Value k = arith::AddIOp::create(b, loc, key0,
                                                        cIdx(b, loc, 2 * p));
                        Value k1 = arith::AddIOp::create(b, loc, k, c1);
                        words.push_back(vector::BitCastOp::create(
                            b, loc, v16i,
                            vector::InterleaveOp::create(b, loc, row(b, k, n0),
                                                         row(b, k1, n0))));
                      }
                      SmallVector<Value> t = transpose16(b, loc, words);
                      for (int64_t j = 0; j < 16; ++j)
                        vector::StoreOp::create(
                            b, loc, vector::BitCastOp::create(b, loc, v32h, t[j]),
                            kn.vT,
                            ValueRange{ivs[0], ivs[1],
                                       arith::AddIOp::create(b, loc, n0,
                                                             cIdx(b, loc, j)),
                                       key0});
                      scf::YieldOp::create(b, loc);
                    });
                scf::YieldOp::create(b, loc);
              });
          scf::ReduceOp::create(b, loc);
        });
  }

  // One parallel iteration per (batch, head, query block). Its accumulators
  // and row of scores are allocated inside the iteration (so iterations may
  // run on different threads); buffer-deallocation frees them at its end.
  scf::ParallelOp::create(
      rw, loc, ValueRange{c0, c0, c0}, ValueRange{batch, heads, numQBlocks},
      ValueRange{c1, c1, c1},
      [&](OpBuilder &b, Location loc, ValueRange ivs) {
        auto scratch = [&](ArrayRef<int64_t> shape) -> Value {
          return memref::AllocOp::create(
              b, loc, MemRefType::get(shape, b.getF32Type()), ValueRange{},
              b.getI64IntegerAttr(64));
        };
        Value acc = scratch({kn.bqPad, kn.dv});
        // AMX accumulates O^T; acc receives its transpose at the end.
        Value accT = kn.amx ? scratch({kn.dv, kn.bqPad}) : Value();
        if (kn.amx) {
          kn.kTail = memref::AllocOp::create(
              b, loc, MemRefType::get({kn.bk, kn.d}, kn.elt), ValueRange{},
              b.getI64IntegerAttr(64));
          kn.pB = memref::AllocOp::create(
              b, loc, MemRefType::get({kn.bk / 2, 2 * kn.bqPad}, kn.elt),
              ValueRange{}, b.getI64IntegerAttr(64));
        }
        Value mB = scratch({kn.bqPad});
        Value lB = scratch({kn.bqPad});
        Value qT = qPairs
                       ? memref::AllocOp::create(
                             b, loc,
                             MemRefType::get({kn.d / 2, 2 * kn.bqPad}, kn.elt),
                             ValueRange{}, b.getI64IntegerAttr(64))
                             .getResult()
                       : scratch({kn.d, kn.bqPad});
        Value sT = scratch({kn.bk, kn.bqPad});
        kn.vWide = kn.elt.isF32() || kn.amx ? Value() : scratch({kn.bk, kn.dv});
        Value bIdx = ivs[0], hIdx = ivs[1], qb = ivs[2];
        Value gIdx = arith::DivUIOp::create(
            b, loc, kn.problemPos(b, loc, 1, hIdx), kn.group);
        Value q0 = arith::MulIOp::create(b, loc, qb, bqV);
        Value rows = arith::MinSIOp::create(
            b, loc, bqV, arith::SubIOp::create(b, loc, kn.sq, q0));
        auto f32 = b.getF32Type();
        Value negInf = cF32(b, loc, -std::numeric_limits<float>::infinity());
        Value zero = cF32(b, loc, 0.0f);
        auto vecDvF = VectorType::get({kn.dv}, f32);
        Value zeroVec = arith::ConstantOp::create(
            b, loc, vecDvF, DenseElementsAttr::get(vecDvF, 0.0f));
        auto vecR = VectorType::get({kn.bqPad}, f32);
        vector::StoreOp::create(
            b, loc,
            arith::ConstantOp::create(
                b, loc, vecR,
                DenseElementsAttr::get(
                    vecR, -std::numeric_limits<float>::infinity())),
            mB, ValueRange{c0});
        Value zeroR = arith::ConstantOp::create(
            b, loc, vecR, DenseElementsAttr::get(vecR, 0.0f));
        vector::StoreOp::create(b, loc, zeroR, lB, ValueRange{c0});
        if (kn.amx)
          scf::ForOp::create(
              b, loc, c0, cIdx(b, loc, kn.dv), c1, ValueRange{},
              [&](OpBuilder &b, Location loc, Value n, ValueRange) {
                vector::StoreOp::create(b, loc, zeroR, accT, ValueRange{n, c0});
                scf::YieldOp::create(b, loc);
              });
        else
          scf::ForOp::create(
              b, loc, c0, cIdx(b, loc, kn.bqPad), c1, ValueRange{},
              [&](OpBuilder &b, Location loc, Value r, ValueRange) {
                vector::StoreOp::create(b, loc, zeroVec, acc, ValueRange{r, c0});
                scf::YieldOp::create(b, loc);
              });
        // bf16 dot products and AMX: the query block as pairs of
        // dimensions, qT[d / 2][2 r + d % 2] = q[r][d] (bf16, unscaled; rows
        // past the end of the sequence 0): a transpose of the block viewed
        // as 32-bit words, in 16 x 16 register blocks when D % 32 == 0.
        if (qPairs) {
          auto vecPair = VectorType::get({2 * kn.bqPad}, kn.elt);
          Value zeroBf = arith::ConstantOp::create(
              b, loc, vecPair,
              DenseElementsAttr::get(
                  vecPair, APFloat::getZero(APFloat::BFloat())));
          scf::ForOp::create(
              b, loc, c0, cIdx(b, loc, kn.d / 2), c1, ValueRange{},
              [&](OpBuilder &b, Location loc, Value dp, ValueRange) {
                vector::StoreOp::create(b, loc, zeroBf, qT, ValueRange{dp, c0});
                scf::YieldOp::create(b, loc);
              });
          if (kn.d % 32 == 0) {
            auto v32h = VectorType::get({32}, kn.elt);
            auto v16i = VectorType::get({16}, b.getI32Type());
            Value zero32 = arith::ConstantOp::create(
                b, loc, v32h, DenseElementsAttr::get(v32h, b.getZeroAttr(kn.elt)));
            Value lastRow = arith::SubIOp::create(b, loc, rows, c1);
            scf::ForOp::create(
                b, loc, c0, rows, cIdx(b, loc, 16), ValueRange{},
                [&](OpBuilder &b, Location loc, Value r0, ValueRange) {
                  Value r2 = arith::MulIOp::create(b, loc, r0, cIdx(b, loc, 2));
                  for (int64_t jb = 0; jb < kn.d / 32; ++jb) {
                    SmallVector<Value> words;
                    for (int64_t i = 0; i < 16; ++i) {
                      Value r = arith::AddIOp::create(b, loc, r0, cIdx(b, loc, i));
                      Value inside = arith::CmpIOp::create(
                          b, loc, arith::CmpIPredicate::slt, r, rows);
                      Value qPos = arith::AddIOp::create(
                          b, loc, q0, arith::MinSIOp::create(b, loc, r, lastRow));
                      Value v = vector::LoadOp::create(
                          b, loc, v32h, kn.q,
                          ValueRange{bIdx, hIdx, qPos, cIdx(b, loc, 32 * jb)});
                      v = arith::SelectOp::create(b, loc, inside, v, zero32);
                      words.push_back(vector::BitCastOp::create(b, loc, v16i, v));
                    }
                    SmallVector<Value> t = transpose16(b, loc, words);
                    for (int64_t j = 0; j < 16; ++j)
                      vector::StoreOp::create(
                          b, loc, vector::BitCastOp::create(b, loc, v32h, t[j]),
                          qT, ValueRange{cIdx(b, loc, 16 * jb + j), r2});
                  }
                  scf::YieldOp::create(b, loc);
                });
          } else {
            scf::ForOp::create(
                b, loc, c0, rows, c1, ValueRange{},
                [&](OpBuilder &b, Location loc, Value r, ValueRange) {
                  Value qPos = arith::AddIOp::create(b, loc, q0, r);
                  Value r2 = arith::MulIOp::create(b, loc, r, cIdx(b, loc, 2));
                  scf::ForOp::create(
                      b, loc, c0, cIdx(b, loc, kn.d / 2), c1, ValueRange{},
                      [&](OpBuilder &b, Location loc, Value dp, ValueRange) {
                        Value d0 =
                            arith::MulIOp::create(b, loc, dp, cIdx(b, loc, 2));
                        Value pair = vector::LoadOp::create(
                            b, loc, VectorType::get({2}, kn.elt), kn.q,
                            ValueRange{bIdx, hIdx, qPos, d0});
                        vector::StoreOp::create(b, loc, pair, qT,
                                                ValueRange{dp, r2});
                        scf::YieldOp::create(b, loc);
                      });
                  scf::YieldOp::create(b, loc);
                });
          }
        }
        // The query block, transposed, widened to f32 and scaled: qT[d][r].
        // Rows past the end of the sequence stay 0.
        if (!qPairs) {
        scf::ForOp::create(b, loc, c0, cIdx(b, loc, kn.d), c1, ValueRange{},
                           [&](OpBuilder &b, Location loc, Value d, ValueRange) {
                             vector::StoreOp::create(b, loc, zeroR, qT,
                                                     ValueRange{d, c0});
                             scf::YieldOp::create(b, loc);
                           });
        if (kn.d % 16 == 0) {
          // 16 x 16 blocks: 16 rows of 16 dimensions loaded as vectors,
          // transposed in registers (vector.transpose, lowered to 16 x 16
          // shuffles), stored as 16 columns of 16 rows: 16 vector stores
          // per 256 elements instead of 256 scalar ones. Rows past the end
          // of the sequence read the last row and are zeroed.
          auto v16 = VectorType::get({16}, f32);
          auto v16e = VectorType::get({16}, kn.elt);
          Value scale16 = vector::BroadcastOp::create(
              b, loc, v16, cF32(b, loc, static_cast<float>(kn.scale)));
          Value zero16 = arith::ConstantOp::create(
              b, loc, v16, DenseElementsAttr::get(v16, 0.0f));
          Value lastRow = arith::SubIOp::create(b, loc, rows, c1);
          scf::ForOp::create(
              b, loc, c0, rows, cIdx(b, loc, 16), ValueRange{},
              [&](OpBuilder &b, Location loc, Value r0, ValueRange) {
                for (int64_t db = 0; db < kn.d / 16; ++db) {
                  SmallVector<Value> rowsV;
                  for (int64_t i = 0; i < 16; ++i) {
                    Value r = arith::AddIOp::create(b, loc, r0, cIdx(b, loc, i));
                    Value inside = arith::CmpIOp::create(
                        b, loc, arith::CmpIPredicate::slt, r, rows);
                    Value rc = arith::MinSIOp::create(b, loc, r, lastRow);
                    Value qPos = arith::AddIOp::create(b, loc, q0, rc);
                    Value v = arith::MulFOp::create(
                        b, loc,
                        toF32(b, loc,
                              vector::LoadOp::create(
                                  b, loc, v16e, kn.q,
                                  ValueRange{bIdx, hIdx, qPos,
                                             cIdx(b, loc, 16 * db)})),
                        scale16);
                    rowsV.push_back(
                        arith::SelectOp::create(b, loc, inside, v, zero16));
                  }
                  SmallVector<Value> t = transpose16(b, loc, rowsV);
                  for (int64_t j = 0; j < 16; ++j)
                    vector::StoreOp::create(
                        b, loc, t[j], qT,
                        ValueRange{cIdx(b, loc, 16 * db + j), r0});
                }
                scf::YieldOp::create(b, loc);
              });
        } else {
        auto vecD = VectorType::get({kn.d}, kn.elt);
        auto vecDF = VectorType::get({kn.d}, f32);
        Value scaleV = vector::BroadcastOp::create(
            b, loc, vecDF, cF32(b, loc, static_cast<float>(kn.scale)));
        scf::ForOp::create(
            b, loc, c0, rows, c1, ValueRange{},
            [&](OpBuilder &b, Location loc, Value r, ValueRange) {
              Value qPos = arith::AddIOp::create(b, loc, q0, r);
              Value qrow = arith::MulFOp::create(
                  b, loc,
                  toF32(b, loc, vector::LoadOp::create(
                                    b, loc, vecD, kn.q,
                                    ValueRange{bIdx, hIdx, qPos, c0})),
                  scaleV);
              scf::ForOp::create(
                  b, loc, c0, cIdx(b, loc, kn.d), c1, ValueRange{},
                  [&](OpBuilder &b, Location loc, Value d, ValueRange) {
                    Value x = vector::ExtractOp::create(
                        b, loc, qrow, ArrayRef<OpFoldResult>{d});
                    memref::StoreOp::create(b, loc, x, qT, ValueRange{d, r});
                    scf::YieldOp::create(b, loc);
                  });
              scf::YieldOp::create(b, loc);
            });
        }
        }
        // Document masks: the min / max segment id of the block's rows,
        // and a partial tile is skipped when its keys' id range is disjoint
        // (the pattern implies "same segment", so such a tile is empty).
        bool segmentSkip = kn.qSeg && impliesSameSegment(op.getPattern());
        Value qMin, qMax;
        auto idRange = [&](OpBuilder &b, Value mem, Value lo, Value count)
            -> std::pair<Value, Value> {
          auto i64 = b.getI64Type();
          Value big = arith::ConstantIntOp::create(
              b, loc, i64, std::numeric_limits<int64_t>::max());
          Value small = arith::ConstantIntOp::create(
              b, loc, i64, std::numeric_limits<int64_t>::min());
          auto loop = scf::ForOp::create(
              b, loc, c0, count, c1, ValueRange{big, small},
              [&](OpBuilder &b, Location loc, Value i, ValueRange it) {
                Value id = memref::LoadOp::create(
                    b, loc, mem,
                    ValueRange{bIdx, arith::AddIOp::create(b, loc, lo, i)});
                if (id.getType() != i64)
                  id = arith::ExtSIOp::create(b, loc, i64, id);
                scf::YieldOp::create(
                    b, loc,
                    ValueRange{arith::MinSIOp::create(b, loc, it[0], id),
                               arith::MaxSIOp::create(b, loc, it[1], id)});
              });
          return {loop.getResult(0), loop.getResult(1)};
        };
        if (segmentSkip)
          std::tie(qMin, qMax) = idRange(b, kn.qSeg, q0, rows);
        auto tile = [&](bool masked) {
          return [&, masked](OpBuilder &b, Value kb) {
            if (!masked || !segmentSkip) {
              emitTile(b, kn, bIdx, hIdx, gIdx, q0, rows, kb, masked, qT, sT,
                       kn.amx ? accT : acc, mB, lB);
              return;
            }
            Value k0 = arith::MulIOp::create(b, loc, kb, cIdx(b, loc, kn.bk));
            Value cols = arith::MinSIOp::create(
                b, loc, cIdx(b, loc, kn.bk),
                arith::SubIOp::create(b, loc, kn.sk, k0));
            auto [kMin, kMax] = idRange(b, kn.kSeg, k0, cols);
            Value overlap = arith::AndIOp::create(
                b, loc,
                arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, kMin,
                                      qMax),
                arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, kMax,
                                      qMin));
            // One segment for the whole tile: the mask without the segment
            // test (for causal documents, the vectorised causal mask).
            auto eq = [&](Value x, Value y) {
              return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, x,
                                           y);
            };
            Value oneSegment = arith::AndIOp::create(
                b, loc, arith::AndIOp::create(b, loc, eq(qMin, qMax),
                                              eq(kMin, kMax)),
                eq(qMin, kMin));
            auto ifOp = scf::IfOp::create(b, loc, overlap, /*else=*/false);
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPointToStart(ifOp.thenBlock());
            auto inner = scf::IfOp::create(b, loc, oneSegment,
                                           /*withElseRegion=*/true);
            b.setInsertionPointToStart(inner.thenBlock());
            kn.maskOverride = withoutSegments(op.getPattern());
            emitTile(b, kn, bIdx, hIdx, gIdx, q0, rows, kb, masked, qT, sT,
                     kn.amx ? accT : acc, mB, lB);
            kn.maskOverride = Attribute();
            b.setInsertionPointToStart(inner.elseBlock());
            emitTile(b, kn, bIdx, hIdx, gIdx, q0, rows, kb, masked, qT, sT,
                     kn.amx ? accT : acc, mB, lB);
          };
        };
        if (kn.fullOffsets) {
          emitBlockList(b, loc, kn.fullOffsets, kn.fullIndices, qb, tile(false));
          emitBlockList(b, loc, kn.partialOffsets, kn.partialIndices, qb,
                        tile(true));
        } else {
          // No compile-time table: key block kb classified here by the
          // pattern's generated classifier (work per tile): empty tiles
          // are skipped, full ones skip the element mask.
          auto classified = [&](OpBuilder &b, Value kb) {
            Value k0 = arith::MulIOp::create(b, loc, kb, bkV);
            // In the problem's positions (a tile's offsets added).
            TileBounds bounds{
                kn.problemPos(b, loc, 2, q0),
                kn.problemPos(b, loc, 2,
                              arith::AddIOp::create(b, loc, q0, rows)),
                kn.problemPos(b, loc, 3, k0),
                kn.problemPos(
                    b, loc, 3,
                    arith::MinUIOp::create(
                        b, loc, arith::AddIOp::create(b, loc, k0, bkV),
                        kn.sk)),
                kn.problemLength(b, loc, 0), kn.problemLength(b, loc, 1)};
            FailureOr<TileKindValues> kind =
                buildTileKind(b, loc, op.getPattern(), bounds);
            if (failed(kind)) // verified by matchAndRewrite
              llvm::report_fatal_error("sparse-attn: tile classifier "
                                       "failed after verifying it");
            auto full = scf::IfOp::create(b, loc, kind->full,
                                          /*withElseRegion=*/true);
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPointToStart(full.thenBlock());
            tile(false)(b, kb);
            b.setInsertionPointToStart(full.elseBlock());
            Value live = arith::XOrIOp::create(
                b, loc, kind->empty, arith::ConstantIntOp::create(b, loc, 1, 1));
            auto partial =
                scf::IfOp::create(b, loc, live, /*withElseRegion=*/false);
            b.setInsertionPointToStart(partial.thenBlock());
            tile(true)(b, kb);
          };
          if (kn.kvNum) {
            emitRuntimeTables(b, loc, kn, bIdx, hIdx, gIdx, heads, qb,
                              classified);
          } else {
            // Dynamic lengths, or more tiles than a table should hold:
            // every key block.
            scf::ForOp::create(
                b, loc, c0, kn.numKBlocks, c1, ValueRange{},
                [&](OpBuilder &b, Location loc, Value kb, ValueRange) {
                  classified(b, kb);
                  scf::YieldOp::create(b, loc);
                });
          }
        }
        // AMX: acc = accT^T, in 16 x 16 register blocks.
        if (kn.amx) {
          // A loop over 16-row blocks (all 16 x 16 blocks unrolled made the
          // module 2-3x slower to compile; a loop over both block indices
          // made window-256 kernels 25 % slower, measured).
          auto v16 = VectorType::get({16}, f32);
          scf::ForOp::create(
              b, loc, c0, cIdx(b, loc, kn.bqPad), cIdx(b, loc, 16), ValueRange{},
              [&](OpBuilder &b, Location loc, Value r0, ValueRange) {
                for (int64_t nb = 0; nb < kn.dv / 16; ++nb) {
                  SmallVector<Value> lanes;
                  for (int64_t i = 0; i < 16; ++i)
                    lanes.push_back(vector::LoadOp::create(
                        b, loc, v16, accT,
                        ValueRange{cIdx(b, loc, 16 * nb + i), r0}));
                  SmallVector<Value> t = transpose16(b, loc, lanes);
                  for (int64_t j = 0; j < 16; ++j)
                    vector::StoreOp::create(
                        b, loc, t[j], acc,
                        ValueRange{arith::AddIOp::create(b, loc, r0,
                                                         cIdx(b, loc, j)),
                                   cIdx(b, loc, 16 * nb)});
                }
                scf::YieldOp::create(b, loc);
              });
        }
        // Normalise and write back.
        auto vecDvOut = VectorType::get({kn.dv}, kn.elt);
        scf::ForOp::create(
            b, loc, c0, rows, c1, ValueRange{},
            [&](OpBuilder &b, Location loc, Value r, ValueRange) {
              Value l = memref::LoadOp::create(b, loc, lB, r);
              Value m = memref::LoadOp::create(b, loc, mB, r);
              // l == 0: no allowed key (0, LSE -inf); NaN scores propagate.
              Value none = arith::CmpFOp::create(
                  b, loc, arith::CmpFPredicate::OEQ, l, zero);
              Value inv = arith::SelectOp::create(
                  b, loc, none, zero,
                  arith::DivFOp::create(b, loc, cF32(b, loc, 1.0f), l));
              Value row = vector::LoadOp::create(b, loc, vecDvF, acc,
                                                 ValueRange{r, c0});
              // Rows with no allowed key are exactly 0, whatever the
              // accumulator holds (tile products may have mixed in
              // non-finite values of keys the row does not attend).
              row = arith::SelectOp::create(
                  b, loc, none,
                  arith::ConstantOp::create(
                      b, loc, vecDvF, DenseElementsAttr::get(vecDvF, 0.0f)),
                  arith::MulFOp::create(
                      b, loc, row,
                      vector::BroadcastOp::create(b, loc, vecDvF, inv)));
              if (!kn.elt.isF32())
                row = arith::TruncFOp::create(b, loc, vecDvOut, row);
              Value qPos = arith::AddIOp::create(b, loc, q0, r);
              vector::StoreOp::create(b, loc, row, kn.out,
                                      ValueRange{bIdx, hIdx, qPos, c0});
              if (kn.lse) {
                Value lse = arith::SelectOp::create(
                    b, loc, none, negInf,
                    arith::AddFOp::create(b, loc, m,
                                          math::LogOp::create(b, loc, l)));
                memref::StoreOp::create(b, loc, lse, kn.lse,
                                        ValueRange{bIdx, hIdx, qPos});
              }
              scf::YieldOp::create(b, loc);
            });
        scf::ReduceOp::create(b, loc);
      });

  SmallVector<Value> results;
  results.push_back(bufferization::ToTensorOp::create(
      rw, loc, oT, kn.out, /*restrict=*/true, /*writable=*/true));
  if (kn.lse)
    results.push_back(bufferization::ToTensorOp::create(
        rw, loc, op.getLse().getType(), kn.lse, /*restrict=*/true,
        /*writable=*/true));
  rw.replaceOp(op, results);
  return success();
}

/// Largest head dimension (D and Dv) of the fused CPU kernel.
constexpr int64_t kMaxHeadDim = 1024;

struct ConvertSparseAttnToLoopsPass
    : sparse_attn::impl::ConvertSparseAttnToLoopsBase<
          ConvertSparseAttnToLoopsPass> {
  using ConvertSparseAttnToLoopsBase::ConvertSparseAttnToLoopsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (blockQ <= 0 || blockK <= 0 || blockQ > 65536 || blockK > 65536) {
      module.emitError("convert-sparse-attn-to-loops: block-q and block-k "
                       "must be between 1 and 65536");
      return signalPassFailure();
    }
    // Diagnose what the lowering cannot handle before rewriting anything.
    bool ok = true;
    module.walk([&](AttentionOp op) {
      auto qT = llvm::cast<RankedTensorType>(op.getQuery().getType());
      auto vT = llvm::cast<RankedTensorType>(op.getValue().getType());
      if (qT.isDynamicDim(3) || vT.isDynamicDim(3)) {
        op.emitOpError("the fused CPU lowering needs static head dimensions "
                       "D and Dv");
        ok = false;
      } else if (qT.getDimSize(3) > kMaxHeadDim ||
                 vT.getDimSize(3) > kMaxHeadDim) {
        // The kernel keeps vectors of D and Dv lanes and unrolls over them:
        // code size and compile time grow linearly with no use past this.
        op.emitOpError("the fused CPU lowering supports head dimensions D "
                       "and Dv up to ")
            << kMaxHeadDim << ", got D = " << qT.getDimSize(3)
            << ", Dv = " << vT.getDimSize(3);
        ok = false;
      }
      // The predicates must build (every pattern brings its own code
      // generation; one without it is refused here, never computed
      // unmasked).
      if (failed(verifyMaskCodegen(op)))
        ok = false;
    });
    if (!ok)
      return signalPassFailure();
    RewritePatternSet patterns(&getContext());
    populateSparseAttnToLoopsPatterns(patterns,
                                      {blockQ, blockK, bf16Dot, amx});
    if (failed(applyPatternsGreedily(module, std::move(patterns))))
      return signalPassFailure();
    if (failed(finishAttentionLowering(module, "loops")))
      signalPassFailure();
  }
};
} // namespace

void mlir::sparse_attn::populateSparseAttnToLoopsPatterns(
    RewritePatternSet &patterns, const SparseAttnToLoopsOptions &options) {
  patterns.add<LowerAttention>(patterns.getContext(), options);
}
