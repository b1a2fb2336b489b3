//===- ExtPatterns.h - sparsity patterns defined outside sparse-attn ------===//
#ifndef EXT_PATTERNS_H
#define EXT_PATTERNS_H

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnAttrs.h"

#include "mlir/IR/Dialect.h"

#include "ExtPatternsDialect.h.inc"

#define GET_ATTRDEF_CLASSES
#include "ExtPatternsAttrs.h.inc"

#endif
