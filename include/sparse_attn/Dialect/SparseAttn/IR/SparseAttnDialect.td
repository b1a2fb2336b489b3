//===- SparseAttnDialect.td - sparse_attn dialect ---------*- tablegen -*-===//
#ifndef SPARSE_ATTN_DIALECT_TD
#define SPARSE_ATTN_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def SparseAttn_Dialect : Dialect {
  let name = "sparse_attn";
  let cppNamespace = "::mlir::sparse_attn";
  let summary = "Attention with declarative sparsity patterns";
  let description = [{
    The `sparse_attn` dialect states scaled dot-product attention together
    with a *sparsity pattern*: the set of (query, key) position pairs that
    may attend to each other. Patterns are attributes (`#sparse_attn.causal`,
    `#sparse_attn.window<...>`, ...) that compose with `union` and
    `intersect`, plus user-authored masks written as IR (`sparse_attn.mask`).
    Every pattern attribute implements `SparsityPatternAttrInterface`, which
    answers exactly whether a pair is allowed and whether a rectangular tile
    of the score matrix is empty, partial or full, so that lowerings can skip
    forbidden tiles without enumerating S^2 positions.
  }];
  let useDefaultAttributePrinterParser = 1;
  let hasConstantMaterializer = 0;
  let extraClassDeclaration = [{
    void registerAttributes();
  }];
}

class SparseAttn_Op<string mnemonic, list<Trait> traits = []>
    : Op<SparseAttn_Dialect, mnemonic, traits>;

class SparseAttn_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<SparseAttn_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

#endif // SPARSE_ATTN_DIALECT_TD
