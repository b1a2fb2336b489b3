//===- SparseAttnDialect.h - sparse_attn dialect ----------------*- C++ -*-===//
#ifndef SPARSE_ATTN_DIALECT_SPARSEATTN_IR_SPARSEATTNDIALECT_H
#define SPARSE_ATTN_DIALECT_SPARSEATTN_IR_SPARSEATTNDIALECT_H

#include "mlir/IR/Dialect.h"

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnDialect.h.inc"

#endif
