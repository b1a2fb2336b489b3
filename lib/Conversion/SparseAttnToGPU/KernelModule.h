//===- KernelModule.h - the gpu.module every kernel goes to -----*- C++ -*-===//
//
// One place knows where kernels live: `@sparse_attn_kernels`, created on
// first use (the host module gets `gpu.container_module`), and how a small
// kernel of fixed block size is declared. Used by the attention driver
// (SparseAttnToGPU.cpp) and the routing / merge kernels.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_LIB_CONVERSION_SPARSEATTNTOGPU_KERNELMODULE_H
#define SPARSE_ATTN_LIB_CONVERSION_SPARSEATTNTOGPU_KERNELMODULE_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir {
namespace sparse_attn {

inline constexpr const char *kKernelModuleName = "sparse_attn_kernels";

/// `@sparse_attn_kernels` of `module`, created at its end on first use.
inline gpu::GPUModuleOp getOrCreateKernelModule(OpBuilder &b, Location loc,
                                                ModuleOp module) {
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                  b.getUnitAttr());
  if (auto m = module.lookupSymbol<gpu::GPUModuleOp>(kKernelModuleName))
    return m;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(module.getBody());
  return gpu::GPUModuleOp::create(b, loc, kKernelModuleName);
}

/// A kernel `name` (renamed on collision) of `argTypes` with `workgroup`
/// shared buffers and a known block of `threads` x 1 x 1; the builder is
/// left at the start of its body.
inline gpu::GPUFuncOp createKernel(OpBuilder &b, Location loc,
                                   gpu::GPUModuleOp kernels, StringRef name,
                                   TypeRange argTypes, TypeRange workgroup,
                                   int32_t threads) {
  b.setInsertionPointToEnd(kernels.getBody());
  auto func = gpu::GPUFuncOp::create(b, loc, name,
                                     b.getFunctionType(argTypes, {}),
                                     workgroup, TypeRange{});
  SymbolTable(kernels).insert(func);
  func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  func.setKnownBlockSizeAttr(b.getDenseI32ArrayAttr({threads, 1, 1}));
  b.setInsertionPointToStart(&func.getBody().front());
  return func;
}

} // namespace sparse_attn
} // namespace mlir

#endif
