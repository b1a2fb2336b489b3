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

namespace mlir {
namespace sparse_attn {
/// The end of an online softmax (sparse_attn.online_attention state):
/// O = acc / l written into `outputDest` in its element type (0 where l = 0)
/// and, when `lseDest` is given, LSE = m + log(l) into it (-inf where
/// l = 0), as linalg.generic on tensors. The reference lowering and the
/// merge of attention tiled over keys (PartialReductionOpInterface) use it.
/// The empty online-softmax state of an attention with this query and value:
/// acc = 0 [B, Hq, Sq, Dv], max = -inf and sum = 0 [B, Hq, Sq], f32
/// (linalg.fill of tensor.empty). Key tiling and the reference lowering
/// start from it.
SmallVector<Value> buildOnlineAttentionEmptyState(OpBuilder &b, Location loc,
                                                  Value query, Value value);
SmallVector<Value> buildOnlineAttentionFinish(OpBuilder &b, Location loc,
                                              Value acc, Value max, Value sum,
                                              Value outputDest, Value lseDest);
} // namespace sparse_attn
} // namespace mlir

#endif
