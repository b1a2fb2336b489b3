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

    // Code generation: every lowering builds the predicate through these
    // methods, so a pattern that implements them runs on every target with
    // no edit to any lowering. A pattern that does not gets the defaults,
    // and the lowerings refuse it with a diagnostic (they never guess).
    InterfaceMethod<[{
        Emits `allowed(b, h, q, k)` at the generator's insertion point: an
        `i1` for scalar positions, a `vector<lanes x i1>` when
        `gen.isVector()` (then only called if `supportsVectorCodegen()`).
        Positions are `index` values (`gen.b()`, `gen.h()`, `gen.q()`,
        `gen.k()`); `gen` has helpers for constants, comparisons, segment
        ids and constant tables, and `gen.emit(component)` for nested
        patterns. On failure, emit a diagnostic at `gen.getLoc()` (as
        `gen.unsupported(...)` does) and return failure. The default has
        no code generation: it diagnoses and fails.
      }],
      "::mlir::FailureOr<::mlir::Value>", "buildAllowed",
      (ins "::mlir::sparse_attn::PatternCodegen &":$gen), [{}],
      [{ return gen.unsupported($_attr); }]>,
    InterfaceMethod<[{
        Emits the classification of the tile [q0, q1) x [k0, k1) (index
        values, non-empty, inside the sizes) as two i1 values: `empty`
        (no pair of the tile is allowed) and `full` (every pair is). The
        run-time twin of `classifyTile`, used where sizes are dynamic or a
        compile-time table would be too large: work per tile, never per
        pair. It must be *sound*: `empty` only when the tile is empty,
        `full` only when it is full; both false ("partial": the element
        mask decides) is always correct, and is the default.
      }],
      "::mlir::FailureOr<::mlir::sparse_attn::TileKindValues>",
      "buildTileKind",
      (ins "::mlir::sparse_attn::PatternCodegen &":$gen,
           "const ::mlir::sparse_attn::TileBounds &":$tile), [{}],
      [{ return gen.partialTile(); }]>,
    InterfaceMethod<[{
        Whether `buildAllowed` accepts vectors of positions (q, k of type
        `vector<lanes x index>`; b, h stay scalars). The CPU kernel then
        masks a whole column of a tile at once; otherwise it evaluates the
        scalar form per element (correct, slower).
      }],
      "bool", "supportsVectorCodegen", (ins), [{}], [{ return false; }]>,
    InterfaceMethod<[{
        Whether allowed(q, k) implies segment(q) == segment(k) (`segments`,
        an intersection with it, a union of such): lowerings skip tiles
        whose query and key segment-id ranges are disjoint. Answering false
        is always safe.
      }],
      "bool", "impliesSameSegment", (ins), [{}], [{ return false; }]>,
    InterfaceMethod<[{
        The pattern on a tile whose query and key positions all lie in one
        segment: every `segments` component replaced by `dense`. Must allow
        exactly the pairs this pattern allows there; a pattern with no
        segment component returns itself (the default).
      }],
      "::mlir::Attribute", "withoutSegments", (ins), [{}],
      [{ return $_attr; }]>,
  ];
}

#endif // SPARSE_ATTN_INTERFACES_TD
