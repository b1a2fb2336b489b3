// sparse-attn-run for a project with its own patterns: the same options,
// pipeline and float64 --check, over a registry that knows ext/.
#include "ExtPatterns.h"

#include "sparse_attn/Tools/SparseAttnRunMain.h"

#include "llvm/Support/InitLLVM.h"

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  mlir::DialectRegistry registry;
  registry.insert<ext::ExtDialect>();
  return mlir::sparse_attn::sparseAttnRunMain(argc, argv, registry);
}
