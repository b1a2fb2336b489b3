/* The C API of sparse-attn: build patterns, ask questions about them, parse a
   module and compile it into a shared library.
   Usage: capi-example OUTPUT.so */
#include "mlir-c/IR.h"
#include "sparse_attn-c/Dialect.h"
#include <stdio.h>

static void printCallback(MlirStringRef s, void *user) {
  (void)user;
  fwrite(s.data, 1, s.length, stdout);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: capi-example OUTPUT.so\n");
    return 2;
  }
  MlirContext ctx = mlirContextCreate();
  MlirDialectRegistry registry = mlirDialectRegistryCreate();
  sparseAttnRegisterDialects(registry);
  mlirContextAppendDialectRegistry(ctx, registry);
  mlirDialectRegistryDestroy(registry);
  mlirContextLoadAllAvailableDialects(ctx);

  /* BigBird-style: window + global + random. */
  int64_t tokens[] = {0, 1};
  MlirAttribute parts[3] = {
      sparseAttnWindowAttrGet(ctx, 2, 2), sparseAttnGlobalAttrGet(ctx, 2, tokens),
      sparseAttnRandomAttrGet(ctx, 4, 1, 7)};
  MlirAttribute bigbird = sparseAttnUnionAttrGet(ctx, 3, parts);
  printf("pattern: ");
  mlirAttributePrint(bigbird, printCallback, NULL);
  printf("\nis a pattern: %d, is union: %d, components: %ld\n",
         sparseAttnAttributeIsAPattern(bigbird), sparseAttnAttributeIsUnion(bigbird),
         (long)sparseAttnCompositeAttrGetNumComponents(bigbird));
  printf("allowed(5, 3) = %d, allowed(9, 0) = %d, allowed(9, 4) = %d\n",
         sparseAttnPatternIsAllowed(bigbird, 16, 16, 5, 3),
         sparseAttnPatternIsAllowed(bigbird, 16, 16, 9, 0),
         sparseAttnPatternIsAllowed(bigbird, 16, 16, 9, 4));
  printf("tile [0,4)x[12,16): %d\n",
         sparseAttnPatternClassifyTile(bigbird, 16, 16, 0, 4, 12, 16));

  MlirAttribute both[2] = {sparseAttnCausalAttrGet(ctx),
                           sparseAttnWindowAttrGet(ctx, 8, 8)};
  MlirAttribute simplified =
      sparseAttnPatternSimplify(sparseAttnIntersectAttrGet(ctx, 2, both));
  printf("simplified: ");
  mlirAttributePrint(simplified, printCallback, NULL);
  printf(" (before = %ld, after = %ld)\n",
         (long)sparseAttnWindowAttrGetBefore(simplified),
         (long)sparseAttnWindowAttrGetAfter(simplified));

  /* Bottom-right alignment (decode: one query sees every key). */
  MlirAttribute br = sparseAttnCausalAttrGetAligned(ctx, true);
  printf("aligned: ");
  mlirAttributePrint(br, printCallback, NULL);
  printf(" bottom-right %d, decode row sees key 9 of 10: %d, top-left: %d\n",
         sparseAttnPatternIsBottomRight(br),
         sparseAttnPatternIsAllowed(br, 1, 10, 0, 9),
         sparseAttnPatternIsAllowed(sparseAttnCausalAttrGet(ctx), 1, 10, 0, 9));
  printf("aligned window: ");
  mlirAttributePrint(sparseAttnWindowAttrGetAligned(ctx, 3, 0, true),
                     printCallback, NULL);
  printf("\n");

  /* Invalid parameters give a null attribute (and a diagnostic). */
  printf("window<before = -1> is null: %d\n",
         mlirAttributeIsNull(sparseAttnWindowAttrGet(ctx, -1, 0)));

  const char *source =
      "func.func @attention(%q: tensor<1x1x32x16xf32>) -> tensor<1x1x32x16xf32> {\n"
      "  %init = tensor.empty() : tensor<1x1x32x16xf32>\n"
      "  %o = sparse_attn.attention %q, %q, %q outs(%init : tensor<1x1x32x16xf32>)\n"
      "      {pattern = #sparse_attn.causal}\n"
      "      : tensor<1x1x32x16xf32>, tensor<1x1x32x16xf32>, tensor<1x1x32x16xf32>\n"
      "      -> tensor<1x1x32x16xf32>\n"
      "  return %o : tensor<1x1x32x16xf32>\n}\n";
  MlirModule module = mlirModuleCreateParse(ctx, mlirStringRefCreateFromCString(source));
  if (mlirModuleIsNull(module)) {
    fprintf(stderr, "parse failed\n");
    return 1;
  }
  MlirLogicalResult r = sparseAttnCompileToSharedLibrary(
      module, mlirStringRefCreateFromCString(argv[1]),
      mlirStringRefCreateFromCString("x86-64-v2"), 16, 16);
  if (mlirLogicalResultIsFailure(r)) {
    MlirStringRef e = sparseAttnGetLastError();
    fprintf(stderr, "compile failed: %.*s\n", (int)e.length, e.data);
    return 1;
  }
  printf("compiled %s\n", argv[1]);
  MlirLogicalResult bad = sparseAttnCompileToSharedLibrary(
      module, mlirStringRefCreateFromCString(argv[1]),
      mlirStringRefCreateFromCString("no-such-cpu"), 16, 16);
  MlirStringRef e = sparseAttnGetLastError();
  printf("bad cpu: failed = %d, error = %.*s\n", mlirLogicalResultIsFailure(bad),
         (int)e.length, e.data);
  mlirModuleDestroy(module);
  mlirContextDestroy(ctx);
  return 0;
}
