//===- sparse-attn-opt.cpp - mlir-opt for the sparse_attn dialect ---------===//
//
// The dialects a sparse_attn module uses (sparse_attn, func, arith, math,
// tensor) and the project's passes, plus upstream canonicalize / cse. Every
// mlir-opt flag works (--pass-pipeline, --split-input-file,
// --verify-diagnostics, --mlir-print-ir-after-all, ...).
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnDialect.h"
#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Index/IR/IndexDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<mlir::sparse_attn::SparseAttnDialect, mlir::func::FuncDialect,
                  mlir::arith::ArithDialect, mlir::math::MathDialect,
                  mlir::index::IndexDialect, mlir::tensor::TensorDialect>();
  mlir::registerTransformsPasses();
  mlir::sparse_attn::registerSparseAttnPasses();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "sparse-attn optimizer driver\n", registry));
}
