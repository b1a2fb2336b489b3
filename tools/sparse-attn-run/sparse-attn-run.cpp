//===- sparse-attn-run.cpp - compile and run a sparse_attn module ---------===//
//
// The driver lives in lib/Tools/SparseAttnRunMain.cpp (options, pipeline,
// reference check); this is its main with the stock registry.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Tools/SparseAttnRunMain.h"

#include "llvm/Support/InitLLVM.h"

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  mlir::DialectRegistry registry;
  return mlir::sparse_attn::sparseAttnRunMain(argc, argv, registry);
}
