//===- KernelBuilder.h - the pieces of the GPU attention kernel -*- C++ -*-===//
//
// The kernel convert-sparse-attn-to-gpu emits, as pieces with one job each
// (one file each; docs/architecture.md):
//
//   GPUPrimitives.h / .cpp   tensor-core and memory instructions (no state)
//   TileSource.cpp           which key tiles a query block visits: compile-
//                            time tables (buildTables), document-mask run-
//                            time classes, the device-built list (runtime
//                            block tables, run-time lengths)
//   TokenSource.cpp          token tables (table_block [1, 1]): one query
//                            token's gathered key list, the query heads
//                            that share it packed as the MMA rows
//   TileLoads.cpp            K / V (and Q) tiles into shared memory: cp.async,
//                            TMA with mbarriers, the swizzled wgmma layout
//   ForwardBody.cpp          the per-tile step: S = Q K^T, scale, score_mod,
//                            mask, online softmax, O += P V
//   Schedule.cpp             the loops over a query block's tiles: the
//                            double-buffered pipeline, the overlapped wgmma
//                            pipeline, chunks of a device-built list
//   SpecializedSchedule.cpp  the warp-specialised schedule: a producer
//                            warpgroup issuing the TMA ring, consumer
//                            warpgroups in ping-pong
//   SparseAttnToGPU.cpp      the kernel body (prologue, epilogue), the kernel
//                            signature, the shared-memory plan and the launch
//
// A new body (backward), schedule (ping-pong) or tile source (split-KV,
// paged KV) is a new file of methods here, not a fork of the others.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_LIB_CONVERSION_SPARSEATTNTOGPU_KERNELBUILDER_H
#define SPARSE_ATTN_LIB_CONVERSION_SPARSEATTNTOGPU_KERNELBUILDER_H

#include "GPUPrimitives.h"

#include "sparse_attn/Conversion/Passes.h"
#include "sparse_attn/Dialect/SparseAttn/Analysis/PatternAnalysis.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"
#include "sparse_attn/Dialect/SparseAttn/Utils/ConstantGlobals.h"
#include "sparse_attn/Dialect/SparseAttn/Utils/PatternCodegen.h"
#include "llvm/Support/ErrorHandling.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cstdint>
#include <vector>

namespace mlir {
namespace sparse_attn {

/// Compressed-row tile lists of one kernel, host-side.
struct TileTables {
  std::vector<int32_t> fullOffsets, fullIndices, partialOffsets, partialIndices,
      order;
  /// With segment ids: per partial tile, 1 if the tile is full whenever all
  /// its query and key positions share one segment (checked at run time),
  /// else 0.
  std::vector<int32_t> partialFlags;
};

/// The tables for (BQ, BK) tiles: from the op's block_mask when it has these
/// tile sizes, else from the block analysis; every tile partial when the
/// pattern cannot be classified statically (per-head custom masks). The key
/// block that runs past Sk is moved to the partial list (its bound is
/// checked there), and `order` lists query blocks by decreasing work.
FailureOr<TileTables> buildTables(AttentionOp op, int64_t bq, int64_t bk);

/// What the tile classification reads of an attention (forward or
/// backward): the scope of its symbols, its pattern, the query and key
/// types, whether it has segment ids, and the block_mask it carries (if
/// any).
struct TileProblem {
  Operation *op;
  SparsityPatternAttrInterface pattern;
  RankedTensorType queryType, keyType;
  bool segments = false;
  BlockMaskAttr blockMask;
};
TileProblem tileProblemOf(AttentionOp op);
TileProblem tileProblemOf(AttentionGradOp op);

/// The kind of every (BQ, BK) tile, row-major over [query block][key
/// block]: from the block_mask when it has these tile sizes, else the block
/// analysis; every tile partial when the pattern cannot be classified
/// statically (per-head custom masks). `sameSegmentKinds` (if given)
/// receives, for document masks with segment ids, how each tile looks when
/// its rows and columns share one segment (empty: unknown).
FailureOr<std::vector<TileKind>>
classifyTiles(const TileProblem &p, int64_t bq, int64_t bk,
              std::vector<TileKind> *sameSegmentKinds = nullptr);

/// Emits the kernel body. Everything the pieces share: the kernel's sizes,
/// arguments, shared-memory views and per-thread values.
struct KernelBuilder : GpuPrimitives {
  /// `op`: the sparse_attn.attention (or attention_grad) being lowered, the
  /// scope of its symbols (custom masks, score modifications).
  KernelBuilder(OpBuilder &b, Location loc, Operation *op,
                SparsityPatternAttrInterface pattern)
      : GpuPrimitives(b, loc), op(op), pattern(pattern) {}
  Operation *op;
  SparsityPatternAttrInterface pattern;

