//===- SparseAttnAttrs.td - sparsity pattern attributes ----*- tablegen -*-===//
#ifndef SPARSE_ATTN_ATTRS_TD
#define SPARSE_ATTN_ATTRS_TD

include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnDialect.td"
include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnInterfaces.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

class SparseAttn_PatternAttr<string name, string attrMnemonic,
                             list<string> overridden = []>
    : SparseAttn_Attr<name, attrMnemonic,
        [DeclareAttrInterfaceMethods<SparsityPatternAttrInterface,
                                     !listconcat(["buildAllowed"], overridden)>]>;

def SparseAttn_DensePatternAttr : SparseAttn_PatternAttr<"DensePattern", "dense",
    ["supportsVectorCodegen", "buildTileKind"]> {
  let summary = "every query attends to every key";
  let description = [{
    `allowed(q, k) = true`.

    ```mlir
    #sparse_attn.dense
    ```
  }];
}

def SparseAttn_CausalAttr : SparseAttn_PatternAttr<"Causal", "causal",
    ["supportsVectorCodegen", "buildTileKind"]> {
  let summary = "autoregressive mask: k <= q (+ Sk - Sq, bottom-right)";
  let description = [{
    `allowed(q, k) = k <= q + off`, where the alignment sets `off`:
    - `align = top_left` (the default, printed without the option):
      `off = 0`. Positions are absolute: with Sq != Sk the diagonal starts
      at the top-left corner (PyTorch SDPA's `is_causal`).
    - `align = bottom_right`: `off = Sk - Sq`, the diagonal ends at the
      bottom-right corner: the last query sees every key. This is the
      convention of FlashAttention (>= 2.1) and xFormers for Sq != Sk, and
      what decoding (Sq = 1) and chunked prefill (the new queries are the
      last Sq of Sk positions) need. With Sq > Sk the first Sq - Sk rows
      see no key. `off` is computed from the run-time lengths, so one
      kernel compiled with dynamic sizes serves every step.

    ```mlir
    #sparse_attn.causal
    #sparse_attn.causal<align = bottom_right>
    ```
  }];
  let parameters = (ins DefaultValuedParameter<"bool", "false">:$bottomRight);
  let builders = [
    AttrBuilder<(ins), [{ return $_get($_ctxt, false); }]>
  ];
  let hasCustomAssemblyFormat = 1;
  let extraClassDeclaration = [{
    /// Sk - Sq for bottom-right alignment, 0 for top-left.
    int64_t offset(const PatternContext &ctx) const {
      return getBottomRight() ? ctx.sk - ctx.sq : 0;
    }
  }];
}

def SparseAttn_WindowAttr : SparseAttn_PatternAttr<"Window", "window",
    ["supportsVectorCodegen", "buildTileKind"]> {
  let summary = "local / sliding window: q - before <= k <= q + after";
  let description = [{
    `allowed(q, k) = q + off - before <= k <= q + off + after`. Both
    bounds are inclusive; `after = 0` is the causal sliding window of
    `before + 1` keys.

    Options:
    - `before` (required, >= 0): how many earlier keys a query sees.
    - `after` (required, >= 0): how many later keys a query sees.
    - `align` (optional): `top_left` (default, `off = 0`) or `bottom_right`
      (`off = Sk - Sq`, from the run-time lengths: the window of the last
      query ends at the last key; see `causal`).

    ```mlir
    #sparse_attn.window<before = 256, after = 0>
    #sparse_attn.window<before = 4095, after = 0, align = bottom_right>
    ```
  }];
  let parameters = (ins "int64_t":$before, "int64_t":$after,
                        DefaultValuedParameter<"bool", "false">:$bottomRight);
  let builders = [
    AttrBuilder<(ins "int64_t":$before, "int64_t":$after), [{
      return $_get($_ctxt, before, after, false);
    }]>
  ];
  let extraClassDeclaration = [{
    /// Sk - Sq for bottom-right alignment, 0 for top-left.
    int64_t offset(const PatternContext &ctx) const {
      return getBottomRight() ? ctx.sk - ctx.sq : 0;
    }
  }];
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def SparseAttn_DilatedAttr : SparseAttn_PatternAttr<"Dilated", "dilated",
    ["supportsVectorCodegen", "buildTileKind"]> {
  let summary = "dilated window (Longformer)";
  let description = [{
    `allowed(q, k) = q - before <= k <= q + after  and  (q - k) mod dilation == 0`.

    Options: `before >= 0`, `after >= 0`, `dilation >= 1`
    (`dilation = 1` is `window`).

    ```mlir
    #sparse_attn.dilated<before = 512, after = 512, dilation = 2>
    ```
  }];
  let parameters = (ins "int64_t":$before, "int64_t":$after, "int64_t":$dilation);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def SparseAttn_StridedAttr : SparseAttn_PatternAttr<"Strided", "strided",
    ["supportsVectorCodegen", "buildTileKind"]> {
  let summary = "Sparse Transformer 'strided' pattern";
  let description = [{
    `allowed(q, k) = k <= q  and  ((q - k) < stride  or  (q - k) mod stride == 0)`:
    the union of the causal local band of `stride` keys and every
    `stride`-th earlier key (Child et al., 2019). `stride >= 1`.

    ```mlir
    #sparse_attn.strided<stride = 128>
    ```
  }];
  let parameters = (ins "int64_t":$stride);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def SparseAttn_FixedAttr : SparseAttn_PatternAttr<"Fixed", "fixed",
    ["supportsVectorCodegen", "buildTileKind"]> {
  let summary = "Sparse Transformer 'fixed' pattern";
  let description = [{
    `allowed(q, k) = floor(k / stride) == floor(q / stride)  or  (k mod stride) >= stride - summary`:
    each query sees its own block of `stride` keys and the last `summary`
    keys of every block (Child et al., 2019). Not causal by itself: intersect
    with `causal` for the autoregressive variant.

    Options: `stride >= 1`, `0 <= summary <= stride`.

    ```mlir
    #sparse_attn.fixed<stride = 128, summary = 8>
    ```
  }];
  let parameters = (ins "int64_t":$stride, "int64_t":$summary);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def SparseAttn_GlobalAttr : SparseAttn_PatternAttr<"Global", "global",
    ["verifyForSizes", "supportsVectorCodegen", "buildTileKind"]> {
  let summary = "global tokens (Longformer / BigBird)";
  let description = [{
    `allowed(q, k) = q in G  or  k in G` for the token list `G`: a global
    token attends to every key and every query attends to it.

    `G` is strictly increasing and non-negative; with static sizes each index
    must be below max(Sq, Sk).

    ```mlir
    #sparse_attn.global<[0, 1, 4095]>
    ```
  }];
  let parameters = (ins ArrayRefParameter<"int64_t", "token positions">:$tokens);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def SparseAttn_RandomAttr : SparseAttn_PatternAttr<"Random", "random"> {
  let summary = "BigBird random blocks";
  let description = [{
    Positions are grouped into blocks of `block` rows and columns. Query block
    `qb = floor(q / block)` attends to a set `R(qb)` of `per_row` distinct key
    blocks (all `NK = ceil(Sk / block)` key blocks when `per_row >= NK`):
    `allowed(q, k) = floor(k / block) in R(floor(q / block))`.

    `R(qb)` is drawn by a partial Fisher-Yates shuffle of [0, NK) driven by
    SplitMix64, with unsigned 64-bit wrap-around arithmetic only, so it is
    the same on every platform:

    ```
    state = seed xor (qb * 0xD1B54A32D192ED03)
    a = [0, 1, ..., NK - 1]
    for i in 0 .. min(per_row, NK) - 1:
      state = state + 0x9E3779B97F4A7C15
      z = state
      z = (z xor (z >> 30)) * 0xBF58476D1CE4E5B9
      z = (z xor (z >> 27)) * 0x94D049BB133111EB
      z = z xor (z >> 31)
      j = i + z mod (NK - i)
      swap(a[i], a[j])
    R(qb) = { a[0], ..., a[min(per_row, NK) - 1] }
    ```

    `python/sparse_attn/reference.py` carries an independent copy.

    Options: `block >= 1`, `per_row >= 0`, `seed >= 0`.

    ```mlir
    #sparse_attn.random<block = 128, per_row = 3, seed = 42>
    ```
  }];
  let parameters = (ins "int64_t":$block, "int64_t":$per_row, "int64_t":$seed);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The sorted key blocks chosen for query block `qb` with `nk` key blocks.
    ::llvm::SmallVector<int64_t> chooseBlocks(int64_t qb, int64_t nk) const;
  }];
}

def SparseAttn_BlocksAttr : SparseAttn_PatternAttr<"Blocks", "blocks",
    ["verifyForSizes"]> {
  let summary = "explicit block-sparse layout (DeepSpeed / Triton style)";
  let description = [{
    `allowed(q, k) = layout[floor(q / BQ), floor(k / BK)]` for a boolean
    layout of shape `NQ x NK` with `NQ = ceil(Sq / BQ)`, `NK = ceil(Sk / BK)`
    (checked when the sizes are static).

    Options: `block = [BQ, BK]` (both >= 1), `layout`: an `i1` tensor of rank 2.

    ```mlir
    #sparse_attn.blocks<block = [64, 64],
                        layout = dense<[[true, false], [true, true]]> : tensor<2x2xi1>>
    ```
  }];
  let parameters = (ins "int64_t":$block_q, "int64_t":$block_k,
                        "::mlir::DenseIntElementsAttr":$layout);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getNumQBlocks() const;
    int64_t getNumKBlocks() const;
    /// Layout entry (i, j) (row-major), with i and j in range.
    bool isBlockAllowed(int64_t i, int64_t j) const;
  }];
}

def SparseAttn_PrefixAttr : SparseAttn_PatternAttr<"Prefix", "prefix",
    ["supportsVectorCodegen", "buildTileKind"]> {
  let summary = "prefix-LM: a bidirectional prefix, causal afterwards";
  let description = [{
    `allowed(q, k) = k < length  or  k <= q`. `length >= 0`.

    ```mlir
    #sparse_attn.prefix<length = 512>
    ```
  }];
  let parameters = (ins "int64_t":$length);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def SparseAttn_SegmentsAttr : SparseAttn_PatternAttr<"Segments", "segments",
    ["needsSegmentIds", "impliesSameSegment", "withoutSegments"]> {
  let summary = "document masking from runtime segment ids";
  let description = [{
    `allowed(b, q, k) = qseg[b, q] == kseg[b, k]`, where the segment ids are
    runtime operands of `sparse_attn.attention` (`segments(%ids)` for
    self-attention, `segments(%qids, %kids)` otherwise). Tiles can only be
    classified when the ids are known; without them every tile is `Partial`.

    ```mlir
    #sparse_attn.segments
    ```
  }];
}

def SparseAttn_UnionAttr : SparseAttn_PatternAttr<"Union", "union",
    ["needsSegmentIds", "verifyForSizes", "collectCustomMasks",
     "impliesSameSegment", "withoutSegments", "supportsVectorCodegen", "buildTileKind"]> {
  let summary = "a pair is allowed when any component allows it";
  let description = [{
    `allowed = OR_i components[i].allowed`. Nestable. At least one component.
    Canonicalisation flattens nested unions, merges global token lists and
    drops duplicates and components contained in another.

    ```mlir
    // BigBird: window + global + random.
    #sparse_attn.union<[#sparse_attn.window<before = 192, after = 192>,
                        #sparse_attn.global<[0, 1]>,
                        #sparse_attn.random<block = 64, per_row = 3, seed = 0>]>
    ```
  }];
  let parameters = (ins ArrayRefParameter<"::mlir::Attribute", "components">:$components);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def SparseAttn_IntersectAttr : SparseAttn_PatternAttr<"Intersect", "intersect",
    ["needsSegmentIds", "verifyForSizes", "collectCustomMasks",
     "impliesSameSegment", "withoutSegments", "supportsVectorCodegen", "buildTileKind"]> {
  let summary = "a pair is allowed when every component allows it";
  let description = [{
    `allowed = AND_i components[i].allowed`. Nestable. At least one component.

    ```mlir
    // Causal sliding window, canonicalised to window<before = 255, after = 0>.
    #sparse_attn.intersect<[#sparse_attn.causal,
                            #sparse_attn.window<before = 255, after = 255>]>
    ```
  }];
  let parameters = (ins ArrayRefParameter<"::mlir::Attribute", "components">:$components);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def SparseAttn_CustomAttr : SparseAttn_PatternAttr<"Custom", "custom",
    ["collectCustomMasks"]> {
  let summary = "a user-authored mask written as IR";
  let description = [{
    `allowed(b, h, q, k)` is the `i1` computed by the region of the
    `sparse_attn.mask` symbol `@name`, which must exist in an enclosing
    symbol table (checked by `sparse_attn.attention`). Tiles are classified by
    evaluating the region (the fallback that built-in patterns avoid).

    ```mlir
    #sparse_attn.custom<@my_mask>
    ```
  }];
  let parameters = (ins "::mlir::FlatSymbolRefAttr":$mask);
  let assemblyFormat = "`<` $mask `>`";
}

def SparseAttn_BlockMaskAttr : SparseAttn_Attr<"BlockMask", "block_mask"> {
  let summary = "per query block, the partial and full key blocks";
  let description = [{
    The result of `sparse-attn-block-analysis` (the analogue of
    FlexAttention's `BlockMask`), in compressed-row form. For query block
    `i` (rows [i * BQ, min((i + 1) * BQ, Sq))):
    - `partial_indices[partial_offsets[i] .. partial_offsets[i + 1])` are the
      key blocks that need the element mask,
    - `full_indices[full_offsets[i] .. full_offsets[i + 1])` the key blocks
      that are entirely allowed,
    and every other key block is empty and must be skipped. Indices are
    increasing within a row. `num_k_blocks = ceil(Sk / BK)`.

    ```mlir
    #sparse_attn.block_mask<block = [2, 2], num_k_blocks = 2,
        partial_offsets = [0, 1, 2], partial_indices = [0, 1],
        full_offsets = [0, 0, 1], full_indices = [0]>
    ```
  }];
  let parameters = (ins "int64_t":$block_q, "int64_t":$block_k,
                        "int64_t":$num_k_blocks,
                        ArrayRefParameter<"int32_t">:$partial_offsets,
                        ArrayRefParameter<"int32_t">:$partial_indices,
                        ArrayRefParameter<"int32_t">:$full_offsets,
                        ArrayRefParameter<"int32_t">:$full_indices);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getNumQBlocks() const { return getPartialOffsets().size() - 1; }
  }];
}

#endif // SPARSE_ATTN_ATTRS_TD
