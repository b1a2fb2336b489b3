//===- Passes.h - sparse_attn passes ----------------------------*- C++ -*-===//
#ifndef SPARSE_ATTN_DIALECT_SPARSEATTN_TRANSFORMS_PASSES_H
#define SPARSE_ATTN_DIALECT_SPARSEATTN_TRANSFORMS_PASSES_H

#include "mlir/Pass/Pass.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir {
namespace sparse_attn {

#define GEN_PASS_DECL
#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h.inc"

} // namespace sparse_attn
} // namespace mlir

#endif
