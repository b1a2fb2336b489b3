//===- GradKernelBuilder.h - the GPU attention backward ---------*- C++ -*-===//
//
// sparse_attn.attention_grad on the GPU: two kernels, launched in this
// order on one stream (docs/gpu-lowering.md, "The backward"):
//
//   query-block kernel  grid (query blocks, Hq, B), warp w owns query rows
//                       [q0 + 16 w, q0 + 16 w + 16): Delta = rowsum(dO o O)
//                       of its rows, then over the key tiles the forward
//                       visits, S = Q K^T and dP = dO V^T recomputed, dS =
//                       P (dP - Delta) score_mod'(t), dQ += dS K
//   key-block kernel    grid (key blocks, Hkv, B), warp w owns keys [k0 +
//                       16 w, k0 + 16 w + 16): over the query heads of the
//                       group and the query tiles that see the block
//                       (transposed tables), S^T = K Q^T, dP^T = V dO^T,
//                       dV += P^T dO, dK += dS^T Q
//
// Every output element is written once, by the thread that accumulated it
// in a fixed order: the gradients are deterministic (no atomics). Each
// kernel's tiles stream through two shared buffers (the next tile's copy in
// flight while this one computes). Tensor cores: mma.sync m16n8k16, P and
// dS kept in registers between the products (the accumulator layout of two
// n8 tiles is the A layout of one k16 step), the other operand by ldmatrix
// (transposed where the product reads it along its rows).
//
// Shared with the forward (KernelBuilder.h): the pattern's predicate
// (allowed), the K / V tile loads of the query-block kernel, the primitives.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_LIB_CONVERSION_SPARSEATTNTOGPU_GRADKERNELBUILDER_H
#define SPARSE_ATTN_LIB_CONVERSION_SPARSEATTNTOGPU_GRADKERNELBUILDER_H

#include "KernelBuilder.h"

namespace mlir {
namespace sparse_attn {

/// The dynamic shared memory of the key-block kernel, bytes from its start
/// (rows padded by 8 elements, as the forward's tiles):
///   [K block BKV x (D + 8) | V block BKV x (Dv + 8) | Q tile 0 | Q tile 1
///    (BQ' x (D + 8)) | dO tile 0 | dO tile 1 (BQ' x (Dv + 8)) | LSE 0 | LSE 1
///    | Delta 0 | Delta 1 (BQ' f32 each)]
/// BKV = 16 x warps keys, BQ' = block-k query rows per tile.
/// With atomic dQ, then [dS tile BQ' x (BKV + 8)] (query rows, key
/// columns: the key-block kernel's dS^T written transposed, the A operand
/// of dQ += dS K).
/// With `swizzled` (mma=wgmma): the same order without padding, in the
/// forward's 128-byte-swizzled layout (KernelBuilder.h), offsets from the
/// first 1024-byte boundary (`aligned`; 1024 bytes of slack counted in
/// `total`, which counts from the start).
struct KeyBlockSharedPlan {
  int64_t kOff, vOff, qOff, qBytes, doOff, doBytes, lseOff, deltaOff, dsOff = 0,
                                                                     total;
  KeyBlockSharedPlan(int64_t eltBytes, int64_t bkv, int64_t bqt, int64_t d,
                     int64_t dv, bool dsTile = false, bool swizzled = false) {
    int64_t pad = swizzled ? 0 : 8;
    kOff = 0;
    vOff = kOff + bkv * (d + pad) * eltBytes;
    qOff = vOff + bkv * (dv + pad) * eltBytes;
    qBytes = bqt * (d + pad) * eltBytes;
    doOff = qOff + 2 * qBytes;
    doBytes = bqt * (dv + pad) * eltBytes;
    lseOff = doOff + 2 * doBytes;
    deltaOff = lseOff + 2 * bqt * 4;
    total = deltaOff + 2 * bqt * 4 + (swizzled ? 1024 : 0);
    if (dsTile) {
      dsOff = (total + 15) / 16 * 16;
      total = dsOff + bqt * (bkv + 8) * eltBytes;
    }
  }
};

/// The dynamic shared memory of the query-block kernel: two K tiles, then
/// two V tiles of block-k rows padded by 8 elements (the forward's mma.sync
/// plan, kView / vView). With `swizzled` (mma=wgmma), from the aligned
/// area in the 128-byte-swizzled layout: [Q 64 x D | dO 64 x Dv | K 0 | K 1
/// (BK x D) | V 0 | V 1 (BK x Dv)] (the forward's wgmma plan with dO after
/// Q), 1024 bytes of slack counted in `total`.
struct QueryBlockSharedPlan {
  int64_t qOff = 0, doOff = 0, kOff, vOff, total;
  QueryBlockSharedPlan(int64_t eltBytes, int64_t bq, int64_t bk, int64_t d,
                       int64_t dv, bool swizzled = false) {
    if (!swizzled) {
      kOff = 0;
      vOff = 2 * bk * (d + 8) * eltBytes;
      total = vOff + 2 * bk * (dv + 8) * eltBytes;
      return;
    }
    doOff = qOff + bq * d * eltBytes;
    kOff = doOff + bq * dv * eltBytes;
    vOff = kOff + 2 * bk * d * eltBytes;
    total = 1024 + vOff + 2 * bk * dv * eltBytes;
  }
};

/// Emits one of the two backward kernels (the fields of KernelBuilder keep
/// their forward meaning where they are used: q, k, v, qSeg, kSeg, bIdx,
/// hIdx, kvh, warp, lane, g, t, sizes, tiles of the query-block kernel's
/// K / V buffers).
struct GradKernelBuilder : KernelBuilder {
  GradKernelBuilder(OpBuilder &b, Location loc, AttentionGradOp op)
      : KernelBuilder(b, loc, op, op.getPattern()) {}

