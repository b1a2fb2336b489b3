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
  PassOptions::Option<bool> polynomialMath{
      *this, "polynomial-math",
      llvm::cl::desc("Compute math.exp, tanh, log and the other functions of "
                     "score_mod bodies (the kernel's softmax has its own "
                     "exp) with MLIR's vector polynomial approximations "
                     "instead of libm calls"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> bf16Dot{
      *this, "bf16-dot",
      llvm::cl::desc("bf16 inputs: Q K^T with AVX-512 BF16 dot products (the "
                     "target CPU must have avx512bf16)"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> amx{
      *this, "amx",
      llvm::cl::desc("bf16 inputs: Q K^T and P V as AMX tile products (the "
                     "target CPU must have amx-bf16; Linux grants the state "
                     "at run time)"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> expandBF16{
      *this, "expand-bf16",
      llvm::cl::desc("bf16 <-> f32 conversions as integer arithmetic (for "
                     "targets without avx512bf16, where LLVM would call "
                     "__truncsfbf2)"),
      llvm::cl::init(false)};
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

/// Options of `sparse-attn-to-nvvm`.
struct GPUPipelineOptions : public PassPipelineOptions<GPUPipelineOptions> {
  PassOptions::Option<std::string> chip{
      *this, "chip", llvm::cl::desc("GPU architecture (sm_80, sm_90a, ...)"),
      llvm::cl::init("sm_90a")};
  PassOptions::Option<std::string> features{
      *this, "features", llvm::cl::desc("PTX features (ISA version), e.g. +ptx83: TMA kernels need 8.3 for the tensormap fence"),
      llvm::cl::init("+ptx83")};
  PassOptions::Option<std::string> format{
      *this, "format",
      llvm::cl::desc("What gpu-module-to-binary embeds: isa (PTX text, "
                     "needs no CUDA toolkit), bin (cubin, needs ptxas) or "
                     "fatbin"),
      llvm::cl::init("isa")};
  PassOptions::Option<int64_t> optLevel{
      *this, "opt-level", llvm::cl::desc("LLVM optimisation level (0-3)"),
      llvm::cl::init(3)};
  PassOptions::Option<int64_t> warps{
      *this, "warps",
      llvm::cl::desc("Warps per thread block; each owns 16 query rows"),
      llvm::cl::init(4)};
  PassOptions::Option<int64_t> blockK{
      *this, "block-k", llvm::cl::desc("Keys per tile (multiple of 16)"),
      llvm::cl::init(64)};
  PassOptions::Option<std::string> mma{
      *this, "mma",
      llvm::cl::desc("Tensor-core instructions: sync (mma.sync), wgmma "
                     "(sm_90a warpgroup MMA) or auto (default: wgmma where "
                     "the op allows it when chip = sm_90a, else sync)"),
      llvm::cl::init("auto")};
  PassOptions::Option<bool> tma{
      *this, "tma",
      llvm::cl::desc("With wgmma: K / V tiles by TMA (the launcher encodes "
                     "two CUtensorMaps)"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> overlap{
      *this, "overlap",
      llvm::cl::desc("With tma: the next tile's Q K^T overlaps this tile's "
                     "softmax; the backward with wgmma: P / dS made while "
                     "the tile's other products run (opt-in: within 3% of the default)"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> warpSpecialize{
      *this, "warp-specialize",
      llvm::cl::desc("With tma, the forward: a producer warpgroup issues the "
                     "K / V loads; the consumer warpgroups overlap each "
                     "tile's softmax with tensor-core work and, two of "
                     "them, take turns on named barriers (ping-pong)"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> approxTanh{
      *this, "approx-tanh",
      llvm::cl::desc("math.tanh of score_mod bodies as tanh.approx.f32 "
                     "(maximum relative error 2^-10.987)"),
      llvm::cl::init(true)};
  PassOptions::Option<std::string> gradDq{
      *this, "grad-dq",
      llvm::cl::desc("The backward's dQ: deterministic (a kernel of its own) "
                     "or atomic (f32 atomic sums in the key-block kernel)"),
      llvm::cl::init("deterministic")};
  PassOptions::Option<bool> binary{
      *this, "binary",
      llvm::cl::desc("Finish with gpu-module-to-binary (false: stop at the "
                     "NVVM dialect, for inspection)"),
      llvm::cl::init(true)};
};

/// The tensor-core instructions the GPU lowering is given for the `mma`
/// option on `chip`: auto becomes sync where wgmma does not exist (any chip
/// but sm_90a); anything else is passed through.
std::string gpuMmaFor(llvm::StringRef mma, llvm::StringRef chip);

/// sparse_attn -> gpu.launch_func + gpu.module of tensor-core kernels
/// (convert-sparse-attn-to-gpu), the kernels lowered to NVVM and, with
/// `binary`, serialised by gpu-module-to-binary. The host side is left as
/// the conversion produced it (tensors, memrefs, gpu.launch_func).
void buildSparseAttnToNVVMPipeline(OpPassManager &pm,
                                   const GPUPipelineOptions &options);

void registerSparseAttnPipelines();

} // namespace sparse_attn
} // namespace mlir

#endif
