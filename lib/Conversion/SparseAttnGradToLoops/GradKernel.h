//===- GradKernel.h - the pieces of the CPU attention backward --*- C++ -*-===//
//
// convert-sparse-attn-grad-to-loops emits two loop nests per
// sparse_attn.attention_grad, each over tiles of block-q x block-k
// (docs/cpu-lowering.md, "The backward"):
//
//   key-block kernel   scf.parallel (b, kv head, key block): dK and dV of
//                      the block's keys, summed over the query heads of the
//                      group and the query blocks that see the block
//                      (transposed tables)
//   query-block kernel scf.parallel (b, query head, query block): dQ of the
//                      block's rows over the key blocks it sees
//
// Each output element is written by one iteration, which sums in a fixed
// order: the results do not depend on the number of threads. Pieces:
//
//   GradTile.cpp        a query block's operands prepared for its tiles
//                       (Q^T, dO^T, LSE, Delta), one tile's P and dS, the
//                       dK / dV and dQ accumulations
//   GradTileSources.cpp which tiles each kernel visits: compile-time tables
//                       and their transpose, runtime block tables and their
//                       generated transpose, run-time classification
//   SparseAttnGradToLoops.cpp the driver and the pass
//
// Shared with the forward (SparseAttnToLoops/CPUKernel.h): the kernel
// context, constants and exp, the score modification and mask of a column,
// the walk over runtime block tables.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_LIB_CONVERSION_SPARSEATTNGRADTOLOOPS_GRADKERNEL_H
#define SPARSE_ATTN_LIB_CONVERSION_SPARSEATTNGRADTOLOOPS_GRADKERNEL_H

#include "../SparseAttnToLoops/CPUKernel.h"

namespace mlir {
namespace sparse_attn {
namespace cpu {

/// The backward's values besides the forward context.
struct GradKernel {
  GradKernel(AttentionGradOp op, Location loc)
      : kn(AttentionOp(), loc), op(op) {}
  /// q, k, v, segment ids, runtime tables, sizes, tiles, pattern, score_mod.
  Kernel kn;
  AttentionGradOp op;
  /// d score_mod / d score (null without a score modification) and whether
  /// its region runs on vectors.
  ScoreModOp scoreModGrad;
  bool scoreModGradOnVectors = false;
  Value o, lse, dO;   // inputs (memrefs)
  Value dq, dk, dv;   // results (memrefs)
  Value batch, heads; // index
  Value numQBlocks;   // index
};

/// A query block's operands as its tiles read them (scratch of one
/// parallel iteration, f32, R = bqPad rows, rows past Sq zero).
struct QueryBlock {
  Value bIdx, hIdx, gIdx, qb, q0, rows;
  Value qT;     // [D][R]: scale * q, transposed
  Value qW;     // [R][D]: scale * q
  Value doT;    // [Dv][R]: dO, transposed
  Value doW;    // [R][Dv]: dO
  Value lseR;   // [R]: LSE (+inf past the rows: P = 0 there)
  Value deltaR; // [R]: Delta = sum_e dO[e] O[e]
};

/// The scratch of a query block (allocated where the builder is).
QueryBlock allocQueryBlock(OpBuilder &b, GradKernel &g);
/// Loads query block `qb` of (b, h) into `qbk` (positions and scratch).
void loadQueryBlock(OpBuilder &b, GradKernel &g, QueryBlock &qbk, Value bIdx,
                    Value hIdx, Value qb);
/// One tile (the query block, key block kb): pT[c][r] = P and
/// dsT[c][r] = dS = P (dP - Delta) score_mod'(t) for the tile's keys c
/// (vectors over the rows; 0 for pairs that do not contribute). `dmodT`
/// is scratch for the derivative column (used with a score modification).
/// `masked`: evaluate the pattern (a partial tile).
void emitGradTile(OpBuilder &b, GradKernel &g, QueryBlock &qbk, Value kb,
                  bool masked, Value pT, Value dsT, Value dmodT);
/// Emits `body` for tile (qb, kb) of batch b, guarded for document masks
/// (a pattern that implies "same segment") as the forward guards it: a
/// partial tile whose key ids do not overlap the rows' ids is skipped, and
/// one whose positions all share one segment runs with the pattern without
/// `segments` (its vector form). Other tiles: `body` as is.
void guardSegments(OpBuilder &b, GradKernel &g, Value bIdx, Value qb,
                   Value kb, bool masked, function_ref<void(OpBuilder &)> body);
/// dV[c] += sum_r P[c][r] dO[r] and dK[c] += sum_r dS[c][r] (scale q[r])
/// into dvAcc[bk][Dv], dkAcc[bk][D], for the tile's keys. On a partial
/// tile (`masked`) or under a score modification, pairs that do not
/// contribute are selected out rather than multiplied by 0.
void accumulateKeyGrads(OpBuilder &b, GradKernel &g, QueryBlock &qbk,
                        Value kb, bool masked, Value pT, Value dsT,
                        Value dkAcc, Value dvAcc);
/// dQ[r] += sum_c dS[c][r] k[c] (unscaled) into dqAcc[R][D] (pairs that
/// do not contribute selected out as above).
void accumulateQueryGrads(OpBuilder &b, GradKernel &g, QueryBlock &qbk,
                          Value kb, bool masked, Value dsT, Value dqAcc);

/// Which tiles are visited, and whether each needs the mask.
struct TileLists {
  /// Compile-time tables (memref<Nxi32> CSR rows), or null: per query
  /// block (forward order) the full and partial key blocks, and per key
  /// block (transposed) the full and partial query blocks.
  Value fullByQ[2], partialByQ[2], fullByK[2], partialByK[2];
  /// Runtime tables transposed, one map per table (block_tables, then
  /// full_tables): listed[b'][h'][kb][qb] (i8) with the table's own
  /// [B', H'], or null.
  Value listedByK[2];
};

/// The compile-time tables of `blocks`, both ways (GradTileSources.cpp).
void emitStaticTileLists(OpBuilder &b, GradKernel &g,
                         const BlockClassification &blocks, TileLists &t);
/// The transpose of each runtime block table: listed[b'][h'][kb][qb] = 1
/// when the table lists key block kb for query block qb of row (b', h')
/// (count clamped, indices out of range skipped, as the forward reads
/// them), built by a parallel loop over (b', h').
void emitTransposedRuntimeTables(OpBuilder &b, GradKernel &g, TileLists &t);
/// Calls `tile(b, kb, masked)` for every key block that query block `qb` of
/// (b, h) sees (the forward's order of tiles).
void forEachKeyBlock(OpBuilder &b, GradKernel &g, TileLists &t,
                     QueryBlock &qbk,
                     function_ref<void(OpBuilder &, Value, bool)> tile);
/// Calls `tile(b, qb, masked)` for every query block of (b, h) that sees
/// key block `kb`.
void forEachQueryBlock(OpBuilder &b, GradKernel &g, TileLists &t, Value bIdx,
                       Value hIdx, Value gIdx, Value kb,
                       function_ref<void(OpBuilder &, Value, bool)> tile);

} // namespace cpu
} // namespace sparse_attn
} // namespace mlir

#endif
