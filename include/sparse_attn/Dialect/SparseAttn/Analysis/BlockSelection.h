//===- BlockSelection.h - compile-time block grid of a selection -*- C++ -*-===//
//
// What the lowerings of sparse_attn.select_blocks share: the requirements of
// a compile-time classification of the block grid and the classes
// themselves (one source for the CPU loops and the GPU kernel).
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_DIALECT_SPARSEATTN_ANALYSIS_BLOCKSELECTION_H
#define SPARSE_ATTN_DIALECT_SPARSEATTN_ANALYSIS_BLOCKSELECTION_H

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"
#include <vector>

namespace mlir {
namespace sparse_attn {

/// The static sizes of a selection the lowerings build from (valid after
/// checkStaticBlockSelection and static head counts / D).
struct BlockSelectionDims {
  int64_t batch, hq, hkv, hp, group, sq, sk, d, bq, bk, mq, nk, width;
  bool perKV; // tables per KV head (H' = Hkv != Hq)
  explicit BlockSelectionDims(SelectBlocksOp op);
};

/// Checks that the block grid of `op` can be classified at compile time
/// (static Sq, a constant Sk, a static table width, at most
/// kMaxCompileTimeTableTiles blocks, block classes independent of batch and
/// head); emits an error naming `lowering` ("CPU", "GPU") otherwise.
LogicalResult checkStaticBlockSelection(SelectBlocksOp op, StringRef lowering);

/// The class of every (query block, key block) of `op`'s grid, row-major
/// (Mq x Nk; TileKind values: 0 empty, 1 partial, 2 full), from the exact
/// classifier of the block analysis. Fails (diagnosed) when a custom mask
/// cannot be evaluated. Requires checkStaticBlockSelection.
FailureOr<std::vector<int8_t>> blockSelectionClasses(SelectBlocksOp op);

/// Checks that the pattern of a token selection (one list shared by every
/// head) does not depend on batch or head: no custom mask reads its batch or
/// head argument. Both lowerings evaluate the pattern at (b, 0, t, s).
LogicalResult checkSharedTokenPattern(SelectTokensOp op);

} // namespace sparse_attn
} // namespace mlir

#endif
