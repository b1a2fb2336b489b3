//===- sparse-attn-opt.cpp - mlir-opt for the sparse_attn dialect ---------===//
//
// The dialects a sparse_attn module and its lowerings use, the project's
// passes and pipelines (e.g. --sparse-attn-to-llvm-cpu), and the upstream
// passes they are built from. Every mlir-opt flag works (--pass-pipeline,
// --split-input-file, --verify-diagnostics, --mlir-print-ir-after-all, ...).
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/InitAll.h"
#include "sparse_attn/Pipelines/Pipelines.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::sparse_attn::registerSparseAttnDialect(registry);
  mlir::sparse_attn::registerSparseAttnPasses();
  mlir::sparse_attn::registerSparseAttnPipelines();
  mlir::sparse_attn::registerUpstreamPassesForPipelines();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "sparse-attn optimizer driver\n", registry));
}
