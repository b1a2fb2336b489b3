//===- ConstantGlobals.h - constant tables as memref.global -----*- C++ -*-===//
//
// Shared by the lowerings: compile-time tables (block lists, random-block
// layouts) become private constant `memref.global`s of a symbol table (the
// module, or a gpu.module for tables read by kernels), one per content.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_DIALECT_SPARSEATTN_UTILS_CONSTANTGLOBALS_H
#define SPARSE_ATTN_DIALECT_SPARSEATTN_UTILS_CONSTANTGLOBALS_H

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir {
namespace sparse_attn {

class ConstantGlobals {
public:
  /// Globals are created at the start of `symbolTableOp`'s body, with
  /// `alignment` bytes (0: the default).
  explicit ConstantGlobals(Operation *symbolTableOp, int64_t alignment = 0)
      : scope(symbolTableOp), symbols(symbolTableOp), alignment(alignment) {}

  /// A memref.get_global, at the builder's point, of the rank-1 global
  /// holding `value`; `hint` names it (renamed on collision).
  memref::GetGlobalOp get(OpBuilder &b, Location loc, DenseElementsAttr value,
                          StringRef hint);

  /// The same for i32 values (an empty list is stored as one 0, never read).
  memref::GetGlobalOp getI32(OpBuilder &b, Location loc,
                             ArrayRef<int32_t> values, StringRef hint);

  /// Entry (i, j) of a constant i1 table as an i1, read from a global that
  /// stores the table row-major as i8 0 / 1.
  Value loadBoolTableEntry(OpBuilder &b, Location loc,
                           DenseIntElementsAttr table, Value i, Value j);

private:
  Operation *scope;
  SymbolTable symbols;
  int64_t alignment;
  DenseMap<Attribute, memref::GlobalOp> cache;
};

} // namespace sparse_attn
} // namespace mlir

#endif
