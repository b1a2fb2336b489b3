//===- Passes.td - sparse_attn conversions -----------------*- tablegen -*-===//
#ifndef SPARSE_ATTN_CONVERSION_PASSES_TD
#define SPARSE_ATTN_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertSparseAttnToLoops : Pass<"convert-sparse-attn-to-loops", "ModuleOp"> {
  let summary = "Fused, block-skipping lowering of sparse_attn.attention";
  let description = [{
    The CPU product lowering: a FlashAttention-style loop nest with online
    softmax (running max and sum, rescaling), on buffers, in scf + vector +
    math + arith. An `scf.parallel` runs over (batch, query head, query
    block), each iteration with its own scratch buffers (heap, freed by the
    buffer-deallocation pipeline), so it can run on several threads; each
    query block visits only its non-empty key blocks, taken from
    the op's `block_mask` (computed here when absent and the sequence lengths
    are static): the element mask is evaluated on partial tiles only, full
    tiles run unmasked. The S x S score matrix is never materialised: one
    query row of scores (`block-k` values) lives at a time. Inputs of any of
    f32 / f16 / bf16 are widened to f32 for every product and sum; the output
    is narrowed back. Rows with no allowed key produce 0 and LSE = -inf.

    The head dimensions D and Dv must be static (each query / key / value row
    is one vector); batch, heads and sequence lengths may be dynamic, in which
    case every key block is visited with the element mask.

    `sparse_attn.mask` and `sparse_attn.score_mod` symbols are inlined where
    they are used and erased afterwards.

    Inputs are taken with `bufferization.to_buffer` and the results returned
    through `bufferization.to_tensor` of fresh buffers, so the surrounding
    function is bufferized by `one-shot-bufferize` afterwards.
  }];
  let options = [
    Option<"blockQ", "block-q", "int64_t", /*default=*/"64",
           "Query rows per tile (used when the op carries no block_mask)">,
    Option<"blockK", "block-k", "int64_t", /*default=*/"64",
           "Key columns per tile (used when the op carries no block_mask)">,
    Option<"bf16Dot", "bf16-dot", "bool", /*default=*/"false",
           "bf16 inputs with an even D: compute Q K^T with AVX-512 BF16 "
           "pair dot products (x86vector.avx512.dot, vdpbf16ps, f32 "
           "accumulation, the query block kept in bf16 and the scale applied "
           "to the scores); the target CPU must have avx512bf16">,
    Option<"amx", "amx", "bool", /*default=*/"false",
           "bf16 inputs: compute S^T = K Q^T and O^T += V^T P^T as AMX tile "
           "products (amx.tile_mulf, tdpbf16ps, f32 accumulation; P rounded "
           "to bf16) when D % 32 == 0, Dv % 16 == 0 and block-k % 32 == 0 "
           "(other ops use the vector path). The value tensor is first "
           "copied transposed (Dv x Sk per key/value head, O(Sk Dv) extra "
           "memory). The target CPU must have amx-bf16; the kernel requests "
           "the AMX register state from Linux (arch_prctl) and aborts with a "
           "message if it is refused">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect",
    "::mlir::x86vector::X86VectorDialect", "::mlir::amx::AMXDialect",
    "::mlir::cf::ControlFlowDialect", "::mlir::func::FuncDialect",
  ];
}

