//===- MergeKernel.cpp - sparse_attn.merge as a GPU kernel ----------------===//
//
// grid (S, H, B), 128 threads over Dv; each thread recomputes its row's
// weights (two ex2, one lg2: cheaper than sharing them):
//   m = max(LSE_a, LSE_b);  w_x = 2^((LSE_x - m) log2 e)   (0 for -inf)
//   O = (w_a O_a + w_b O_b) / (w_a + w_b), a side of weight 0 adding
//   exactly 0; LSE = m + lg2(w_a + w_b) ln 2; both sides empty: 0, -inf.
// The semantics of SparseAttnMergeToLinalg.cpp, with the approximate ex2 /
// lg2 of the attention kernels (relative error about 2^-22).
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Conversion/SparseAttnToGPU/SparseAttnToGPU.h"

#include "GPUPrimitives.h"
#include "KernelModule.h"

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::sparse_attn;

namespace {
constexpr int64_t kThreads = 128;

struct LowerMergeToGPU : OpRewritePattern<MergeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MergeOp op, PatternRewriter &rw) const override {
    if (failed(checkMergeLowerableToGPU(op)))
      return failure();
    Location loc = op.getLoc();
    auto oT = llvm::cast<RankedTensorType>(op.getOutputA().getType());
    auto lT = llvm::cast<RankedTensorType>(op.getLseA().getType());
    gpu::GPUModuleOp kernels =
        getOrCreateKernelModule(rw, loc, op->getParentOfType<ModuleOp>());
    auto oM = MemRefType::get(oT.getShape(), oT.getElementType());
    auto lM = MemRefType::get(lT.getShape(), lT.getElementType());
    int64_t dv = oT.getDimSize(3);
    Type f32 = rw.getF32Type();
    gpu::GPUFuncOp func;
    {
      OpBuilder::InsertionGuard guard(rw);
      func = createKernel(rw, loc, kernels, "sparse_attn_merge",
                          {oM, lM, oM, lM, oM, lM}, {}, kThreads);
      GpuPrimitives p(rw, loc);
      p.f32 = f32;
      OpBuilder &b = rw;
      Value i = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
      Value h = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
      Value bi = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
      Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
      ValueRange a = func.getArguments();
      Value la = memref::LoadOp::create(b, loc, a[1], ValueRange{bi, h, i});
      Value lb = memref::LoadOp::create(b, loc, a[3], ValueRange{bi, h, i});
      Value ninf = p.cf(-std::numeric_limits<double>::infinity());
      Value zero = p.cf(0);
      Value m = p.fmax(la, lb);
      Value bothEmpty =
          arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, m, ninf);
      Value mSafe = arith::SelectOp::create(b, loc, bothEmpty, zero, m);
      Value log2e = p.cf(M_LOG2E);
      Value wa = p.ex2(p.fmul(p.fsub(la, mSafe), log2e));
      Value wb = p.ex2(p.fmul(p.fsub(lb, mSafe), log2e));
      Value sum = p.fadd(wa, wb);
      Value one = p.cf(1);
      Value inv = arith::DivFOp::create(
          b, loc, one, arith::SelectOp::create(b, loc, bothEmpty, one, sum));
      Value wA = p.fmul(wa, inv), wB = p.fmul(wb, inv);
      auto term = [&](Value w, Value o) -> Value {
        if (!o.getType().isF32())
          o = arith::ExtFOp::create(b, loc, f32, o);
        Value isZero =
            arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, w, zero);
        return arith::SelectOp::create(b, loc, isZero, zero, p.fmul(w, o));
      };
      scf::ForOp::create(
          b, loc, tid, p.idx(dv), p.idx(kThreads), ValueRange{},
          [&](OpBuilder &b, Location loc, Value e, ValueRange) {
            SmallVector<Value> idx{bi, h, i, e};
            Value r = p.fadd(term(wA, memref::LoadOp::create(b, loc, a[0], idx)),
                             term(wB, memref::LoadOp::create(b, loc, a[2], idx)));
            if (!oT.getElementType().isF32())
              r = arith::TruncFOp::create(b, loc, oT.getElementType(), r);
            memref::StoreOp::create(b, loc, r, a[4], idx);
            scf::YieldOp::create(b, loc);
          });
      Value lse = p.fadd(m, p.fmul(p.lg2(sum), p.cf(M_LN2)));
      auto first = scf::IfOp::create(
          b, loc,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, tid, p.idx(0)),
          /*withElseRegion=*/false);
      b.setInsertionPointToStart(first.thenBlock());
      memref::StoreOp::create(
          b, loc, arith::SelectOp::create(b, loc, bothEmpty, ninf, lse), a[5],
          ValueRange{bi, h, i});
      b.setInsertionPointAfter(first);
      gpu::ReturnOp::create(b, loc);
    }
    Value outO = hostAlloc(rw, loc, oT), outL = hostAlloc(rw, loc, lT);
    launchKernel(rw, loc, func,
                 {oT.getDimSize(2), oT.getDimSize(1), oT.getDimSize(0)},
                 kThreads,
                 {hostBufferOf(rw, loc, op.getOutputA()),
                  hostBufferOf(rw, loc, op.getLseA()),
                  hostBufferOf(rw, loc, op.getOutputB()),
                  hostBufferOf(rw, loc, op.getLseB()), outO, outL},
                 {"output_a", "lse_a", "output_b", "lse_b", "output", "lse"});
    rw.replaceOp(op, {bufferization::ToTensorOp::create(rw, loc, oT, outO,
                                                        true, true),
                      bufferization::ToTensorOp::create(rw, loc, lT, outL,
                                                        true, true)});
    return success();
  }
};
} // namespace

LogicalResult mlir::sparse_attn::checkMergeLowerableToGPU(Operation *op) {
  auto merge = llvm::cast<MergeOp>(op);
  auto oT = llvm::cast<RankedTensorType>(merge.getOutputA().getType());
  if (!oT.hasStaticShape())
    return op->emitOpError("the GPU lowering needs static shapes");
  return success();
}

void mlir::sparse_attn::populateMergeToGPUPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerMergeToGPU>(patterns.getContext());
}
