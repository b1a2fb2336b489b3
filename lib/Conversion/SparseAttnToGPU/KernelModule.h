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

#include "sparse_attn/Conversion/SparseAttnToGPU/SparseAttnToGPU.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
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

/// Host side of a small kernel: a read-only buffer of a static tensor, a
/// fresh 64-byte-aligned result buffer, and the launch of `func` on a
/// static grid of `threads`-thread blocks with its arguments named by
/// `roles` (the manifest's roles).
inline Value hostBufferOf(OpBuilder &b, Location loc, Value tensor) {
  auto t = llvm::cast<RankedTensorType>(tensor.getType());
  return bufferization::ToBufferOp::create(
      b, loc, MemRefType::get(t.getShape(), t.getElementType()), tensor,
      /*read_only=*/true);
}

inline Value hostAlloc(OpBuilder &b, Location loc, RankedTensorType t) {
  return memref::AllocOp::create(
      b, loc, MemRefType::get(t.getShape(), t.getElementType()), ValueRange{},
      b.getI64IntegerAttr(64));
}

inline void launchKernel(OpBuilder &b, Location loc, gpu::GPUFuncOp func,
                         std::array<int64_t, 3> grid, int64_t threads,
                         ValueRange args, ArrayRef<StringRef> roles) {
  auto c = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto l = gpu::LaunchFuncOp::create(
      b, loc, func, gpu::KernelDim3{c(grid[0]), c(grid[1]), c(grid[2])},
      gpu::KernelDim3{c(threads), c(1), c(1)},
      /*dynamicSharedMemorySize=*/Value(), args);
  SmallVector<Attribute> r;
  for (StringRef role : roles)
    r.push_back(b.getStringAttr(role));
  l->setAttr(kKernelArgsAttrName, b.getArrayAttr(r));
}

} // namespace sparse_attn
} // namespace mlir

#endif