  /// d score_mod / d t (null without a score modification).
  ScoreModOp scoreModGrad;
  // Kernel arguments besides the forward's (q, k, v, qSeg, kSeg).
  Value o, lseIn, dO, delta, dqOut, dkOut, dvOut;
  /// Atomic dQ: the f32 accumulator [B, Hq, Sq, D] (zeroed by the prepare
  /// kernel, summed into by the key-block kernel, scaled and rounded by
  /// the dQ kernel); null in the deterministic mode.
  Value dqAcc;
  /// Compressed-row tables of the kernel being built: per query block
  /// (query-block kernel) or per key block (key-block kernel), the full and
  /// partial blocks of the other side, and the order of the thread blocks.
  Value fullOffsets, fullIndices, partialOffsets, partialIndices, blockOrder;
  /// Key-block kernel: keys per thread block (16 x warps) and query rows per
  /// tile; its shared-memory plan.
  int64_t bkv = 0, bqt = 0;
  const KeyBlockSharedPlan *keyPlan = nullptr;
  /// mma=wgmma, query-block kernel: the byte offset of the swizzled dO
  /// rows (qOff, kOff, vOff: the KernelBuilder's, for Q and the tiles).
  int64_t gradOutOff = 0;
  /// mma=wgmma with overlap=true: the CUDA-core work of a tile overlapped
  /// with its products (S / S^T waited for before dP / dP^T; opt-in until
  /// it has run against the GPU checks).
  bool overlapProducts = false;

