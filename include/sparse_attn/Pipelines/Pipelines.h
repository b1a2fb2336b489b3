//===- Pipelines.h - registered lowering pipelines -------------*- C++ -*-===//
#ifndef SPARSE_ATTN_PIPELINES_PIPELINES_H
#define SPARSE_ATTN_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassOptions.h"

namespace mlir {
class OpPassManager;
namespace sparse_attn {

/// Options of `sparse-attn-to-llvm-cpu`.
struct CPUPipelineOptions : public PassPipelineOptions<CPUPipelineOptions> {
  PassOptions::Option<int64_t> blockQ{*this, "block-q",
                                      llvm::cl::desc("Query rows per tile"),
                                      llvm::cl::init(64)};
  PassOptions::Option<int64_t> blockK{*this, "block-k",
                                      llvm::cl::desc("Key columns per tile"),
                                      llvm::cl::init(64)};
  PassOptions::Option<int64_t> threads{
      *this, "threads",
      llvm::cl::desc("1: one thread (no OpenMP); 0: OpenMP with one thread "
                     "per core; N: OpenMP with N threads. Code built with "
                     "threads != 1 needs libomp at run time"),
      llvm::cl::init(1)};
  PassOptions::Option<bool> polynomialExp{
      *this, "polynomial-exp",
      llvm::cl::desc("Compute exp with MLIR's vector polynomial approximation "
                     "instead of per-lane libm calls"),
      llvm::cl::init(true)};
};

/// sparse_attn (on tensors) -> LLVM dialect, through the fused loop nest,
/// one-shot bufferization (results become trailing out-parameters) and the
/// standard conversions. Public functions get `llvm.emit_c_interface`.
/// Requires the passes to be registered: registerSparseAttnPasses() and,
/// outside mlir-opt, registerUpstreamPassesForPipelines().
void buildSparseAttnToLLVMCPUPipeline(OpPassManager &pm,
                                      const CPUPipelineOptions &options);

/// The same through `convert-sparse-attn-to-linalg`: the unfused oracle.
void buildSparseAttnReferenceToLLVMCPUPipeline(OpPassManager &pm);

void registerSparseAttnPipelines();

} // namespace sparse_attn
} // namespace mlir

#endif