def ConvertSparseAttnGradToLoops
    : Pass<"convert-sparse-attn-grad-to-loops", "ModuleOp"> {
  let summary = "The CPU backward: sparse_attn.attention_grad to loops";
  let description = [{
    Lowers `sparse_attn.attention_grad` to two block-skipping loop nests on
    buffers (scf + vector + math + arith), each an `scf.parallel` whose
    iterations own their outputs, so the gradients are deterministic (the
    same bits for any number of threads):

    1. over (batch, key/value head, key block): dK and dV of the block's
       keys, summed over the query heads of the group and over the query
       blocks that see the key block (the transposed tile tables);
    2. over (batch, query head, query block): dQ of the block's rows over
       the key blocks it sees (the forward's tables).

    Each visited tile recomputes the scores (score_mod and, on partial
    tiles, the mask as in the forward), `P = exp(s - LSE)`, `dP = dO V^T`
    and `dS = P (dP - Delta) score_mod'(t)` with `Delta = rowsum(dO * O)`,
    vectors over the rows of the query block; sums are f32. Tiles come
    from a compile-time classification when the lengths are static
    (compressed rows both ways), from runtime block tables (their
    transpose built at run time) or from run-time classification of every
    tile. The derivative of a score modification is generated
    (`sparse-attn-differentiate-score-mods`). Head dimensions must be
    static. Mask and score_mod symbols are left for the forward lowering
    (or a later cleanup) to erase.
  }];
  let options = [
    Option<"blockQ", "block-q", "int64_t", /*default=*/"64",
           "Query rows per tile (runtime tables use their table_block)">,
    Option<"blockK", "block-k", "int64_t", /*default=*/"64",
           "Key columns per tile (runtime tables use their table_block)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect",
    "::mlir::cf::ControlFlowDialect", "::mlir::func::FuncDialect",
  ];
}

def ConvertSparseAttnToLinalg : Pass<"convert-sparse-attn-to-linalg", "ModuleOp"> {
  let summary = "Unfused reference lowering of sparse_attn.attention to linalg";
  let description = [{
    The obviously-correct formulation, kept as an oracle for tests and as the
    baseline of the benchmark, not as the product: on tensors,
    `linalg.generic` ops compute
    1. the scores `S = Q K^T` (f32 accumulation; query head h reads key head
       h / (Hq / Hkv)),
    2. `S' = allowed(b, h, i, j) ? score_mod(scale * S) : -inf`,
    3. the row maximum `m` and `P = exp(S' - m)` (with m = 0 for rows that
       allow nothing),
    4. the row sum `l`, `O = (P V) / l` (0 when l = 0) and
       `LSE = m + log(l)` (-inf when l = 0).
    It materialises the B x Hq x Sq x Sk score tensor. Head counts and head
    dimensions must be static.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::tensor::TensorDialect",
  ];
}

def ConvertSparseAttnMergeToLinalg
    : Pass<"convert-sparse-attn-merge-to-linalg", "ModuleOp"> {
  let summary = "Lower sparse_attn.merge to element-wise linalg on tensors";
  let description = [{
    Rewrites every `sparse_attn.merge` into two `linalg.generic` ops: per
    row `(b, h, i)` the combined log-sum-exp and the two weights
    `w_a / (w_a + w_b)`, `w_b / (w_a + w_b)` (0, 0 and LSE -inf for a row
    empty on both sides), then per element `O = wa' * O_a + wb' * O_b` in
    f32 (a side of weight 0 contributes exactly 0, even if its output holds
    NaN), narrowed to the output type. Dynamic sizes that differ at run time
    abort with "sparse_attn.merge: operand sizes differ" (`cf.assert`).
    Part of the CPU pipelines
    (`sparse-attn-to-llvm-cpu`, `sparse-attn-reference-to-llvm-cpu`).
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::cf::ControlFlowDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def ConvertSparseAttnRoutingToLoops
    : Pass<"convert-sparse-attn-routing-to-loops", "ModuleOp"> {
  let summary = "Lower the routing ops (pool, select_blocks, select_tokens) "
                "to CPU loops";
  let description = [{
    `sparse_attn.pool`: an `scf.parallel` over (batch, head, block); each
    iteration sums (or takes the maximum of) its block's rows as one
    `vector<D x f32>` in increasing row order and stores the mean (or the
    maximum) in the result's element type.

    `sparse_attn.select_blocks`: the block grid is classified at compile time
    (`classifyBlocks`, the block analysis's exact classifier) into a
    constant table of empty / partial / full; an `scf.parallel` over (batch,
    table head, query block) sums the group's block-mean queries into one
    `vector<D x f32>`, scores every candidate key block against its pooled
    key, marks the forced blocks (sink, local), takes the `top_k` others by
    repeated arg-max (strictly greater: ties to the lower index; O(top_k *
    Nk) per row) and writes the selected blocks in increasing order into the
    partial or the full table by their class.

    `sparse_attn.select_tokens`: an `scf.parallel` over (batch, query token)
    evaluates the pattern per key (its scalar code generation), scores the
    candidates with the lightning-indexer formula (one `vector<DI x f32>`
    product per indexer head), takes the `top_k` by repeated arg-max
    (O(top_k * Sk) per token) and writes the keys in increasing order.

    Requirements (diagnosed): static head dimension; for a selection static
    Sq, a constant Sk, at most 2^22 table tiles and a pattern whose block
    classes do not depend on batch or head; for a token selection static
    HI, DI and N and a pattern independent of batch and head.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect",
  ];
}

def ConvertSparseAttnToGPU : Pass<"convert-sparse-attn-to-gpu", "ModuleOp"> {
  let summary = "Fused, block-skipping lowering of sparse_attn.attention to a "
                "tensor-core GPU kernel (gpu + nvgpu + nvvm)";
  let description = [{
    The GPU product lowering: each `sparse_attn.attention` becomes one
    `gpu.func` kernel in a `gpu.module` and a `gpu.launch_func` in its place.

    Work decomposition. One thread block per (query block, query head,
    batch) (grid = (ceil(Sq / BQ), Hq, B)); `warps` warps of 32 threads, each
    warp owning 16 consecutive query rows, so BQ = 16 * warps. The query block
    visits only its non-empty key blocks of `block-k` keys, listed by
    compressed-row tables computed at compile time by the block analysis
    (the same `classifyBlocks` the CPU lowering uses): first the full tiles,
    which run without any element mask, then the partial tiles, where the
    pattern's predicate (`buildAllowed`, shared with the CPU lowering) is
    evaluated per score. A key block that runs past Sk is always treated as
    partial (the bound is part of its mask). A schedule table launches the
    query blocks with the most tiles first.

    Key tiles are pipelined: two K / V buffers in dynamic shared memory, the
    copy of tile j + 1 in flight while tile j computes, one barrier per tile.

    `mma=sync`, per key tile: K and V tiles are copied with 16-byte
    `nvgpu.device_async_copy` (rows padded by 8 elements: conflict-free
    `ldmatrix`); `S = Q K^T` runs on tensor cores (`nvvm.mma.sync`
    m16n8k16, f16 / bf16 operands, f32 accumulation) with the query block's
    fragments kept in registers for the whole kernel and K fragments from
    `nvgpu.ldmatrix`; the online softmax (running max and sum per row, in
    the base-2 domain with `ex2.approx`) stays in registers, using quad
    shuffles for row reductions; the probabilities are narrowed to the input
    type in registers, directly in the A-operand layout of the second
    product `O += P V` (V fragments from a transposing `ldmatrix`).
    The epilogue divides by the row sum (rows that allow no key give 0 and
    LSE = -inf) and writes O (input type) and LSE (f32, natural log).

    `mma=wgmma` (sm_90a; 4 warps = one warpgroup of 64 query rows, or 8
    warps = two warpgroups of 64 rows sharing each K / V tile; block-k,
    D and Dv multiples of 64): Q, K and V live in 128-byte-swizzled shared
    memory (64-element column blocks of 128-byte rows, chunk c of row r at
    c ^ (r % 8), from the first 1024-byte boundary); the lowering builds the
    wgmma matrix descriptors and emits `nvvm.wgmma.mma_async` for S = Q K^T
    (D / 16 steps of m64n{block-k}k16); O += P V (block-k / 16 steps of
    m64n{Dv}k16, V read transposed) takes P from registers, emitted as the
    PTX instruction in inline assembly because the NVVM op only takes A from
    shared memory. The accumulator layout equals mma.sync's, so masking and
    softmax are shared. With
    `tma=true`, K / V tiles arrive by TMA (`nvvm.cp.async.bulk.tensor`,
    128-byte swizzle) with one mbarrier per buffer armed by thread 0; the
    kernel then takes two extra arguments, 128-byte CUtensorMaps of K and V
    (box [1, 1, block-k, 64], roles `tensormap:key:<rows>x64` and
    `tensormap:value:...`), which the launcher encodes for its buffers.
    `mma=auto` uses wgmma for the ops that meet its requirements and
    mma.sync for the others.

    Document masks (a pattern that implies "same segment"): a flag per
    partial tile says whether it is full when all its positions share one
    segment (block analysis of the pattern with `segments` replaced by
    `dense`); before its loop a query block classifies its candidate tiles
    from the segment-id ranges (skip / no mask / mask) and compacts the
    survivors, so the loop runs only those and masks only where needed.

    Runtime block tables (`block_tables(...)`, `full_tables(...)`,
    FlexAttention's BlockMask tensors): the tables are kernel arguments
    (roles `kv_num_blocks`, `kv_indices`, `full_num_blocks`,
    `full_indices`) and no compile-time table exists. Before its loop a
    thread block reads its row (b', h', q0 / BQ) of each table, counts
    clamped to [0, N], and sets one bit per listed table block in shared
    memory (indices outside the key blocks are ignored, duplicates merge);
    warp 0 then walks the key tiles in order, keeps those whose table
    block is listed and whose run-time class (the pattern's
    `buildTileKind`: never per pair) is not empty, and compacts them with
    one ballot per 32 tiles into a list that says which tiles need the
    element mask (not proven full by the classifier, or past Sk). A wrong
    full list therefore cannot give a wrong answer. The kernel's tile must
    divide the table block (16 x warps divides BQ, block-k divides BK);
    the list and the bits take 4 (ceil(Sk / block-k) + 1) + 4 ceil(ceil(Sk
    / BK) / 32) bytes of shared memory.

    Run-time sizes: B, Sq and Sk may be dynamic (one kernel for every
    length: a KV cache that grows needs no recompilation). With a dynamic
    Sq or Sk there is no compile-time table: the device-built list above
    classifies every key tile (without tables, every tile is "listed"), in
    chunks of 1024 key tiles (rounded to whole table blocks) so that shared
    memory stays fixed; a query block past the tables' Mq lists nothing.
    The sizes are kernel arguments (roles `size:B`, `size:Sq`, `size:Sk`,
    last), buffers with run-time sizes are passed as bare pointers
    (`memref<1 x elt>`) and viewed in the kernel with their sizes, and the
    launch carries `sparse_attn.kernel_arg_dims` (each argument's
    dimensions, a size or a name) and `sparse_attn.kernel_grid` (e.g.
    `["ceil(Sq/64)", "16", "B"]`) for launchers that know only the
    signature. Tables need static shapes, and B' = 1 when B is dynamic.

    Requirements (diagnosed): f16 or bf16 inputs; static head counts and
    head dimensions; D and Dv
    multiples of 16; identity layouts. GQA is supported (query head h reads
    key / value head h / (Hq / Hkv)). `sparse_attn.score_mod` regions and
    custom masks are inlined into the kernel; patterns whose custom masks
    depend on batch or head visit every key block with the mask.

    Host side: inputs are taken with `bufferization.to_buffer`, outputs are
    `memref.alloc`s returned through `bufferization.to_tensor`, and the
    block tables are `memref.global` constants. The buffers are handed to
    the kernel as they are: the embedder decides where they live (device
    memory, managed memory). `sparse-attn-compile --target=cuda` instead
    writes the kernel and its tables as an artifact for the project's CUDA
    runtime. The launch carries `sparse_attn.kernel_args`, naming the role
    of each kernel argument (query, key, value, query_segment_ids,
    key_segment_ids, kv_num_blocks, kv_indices, full_num_blocks,
    full_indices, output, lse, table:<global symbol>, or
    tensormap:<argument>:<box>).
  }];
  let options = [
    Option<"warps", "warps", "int64_t", /*default=*/"4",
           "Warps per thread block; each owns 16 query rows (BQ = 16 * warps)">,
    Option<"blockK", "block-k", "int64_t", /*default=*/"64",
           "Keys per tile (a multiple of 16)">,
    Option<"mma", "mma", "std::string", /*default=*/"\"sync\"",
           "Tensor-core instructions: sync (mma.sync m16n8k16, sm_80+), "
           "wgmma (warpgroup MMA with operands in 128-byte-swizzled shared "
           "memory, sm_90a; needs warps = 4 or 8 (one or two warpgroups; the "
           "backward: 4), block-k and D, Dv multiples of "
           "64, Dv <= 256, and the tiles in shared memory) or auto (wgmma "
           "for the ops that meet its requirements). For "
           "sparse_attn.attention_grad, wgmma puts both kernels' "
           "products on warpgroup MMAs (warps = 4, block-k, D and Dv multiples of "
           "64 up to 256, grad-dq = deterministic) and auto picks it where "
           "those hold">,
    Option<"tma", "tma", "bool", /*default=*/"false",
           "With wgmma: load K / V tiles with TMA (cp.async.bulk.tensor, "
           "mbarriers); adds two 128-byte CUtensorMap arguments that the "
           "launcher encodes (role tensormap:key / tensormap:value)">,
    Option<"overlap", "overlap", "bool", /*default=*/"false",
           "With tma: issue the next tile's Q K^T (asynchronous wgmma) "
           "before this tile's softmax, K loaded one tile ahead of V. "
           "sparse_attn.attention_grad with wgmma: each tile's P / dS made "
           "while its other products run (S waited for before dP; measured "
           "within 3% of the default schedule, hence opt-in)">,
    Option<"warpSpecialize", "warp-specialize", "bool", /*default=*/"false",
           "With tma (the forward): a producer warpgroup in front of the "
           "`warps` consumer warps issues every K / V TMA and waits for "
           "the consumers to release each buffer (mbarriers, no block "
           "barrier in the loop); setmaxnreg moves registers from the "
           "producer to the consumers; each consumer warpgroup issues S_j "
           "= Q K_j^T with P_{j-1} V_{j-1} and runs the softmax of S_j "
           "while they run; with warps = 8 the two consumer warpgroups "
           "take turns issuing on named barriers (ping-pong), so one's "
           "softmax overlaps the other's tensor-core work. Compile-time "
           "tile tables only (no runtime tables, run-time lengths or "
           "document masks)">,
    Option<"approxTanh", "approx-tanh", "bool", /*default=*/"true",
           "math.tanh (f32) of score_mod bodies as the hardware "
           "tanh.approx.f32 (one instruction; maximum relative error "
           "2^-10.987, below bf16 / f16 resolution; docs/gpu-lowering.md); "
           "false: the accurate expansion">,
    Option<"gradDq", "grad-dq", "std::string", /*default=*/"\"deterministic\"",
           "The backward's dQ: deterministic (a query-block kernel of its "
           "own that recomputes S and dP; every gradient bit-reproducible) "
           "or atomic (summed by the key-block kernel with f32 atomic adds "
           "into an accumulator, then scaled and rounded by a third kernel: "
           "less tensor-core work, dQ's bits vary from run to run)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::gpu::GPUDialect", "::mlir::LLVM::LLVMDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::NVVM::NVVMDialect", "::mlir::nvgpu::NVGPUDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect",
  ];
}

#endif
