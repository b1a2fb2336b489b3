//===- OMPSchedule.cpp - dynamic schedule for OpenMP loops ----------------===//

#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir {
namespace sparse_attn {
#define GEN_PASS_DEF_SPARSEATTNOMPSCHEDULE
#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h.inc"
} // namespace sparse_attn
} // namespace mlir

using namespace mlir;

namespace {
struct OMPSchedulePass
    : sparse_attn::impl::SparseAttnOMPScheduleBase<OMPSchedulePass> {
  void runOnOperation() override {
    getOperation()->walk([&](omp::WsloopOp loop) {
      OpBuilder b(loop);
      loop.setScheduleKindAttr(omp::ClauseScheduleKindAttr::get(
          &getContext(), omp::ClauseScheduleKind::Dynamic));
      Value one = arith::ConstantIntOp::create(b, loop.getLoc(), 1, 32);
      loop.getScheduleChunkMutable().assign(one);
    });
  }
};
} // namespace
