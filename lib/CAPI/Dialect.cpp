//===- Dialect.cpp - C API of the sparse_attn dialect ---------------------===//

#include "sparse_attn-c/Dialect.h"

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnDialect.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"
#include "sparse_attn/InitAll.h"
#include "sparse_attn/Pipelines/Pipelines.h"
#include "sparse_attn/Target/SharedLibrary.h"

#include "mlir/CAPI/IR.h"
#include "mlir/CAPI/Registration.h"
#include "mlir/CAPI/Support.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include <mutex>

using namespace mlir;
using namespace mlir::sparse_attn;

MLIR_DEFINE_CAPI_DIALECT_REGISTRATION(SparseAttn, sparse_attn,
                                      sparse_attn::SparseAttnDialect)

void sparseAttnRegisterDialects(MlirDialectRegistry registry) {
  registerSparseAttnDialect(*unwrap(registry));
}

void sparseAttnRegisterPassesAndPipelines(void) {
  static std::once_flag once;
  std::call_once(once, [] {
    registerSparseAttnPasses();
    registerSparseAttnPipelines();
    registerUpstreamPassesForPipelines();
  });
}

//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

/// Attribute construction that reports invalid parameters as a diagnostic
/// and returns a null attribute instead of asserting.
template <typename AttrT, typename... Args>
static MlirAttribute getChecked(MlirContext ctx, Args &&...args) {
  MLIRContext *context = unwrap(ctx);
  return wrap(AttrT::getChecked(
      [context] { return emitError(UnknownLoc::get(context)); }, context,
      std::forward<Args>(args)...));
}

template <typename AttrT> static AttrT as(MlirAttribute a) {
  return llvm::cast<AttrT>(unwrap(a));
}

bool sparseAttnAttributeIsAPattern(MlirAttribute attr) {
  return llvm::isa<SparsityPatternAttrInterface>(unwrap(attr));
}

bool sparseAttnPatternIsAllowed(MlirAttribute pattern, int64_t sq, int64_t sk,
                                int64_t q, int64_t k) {
  return llvm::cast<SparsityPatternAttrInterface>(unwrap(pattern))
      .isAllowed(PatternContext(sq, sk), q, k);
}

int sparseAttnPatternClassifyTile(MlirAttribute pattern, int64_t sq,
                                  int64_t sk, int64_t q0, int64_t q1,
                                  int64_t k0, int64_t k1) {
  if (q0 < 0 || k0 < 0 || q0 >= q1 || k0 >= k1 || q1 > sq || k1 > sk)
    return -1;
  return static_cast<int>(
      llvm::cast<SparsityPatternAttrInterface>(unwrap(pattern))
          .classifyTile(PatternContext(sq, sk), q0, q1, k0, k1));
}

MlirAttribute sparseAttnPatternSimplify(MlirAttribute p) {
  return wrap(simplifyPattern(unwrap(p)));
}

#define SPARSE_ATTN_CAPI_IS(NAME, CLASS)                                      \
  bool sparseAttnAttributeIs##NAME(MlirAttribute attr) {                       \
    return llvm::isa<CLASS>(unwrap(attr));                                     \
  }

SPARSE_ATTN_CAPI_IS(Dense, DensePatternAttr)
SPARSE_ATTN_CAPI_IS(Causal, CausalAttr)
SPARSE_ATTN_CAPI_IS(Window, WindowAttr)
SPARSE_ATTN_CAPI_IS(Dilated, DilatedAttr)
SPARSE_ATTN_CAPI_IS(Strided, StridedAttr)
SPARSE_ATTN_CAPI_IS(Fixed, FixedAttr)
SPARSE_ATTN_CAPI_IS(Global, GlobalAttr)
SPARSE_ATTN_CAPI_IS(Random, RandomAttr)
SPARSE_ATTN_CAPI_IS(Blocks, BlocksAttr)
SPARSE_ATTN_CAPI_IS(Prefix, PrefixAttr)
SPARSE_ATTN_CAPI_IS(Segments, SegmentsAttr)
SPARSE_ATTN_CAPI_IS(Union, UnionAttr)
SPARSE_ATTN_CAPI_IS(Intersect, IntersectAttr)
SPARSE_ATTN_CAPI_IS(Custom, CustomAttr)
#undef SPARSE_ATTN_CAPI_IS