  int64_t warps, bq, bk, d, dv, group;
  /// Sequence lengths: static (ShapedType::kDynamic when known only at run
  /// time, then sqV / skV hold them).
  int64_t sq, sk;
  Value sqV, skV;
  bool dynamicLengths() const {
    return ShapedType::isDynamic(sq) || ShapedType::isDynamic(sk);
  }
  Value queryLen() { return ShapedType::isDynamic(sq) ? sqV : idx(sq); }
  Value keyLen() { return ShapedType::isDynamic(sk) ? skV : idx(sk); }
  Value lastQuery() {
    return ShapedType::isDynamic(sq)
               ? arith::SubIOp::create(b, loc, sqV, idx(1))
               : idx(sq - 1);
  }
  Value lastKey() {
    return ShapedType::isDynamic(sk)
               ? arith::SubIOp::create(b, loc, skV, idx(1))
               : idx(sk - 1);
  }
  /// Whether the last key tile may run past Sk.
  bool raggedKeys() const { return ShapedType::isDynamic(sk) || sk % bk != 0; }
  /// ceil(Sk / n) (n > 0).
  Value keyBlocks(int64_t n) {
    if (!ShapedType::isDynamic(sk))
      return idx(ceilDivPositive(sk, n));
    return arith::DivUIOp::create(b, loc, addi(skV, n - 1), idx(n));
  }
  double scale;
  ScoreModOp scoreMod;
  ConstantGlobals *deviceGlobals;
  // Kernel arguments.
  Value q, k, v, qSeg, kSeg, out, lse, fullOff, fullIdx, partOff, partIdx,
      partFlags, order;
  /// Runtime block tables (FlexAttention's BlockMask tensors): counts
  /// [B', H', Mq] and indices [B', H', Mq, N] of the tables that may list a
  /// tile partially (kv) or fully (full; optional); table blocks of tbq x
  /// tbk positions; Hq query heads. `listedBits` (shared memory): one bit
  /// per table block, set when a table lists it for the thread block's
  /// query rows.
  Value kvNum, kvIdx, fullNum, fullTableIdx;
  int64_t tbq = 0, tbk = 0, hq = 0;
  /// Binds the runtime tables' kernel arguments, which both lowerings pass
  /// in this order (kv counts, kv indices, then the full tables' when `op`
  /// has them), taken from `next`, and the table block of `op`.
  template <typename OpTy>
  void bindBlockTables(OpTy op, function_ref<Value()> next) {
    kvNum = next();
    kvIdx = next();
    if (op.getFullNumBlocks()) {
      fullNum = next();
      fullTableIdx = next();
    }
    tbq = op.getTableBlock()->front();
    tbk = op.getTableBlock()->back();
  }
  Value listedBits;
  /// What every reader of the runtime tables shares (TileSource.cpp):
  /// the tables' (b', h') for the thread block -- b' = b unless B' = 1;
  /// h' = h, the KV head, or 0 for H' = Hq, Hkv, 1 (Hq first when Hq =
  /// Hkv) --, the count of row (b', h', row) of `num` clamped to [0, N]
  /// (entries past it are never read), clearing listedBits (every thread,
  /// no barrier) and setting bit `pos` (i32, in range) by a shared-memory
  /// atomic OR.
  std::pair<Value, Value> tableCoordinates();
  Value listedCount(Value num, int64_t n, Value bRow, Value hRow, Value row);
  void clearListedBits();
  void setListedBit(Value pos);

