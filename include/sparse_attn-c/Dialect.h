/*===- sparse_attn-c/Dialect.h - C API of the sparse_attn dialect -*- C -*-===*\
|*                                                                            *|
|* MLIR C API conventions: opaque handles from mlir-c/IR.h, functions named   *|
|* sparseAttn<Thing><Action>, attribute constructors that return a null       *|
|* attribute (and emit a diagnostic) when the parameters are invalid.         *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#ifndef SPARSE_ATTN_C_DIALECT_H
#define SPARSE_ATTN_C_DIALECT_H

#include "mlir-c/IR.h"
#include "mlir-c/Support.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The dialect handle: mlirGetDialectHandle__sparse_attn__(). */
MLIR_DECLARE_CAPI_DIALECT_REGISTRATION(SparseAttn, sparse_attn);

/* ---- Registration -------------------------------------------------------*/

/* The sparse_attn dialect and every dialect / external model its lowerings
   need (what sparse_attn::registerSparseAttnDialect registers). */
MLIR_CAPI_EXPORTED void
sparseAttnRegisterDialects(MlirDialectRegistry registry);
/* The project's passes, its pipelines (sparse-attn-to-llvm-cpu, ...) and the
   upstream passes the pipelines are made of. Idempotent. */
MLIR_CAPI_EXPORTED void sparseAttnRegisterPassesAndPipelines(void);

/* ---- Patterns -----------------------------------------------------------*/

/* Whether `attr` is any sparsity pattern (implements the pattern interface). */
MLIR_CAPI_EXPORTED bool sparseAttnAttributeIsAPattern(MlirAttribute attr);
/* allowed(b = 0, h = 0, q, k) for sizes Sq x Sk. Custom masks and segments
   answer conservatively (true): they need data this call does not take. */
MLIR_CAPI_EXPORTED bool sparseAttnPatternIsAllowed(MlirAttribute pattern,
                                                   int64_t sq, int64_t sk,
                                                   int64_t q, int64_t k);
/* Kind of the tile [q0, q1) x [k0, k1): 0 empty, 1 partial, 2 full; -1 if
   the rectangle is empty or outside the sizes. */
MLIR_CAPI_EXPORTED int sparseAttnPatternClassifyTile(MlirAttribute pattern,
                                                     int64_t sq, int64_t sk,
                                                     int64_t q0, int64_t q1,
                                                     int64_t k0, int64_t k1);
/* The canonical form (the same allowed pairs, e.g. intersect(causal,
   window) -> window<before = W, after = 0>). */
MLIR_CAPI_EXPORTED MlirAttribute sparseAttnPatternSimplify(MlirAttribute p);

MLIR_CAPI_EXPORTED MlirAttribute sparseAttnDenseAttrGet(MlirContext ctx);
MLIR_CAPI_EXPORTED bool sparseAttnAttributeIsDense(MlirAttribute attr);

MLIR_CAPI_EXPORTED MlirAttribute sparseAttnCausalAttrGet(MlirContext ctx);
/* Causal with its diagonal ending at the bottom-right corner (k <= q + Sk -
   Sq) when `bottomRight`, else the default top-left alignment. */
MLIR_CAPI_EXPORTED MlirAttribute sparseAttnCausalAttrGetAligned(MlirContext ctx,
                                                                bool bottomRight);
MLIR_CAPI_EXPORTED bool sparseAttnAttributeIsCausal(MlirAttribute attr);
/* Whether a causal or window attribute is aligned bottom-right. */
MLIR_CAPI_EXPORTED bool sparseAttnPatternIsBottomRight(MlirAttribute attr);

MLIR_CAPI_EXPORTED MlirAttribute sparseAttnWindowAttrGet(MlirContext ctx,
                                                         int64_t before,
                                                         int64_t after);
/* The same with the alignment of the window (see causal). */
MLIR_CAPI_EXPORTED MlirAttribute sparseAttnWindowAttrGetAligned(
    MlirContext ctx, int64_t before, int64_t after, bool bottomRight);
MLIR_CAPI_EXPORTED bool sparseAttnAttributeIsWindow(MlirAttribute attr);
MLIR_CAPI_EXPORTED int64_t sparseAttnWindowAttrGetBefore(MlirAttribute attr);
MLIR_CAPI_EXPORTED int64_t sparseAttnWindowAttrGetAfter(MlirAttribute attr);

MLIR_CAPI_EXPORTED MlirAttribute sparseAttnDilatedAttrGet(MlirContext ctx,
                                                          int64_t before,
                                                          int64_t after,
                                                          int64_t dilation);
MLIR_CAPI_EXPORTED bool sparseAttnAttributeIsDilated(MlirAttribute attr);
MLIR_CAPI_EXPORTED int64_t sparseAttnDilatedAttrGetBefore(MlirAttribute attr);
MLIR_CAPI_EXPORTED int64_t sparseAttnDilatedAttrGetAfter(MlirAttribute attr);
MLIR_CAPI_EXPORTED int64_t
sparseAttnDilatedAttrGetDilation(MlirAttribute attr);

MLIR_CAPI_EXPORTED MlirAttribute sparseAttnStridedAttrGet(MlirContext ctx,
                                                          int64_t stride);
MLIR_CAPI_EXPORTED bool sparseAttnAttributeIsStrided(MlirAttribute attr);
MLIR_CAPI_EXPORTED int64_t sparseAttnStridedAttrGetStride(MlirAttribute attr);

MLIR_CAPI_EXPORTED MlirAttribute sparseAttnFixedAttrGet(MlirContext ctx,
                                                        int64_t stride,
                                                        int64_t summary);
