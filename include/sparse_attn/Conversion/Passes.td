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
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect",
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

#endif