MlirAttribute sparseAttnDenseAttrGet(MlirContext ctx) {
  return wrap(DensePatternAttr::get(unwrap(ctx)));
}
MlirAttribute sparseAttnCausalAttrGet(MlirContext ctx) {
  return wrap(CausalAttr::get(unwrap(ctx)));
}
MlirAttribute sparseAttnCausalAttrGetAligned(MlirContext ctx,
                                             bool bottomRight) {
  return wrap(CausalAttr::get(unwrap(ctx), bottomRight));
}
bool sparseAttnPatternIsBottomRight(MlirAttribute a) {
  Attribute attr = unwrap(a);
  if (auto c = llvm::dyn_cast<CausalAttr>(attr))
    return c.getBottomRight();
  if (auto w = llvm::dyn_cast<WindowAttr>(attr))
    return w.getBottomRight();
  return false;
}
MlirAttribute sparseAttnSegmentsAttrGet(MlirContext ctx) {
  return wrap(SegmentsAttr::get(unwrap(ctx)));
}

MlirAttribute sparseAttnWindowAttrGet(MlirContext ctx, int64_t before,
                                      int64_t after) {
  return getChecked<WindowAttr>(ctx, before, after, false);
}
MlirAttribute sparseAttnWindowAttrGetAligned(MlirContext ctx, int64_t before,
                                             int64_t after, bool bottomRight) {
  return getChecked<WindowAttr>(ctx, before, after, bottomRight);
}
int64_t sparseAttnWindowAttrGetBefore(MlirAttribute a) {
  return as<WindowAttr>(a).getBefore();
}
int64_t sparseAttnWindowAttrGetAfter(MlirAttribute a) {
  return as<WindowAttr>(a).getAfter();
}

MlirAttribute sparseAttnDilatedAttrGet(MlirContext ctx, int64_t before,
                                       int64_t after, int64_t dilation) {
  return getChecked<DilatedAttr>(ctx, before, after, dilation);
}
int64_t sparseAttnDilatedAttrGetBefore(MlirAttribute a) {
  return as<DilatedAttr>(a).getBefore();
}
int64_t sparseAttnDilatedAttrGetAfter(MlirAttribute a) {
  return as<DilatedAttr>(a).getAfter();
}
int64_t sparseAttnDilatedAttrGetDilation(MlirAttribute a) {
  return as<DilatedAttr>(a).getDilation();
}

MlirAttribute sparseAttnStridedAttrGet(MlirContext ctx, int64_t stride) {
  return getChecked<StridedAttr>(ctx, stride);
}
int64_t sparseAttnStridedAttrGetStride(MlirAttribute a) {
  return as<StridedAttr>(a).getStride();
}

MlirAttribute sparseAttnFixedAttrGet(MlirContext ctx, int64_t stride,
                                     int64_t summary) {
  return getChecked<FixedAttr>(ctx, stride, summary);
}
int64_t sparseAttnFixedAttrGetStride(MlirAttribute a) {
  return as<FixedAttr>(a).getStride();
}
int64_t sparseAttnFixedAttrGetSummary(MlirAttribute a) {
  return as<FixedAttr>(a).getSummary();
}

MlirAttribute sparseAttnGlobalAttrGet(MlirContext ctx, intptr_t numTokens,
                                      const int64_t *tokens) {
  return getChecked<GlobalAttr>(ctx, ArrayRef<int64_t>(tokens, numTokens));
}
intptr_t sparseAttnGlobalAttrGetNumTokens(MlirAttribute a) {
  return as<GlobalAttr>(a).getTokens().size();
}
int64_t sparseAttnGlobalAttrGetToken(MlirAttribute a, intptr_t pos) {
  return as<GlobalAttr>(a).getTokens()[pos];
}

MlirAttribute sparseAttnRandomAttrGet(MlirContext ctx, int64_t block,
                                      int64_t perRow, int64_t seed) {
  return getChecked<RandomAttr>(ctx, block, perRow, seed);
}
int64_t sparseAttnRandomAttrGetBlock(MlirAttribute a) {
  return as<RandomAttr>(a).getBlock();
}
int64_t sparseAttnRandomAttrGetPerRow(MlirAttribute a) {
  return as<RandomAttr>(a).getPerRow();
}
int64_t sparseAttnRandomAttrGetSeed(MlirAttribute a) {
  return as<RandomAttr>(a).getSeed();
}

