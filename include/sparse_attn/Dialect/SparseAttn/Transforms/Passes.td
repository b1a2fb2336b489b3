//===- Passes.td - sparse_attn passes ----------------------*- tablegen -*-===//
#ifndef SPARSE_ATTN_TRANSFORMS_PASSES_TD
#define SPARSE_ATTN_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def SparseAttnBlockAnalysis : Pass<"sparse-attn-block-analysis"> {
  let summary = "Classify every (query block, key block) tile and attach it";
  let description = [{
    For every `sparse_attn.attention` op with static Sq and Sk, classifies
    each `block-q x block-k` tile of the score matrix as empty, partial (needs
    the element mask) or full, and attaches the result as the op's
    `block_mask` attribute (`#sparse_attn.block_mask`, compressed rows: per
    query block the partial and the full key blocks). Built-in patterns are
    classified analytically in O(1)-ish per tile; custom masks by evaluating
    their region. A pattern that reads runtime data (segment ids) is
    classified conservatively (such tiles are partial). A custom mask that
    reads the batch or head index is classified for every (batch, head) and
    merged (requires static B and Hq). Ops with dynamic sequence lengths are
    left untouched, and so are ops with more than `max-tiles` tiles when
    that option is set (the CPU pipeline sets it to 2^22: beyond, its
    kernel classifies tiles at run time instead of reading a table).

    ```
    sparse-attn-opt --sparse-attn-block-analysis="block-q=64 block-k=64" in.mlir
    ```
  }];
  let options = [
    Option<"blockQ", "block-q", "int64_t", /*default=*/"128",
           "Query rows per tile">,
    Option<"blockK", "block-k", "int64_t", /*default=*/"128",
           "Key columns per tile">,
    Option<"maxTiles", "max-tiles", "int64_t", /*default=*/"0",
           "Leave ops with more tiles unclassified (0: classify up to the "
           "hard limit of 2^31 tiles, an error beyond)">,
  ];
  let dependentDialects = ["::mlir::sparse_attn::SparseAttnDialect"];
}

def SparseAttnDifferentiateScoreMods
    : Pass<"sparse-attn-differentiate-score-mods", "::mlir::ModuleOp"> {
  let summary = "Generate the derivative of every score modification a "
                "backward pass uses";
  let description = [{
    For every `sparse_attn.attention_grad` that names a `score_mod`, adds
    (once) a `sparse_attn.score_mod` symbol `@<name>_dscore`, marked
    `sparse_attn.derivative_of = @<name>`, with the same arguments, that
    yields the derivative of the modification with respect to the score:
    forward-mode symbolic differentiation of the region
    (`Utils/ScoreModDerivative.h` lists the rules). Soft-capping
    `c * tanh(s / c)` gives `(1 - tanh(s / c)^2)`, ALiBi `s - m |q - k|`
    gives 1. A region with a score-dependent operation that has no rule is
    refused with a diagnostic at that operation. The backward lowerings
    call the same function; this pass shows what they inline.

    ```
    sparse-attn-opt --sparse-attn-differentiate-score-mods in.mlir
    ```
  }];
  let dependentDialects = ["::mlir::sparse_attn::SparseAttnDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect"];
}

def SparseAttnSimplify : Pass<"sparse-attn-simplify"> {
  let summary = "Replace every attention pattern by its canonical form";
  let description = [{
    Rewrites the `pattern` of every `sparse_attn.attention` op to its
    canonical form (`simplifyPattern`: nested unions / intersections
    flattened, duplicates and absorbed components dropped, windows and
    causal merged, ...; the same rewrite `--canonicalize` applies to the op,
    and nothing else), and drops segment-id operands the canonical pattern
    no longer reads. Every rewrite keeps the allowed set exactly (property
    test in `unittests/PatternTest.cpp`). The lowering pipelines and
    `sparse-attn-inspect` run it first (the unfused reference pipeline too), so a pattern's cost of evaluation
    does not depend on how it was written (a union of 1000 identical
    components classifies as one).

    ```
    sparse-attn-opt --sparse-attn-simplify in.mlir
    ```
  }];
  let dependentDialects = ["::mlir::sparse_attn::SparseAttnDialect"];
}

def SparseAttnRaise : Pass<"sparse-attn-raise", "::mlir::ModuleOp"> {
  let summary = "Recognise masked attention written in linalg and raise it";
  let description = [{
    Rewrites the chain Q K^T -> (scale) -> (mask) -> softmax -> P V, as
    torch-mlir, StableHLO-to-linalg or IREE front ends emit it on rank-4 f32
    tensors, into one `sparse_attn.attention` with the equivalent declarative
    pattern, so that the block-skipping lowerings apply without changing the
    front end. Recognised masks: an additive constant (0 / -inf), a select on
    a constant i1 tensor, and a select on a predicate of `linalg.index`
    values. Index predicates that bound i - j by constants become `causal`,
    `window` (and their unions / intersections); other predicates become a
    `sparse_attn.mask` holding the same ops. Constant masks become `causal`
    or `window` when they are, else an exact `blocks` layout. Softmax may be
    `linalg.softmax` or its max / exp / sum / divide decomposition.

    On rows whose mask forbids every key the original computes NaN (0 / 0);
    the raised op returns 0 there (its documented semantics).
  }];
  let dependentDialects = ["::mlir::sparse_attn::SparseAttnDialect",
                           "::mlir::tensor::TensorDialect"];
}

