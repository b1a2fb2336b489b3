//===- SparseAttnOps.h - sparse_attn operations -----------------*- C++ -*-===//
#ifndef SPARSE_ATTN_DIALECT_SPARSEATTN_IR_SPARSEATTNOPS_H
#define SPARSE_ATTN_DIALECT_SPARSEATTN_IR_SPARSEATTNOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/TilingInterface.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include <array>
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnAttrs.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnDialect.h"

#define GET_OP_CLASSES
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h.inc"

#endif