  //===--- Token tables (table_block [1, 1]; TokenSource.cpp) -------------===//
  /// The thread block runs one query token `row0` for up to 16 query heads
  /// that share its key list (the heads of a KV group, or one head when the
  /// tables are per query head), one warp, head h0 + r as MMA row r. Key
  /// tile j is positions [j BK, j BK + BK) of `keyList` (shared i32 key
  /// positions in increasing order, padded with Sk to whole tiles; the count
  /// at slot listCap): loadTile gathers its rows, tile() reads its key
  /// positions from the list.
  bool tokens = false;
  Value keyList;
  int64_t listCap = 0;
  /// Query heads sharing one list, and the heads of this thread's rows g
  /// and g + 8 (clamped to the block's last head; rows past it are not
  /// stored).
  int64_t packedHeads = 1;
  Value rowHeads[2];
  Value headOfRow(int half) { return rowHeads[half] ? rowHeads[half] : hIdx; }
  /// The token's key list: one bit per key position (listedBits) set for
  /// every listed position inside [0, Sk) of both tables (a key listed
  /// twice runs once), then warp 0 compacts the set bits in increasing
  /// order into keyList (popcounts, a shuffle prefix sum, one word per
  /// lane), pads it with Sk to a whole tile and stores the count.
  void buildTokenList(Value token);
  /// The whole token-table kernel for the thread block's (token, head
  /// block, batch).
  void tokenBody();
  /// Dynamic shared memory: K tiles (two buffers), then V tiles (two).
  Value smem;
  MemRefType ksType, vsType;
  int64_t kTileBytes = 0, vTileBytes = 0;
  int64_t maxPartial = 0; // entries of tileCodes before the count slot

  //===--- mma=wgmma: operands in 128-byte-swizzled shared memory ---------===//
  // Layout (bytes from `aligned`, the first 1024-byte boundary of the
  // dynamic shared memory): Q [64 x D] per warpgroup, two K tiles [BK x
  // D], two V tiles [BK x Dv] (P stays in registers). With warps = 8 two
  // warpgroups (query rows 0-63 and 64-127 of the block) share each K / V
  // tile. A [rows x width] tile is stored as width
  // / 64 column blocks of [rows x 64] elements (128-byte rows); 16-byte chunk c
  // of row r sits at chunk c ^ (r % 8) (the hardware's 128-byte swizzle,
  // which XORs address bits 4-6 with bits 7-9, hence the 1024-byte
  // alignment). Q and K are read K-major, V MN-major (transposed).
  bool wgmma = false;
  /// K / V tiles by TMA (cp.async.bulk.tensor, 128-byte swizzle) into the
  /// same layout, thread 0 issuing, one mbarrier per buffer.
  bool tma = false;
  /// With tma: the next tile's Q K^T overlaps this tile's softmax.
  bool overlap = false;
  Value kMap, vMap;    // generic pointers to the CUtensorMaps
  int64_t mbarOff = 0; // byte offset of the two mbarriers in `smem`
  Value tileBase;      // tiles loaded by earlier loops (mbarrier phases)
  Value aligned;       // byte offset of the aligned area in `smem` (index)
  Value alignedAddr;   // its shared-window address (i64)
  int64_t qOff = 0, kOff = 0, vOff = 0;
  /// Byte offset (aligned area) of this thread's warpgroup's Q tile.
  Value qTile;
  /// With segmentSkip: the run-time class of each partial tile of the
  /// block's list (0 skip, 1 no mask, 2 mask), computed by all warps before
  /// the main loop; null when the list can be too long (then each tile is
  /// classified in the loop; warp-specialize refuses that case) or when no
  /// query block has a partial tile.
  Value tileCodes;
  /// The pattern implies "same segment": partial tiles whose query and key
  /// segment-id ranges do not overlap are skipped at run time.
  bool segmentSkip = false;
  Value qSegMin, qSegMax; // over the block's query rows (i64)
  Value qId0, qId1;       // segment ids of this thread's rows g and g + 8
  // Per-thread values.
  Value bIdx, hIdx, kvh, lane, g, t, warp, q0, row0, row1, row0c, row1c;