def SparseAttnOMPSchedule : Pass<"sparse-attn-omp-schedule", "::mlir::ModuleOp"> {
  let summary = "Give OpenMP work-sharing loops a dynamic schedule";
  let description = [{
    Sets `schedule(dynamic, 1)` on every `omp.wsloop` (those created by
    `convert-scf-to-openmp` from the fused kernel's loop over query blocks).
    The work of a query block is proportional to its number of non-empty key
    tiles, which varies a lot for causal and windowed patterns: a static
    split gives one thread all the heavy blocks; handing out blocks one at a
    time balances them.
  }];
  let dependentDialects = ["::mlir::omp::OpenMPDialect"];
}

def SparseAttnPolynomialMath : Pass<"sparse-attn-polynomial-math"> {
  let summary = "Replace math functions by MLIR's polynomial approximations";
  let description = [{
    `math.exp` (and the functions of a `score_mod` body) on vectors
    otherwise become one libm call per lane; the polynomial approximations
    (range reduction and minimax polynomials or rational functions, as
    upstream's `populateMathPolynomialApproximationPatterns` builds them)
    stay in vector registers. Rewritten: `math.exp`, `math.expm1`,
    `math.tanh`, `math.log`, `math.log2`, `math.log1p`, `math.erf`
    (f32; f16 / bf16 through f32). Their errors are a few f32 ulp
    (`docs/cpu-lowering.md` lists the bounds measured against float64 by
    `test/Integration/score-mods.test`), far below the 1e-5 relative
    tolerance of f32 results. Other math functions keep their libm calls.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

def SparseAttnExpandBF16 : Pass<"sparse-attn-expand-bf16"> {
  let summary = "bf16 <-> f32 conversions as integer arithmetic";
  let description = [{
    Rewrites `arith.extf` from bf16 (a 16-bit shift) and `arith.truncf` to
    bf16 (round to nearest even, NaN kept quiet) into integer operations
    (upstream's `populateExpandBFloat16Patterns`, without the rest of
    `arith-expand`). Without it, LLVM lowers `fptrunc float to bfloat` on a
    CPU without AVX-512 BF16 to a call of `__truncsfbf2`, which neither libc
    nor libm provides (nor Debian 12's libgcc): an ahead-of-time library for
    such a CPU would fail to load. `sparse-attn-compile` and
    `sparse-attn-run` enable it when the target lacks `avx512bf16`.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::vector::VectorDialect"];
}

def SparseAttnDecomposeOnlineAttention : Pass<"sparse-attn-decompose-online-attention"> {
  let summary = "sparse_attn.online_attention as linalg.generic on tensors";
  let description = [{
    Replaces every `sparse_attn.online_attention` by its decomposition
    (`decomposeOperation`, the op's `AggregatedOpInterface`): scores, mask,
    row maximum, exponentials, row sum, P V and the state update as
    `linalg.generic`s. An op it cannot decompose (dynamic head counts, a
    tile whose head offset is not a constant) fails the pass with the
    reason. Then, on a module with no `sparse_attn.attention` left, the
    mask and score_mod symbols (inlined by now) are erased. Both CPU
    pipelines run it.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

def SparseAttnStridedCopyToLinalg : Pass<"sparse-attn-strided-copy-to-linalg"> {
  let summary = "Copies between strided memrefs as linalg.copy";
  let description = [{
    Rewrites `memref.copy` whose source or target has a non-identity layout
    (bufferization makes them for a tiled program: a tile's result into its
    place in the destination) into `linalg.copy`, which
    `convert-linalg-to-loops` turns into loops. `finalize-memref-to-llvm`
    would otherwise call `memrefCopy` of MLIR's runtime library, which
    neither the JIT runner nor an ahead-of-time library links. Copies
    between identity layouts stay `memref.copy` (an `llvm.memcpy`).
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def SparseAttnEmitCInterface : Pass<"sparse-attn-emit-c-interface", "::mlir::ModuleOp"> {
  let summary = "Mark public functions for the C interface wrappers";
  let description = [{
    Sets `llvm.emit_c_interface` on every public `func.func` with a body, so
    that `convert-func-to-llvm` emits `_mlir_ciface_NAME(descriptor *...)`
    wrappers: the documented C ABI of compiled kernels (one pointer to a
    strided memref descriptor per argument, results as trailing
    out-parameters after `buffer-results-to-out-params`).
  }];
}

#endif
