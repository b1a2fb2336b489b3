//===- ConstantGlobals.cpp - constant tables as memref.global -------------===//

#include "sparse_attn/Dialect/SparseAttn/Utils/ConstantGlobals.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace mlir::sparse_attn;

memref::GetGlobalOp ConstantGlobals::get(OpBuilder &b, Location loc,
                                         DenseElementsAttr value,
                                         StringRef hint) {
  auto st = llvm::cast<ShapedType>(value.getType());
  auto type = MemRefType::get(st.getShape(), st.getElementType());
  memref::GlobalOp &global = cache[value];
  if (!global) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&scope->getRegion(0).front());
    global = memref::GlobalOp::create(
        b, loc, hint, b.getStringAttr("private"), type, value,
        /*constant=*/true,
        alignment ? b.getI64IntegerAttr(alignment) : IntegerAttr());
    symbols.insert(global); // renames on collision
  }
  return memref::GetGlobalOp::create(b, loc, type, global.getSymName());
}

memref::GetGlobalOp ConstantGlobals::getI32(OpBuilder &b, Location loc,
                                            ArrayRef<int32_t> values,
                                            StringRef hint) {
  SmallVector<int32_t> data(values.begin(), values.end());
  if (data.empty())
    data.push_back(0); // never read; avoids zero-sized globals
  auto type = RankedTensorType::get({(int64_t)data.size()}, b.getI32Type());
  return get(b, loc, DenseElementsAttr::get(type, ArrayRef<int32_t>(data)),
             hint);
}

Value ConstantGlobals::loadBoolTableEntry(OpBuilder &b, Location loc,
                                          DenseIntElementsAttr table, Value i,
                                          Value j) {
  SmallVector<int8_t> bytes;
  for (bool v : table.getValues<bool>())
    bytes.push_back(v);
  auto i8 = b.getI8Type();
  Value mem = get(b, loc,
                  DenseElementsAttr::get(
                      RankedTensorType::get({(int64_t)bytes.size()}, i8),
                      ArrayRef<int8_t>(bytes)),
                  "__sparse_attn_table");
  int64_t cols = llvm::cast<ShapedType>(table.getType()).getDimSize(1);
  Value flat = arith::AddIOp::create(
      b, loc,
      arith::MulIOp::create(b, loc, i,
                            arith::ConstantIndexOp::create(b, loc, cols)),
      j);
  Value byte = memref::LoadOp::create(b, loc, mem, flat);
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, byte,
                               arith::ConstantIntOp::create(b, loc, 0, 8));
}