  //===--- K / V (and Q) tiles into shared memory (TileLoads.cpp)
  //-----------===//
  Value kView(Value buf) { return view(buf, 0, kTileBytes, ksType); }
  Value vView(Value buf) {
    return view(buf, 2 * kTileBytes, vTileBytes, vsType);
  }
  Value view(Value buf, int64_t base, int64_t bytes, MemRefType type) {
    Value shift = addi(muli(buf, bytes), base);
    return memref::ViewOp::create(b, loc, type, smem, shift, ValueRange{});
  }
  /// A 1-D view of `elements` elements at byte `offset` of the aligned area.
  Value flatView(Value offset, int64_t elements);
  /// The wgmma shared-memory descriptor of a swizzled operand starting at
  /// byte `offset` of the aligned area: 128-byte swizzle, stride byte offset
  /// 1024 (eight 128-byte rows), leading byte offset `lbo` (K-major: unused;
  /// MN-major: the distance of 64-element column blocks).
  Value descriptor(Value offset, int64_t lbo);
  /// Sets `aligned` / `alignedAddr`: the first 1024-byte boundary of the
  /// dynamic shared memory (the plan reserves 1024 bytes of slack).
  void alignSharedBase();
  /// Issues D = A B^T (D [64 x n] f32, the returned accumulator struct)
  /// as warpgroup MMAs over `kDim` (k16 steps): A [64 x kDim] and B [n x
  /// kDim], both K-major in swizzled shared memory at byte offsets `aBase`
  /// / `bBase` of the aligned area; committed, not waited for: the struct
  /// may only be read after a later wgmma.wait_group.
  Value issueKMajorProduct(Value aBase, Value bBase, int64_t n, int64_t kDim);
  /// D += A B with D [64 x n] (`acc`: n / 2 f32 per thread, the mma.sync
  /// accumulator order, updated), A [64 x rows] from registers (`x`: the
  /// accumulators of a [64 x rows] product, rounded to the input type;
  /// two adjacent n8 tiles are the A registers of one k16 step) and B
  /// [rows x n] MN-major (transposed) in swizzled shared memory at `bBase`.
  /// `beforeFence` runs after the A registers are made (wgmma must not read
  /// registers written after its fence). Waits for the products, or with
  /// `wait` false leaves them in flight as one committed group (`acc` must
  /// not be read before a wgmma.wait_group that covers it).
  void accumulateRegisterA(ArrayRef<Value> x, int64_t rows, Value bBase,
                           int64_t n, MutableArrayRef<Value> acc,
                           function_ref<void()> beforeFence = {},
                           bool wait = true);
  /// The A registers of k16 step `kk` of accumulateRegisterA's `x` (four
  /// bf16 / f16 pairs).
  SmallVector<Value> packRegisterA(ArrayRef<Value> x, int64_t kk);
  /// accumulateRegisterA with A already packed (`a`: packRegisterA of
  /// every step, in order).
  void accumulatePackedA(ArrayRef<Value> a, int64_t rows, Value bBase,
                         int64_t n, MutableArrayRef<Value> acc, bool wait);
  /// The common tail: fence, one register-A wgmma per step (A registers
  /// a[4 kk .. 4 kk + 3], B descriptor descs[kk]), commit, wait.
  void issueRegisterA(ArrayRef<Value> a, ArrayRef<Value> descs, int64_t n,
                      MutableArrayRef<Value> acc,
                      function_ref<void()> beforeFence, bool wait);
  /// An !llvm.ptr<3> to byte `offset` of the dynamic shared memory.
  Value sharedPtr(Value offset);
  Value mbarrier(Value buf) { return sharedPtr(addi(muli(buf, 8), mbarOff)); }
  Value threadZero() {
    Value tid = add(muli(warp, 32), lane);
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, tid, idx(0));
  }
  /// The tensor maps were written to global memory by a host copy: the
  /// thread that issues the TMAs acquires them for the tensormap proxy
  /// (fence.proxy.tensormap::generic.acquire) before its first TMA.
  void acquireTensorMaps();
  /// TMA of the K (`values` false) or V tile of key block `kb` into buffer
  /// `buf`: thread 0 expects the bytes on that buffer's mbarrier (K: 0, 1;
  /// V: 2, 3), then issues one box of [BK rows x 64 columns] per 64-column
  /// block.
  void tmaLoad(Value kb, Value buf, bool values);
  /// Waits until the K (or V) tile number `t` of the block (counted over
  /// all its loops) has landed in buffer t % 2: phase parity (t / 2) % 2 of
  /// that buffer's mbarrier.
  void tmaWait(Value t, bool values);
  /// Starts copying the (K, V) tile of key block `kb` into shared buffer
  /// `buf` (TMA, or cp.async: the caller commits and waits). Rows past Sk
  /// are zero-filled or clamped to the last row (masked later).
  void loadTile(Value kb, Value buf);
  /// The source-element count of a cp.async of 8 elements of key / value
  /// row `row`: 0 past the sequence end (the copy zero-fills the shared
  /// row, so a key past Sk contributes exactly nothing to the tile
  /// products, whatever the clamped source row holds), none (a full copy)
  /// when the sequence is a whole number of tiles or for query rows.
  Value pastEndZeroFill(bool kv, Value row, int64_t rows);
  /// cp.async of rows [r0, r0 + rows) (clamped to the sequence) of `src`
  /// (K or V at [b, kv head], else Q at [b, h]) into a swizzled tile.
  void copyRows(Value src, Value r0, Value dst, int64_t rows, int64_t width,
                bool kv);

