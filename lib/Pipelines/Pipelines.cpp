//===- Pipelines.cpp - registered lowering pipelines ----------------------===//

#include "sparse_attn/Pipelines/Pipelines.h"

#include "sparse_attn/Conversion/Passes.h"
#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::sparse_attn;

void mlir::sparse_attn::buildSparseAttnToLLVMCPUPipeline(
    OpPassManager &pm, const CPUPipelineOptions &options) {
  std::string tiles = llvm::formatv("block-q={0} block-k={1}",
                                    (int64_t)options.blockQ,
                                    (int64_t)options.blockK);
  std::string pipeline =
      "sparse-attn-block-analysis{" + tiles + "}," +
      "convert-sparse-attn-to-loops{" + tiles + "}," +
      "canonicalize,cse,"
      "one-shot-bufferize{bufferize-function-boundaries "
      "function-boundary-type-conversion=identity-layout-map},"
      "buffer-results-to-out-params{hoist-static-allocs=true hoist-dynamic-allocs=true modify-public-functions=true},"
      "sparse-attn-emit-c-interface,"
      "buffer-deallocation-pipeline,"
      "canonicalize,"
      "convert-scf-to-cf,"
      "expand-strided-metadata,lower-affine,"
      "convert-vector-to-llvm,convert-math-to-llvm,"
      "finalize-memref-to-llvm,convert-arith-to-llvm,convert-index-to-llvm,"
      "convert-cf-to-llvm,convert-func-to-llvm,convert-ub-to-llvm,"
      "reconcile-unrealized-casts";
  if (failed(parsePassPipeline(pipeline, pm)))
    llvm::report_fatal_error("sparse-attn-to-llvm-cpu: bad internal pipeline");
}

void mlir::sparse_attn::registerSparseAttnPipelines() {
  PassPipelineRegistration<CPUPipelineOptions>(
      "sparse-attn-to-llvm-cpu",
      "Lower sparse_attn to the LLVM dialect for the host CPU through the "
      "fused, block-skipping loop nest",
      buildSparseAttnToLLVMCPUPipeline);
}