MlirAttribute sparseAttnBlocksAttrGet(MlirContext ctx, int64_t blockQ,
                                      int64_t blockK, MlirAttribute layout) {
  auto dense = llvm::dyn_cast_or_null<DenseIntElementsAttr>(unwrap(layout));
  if (!dense) {
    emitError(UnknownLoc::get(unwrap(ctx)),
              "#sparse_attn.blocks: 'layout' must be a dense i1 tensor");
    return MlirAttribute{nullptr};
  }
  return getChecked<BlocksAttr>(ctx, blockQ, blockK, dense);
}
int64_t sparseAttnBlocksAttrGetBlockQ(MlirAttribute a) {
  return as<BlocksAttr>(a).getBlockQ();
}
int64_t sparseAttnBlocksAttrGetBlockK(MlirAttribute a) {
  return as<BlocksAttr>(a).getBlockK();
}
MlirAttribute sparseAttnBlocksAttrGetLayout(MlirAttribute a) {
  return wrap(as<BlocksAttr>(a).getLayout());
}

MlirAttribute sparseAttnPrefixAttrGet(MlirContext ctx, int64_t length) {
  return getChecked<PrefixAttr>(ctx, length);
}
int64_t sparseAttnPrefixAttrGetLength(MlirAttribute a) {
  return as<PrefixAttr>(a).getLength();
}

static SmallVector<Attribute> unwrapList(intptr_t n, const MlirAttribute *c) {
  SmallVector<Attribute> out;
  for (intptr_t i = 0; i < n; ++i)
    out.push_back(unwrap(c[i]));
  return out;
}
MlirAttribute sparseAttnUnionAttrGet(MlirContext ctx, intptr_t n,
                                     const MlirAttribute *components) {
  return getChecked<UnionAttr>(ctx, ArrayRef<Attribute>(unwrapList(n, components)));
}
MlirAttribute sparseAttnIntersectAttrGet(MlirContext ctx, intptr_t n,
                                         const MlirAttribute *components) {
  return getChecked<IntersectAttr>(
      ctx, ArrayRef<Attribute>(unwrapList(n, components)));
}
static ArrayRef<Attribute> componentsOf(MlirAttribute a) {
  if (auto u = llvm::dyn_cast<UnionAttr>(unwrap(a)))
    return u.getComponents();
  return as<IntersectAttr>(a).getComponents();
}
intptr_t sparseAttnCompositeAttrGetNumComponents(MlirAttribute a) {
  return componentsOf(a).size();
}
MlirAttribute sparseAttnCompositeAttrGetComponent(MlirAttribute a,
                                                  intptr_t pos) {
  return wrap(componentsOf(a)[pos]);
}

MlirAttribute sparseAttnCustomAttrGet(MlirContext ctx, MlirStringRef mask) {
  MLIRContext *context = unwrap(ctx);
  return wrap(CustomAttr::get(
      context, FlatSymbolRefAttr::get(context, unwrap(mask))));
}
MlirStringRef sparseAttnCustomAttrGetMaskName(MlirAttribute a) {
  return wrap(as<CustomAttr>(a).getMask().getValue());
}

//===----------------------------------------------------------------------===//
// Compilation
//===----------------------------------------------------------------------===//

static thread_local std::string lastError;

MlirLogicalResult sparseAttnLowerToLLVMCPU(MlirModule module, int64_t blockQ,
                                           int64_t blockK) {
  sparseAttnRegisterPassesAndPipelines();
  ModuleOp m = unwrap(module);
  PassManager pm(m.getContext());
  CPUPipelineOptions options;
  options.blockQ = blockQ;
  options.blockK = blockK;
  buildSparseAttnToLLVMCPUPipeline(pm, options);
  return wrap(pm.run(m));
}

MlirLogicalResult sparseAttnCompileToSharedLibrary(MlirModule module,
                                                   MlirStringRef outputPath,
                                                   MlirStringRef mcpu,
                                                   int64_t blockQ,
                                                   int64_t blockK) {
  sparseAttnRegisterPassesAndPipelines();
  SharedLibraryOptions options;
  options.outputPath = unwrap(outputPath).str();
  options.mcpu = unwrap(mcpu).str();
  options.blockQ = blockQ;
  options.blockK = blockK;
  lastError.clear();
  return wrap(compileToSharedLibrary(unwrap(module), options, lastError));
}

MlirStringRef sparseAttnGetLastError(void) {
  return mlirStringRefCreate(lastError.data(), lastError.size());
}