  //===--- The per-tile forward step (ForwardBody.cpp)
  //----------------------===//
  /// Issues S = Q K^T for the K tile in buffer `buf` as warpgroup MMAs (Q
  /// and K K-major: step kk reads 32 bytes into column block kk / 4) and
  /// commits them without waiting: the returned accumulator struct may only
  /// be read after a later wgmma.wait_group.
  Value issueScores(Value buf);
  /// allowed(b, h, q, k) of the pattern (with `k < Sk` when the last key
  /// block is ragged); positions are clamped into range for the loads the
  /// predicate may do.
  /// With segment ids, `qId` / `kId` are the ids of qPos / kPos, loaded
  /// once per row and per tile column by the caller.
  /// `head` is the query head of the row (default hIdx).
  Value allowed(Value qPos, Value kPos, Value qId = {}, Value kId = {},
                Value head = {});
  /// One key tile: updates the running state `st` = [m0, m1, l0, l1, O...].
  /// With `masked`, the pattern's mask is applied to the scores; only when
  /// the i1 `maskIf` holds if it is given (a run-time choice that shares
  /// one copy of the tile's code between masked and unmasked tiles).
  /// The tile's K and V are in shared buffer `buf`.
  void tile(Value kb, Value buf, bool masked, Value maskIf,
            ArrayRef<Value> qFrag, SmallVector<Value> &st,
            ArrayRef<Value> sIn = {}, function_ref<void()> afterScores = {},
            function_ref<void()> beforeValues = {});
  /// The softmax half of tile(): scale, score_mod and mask of the scores
  /// `s` of the key tile starting at position `k0` (mask as in tile()),
  /// then the online softmax: `s` becomes P (unnormalised, f32), m and l
  /// of `st` are updated and O is rescaled by each row's exp2(m_old -
  /// m_new) -- or, with `alphas`, O is left alone and the two factors
  /// (rows g, g + 8) are appended there for rescaleOutput, so that O may
  /// still be the accumulator of products in flight.
  void scoresToProbabilities(Value k0, SmallVector<Value> &s, bool masked,
                             Value maskIf, SmallVector<Value> &st,
                             SmallVectorImpl<Value> *alphas = nullptr);
  /// O of `st` times alphas[0] (row g) and alphas[1] (row g + 8).
  void rescaleOutput(SmallVector<Value> &st, ArrayRef<Value> alphas);

