//===- SparseAttnInterfaces.td - pattern interface ---------*- tablegen -*-===//
#ifndef SPARSE_ATTN_INTERFACES_TD
#define SPARSE_ATTN_INTERFACES_TD

include "mlir/IR/OpBase.td"

def SparsityPatternAttrInterface : AttrInterface<"SparsityPatternAttrInterface"> {
  let cppNamespace = "::mlir::sparse_attn";
  let description = [{
    A sparsity pattern: a predicate `allowed(b, h, q, k)` over absolute query
    positions `q` in [0, Sq) and key positions `k` in [0, Sk). The
    `PatternContext` carries the sizes and, for data-dependent patterns, the
    runtime data (segment ids, custom-mask evaluators).

    `classifyTile` must be *exact*: it returns `Empty` when no pair of the
    half-open rectangle [q0, q1) x [k0, k1) is allowed, `Full` when every pair
    is, and `Partial` otherwise. Built-in patterns answer analytically (no
    enumeration of the rectangle); the only exception is a pattern whose
    answer depends on data absent from the context (segments without ids),
    which answers `Partial` (a safe over-approximation), and composites whose
    components are ambiguous on a tile, which resolve it by scanning the tile
    with an early exit.
  }];
  let methods = [
    InterfaceMethod<
      "Whether query position `q` may attend to key position `k`.",
      "bool", "isAllowed",
      (ins "const ::mlir::sparse_attn::PatternContext &":$ctx,
           "int64_t":$q, "int64_t":$k)>,
    InterfaceMethod<
      "Classify the tile [q0, q1) x [k0, k1) (non-empty, inside the sizes).",
      "::mlir::sparse_attn::TileKind", "classifyTile",
      (ins "const ::mlir::sparse_attn::PatternContext &":$ctx,
           "int64_t":$q0, "int64_t":$q1, "int64_t":$k0, "int64_t":$k1)>,
    InterfaceMethod<
      "Whether the pattern reads runtime segment ids.",
      "bool", "needsSegmentIds", (ins), [{}],
      [{ return false; }]>,
    InterfaceMethod<
      "Checks that depend on the sequence lengths (static sizes only).",
      "::llvm::LogicalResult", "verifyForSizes",
      (ins "::llvm::function_ref<::mlir::InFlightDiagnostic()>":$emitError,
           "int64_t":$sq, "int64_t":$sk), [{}],
      [{ return ::mlir::success(); }]>,
    InterfaceMethod<
      "Append the symbols of the custom masks this pattern references.",
      "void", "collectCustomMasks",
      (ins "::llvm::SmallVectorImpl<::mlir::FlatSymbolRefAttr> &":$masks),
      [{}], [{ return; }]>,
  ];
}

#endif // SPARSE_ATTN_INTERFACES_TD
