//===- Passes.h - sparse_attn conversions -----------------------*- C++ -*-===//
#ifndef SPARSE_ATTN_CONVERSION_PASSES_H
#define SPARSE_ATTN_CONVERSION_PASSES_H

#include "sparse_attn/Conversion/SparseAttnGradToLoops/SparseAttnGradToLoops.h"
#include "sparse_attn/Conversion/SparseAttnMergeToLinalg/SparseAttnMergeToLinalg.h"
#include "sparse_attn/Conversion/SparseAttnRoutingToLoops/SparseAttnRoutingToLoops.h"
#include "sparse_attn/Conversion/SparseAttnToGPU/SparseAttnToGPU.h"
#include "sparse_attn/Conversion/SparseAttnToLinalg/SparseAttnToLinalg.h"
#include "sparse_attn/Conversion/SparseAttnToLoops/SparseAttnToLoops.h"

#include "mlir/Dialect/AMX/AMXDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
namespace sparse_attn {

#define GEN_PASS_DECL
#include "sparse_attn/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "sparse_attn/Conversion/Passes.h.inc"

} // namespace sparse_attn
} // namespace mlir

#endif