  //===--- Which key tiles a query block visits (TileSource.cpp)
  //------------===//
  /// Min and max (i64) of `mem[b, pos]` over pos in [lo, lo + count),
  /// clamped to the last position `last`; every warp computes it.
  std::pair<Value, Value> segmentRange(Value mem, Value lo, int64_t count,
                                       int64_t last);
  /// The run-time class of partial tile `listIdx` (key block `kb`): 0 when
  /// the query and key segment-id ranges are disjoint (skip), 1 when all
  /// positions share one segment and the tile is full within a segment (no
  /// mask), else 2.
  Value classifyTile(Value listIdx, Value kb) {
    auto [kMin, kMax] = segmentRange(kSeg, muli(kb, bk), bk, sk - 1);
    return classifyTile(listIdx, kMin, kMax);
  }
  Value classifyTile(Value listIdx, Value kMin, Value kMax);
  /// Fills tileCodes for the block's partial tiles before the main loop, so
  /// that the id loads of different tiles overlap instead of adding up in
  /// the main loop. When every key block is complete (Sk % BK == 0, so
  /// rows of ids are 16-byte aligned), thread t classifies tiles t, t +
  /// threads, ... with 16-byte vector loads; else warp w classifies tiles
  /// w, w + warps, ... with clamped scalar loads.
  void classifyPartialTiles(Value qb);
  /// Warp 0 compacts the entries j in [0, n) that `keepAt(j, inList)`
  /// keeps, in order, 32 at a time (one ballot each): j is clamped to 0
  /// past n, where inList is false (keepAt folds it into its answer);
  /// `store(j, pos)` writes entry j at list position pos of tileCodes. The
  /// count goes to slot maxPartial; ends with a barrier.
  void warpCompact(Value n, function_ref<Value(Value, Value)> keepAt,
                   function_ref<void(Value, Value)> store);
  /// Compacts tileCodes in place (warp 0, one ballot per 32 entries, in
  /// list order): entry j becomes 2 * key block + (needs mask) for the
  /// tiles not skipped, and the count goes to slot maxPartial.
  void compactPartialTiles(Value lo, Value n);
  /// The device-built tile list (runtime block tables, or lengths known only
  /// at run time): fills tileCodes with the key tiles of chunk [c0, c0 +
  /// maxPartial) that query block `qb` runs, in key order: entry 2 kb +
  /// (needs mask) for each key tile kb whose run-time class (the pattern's
  /// buildTileKind: work per tile, never per pair) is not empty and, with
  /// tables, whose table block is listed; the count goes to slot
  /// maxPartial. With tables, each thread block first sets one bit per
  /// listed table block of the chunk (counts clamped to [0, N], indices
  /// outside the key blocks ignored), so every read stays in bounds
  /// whatever the tables hold and a block listed twice (or in both tables)
  /// runs once. `c0` is a multiple of maxPartial, itself a multiple of the
  /// tiles per table block.
  void buildRuntimeTileList(Value qb, Value c0);

  //===--- The loops over a query block's tiles (Schedule.cpp)
  //--------------===//
  /// wgmma + TMA: like pipelinedLoop, but the next tile's Q K^T runs on the
  /// tensor cores while this tile's softmax runs on the CUDA cores. K runs
  /// one tile ahead of V: iteration j waits for K of tile j + 1, issues
  /// S_{j+1} = Q K_{j+1}^T (not waited for), does the softmax of S_j, waits
  /// for V_j, issues O += P_j V_j and waits for both; meanwhile TMA loads
  /// K_{j+2} and V_{j+1}. Two K and two V buffers suffice: K_{j+2} replaces
  /// K_j (consumed by S_j, complete) and V_{j+1} replaces V_{j-1}.
  SmallVector<Value> overlappedLoop(Value n, function_ref<Value(Value)> kbAt,
                                    function_ref<Value(Value)> maskAt,
                                    bool masked, SmallVector<Value> state);
  /// Runs the tiles j = 0 .. n - 1 (key block kbAt(j)) with the copy of
  /// tile j + 1 in flight while tile j computes (two shared buffers, one
  /// barrier per tile). `maskAt(j)` (if set) chooses the mask at run time;
  /// `runAt(j)` (if set) skips tiles whose result it is false for.
  SmallVector<Value> pipelinedLoop(Value n, function_ref<Value(Value)> kbAt,
                                   function_ref<Value(Value)> maskAt,
                                   function_ref<Value(Value)> runAt,
                                   bool masked, ArrayRef<Value> qFrag,
                                   SmallVector<Value> state);
  /// The tiles of query block `qb` in the compressed-row table (offsets,
  /// indices): full tiles unmasked, partial tiles masked (document masks:
  /// classified and compacted first, or classified in the loop).
  SmallVector<Value> tileLoop(Value offsets, Value indices, Value qb,
                              bool masked, ArrayRef<Value> qFrag,
                              SmallVector<Value> state);
  /// The key tiles of query block `qb` from device-built lists: one chunk
  /// of maxPartial tiles when the list holds every key tile, else a loop
  /// over chunks (the state and the count of loaded tiles carried).
  SmallVector<Value> runtimeTileLoop(Value qb, ArrayRef<Value> qFrag,
                                     SmallVector<Value> state);
  /// The tiles of the compacted list in tileCodes (entry j: 2 key block +
  /// needs mask; the count in slot maxPartial).
  SmallVector<Value> compactedLoop(bool masked, ArrayRef<Value> qFrag,
                                   SmallVector<Value> state);

