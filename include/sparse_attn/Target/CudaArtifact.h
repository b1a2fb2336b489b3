//===- CudaArtifact.h - GPU kernels as a loadable artifact ------*- C++ -*-===//
//
// An artifact is a directory that the CUDA runtime (runtime/cuda) loads
// without MLIR: the kernels' PTX (or cubin), one raw little-endian int32 file
// per block table, and `manifest.txt`, a line-based description:
//
//   sparse-attn-cuda-artifact 1
//   module kernels.ptx ptx           (file, format: ptx | cubin | fatbin)
//   kernel <entry>                   (one section per gpu.launch_func)
//   function <func.func symbol>
//   grid <x> <y> <z>                 (each an integer, or with sizes known
//        at run time, a size name or ceil(<name>/<integer>))
//   block <x> <y> <z>
//   shared_bytes <dynamic shared memory>
//   tile <query rows> <key columns>  (of one tile of the block tables)
//   arg <role> <dtype> <rank> <dims...>      (caller-provided buffers; a
//        dimension known only at run time is a size name: B, Sq or Sk)
//   size <name>                              (a 64-bit kernel argument: the
//        value of a size name, bound from the launch's argument shapes)
//   table <file> <count>                     (uploaded by the runtime)
//   tensormap <argument> <rows> <cols>       (mma=wgmma tma=true: a 128-byte
//        CUtensorMap of that 4-D argument, box [1, 1, rows, cols], 128-byte
//        swizzle, zero fill; encoded by the runtime for the launch's
//        pointer, re-encoded when it changes)
//   bind <buffer>...                         (per `arg` line, in order, the
//        buffer of the function it is: input:<i> (argument i), output:<j>
//        (result j) or temp:<k> (an intermediate the launcher allocates, of
//        the arg line's type); kernels run in manifest order, so a program
//        of several ops (pooling, block selection, attention) runs by
//        launching every kernel with its bound buffers)
//   end
//
// Arguments are passed to the kernel in the order they are listed (args,
// tables, tensor maps and sizes interleaved as written), each buffer as one
// device pointer to a dense row-major buffer. Roles: query, key, value,
// query_segment_ids, key_segment_ids, kv_num_blocks, kv_indices,
// full_num_blocks, full_indices (inputs), output, lse (outputs). Every
// occurrence of a size name must have the same value at a launch.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_TARGET_CUDAARTIFACT_H
#define SPARSE_ATTN_TARGET_CUDAARTIFACT_H

#include "mlir/IR/BuiltinOps.h"
#include <string>

namespace mlir {
namespace sparse_attn {

/// CudaArtifactOptions::warps: the schedule selection chooses.
constexpr int64_t kAutoWarps = 0;

struct CudaArtifactOptions {
  std::string directory;
  std::string chip = "sm_90a";
  std::string features = "+ptx83";
  /// isa (PTX, the driver JIT-compiles it at load), bin (cubin, needs ptxas
  /// at compile time) or fatbin.
  std::string format = "isa";
  /// Warps per thread block (16 query rows each), or kAutoWarps: chosen by
  /// chooseArtifactWarps.
  int64_t warps = kAutoWarps;
  int64_t blockK = 64;
  std::string mma = "auto";
  /// With wgmma: K / V by TMA (the runtime encodes the tensor maps).
  bool tma = true;
  /// With TMA: the next tile's Q K^T overlaps this tile's softmax.
  bool overlap = false;
  /// With TMA: the warp-specialised forward (a producer warpgroup).
  bool warpSpecialize = false;
  /// math.tanh of score_mod bodies as tanh.approx.f32.
  bool approxTanh = true;
  /// The backward's dQ: "deterministic" or "atomic".
  std::string gradDq = "deterministic";
  int64_t optLevel = 3;
};

/// The warps per thread block of the artifact of `module` when
/// `options.warps` is kAutoWarps: 8 when every sparse_attn.attention in it
/// chooses two warpgroups (chooseForwardWarps: D = 128, compile-time
/// tables, long rows) and it has no sparse_attn.attention_grad; else 4.
int64_t chooseArtifactWarps(ModuleOp module, const CudaArtifactOptions &options);

/// Lowers a clone of `module` with sparse-attn-to-nvvm and writes the
/// artifact directory. Diagnostics of the lowering go to the context's
/// handler; other failures are described in `error`.
LogicalResult compileToCudaArtifact(ModuleOp module,
                                    const CudaArtifactOptions &options,
                                    std::string &error);

} // namespace sparse_attn
} // namespace mlir

#endif
