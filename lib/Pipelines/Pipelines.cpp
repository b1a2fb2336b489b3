//===- Pipelines.cpp - registered lowering pipelines ----------------------===//

#include "sparse_attn/Pipelines/Pipelines.h"

#include "sparse_attn/Conversion/Passes.h"
#include "sparse_attn/Dialect/SparseAttn/Analysis/PatternAnalysis.h"
#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::sparse_attn;

/// Bufferization (results become trailing out-parameters, public functions get
/// C wrappers) and the conversions to the LLVM dialect, shared by both
/// pipelines.
/// Bufferization (results become trailing out-parameters, public functions get
/// C wrappers), optional OpenMP, and the conversions to the LLVM dialect,
/// shared by both pipelines.
static std::string bufferizeAndLowerToLLVM(int64_t threads,
                                           bool x86Vector = false,
                                           bool amx = false) {
  std::string openmp;
  if (threads != 1)
    openmp = "convert-scf-to-openmp" +
             (threads > 1 ? "{num-threads=" + std::to_string(threads) + "}"
                          : std::string()) +
             ",sparse-attn-omp-schedule,";
  return "one-shot-bufferize{bufferize-function-boundaries "
         "function-boundary-type-conversion=identity-layout-map},"
         "buffer-results-to-out-params{hoist-static-allocs=true "
         "hoist-dynamic-allocs=true modify-public-functions=true},"
         "sparse-attn-emit-c-interface,"
         // Tiled programs (scf.forall over tiles of the op) as parallel
         // loops, threaded with the kernels' own below; before
         // deallocation, which frees the tiles' buffers in scf.parallel
         // (it leaves those inside scf.forall allocated).
         "scf-forall-to-parallel,"
         "buffer-deallocation-pipeline,"
         // Copies bufferization makes (a tile's result into its place in
         // the destination) become loops, not runtime library calls.
         "sparse-attn-strided-copy-to-linalg,"
         "convert-linalg-to-loops,"
         "canonicalize," +
         openmp +
         // memref before scf: convert-scf-to-openmp wraps each iteration in
         // a memref.alloca_scope, which must still hold one block when it
         // is lowered (scf-to-cf would split it).
         "expand-strided-metadata,lower-affine,finalize-memref-to-llvm,"
         "convert-scf-to-cf," +
         "convert-vector-to-llvm{enable-x86vector=" +
         (x86Vector ? "true" : "false") + " enable-amx=" +
         (amx ? "true" : "false") + "}," +
         "convert-math-to-llvm," +
         (threads != 1 ? std::string("convert-openmp-to-llvm,") : "") +
         "convert-arith-to-llvm,convert-index-to-llvm,"
         "convert-cf-to-llvm,convert-func-to-llvm,convert-ub-to-llvm,"
         "reconcile-unrealized-casts";
}

static void addPipeline(OpPassManager &pm, const std::string &pipeline) {
  if (failed(parsePassPipeline(pipeline, pm)))
    llvm::report_fatal_error("sparse-attn pipelines: passes not registered "
                             "(call sparse_attn::registerUpstreamPassesForPipelines() first)");
}