  //===--- The warp-specialised schedule (SpecializedSchedule.cpp) ---------===//
  /// warp-specialize: warpgroup 0 of the block is the producer, warps
  /// 4 .. 4 + warps - 1 the consumers (`warp` is rebased to 0 .. warps - 1
  /// in their code, so every consumer piece is the unspecialised one).
  /// Eight mbarriers: full K (0, 1) and V (2, 3), armed by the producer's
  /// expect_tx as before, and empty K (4, 5) and V (6, 7), on which lane 0
  /// of every consumer warp arrives when the warp no longer reads the
  /// buffer.
  bool specialized = false;
  static constexpr int64_t kProducerWarps = 4;
  /// Named barriers: 0 is the block barrier; 1 the consumers' (after the
  /// Q copy); 2 + w the turn of consumer warpgroup w (ping-pong).
  static constexpr int64_t kConsumerBarrier = 1, kTurnBarrier = 2;
  /// The kernel body: barrier set-up by thread 0, then the producer
  /// warpgroup's loop and the consumers' queryBlock.
  void specializedBody(Value qb);
  /// Thread 0 of the producer: every K / V tile of query block `qb` in the
  /// consumers' order (the full list, then the partial list, compacted
  /// for document masks; or the device-built list), tile i into buffer
  /// i % 2 once the consumers released its previous contents.
  void producerLoop(Value qb);
  /// The consumers' tiles of query block `qb`: its full and partial lists
  /// (compacted for document masks) as one sequence, the mask chosen per
  /// tile at run time, so that the pipeline does not drain between them;
  /// or the device-built list.
  SmallVector<Value> specializedTileLoop(Value qb, SmallVector<Value> state);
  /// The consumers' loop over tiles j = 0 .. n - 1 (key block kbAt(j)):
  /// iteration j issues S_j = Q K_j^T and O += P_{j-1} V_{j-1} in its
  /// warpgroup's turn, waits for S_j, releases K_j, runs the softmax of
  /// S_j while P_{j-1} V_{j-1} runs, waits for it, releases V_{j-1} and
  /// rescales O; the last tile's P V after the loop.
  /// `maskAt(j)` (if set) chooses the mask at run time, as in
  /// pipelinedLoop.
  SmallVector<Value> consumerLoop(Value n, function_ref<Value(Value)> kbAt,
                                  function_ref<Value(Value)> maskAt,
                                  bool masked, SmallVector<Value> state);
  /// Entry i of the i32 list `mem`, as an index.
  Value listEntry(Value mem, Value i);
  /// The key block and the needs-mask bit of a compacted-list entry (2 key
  /// block + needs mask, as an index: listEntry of tileCodes).
  Value codedKeyBlock(Value entry);
  Value codedNeedsMask(Value entry);
  /// This warp no longer reads the K (or V) tile number `tileNo` of the
  /// block (after the wgmma.wait_group that completed its reads): lane 0
  /// arrives on the buffer's empty mbarrier.
  void releaseBuffer(Value tileNo, bool values);
  /// Two consumer warpgroups take turns issuing tensor-core work: wait for
  /// this warpgroup's turn / hand the turn to the other (no-ops with one).
  void turnSync();
  void turnArrive();
  /// The block barrier, or with warp-specialize the consumers' barrier.
  void consumerBarrier();

  //===--- The kernel: prologue, tile loops, epilogue (SparseAttnToGPU.cpp)
  //---===//
  /// warp, lane and the mma fragment coordinates g = lane / 4, t = lane %
  /// 4 of this thread (and i32): the start of every kernel body.
  void threadIndices();
  /// The whole kernel for the thread block's (query block, head, batch).
  void body();
  /// The rows of query block `qb`: Q, the tile loops, the epilogue.
  void queryBlock(Value qb);
  /// O / l and LSE of this thread's rows g (half 0) and g + 8 (half 1):
  /// `where(half)` gives the row's (query head, query position, whether it
  /// is stored).
  void epilogue(ArrayRef<Value> state,
                function_ref<std::tuple<Value, Value, Value>(int)> where);
};

} // namespace sparse_attn
} // namespace mlir

#endif