  /// Thread, warp, lane, g = lane / 4, t = lane % 4 and the grid indices.
  void setUpThread();
  /// The A fragments (mma.sync layout) of rows r0 (g) and r1 (g + 8) of
  /// `mem`[b, h] for every k16 step of `width` columns.
  SmallVector<Value> rowFragments(Value mem, Value head, Value r0, Value r1,
                                  int64_t width);
  /// The 16 x n products of this warp's A (registers `aFrag`, or ldmatrix
  /// from rows `aRow0` .. + 16 of the padded shared tile `aTile` when
  /// `aFrag` is empty) with B^T where B is the padded shared tile `bTile`
  /// of `n` rows (n8 tiles of the result, 4 f32 each), over `width` columns.
  SmallVector<Value> rowProducts(ArrayRef<Value> aFrag, Value aTile,
                                 Value aRow0, Value bTile, int64_t n,
                                 int64_t width);
  /// acc (16 x width, n8 tiles) += X Y where X (16 x rows) is given as the
  /// f32 accumulators `x` (n8 tiles of `rows` columns) and Y is the padded
  /// shared tile `yTile` of `rows` rows, read transposed.
  void accumulateProducts(ArrayRef<Value> x, int64_t rows, Value yTile,
                          int64_t width, MutableArrayRef<Value> acc);
  /// P and dS of one (query, key) pair from its raw score `s` (Q . K), dP,
  /// the row's log2-domain LSE (+inf for rows without an allowed key) and
  /// Delta; `ok` (null: allowed) selects both to 0 where the pattern
  /// forbids the pair. dS is with respect to the scaled score t = scale s.
  std::pair<Value, Value> pairGrad(Value s, Value dp, Value lse2, Value dlt,
                                   Value qPos, Value kPos, Value ok);
  /// pairGrad's first half: P of the pair (not masked) and the score
  /// modification's derivative at it (null without one).
  std::pair<Value, Value> probability(Value s, Value lse2, Value qPos,
                                      Value kPos);
  /// pairGrad's second half: dS = P (dP - Delta) [x the modification's
  /// derivative `dmod`] (not masked).
  Value scoreGrad(Value p, Value dp, Value dlt, Value dmod);
  /// LSE in the log2 domain, +inf where LSE = -inf (the row has no allowed
  /// key: every P is then exactly 0).
  Value log2Lse(Value lse);
  /// Rows [r0, r0 + rows) of `src`[b, head] (clamped to row `last`; zero
  /// past `len` when given) into the padded shared tile `dst` by cp.async
  /// (the caller commits and waits).
  void copyPaddedRows(Value src, Value head, Value r0, Value last, Value len,
                      Value dst, int64_t rows, int64_t width);
  /// The tiles j = 0 .. n - 1 through two shared buffers: `load(j, buf)`
  /// starts the copies of tile j into buffer buf, `step(j, buf, state)`
  /// computes it; tile j + 1's copies are in flight during tile j.
  SmallVector<Value>
  bufferedLoop(Value n, function_ref<void(Value, Value)> load,
               function_ref<void(Value, Value, SmallVector<Value> &)> step,
               SmallVector<Value> state);
  /// The entries [offsets[row], offsets[row + 1]) of a compressed-row
  /// table: their count, the first one's position and the entry at j.
  struct TableRow {
    Value n, lo;
    std::function<Value(Value)> at;
  };
  TableRow tableRow(Value offsets, Value indices, Value row);
  /// The tiles of table row `row`: full ones unmasked, then partial ones
  /// masked (with runtime block tables: the list runtimeRow built),
  /// through bufferedLoop (`load(other, buf)` copies the tile of
  /// block `other` of the other side). With segmentSkip, a partial tile is
  /// first classified from the segment-id ranges of the fixed side
  /// (qSegMin / qSegMax) and of the tile (`tileRange(other)`) and the
  /// partial_flags table (classifyTile): skipped, run unmasked, or masked.
  /// `body(other, buf, masked, maskIf, state)`: maskIf (if set) is the
  /// run-time choice of the mask.
  SmallVector<Value>
  tableLoops(Value row, function_ref<void(Value, Value)> load,
             function_ref<std::pair<Value, Value>(Value)> tileRange,
             function_ref<void(Value, Value, bool, Value, SmallVector<Value> &)>
                 body,
             SmallVector<Value> state);
  /// Document masks with room in shared memory (tileCodes, maxPartial):
  /// classifies the partial tiles of table row `row` before the loops
  /// (warp w: tiles w, w + warps, ...) and compacts the ones that run into
  /// tileCodes (entry 2 other + needs mask, the count at slot maxPartial),
  /// so skipped tiles are not even copied. tableLoops then reads that list.
  void compactRow(Value row,
                  function_ref<std::pair<Value, Value>(Value)> tileRange);
  /// The loop over the compacted list in tileCodes (entry j: 2 other +
  /// needs mask, the count at slot maxPartial): `body` with masked and the
  /// entry's run-time choice of the mask.
  SmallVector<Value>
  compactedLoop(function_ref<void(Value, Value)> load,
                function_ref<void(Value, Value, bool, Value,
                                  SmallVector<Value> &)>
                    body,
                SmallVector<Value> state);
  /// Runtime block tables: sets bit j of listedBits for each table block j
  /// of the other side that the tables pair with table block `fixed`
  /// (index) of this side: the key table blocks of query table row `fixed`
  /// (query-block kernel), or the query table rows that list key table
  /// block `fixed` (key-block kernel: the transposition, each thread
  /// scanning whole rows). Counts are clamped to [0, N] and indices outside
  /// the key blocks ignored, so every read stays in bounds whatever the
  /// tables hold; a block listed twice (or in both tables) counts once.
  /// Starts and ends with a barrier.
  void markListed(bool byKey, Value fixed);
  /// Runtime block tables: the tiles of compile-time table row `row` (full,
  /// then partial; by key block when `byKey`) whose table block the tables
  /// list, compacted into tileCodes (entry 2 other + needs mask; document
  /// masks: partial tiles classified first, skipped ones dropped).
  void runtimeRow(Value row, bool byKey,
                  function_ref<std::pair<Value, Value>(Value)> tileRange);
  /// With `masked`, the pattern's verdict for elements 0 .. n - 1
  /// (`allowedAt(e)`), or all true when the i1 `maskIf` (if given) is false
  /// at run time; empty without `masked`.
  SmallVector<Value> maskValues(bool masked, Value maskIf, int64_t n,
                                function_ref<Value(int64_t)> allowedAt);

  /// Delta = rowsum(dO o O) of rows g (half 0) and g + 8 (half 1) of
  /// this warp's 16 query rows, stored to `delta` (rows in range);
  /// `perHalf(half, value)` runs after each half's store.
  void deltaOfRows(function_ref<void(int, Value)> perHalf);
  /// dQ_acc[rows of the dS tile] += dS K over the key block (atomic dQ):
  /// the warps take 16-row slabs of the query tile starting at `qs0`, A
  /// from `dsTile` (query rows x BKV keys), B = the K block read
  /// transposed; f32 atomic adds of the rows below Sq.
  void atomicDq(Value dsTile, Value kBlock, Value qs0);

  /// The query-block kernel (dQ, Delta).
  void queryBlockKernel();
  /// Atomic dQ, first kernel, grid (query blocks, Hq, B): Delta, and the
  /// dQ accumulator's rows set to 0.
  void prepareKernel();
  /// Atomic dQ, last kernel, grid (query blocks, Hq, B): dQ = scale x the
  /// accumulator, rounded to the element type.
  void dqKernel();
  /// The key-block kernel (dK, dV).
  void keyBlockKernel();
};

/// The key-block kernel's tile of query rows (block-k) and keys (16 x
/// warps).
struct GradTiles {
  int64_t bq, bk;   // query-block kernel: 16 x warps rows, block-k keys
  int64_t bqt, bkv; // key-block kernel: block-k rows, 16 x warps keys
};

} // namespace sparse_attn
} // namespace mlir

#endif
