//===- ExtPatterns.td - sparsity patterns defined outside sparse-attn ------===//
//
// A downstream dialect whose attributes are sparsity patterns: an AttrDef
// plus the SparsityPatternAttrInterface methods, and nothing else. The
// lowerings, the analyses and the float64 reference of sparse-attn use them
// through the interface (docs/extending.md walks through this file).
//
//===----------------------------------------------------------------------===//
#ifndef EXT_PATTERNS_TD
#define EXT_PATTERNS_TD

include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/OpBase.td"
include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnInterfaces.td"

def Ext_Dialect : Dialect {
  let name = "sa_ext";
  let cppNamespace = "::ext";
  let summary = "Example sparsity patterns defined outside sparse-attn";
  let useDefaultAttributePrinterParser = 1;
}

class Ext_Pattern<string name, string attrMnemonic, list<string> methods>
    : AttrDef<Ext_Dialect, name,
        [DeclareAttrInterfaceMethods<SparsityPatternAttrInterface, methods>]> {
  let mnemonic = attrMnemonic;
}

def Ext_CheckerAttr : Ext_Pattern<"Checker", "checker",
    ["buildAllowed", "supportsVectorCodegen"]> {
  let summary = "checkerboard of square blocks";
  let description = [{
    `allowed(q, k)` iff `q div block + k div block` is even: the blocks on
    the diagonal and every second block beside them. Tiles inside one
    `block x block` square are full or empty; a tile that crosses a block
    boundary holds both parities and is partial.

    ```mlir
    {pattern = #sa_ext.checker<block = 16>}
    ```
  }];
  let parameters = (ins "int64_t":$block);
  let assemblyFormat = "`<` `block` `=` $block `>`";
  let genVerifyDecl = 1;
}

def Ext_NoCodegenAttr : Ext_Pattern<"NoCodegen", "no_codegen", []> {
  let summary = "a pattern with no code generation";
  let description = [{
    `allowed(q, k)` iff `(q + k) mod 3 != 0`. It answers the interface's
    questions (`isAllowed`, `classifyTile`) but does not implement
    `buildAllowed`: the analyses and the reference accept it, every
    lowering refuses it with a diagnostic.
  }];
}

def Ext_BrokenVectorAttr : Ext_Pattern<"BrokenVector", "broken_vector",
    ["buildAllowed", "supportsVectorCodegen"]> {
  let summary = "a pattern whose vector form is wrong (for a diagnostic)";
  let description = [{
    Causal, but claims a vector form and returns a scalar predicate there:
    the lowerings check the predicate's type and refuse it.
  }];
}

#endif // EXT_PATTERNS_TD
