//===- SparseAttnToGPU.h - fused tensor-core GPU lowering -------*- C++ -*-===//
#ifndef SPARSE_ATTN_CONVERSION_SPARSEATTNTOGPU_H
#define SPARSE_ATTN_CONVERSION_SPARSEATTNTOGPU_H

#include "mlir/IR/PatternMatch.h"

namespace mlir {
namespace sparse_attn {

struct SparseAttnToGPUOptions {
  /// Warps per thread block (each owns 16 query rows).
  int64_t warps = 4;
  /// Keys per tile (a multiple of 16).
  int64_t blockK = 64;
  /// Tensor-core instructions: "sync" (mma.sync m16n8k16, sm_80 and later),
  /// "wgmma" (Hopper warpgroup MMA from shared memory, sm_90a) or "auto"
  /// (wgmma for the ops that meet its requirements, sync for the others).
  std::string mma = "sync";
  /// With wgmma: K / V tiles by TMA (cp.async.bulk.tensor + mbarriers; the
  /// launcher passes CUtensorMaps) instead of cp.async.
  bool tma = false;
  /// With TMA: issue the next tile's Q K^T before this tile's softmax.
  bool overlap = false;
  /// math.tanh (f32) of score_mod bodies as tanh.approx.f32.
  bool approxTanh = true;
  /// The backward's dQ: "deterministic" (a query-block kernel of its own,
  /// recomputing S and dP) or "atomic" (summed by the key-block kernel
  /// with f32 atomic adds: less work, bits that vary from run to run).
  std::string gradDq = "deterministic";
  /// With TMA (the forward): a producer warpgroup issues the K / V loads
  /// and the consumer warpgroups run the tiles (docs/gpu-lowering.md,
  /// "The warp-specialised schedule").
  bool warpSpecialize = false;
};

/// Whether the forward `op` runs on warpgroup MMAs with `options`:
/// mma=wgmma (checked), or mma=auto where wgmmaUnsupported is empty.
bool forwardUsesWgmma(Operation *op, const SparseAttnToGPUOptions &options);

/// The schedule selection of the forward `op` (options.warps ignored): 8
/// (two warpgroups of 64 query rows sharing each K / V tile) where
/// mma is not sync, D = Dv = 128, the two-warpgroup kernel applies
/// (wgmmaUnsupported), the tile tables are known at compile time and the
/// 128-row query blocks average at least 32 key tiles; else 4. The
/// measurements behind it: docs/gpu-lowering.md, "Schedule selection".
int64_t chooseForwardWarps(Operation *op, const SparseAttnToGPUOptions &options);

/// Why `op` cannot use mma=wgmma with `options` (empty if it can).
std::string wgmmaUnsupported(Operation *op,
                             const SparseAttnToGPUOptions &options);

/// Checks what the GPU lowering needs of `op` (dtypes, static head counts
/// and head dimensions, table shapes and block sizes, shared memory, the
/// pattern's code generation); emits an error at the op and fails
/// otherwise.
LogicalResult checkLowerableToGPU(Operation *op,
                                  const SparseAttnToGPUOptions &options);

/// Rewrites every sparse_attn.attention into a gpu.launch_func of a kernel
/// generated into the `gpu.module` named `@sparse_attn_kernels` (created on
/// demand; the module gets `gpu.container_module`).
void populateSparseAttnToGPUPatterns(RewritePatternSet &patterns,
                                     const SparseAttnToGPUOptions &options);

/// Checks what the GPU backward needs of a sparse_attn.attention_grad (f16
/// / bf16, static shapes, compile-time tables, table blocks the tiles
/// divide, head dimensions multiples of 16, shared memory, with mma=wgmma
/// what gradWgmmaUnsupported names, the score modification's derivative,
/// the pattern's code generation); emits an error at the op and fails
/// otherwise.
LogicalResult checkGradLowerableToGPU(Operation *op,
                                      const SparseAttnToGPUOptions &options);

/// Why the backward's kernels cannot run on warpgroup MMAs
/// (mma=wgmma) for `op` with `options`, or "" when it can: deterministic
/// dQ, warps = 4, block-k a multiple of 64, D and Dv multiples of 64 up
/// to 256.
std::string gradWgmmaUnsupported(Operation *op,
                                 const SparseAttnToGPUOptions &options);

/// Whether the backward of `op` runs on warpgroup MMAs: mma=wgmma, or
/// mma=auto where gradWgmmaUnsupported is empty (the pipeline turns auto
/// into sync for chips other than sm_90a).
bool gradUsesWgmma(Operation *op, const SparseAttnToGPUOptions &options);

/// Rewrites every sparse_attn.attention_grad into two kernel launches in
/// `@sparse_attn_kernels` (SparseAttnGradToGPU.cpp): the query-block kernel
/// (Delta, dQ), then the key-block kernel (dK, dV).
void populateSparseAttnGradToGPUPatterns(
    RewritePatternSet &patterns, const SparseAttnToGPUOptions &options);

/// Checks what the GPU kernels of the routing ops need (static shapes, a
/// compile-time block grid for a block selection, D <= 1024, Nk <= 4096; a
/// token selection: Sk <= 4096 and a pattern shared by every head); emits
/// an error at the op and fails otherwise.
LogicalResult checkRoutingLowerableToGPU(Operation *op);

/// Rewrites sparse_attn.pool, select_blocks and select_tokens into launches of
/// kernels in `@sparse_attn_kernels` (RoutingKernels.cpp).
void populateRoutingToGPUPatterns(RewritePatternSet &patterns);

/// sparse_attn.merge as a kernel (MergeKernel.cpp): static shapes only.
LogicalResult checkMergeLowerableToGPU(Operation *op);
void populateMergeToGPUPatterns(RewritePatternSet &patterns);

/// The attribute on each generated gpu.launch_func naming its arguments'
/// roles.
constexpr const char *kKernelArgsAttrName = "sparse_attn.kernel_args";

/// On launches of kernels with sizes known only at run time (B, Sq, Sk):
/// per argument, its dimensions as integers or the names "B", "Sq", "Sk"
/// (an argument with such sizes is passed as a bare pointer, memref<1 x
/// elt>; a `size:<name>` argument holds the value of a name), and the grid
/// as three strings: an integer, a name, or "ceil(<name>/<integer>)".
constexpr const char *kKernelArgDimsAttrName = "sparse_attn.kernel_arg_dims";
constexpr const char *kKernelGridAttrName = "sparse_attn.kernel_grid";

} // namespace sparse_attn
} // namespace mlir

#endif
