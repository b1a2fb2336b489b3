// An "in-house ML compiler" driver that embeds sparse-attn: one call each
// registers the dialect, the passes and the pipelines; everything else is
// stock MLIR. It also registers its own sparsity patterns (ext/), which the
// sparse-attn pipelines lower with no change to sparse-attn.
#include "ExtPatterns.h"

#include "sparse_attn/InitAll.h"
#include "sparse_attn/Pipelines/Pipelines.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::sparse_attn::registerSparseAttnDialect(registry);
  registry.insert<ext::ExtDialect>();
  mlir::sparse_attn::registerSparseAttnPasses();
  mlir::sparse_attn::registerSparseAttnPipelines();
  mlir::sparse_attn::registerUpstreamPassesForPipelines();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "downstream compiler\n", registry));
}