MLIR_CAPI_EXPORTED bool sparseAttnAttributeIsFixed(MlirAttribute attr);
MLIR_CAPI_EXPORTED int64_t sparseAttnFixedAttrGetStride(MlirAttribute attr);
MLIR_CAPI_EXPORTED int64_t sparseAttnFixedAttrGetSummary(MlirAttribute attr);

MLIR_CAPI_EXPORTED MlirAttribute sparseAttnGlobalAttrGet(MlirContext ctx,
                                                         intptr_t numTokens,
                                                         const int64_t *tokens);
MLIR_CAPI_EXPORTED bool sparseAttnAttributeIsGlobal(MlirAttribute attr);
MLIR_CAPI_EXPORTED intptr_t sparseAttnGlobalAttrGetNumTokens(MlirAttribute a);
MLIR_CAPI_EXPORTED int64_t sparseAttnGlobalAttrGetToken(MlirAttribute attr,
                                                        intptr_t pos);

MLIR_CAPI_EXPORTED MlirAttribute sparseAttnRandomAttrGet(MlirContext ctx,
                                                         int64_t block,
                                                         int64_t perRow,
                                                         int64_t seed);
MLIR_CAPI_EXPORTED bool sparseAttnAttributeIsRandom(MlirAttribute attr);
MLIR_CAPI_EXPORTED int64_t sparseAttnRandomAttrGetBlock(MlirAttribute attr);
MLIR_CAPI_EXPORTED int64_t sparseAttnRandomAttrGetPerRow(MlirAttribute attr);
MLIR_CAPI_EXPORTED int64_t sparseAttnRandomAttrGetSeed(MlirAttribute attr);

/* `layout` is a DenseElementsAttr of i1 and rank 2 (mlirDenseElementsAttr*). */
MLIR_CAPI_EXPORTED MlirAttribute sparseAttnBlocksAttrGet(MlirContext ctx,
                                                         int64_t blockQ,
                                                         int64_t blockK,
                                                         MlirAttribute layout);
MLIR_CAPI_EXPORTED bool sparseAttnAttributeIsBlocks(MlirAttribute attr);
MLIR_CAPI_EXPORTED int64_t sparseAttnBlocksAttrGetBlockQ(MlirAttribute attr);
MLIR_CAPI_EXPORTED int64_t sparseAttnBlocksAttrGetBlockK(MlirAttribute attr);
MLIR_CAPI_EXPORTED MlirAttribute
sparseAttnBlocksAttrGetLayout(MlirAttribute attr);

MLIR_CAPI_EXPORTED MlirAttribute sparseAttnPrefixAttrGet(MlirContext ctx,
                                                         int64_t length);
MLIR_CAPI_EXPORTED bool sparseAttnAttributeIsPrefix(MlirAttribute attr);
MLIR_CAPI_EXPORTED int64_t sparseAttnPrefixAttrGetLength(MlirAttribute attr);

MLIR_CAPI_EXPORTED MlirAttribute sparseAttnSegmentsAttrGet(MlirContext ctx);
MLIR_CAPI_EXPORTED bool sparseAttnAttributeIsSegments(MlirAttribute attr);

MLIR_CAPI_EXPORTED MlirAttribute
sparseAttnUnionAttrGet(MlirContext ctx, intptr_t n,
                       const MlirAttribute *components);
MLIR_CAPI_EXPORTED bool sparseAttnAttributeIsUnion(MlirAttribute attr);
MLIR_CAPI_EXPORTED MlirAttribute
sparseAttnIntersectAttrGet(MlirContext ctx, intptr_t n,
                           const MlirAttribute *components);
MLIR_CAPI_EXPORTED bool sparseAttnAttributeIsIntersect(MlirAttribute attr);
/* Components of a union or an intersection. */
MLIR_CAPI_EXPORTED intptr_t
sparseAttnCompositeAttrGetNumComponents(MlirAttribute attr);
MLIR_CAPI_EXPORTED MlirAttribute
sparseAttnCompositeAttrGetComponent(MlirAttribute attr, intptr_t pos);

MLIR_CAPI_EXPORTED MlirAttribute sparseAttnCustomAttrGet(MlirContext ctx,
                                                         MlirStringRef mask);
MLIR_CAPI_EXPORTED bool sparseAttnAttributeIsCustom(MlirAttribute attr);
MLIR_CAPI_EXPORTED MlirStringRef
sparseAttnCustomAttrGetMaskName(MlirAttribute attr);

/* ---- Compilation --------------------------------------------------------*/

/* Runs sparse-attn-to-llvm-cpu on `module` in place. */
MLIR_CAPI_EXPORTED MlirLogicalResult
sparseAttnLowerToLLVMCPU(MlirModule module, int64_t blockQ, int64_t blockK);
/* Lowers a copy of `module` and writes a shared library (C ABI of
   docs/cpu-lowering.md) for `mcpu` ("native" or an LLVM CPU name). On
   failure, a message is available from sparseAttnGetLastError(). */
MLIR_CAPI_EXPORTED MlirLogicalResult sparseAttnCompileToSharedLibrary(
    MlirModule module, MlirStringRef outputPath, MlirStringRef mcpu,
    int64_t blockQ, int64_t blockK);
/* The message of the last failed sparseAttnCompileToSharedLibrary call in
   this thread (empty if none). */
MLIR_CAPI_EXPORTED MlirStringRef sparseAttnGetLastError(void);

#ifdef __cplusplus
}
#endif

#endif /* SPARSE_ATTN_C_DIALECT_H */
