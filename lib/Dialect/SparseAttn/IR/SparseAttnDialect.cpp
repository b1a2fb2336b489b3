//===- SparseAttnDialect.cpp - sparse_attn dialect ------------------------===//

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnDialect.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"

using namespace mlir;
using namespace mlir::sparse_attn;

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnDialect.cpp.inc"

void SparseAttnDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.cpp.inc"
      >();
  registerAttributes();
}
