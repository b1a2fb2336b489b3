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
#include <optional>
#include <string>

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

/// `sharedBytes`: the dynamic shared memory, if any.
inline void launchKernel(OpBuilder &b, Location loc, gpu::GPUFuncOp func,
                         std::array<int64_t, 3> grid, int64_t threads,
                         ValueRange args, ArrayRef<StringRef> roles,
                         std::optional<int64_t> sharedBytes = std::nullopt) {
  auto c = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  gpu::KernelDim3 gridDims{c(grid[0]), c(grid[1]), c(grid[2])};
  gpu::KernelDim3 blockDims{c(threads), c(1), c(1)};
  Value shared;
  if (sharedBytes)
    shared = arith::ConstantIntOp::create(b, loc, b.getI32Type(), *sharedBytes);
  auto l = gpu::LaunchFuncOp::create(b, loc, func, gridDims, blockDims, shared,
                                     args);
  SmallVector<Attribute> r;
  for (StringRef role : roles)
    r.push_back(b.getStringAttr(role));
  l->setAttr(kKernelArgsAttrName, b.getArrayAttr(r));
}

/// A kernel's arguments, listed once: for each, the host value the launch
/// passes, the role the manifest names it by, and the field of the kernel
/// builder bound to the kernel's parameter (none: passed, not read by
/// name). The kernel's parameter types, the launch's operands, the roles and
/// the bindings all come from this list, so they cannot disagree.
struct KernelSignature {
  struct Arg {
    Value host;
    std::string role;
    Value *field;
  };
  SmallVector<Arg> args;

  void add(Value host, StringRef role, Value *field) {
    args.push_back({host, role.str(), field});
  }
  SmallVector<Type> types() const {
    SmallVector<Type> r;
    for (const Arg &a : args)
      r.push_back(a.host.getType());
    return r;
  }
  SmallVector<Value> operands() const {
    SmallVector<Value> r;
    for (const Arg &a : args)
      r.push_back(a.host);
    return r;
  }
  SmallVector<StringRef> roles() const {
    SmallVector<StringRef> r;
    for (const Arg &a : args)
      r.push_back(a.role);
    return r;
  }
  /// Sets each listed field to the kernel's parameter.
  void bind(gpu::GPUFuncOp func) const {
    Block &entry = func.getBody().front();
    for (auto [i, a] : llvm::enumerate(args))
      if (a.field)
        *a.field = entry.getArgument(i);
  }
};

} // namespace sparse_attn
} // namespace mlir

#endif