void mlir::sparse_attn::buildSparseAttnToLLVMCPUPipeline(
    OpPassManager &pm, const CPUPipelineOptions &options) {
  std::string tiles = llvm::formatv("block-q={0} block-k={1}",
                                    (int64_t)options.blockQ,
                                    (int64_t)options.blockK);
  // Tables up to the CPU kernel's limit; beyond, run-time classification.
  std::string maxTiles =
      llvm::formatv(" max-tiles={0}", kMaxCompileTimeTableTiles);
  addPipeline(pm, "sparse-attn-simplify,sparse-attn-block-analysis{" + tiles +
                      maxTiles + "}," +
                      // Before the attention lowering, which erases the
                      // custom-mask symbols a selection's pattern may name.
                      "convert-sparse-attn-routing-to-loops,"
                      // The backward first: the forward lowering erases
                      // the mask and score_mod symbols both use.
                      "convert-sparse-attn-grad-to-loops{" + tiles + "}," +
                      "convert-sparse-attn-to-loops{" + tiles +
                      (options.bf16Dot ? " bf16-dot=true" : "") +
                      (options.amx ? " amx=true" : "") + "}," +
                      "convert-sparse-attn-merge-to-linalg,"
                      "sparse-attn-decompose-online-attention," +
                      "canonicalize,cse," +
                      (options.polynomialMath ? "sparse-attn-polynomial-math,"
                                             : "") +
                      (options.expandBF16 ? "sparse-attn-expand-bf16," : "") +
                      bufferizeAndLowerToLLVM(options.threads, options.bf16Dot,
                                              options.amx));
}

void mlir::sparse_attn::buildSparseAttnReferenceToLLVMCPUPipeline(
    OpPassManager &pm) {
  addPipeline(pm, std::string("sparse-attn-simplify,"
                              "convert-sparse-attn-routing-to-loops,"
                              "convert-sparse-attn-to-linalg,"
                              "convert-sparse-attn-merge-to-linalg,"
                              "sparse-attn-decompose-online-attention,"
                              "canonicalize,") +
                      bufferizeAndLowerToLLVM(1));
}

std::string mlir::sparse_attn::gpuMmaFor(llvm::StringRef mma,
                                         llvm::StringRef chip) {
  // wgmma exists only on sm_90a.
  return mma == "auto" && chip != "sm_90a" ? "sync" : mma.str();
}

void mlir::sparse_attn::buildSparseAttnToNVVMPipeline(
    OpPassManager &pm, const GPUPipelineOptions &options) {
  std::string pipeline = llvm::formatv(
      "sparse-attn-simplify,"
      "convert-sparse-attn-to-gpu{{warps={0} block-k={1} mma={5} tma={6} "
      "overlap={7} approx-tanh={8} grad-dq={9} warp-specialize={10}},"
      "nvvm-attach-target{{chip={2} features={3} O={4}},"
      "gpu.module(convert-scf-to-cf,convert-nvgpu-to-nvvm,"
      "convert-gpu-to-nvvm{{use-bare-ptr-memref-call-conv=1},"
      "convert-nvvm-to-llvm,"
      "canonicalize,cse,reconcile-unrealized-casts)",
      (int64_t)options.warps, (int64_t)options.blockK,
      std::string(options.chip), std::string(options.features),
      (int64_t)options.optLevel,
      gpuMmaFor(options.mma, options.chip),
      options.tma ? "true" : "false", options.overlap ? "true" : "false",
      options.approxTanh ? "true" : "false", std::string(options.gradDq),
      options.warpSpecialize ? "true" : "false");
  if (options.binary)
    pipeline += ",gpu-module-to-binary{format=" + std::string(options.format) +
                "}";
  addPipeline(pm, pipeline);
}

void mlir::sparse_attn::registerSparseAttnPipelines() {
  PassPipelineRegistration<GPUPipelineOptions>(
      "sparse-attn-to-nvvm",
      "Lower sparse_attn to tensor-core GPU kernels (gpu + nvgpu + nvvm) and "
      "serialise them to PTX / cubin",
      buildSparseAttnToNVVMPipeline);
  PassPipelineRegistration<CPUPipelineOptions>(
      "sparse-attn-to-llvm-cpu",
      "Lower sparse_attn to the LLVM dialect for the host CPU through the "
      "fused, block-skipping loop nest",
      buildSparseAttnToLLVMCPUPipeline);
  PassPipelineRegistration<>(
      "sparse-attn-reference-to-llvm-cpu",
      "Lower sparse_attn to the LLVM dialect through the unfused linalg "
      "reference (materialises the S x S scores; for tests and baselines)",
      buildSparseAttnReferenceToLLVMCPUPipeline);
}
