//===- EmitCInterface.cpp - mark public functions for the C ABI -----------===//

#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir {
namespace sparse_attn {
#define GEN_PASS_DEF_SPARSEATTNEMITCINTERFACE
#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h.inc"
} // namespace sparse_attn
} // namespace mlir

using namespace mlir;

namespace {
struct EmitCInterfacePass
    : sparse_attn::impl::SparseAttnEmitCInterfaceBase<EmitCInterfacePass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (func.isPublic() && !func.isExternal())
        func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                      UnitAttr::get(&getContext()));
  }
};
} // namespace
