//===- SparseAttnOps.td - sparse_attn operations -----------*- tablegen -*-===//
#ifndef SPARSE_ATTN_OPS_TD
#define SPARSE_ATTN_OPS_TD

include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnAttrs.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"
include "mlir/Interfaces/TilingInterface.td"
include "mlir/Dialect/Linalg/IR/LinalgInterfaces.td"
include "mlir/IR/BuiltinAttributes.td"

def SparseAttn_PatternAttrConstraint : Attr<
    CPred<"::llvm::isa<::mlir::sparse_attn::SparsityPatternAttrInterface>($_self)">,
    "sparsity pattern attribute"> {
  let storageType = "::mlir::sparse_attn::SparsityPatternAttrInterface";
  let returnType = "::mlir::sparse_attn::SparsityPatternAttrInterface";
  let convertFromStorage = "$_self";
}

def SparseAttn_AttentionOp : SparseAttn_Op<"attention", [
    Pure, AttrSizedOperandSegments, DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>,
    DeclareOpInterfaceMethods<TilingInterface,
        ["getLoopIteratorTypes", "getIterationDomain", "getTiledImplementation",
         "getResultTilePosition", "generateResultTileValue"]>,
    DeclareOpInterfaceMethods<PartialReductionOpInterface,
        ["generateInitialTensorForPartialReduction", "tileToPartialReduction",
         "mergeReductions", "getPartialResultTilePosition"]>]> {
  let summary = "scaled dot-product attention restricted by a sparsity pattern";
  let description = [{
    Operands: `query` `[B, Hq, Sq, D]`, `key` `[B, Hkv, Sk, D]`, `value`
    `[B, Hkv, Sk, Dv]`, ranked tensors of one element type among f32, f16 and
    bf16, static or dynamic dimensions, with `Hq % Hkv == 0` (grouped-query
    attention: query head `h` reads key/value head `h / (Hq / Hkv)`).

    Semantics, for every batch `b`, query head `h`, query position `i` and
    with `g = h / (Hq / Hkv)`, `A(i) = { j : pattern.allowed(b, h, i, j) }`:

    ```
    s_ij   = score_mod(scale * sum_d q[b,h,i,d] * k[b,g,j,d], b, h, i, j)
    m_i    = max_{j in A(i)} s_ij
    l_i    = sum_{j in A(i)} exp(s_ij - m_i)
    O[b,h,i,:] = sum_{j in A(i)} exp(s_ij - m_i) / l_i * v[b,g,j,:]
    LSE[b,h,i] = m_i + log(l_i)
    ```

    computed with f32 accumulation whatever the input type; `O` has the input
    element type and `LSE` is f32. A row whose `A(i)` is empty yields
    `O = 0` and `LSE = -inf`, never NaN. `scale` defaults to `1 / sqrt(D)`.
    `score_mod` is the identity unless the op names a `sparse_attn.score_mod`
    symbol (ALiBi, soft-capping, relative position bias, ...).

    Attributes:
    - `pattern`: any attribute implementing `SparsityPatternAttrInterface`.
    - `scale` (optional f32, finite).
    - `score_mod` (optional): a `sparse_attn.score_mod` symbol.
    - `block_mask` (optional): the tile classification attached by
      `sparse-attn-block-analysis`; its sizes must match the operands.

    Operands after `value`: `segments(%ids)` (`[B, S]`, integer, for Sq == Sk)
    or `segments(%qids, %kids)` (`[B, Sq]`, `[B, Sk]`), required exactly when
    the pattern contains `#sparse_attn.segments`.

    Runtime block tables (FlexAttention's `BlockMask` tensors, as they
    are): `block_tables(%kv_num_blocks, %kv_indices : ...)` and, optionally,
    `full_tables(%full_num_blocks, %full_indices : ...)`, with
    `table_block = array<i64: BQ, BK>`. `*_num_blocks` is `[B', H', Mq]`,
    `*_indices` `[B', H', Mq, N]`, i32; `B'` is 1 or B, `H'` is 1, Hkv or Hq
    (Hkv: one list per KV head, shared by the query heads of its group),
    `Mq = ceil(Sq / BQ)`. The key blocks listed for `(b', h', i)` are
    `indices[b', h', i, 0 : n]` of both tables, `n` = `num_blocks[b', h', i]`
    clamped to `[0, N]`; entries past the count, and indices outside
    `[0, ceil(Sk / BK))`, are ignored (never read out of bounds); a block
    listed twice counts once; query blocks past `Mq` (dynamic Sq) list
    nothing. With tables the pattern is restricted to the listed blocks:

    ```
    allowed(b, h, q, k) = pattern(b, h, q, k) and
                          k div BK is listed for (b', h', q div BQ)
    b' = b if B' = B else 0;  h' = h, h / (Hq / Hkv) or 0 for H' = Hq, Hkv, 1
    ```

    The full tables name the blocks a producer knows to be fully allowed;
    the kernels still evaluate the pattern on a listed tile unless its
    classification proves the tile full, so a wrong full list cannot give a
    wrong answer (with `#sparse_attn.dense` every listed tile is full).
    Tables exclude a `block_mask` attribute (they are its run-time form).

    Destination-passing style: `outs(%o_init)` or `outs(%o_init, %lse_init)`
    names one destination per result, of the result's type (`O`, then
    `LSE` when the op returns it). The results are the destinations
    overwritten entirely; their contents are never read, so
    `tensor.empty` is the usual destination.

    A tile of a larger attention: `tile_of(%Hq, %Sq, %Sk) at(%b0, %h0, %q0,
    %k0)` (index values, both or neither) says that the op computes part of
    a problem with `Hq` query heads and `Sq` x `Sk` positions:

    - the query holds the problem's batches `b0 + b`, query heads `h0 + h`
      and positions `q0 + i`; key and value hold the same batches, *all*
      `Hkv` key/value heads, and key positions `k0 + j`;
    - query head `h` of the tile reads key/value head
      `(h0 + h) / (Hq / Hkv)`;
    - the pattern and the score modification see the problem's positions
      `(b0 + b, h0 + h, q0 + i, k0 + j)` and lengths `Sq`, `Sk`, so
      positional patterns stay exact on every tile;
    - segment ids are the tile's own, one operand for the tile's queries and
      one for its keys (`segments(%qids, %kids)`);
    - the softmax runs over the tile's keys: with `k0 > 0` or fewer keys
      than `Sk` the results are partial (`sparse_attn.merge` combines them).

    The tile must lie inside the problem (`h0 + tile Hq <= Hq`, `q0 + tile
    Sq <= Sq`, `k0 + tile Sk <= Sk`, offsets >= 0): the verifier checks
    constant values, the CPU lowering checks the others at run time. Tiling
    (TilingInterface: batch, query heads and query rows are parallel loops)
    makes this form, composing the offsets of a tile of a tile. Keys are a
    reduction loop (PartialReductionOpInterface, e.g.
    `transform.structured.tile_reduction_using_for`): a key tile is a
    `sparse_attn.online_attention` step over the running softmax state,
    and the merge normalises the state into `O` and `LSE`. A tile
    carries no block tables and no `block_mask` (both describe the whole
    problem's tiles). The fused CPU lowering runs tiles; the reference
    lowering those with a constant problem `Hq` and head offset `h0`; the
    GPU lowering refuses them with a diagnostic.

    Results: `O` `[B, Hq, Sq, Dv]` and, optionally, `LSE` `[B, Hq, Sq]` f32.

    ```mlir
    %init = tensor.empty() : tensor<1x8x1024x64xf16>
    %o = sparse_attn.attention %q, %k, %v outs(%init : tensor<1x8x1024x64xf16>)
        {pattern = #sparse_attn.causal}
        : tensor<1x8x1024x64xf16>, tensor<1x2x1024x64xf16>, tensor<1x2x1024x64xf16>
        -> tensor<1x8x1024x64xf16>
    %linit = tensor.empty() : tensor<1x8x1024xf32>
    %o2, %lse = sparse_attn.attention %q, %k, %v segments(%ids : tensor<1x1024xi32>)
        outs(%init, %linit : tensor<1x8x1024x64xf16>, tensor<1x8x1024xf32>)
        {pattern = #sparse_attn.segments, scale = 0.125 : f32}
        : tensor<1x8x1024x64xf16>, tensor<1x2x1024x64xf16>, tensor<1x2x1024x64xf16>
        -> tensor<1x8x1024x64xf16>, tensor<1x8x1024xf32>
    // Rows q0 .. q0 + 127 of query heads 4 .. 5 (of 8) of a causal
    // attention over 1024 keys, as tiling makes it:
    %t = sparse_attn.attention %qt, %k, %v
        tile_of(%c8, %c1024, %c1024) at(%c0, %c4, %q0, %c0)
        outs(%ot : tensor<1x2x128x64xf16>) {pattern = #sparse_attn.causal}
        : tensor<1x2x128x64xf16>, tensor<1x2x1024x64xf16>, tensor<1x2x1024x64xf16>
        -> tensor<1x2x128x64xf16>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$query, AnyRankedTensor:$key,
                       AnyRankedTensor:$value,
                       Variadic<AnyRankedTensor>:$segment_ids,
                       Optional<AnyRankedTensor>:$kv_num_blocks,
                       Optional<AnyRankedTensor>:$kv_indices,
                       Optional<AnyRankedTensor>:$full_num_blocks,
                       Optional<AnyRankedTensor>:$full_indices,
                       Variadic<Index>:$problem_sizes,
                       Variadic<Index>:$offsets,
                       Variadic<AnyRankedTensor>:$inits,
                       SparseAttn_PatternAttrConstraint:$pattern,
                       OptionalAttr<F32Attr>:$scale,
                       OptionalAttr<FlatSymbolRefAttr>:$score_mod,
                       OptionalAttr<SparseAttn_BlockMaskAttr>:$block_mask,
                       OptionalAttr<DenseI64ArrayAttr>:$table_block);
  let results = (outs AnyRankedTensor:$output,
                      Optional<AnyRankedTensor>:$lse);
  let assemblyFormat = [{
    $query `,` $key `,` $value
    (`segments` `(` $segment_ids^ `:` type($segment_ids) `)`)?
    (`block_tables` `(` $kv_num_blocks^ `,` $kv_indices `:`
       type($kv_num_blocks) `,` type($kv_indices) `)`)?
    (`full_tables` `(` $full_num_blocks^ `,` $full_indices `:`
       type($full_num_blocks) `,` type($full_indices) `)`)?
    (`tile_of` `(` $problem_sizes^ `)` `at` `(` $offsets `)`)?
    `outs` `(` $inits `:` type($inits) `)`
    attr-dict `:` type($query) `,` type($key) `,` type($value)
    `->` type($output) (`,` type($lse)^)?
  }];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
  let extraClassDeclaration = [{
    /// The scale actually applied: the attribute, or 1/sqrt(D).
    /// Requires a static D when no attribute is present.
    std::optional<double> getEffectiveScale();
    /// The query-position segment ids (first segment operand), if any.
    ::mlir::Value getQuerySegmentIds();
    /// The key-position segment ids (second operand, or the first one).
    ::mlir::Value getKeySegmentIds();
    /// Whether the op has runtime block tables (block_tables(...)).
    bool hasBlockTables() { return static_cast<bool>(getKvNumBlocks()); }
    /// Whether the op is a tile of a larger attention (tile_of / at).
    bool isTile() { return !getOffsets().empty(); }
    /// The problem's query heads and sequence lengths (Hq, Sq, Sk) as
    /// constants where known: a tile's `tile_of` operands, the op's own
    /// sizes otherwise (ShapedType::kDynamic where not constant).
    std::array<int64_t, 3> getProblemShape();
    /// DestinationStyleOpInterface: the destinations.
    ::mlir::MutableOperandRange getDpsInitsMutable() { return getInitsMutable(); }
  private:
    ::llvm::LogicalResult verifyBlockTables(int64_t b, int64_t hq,
                                            int64_t hkv, int64_t sq);
    ::llvm::LogicalResult verifyTile(int64_t hq, int64_t hkv, int64_t sq,
                                     int64_t sk);
  public:
  }];
}

def SparseAttn_AttentionGradOp : SparseAttn_Op<"attention_grad", [Pure,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "gradients of sparse_attn.attention (the backward pass)";
  let description = [{
    The derivative of `sparse_attn.attention` with respect to its query,
    key and value. Operands: the forward's `query` `[B, Hq, Sq, D]`,
    `key` `[B, Hkv, Sk, D]`, `value` `[B, Hkv, Sk, Dv]` (one element type
    among f32, f16 and bf16), its results `output` `O` `[B, Hq, Sq, Dv]`
    (that element type) and `lse` `[B, Hq, Sq]` (f32), and the gradient of
    the loss with respect to the output, `grad_output` `dO` (shaped and
    typed as `O`). Optional parts as the forward has them, with the same
    meaning: `segments(%ids)` or `segments(%qids, %kids)`,
    `block_tables(%kv_num_blocks, %kv_indices)` and
    `full_tables(%full_num_blocks, %full_indices)` with `table_block`,
    `scale` and `score_mod`. Results: `dQ`, `dK`, `dV`, shaped and typed as
    `query`, `key` and `value`.

    Semantics: with `A(i)` the keys the pattern (and the tables) allow
    query `i` of `(b, h)`, `g = h / (Hq / Hkv)`, `t_ij = scale * q_i . k_j`
    and `s_ij = score_mod(t_ij, b, h, i, j)` as in the forward:

    ```
    P_ij   = exp(s_ij - LSE_i)                        (j in A(i), else 0)
    Delta_i = sum_e dO_i[e] * O_i[e]
    dV[b,g,j]  = sum_{h in group g} sum_i P_ij dO_i
    dP_ij      = dO_i . v_j
    dS_ij      = P_ij (dP_ij - Delta_i) * score_mod'(t_ij)
    dQ[b,h,i]  = scale * sum_j dS_ij k_j
    dK[b,g,j]  = scale * sum_{h in group g} sum_i dS_ij q_i
    ```

    which is the exact derivative of the forward's definition when `O` and
    `LSE` are the forward's results for the same operands (the kernels
    read them instead of recomputing the normalisation, as every
    attention backward does). Sums are f32 whatever the element type; the
    results are narrowed at the end. A row with no allowed key
    (`LSE = -inf`) contributes nothing; neither does a key whose modified
    score is `-inf`. `score_mod'` is the derivative of the `score_mod`
    region with respect to its score argument, generated by the compiler
    (`sparse-attn-differentiate-score-mods`): arith and math operations
    differentiate symbolically, a region with an operation that has no
    rule is refused with a diagnostic. Only the score is differentiated:
    constants of the region (ALiBi slopes, caps) are not parameters.
    Grouped-query attention sums `dK` and `dV` over the query heads of a
    group. The generic form lists the six operands, then segment ids and
    tables (told apart by rank: 2, then 3 and 4).

    ```mlir
    %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do
        {pattern = #sparse_attn.causal}
        : tensor<1x8x1024x64xbf16>, tensor<1x2x1024x64xbf16>,
          tensor<1x2x1024x64xbf16>, tensor<1x8x1024x64xbf16>,
          tensor<1x8x1024xf32>, tensor<1x8x1024x64xbf16>
        -> tensor<1x8x1024x64xbf16>, tensor<1x2x1024x64xbf16>,
           tensor<1x2x1024x64xbf16>
    %g:3 = "sparse_attn.attention_grad"(%q, %k, %v, %o, %lse, %do, %ids)
        {pattern = #sparse_attn.segments} : (...) -> (...)
    ```
  }];
  let arguments = (ins AnyRankedTensor:$query, AnyRankedTensor:$key,
                       AnyRankedTensor:$value, AnyRankedTensor:$output,
                       AnyRankedTensor:$lse, AnyRankedTensor:$grad_output,
                       Variadic<AnyRankedTensor>:$extras,
                       SparseAttn_PatternAttrConstraint:$pattern,
                       OptionalAttr<F32Attr>:$scale,
                       OptionalAttr<FlatSymbolRefAttr>:$score_mod,
                       OptionalAttr<DenseI64ArrayAttr>:$table_block);
  let results = (outs AnyRankedTensor:$grad_query, AnyRankedTensor:$grad_key,
                      AnyRankedTensor:$grad_value);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The scale actually applied: the attribute, or 1/sqrt(D).
    std::optional<double> getEffectiveScale();
    /// The extra operands by rank: segment ids (rank 2) first, then the
    /// block tables (counts rank 3, indices rank 4), kv then full.
    ::mlir::ValueRange getSegmentIds();
    ::mlir::Value getQuerySegmentIds();
    ::mlir::Value getKeySegmentIds();
    ::mlir::Value getKvNumBlocks() { return tableOperand(0); }
    ::mlir::Value getKvIndices() { return tableOperand(1); }
    ::mlir::Value getFullNumBlocks() { return tableOperand(2); }
    ::mlir::Value getFullIndices() { return tableOperand(3); }
    bool hasBlockTables() { return static_cast<bool>(getKvNumBlocks()); }
  private:
    ::mlir::Value tableOperand(unsigned i);
  public:
  }];
}

def SparseAttn_OnlineAttentionOp : SparseAttn_Op<"online_attention", [
    Pure, AttrSizedOperandSegments, DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>,
    DeclareOpInterfaceMethods<AggregatedOpInterface, ["decomposeOperation"]>]> {
  let summary = "one step of attention's online softmax over a tile of keys";
  let description = [{
    The tile-level form of `sparse_attn.attention`: it folds the keys of
    its key operands into a running softmax state instead of producing the
    normalised output, so attention over a key range is a chain of steps
    over its key tiles (split-KV, KV caches in pages, tiling the keys as a
    reduction). Operands and attributes are those of
    `sparse_attn.attention` (query, key, value, segment ids, `tile_of` /
    `at`, `pattern`, `scale`, `score_mod`, with the same semantics); the
    destinations are the state, read and updated:
    `outs(%acc, %max, %sum)`, f32 tensors `[B, Hq, Sq, Dv]`, `[B, Hq, Sq]`,
    `[B, Hq, Sq]`. For every row `(b, h, i)` with `A` the keys of this step
    the pattern allows and `s_ij` the (scaled, modified) score:

    ```
    m'   = max(m, max_{j in A} s_ij)
    if m' = -inf: acc, m, l unchanged       (nothing attended yet)
    else:
      alpha = exp(m - m')                    (0 when m = -inf)
      p_ij  = exp(s_ij - m')                 (keys with s_ij = -inf: none)
      l'    = alpha l + sum_{j in A} p_ij
      acc'  = alpha acc + sum_{j in A} p_ij v_j
    ```

    Starting from `acc = 0`, `m = -inf`, `l = 0`, the steps over disjoint
    key ranges give attention over their union:
    `O = acc / l` (0 when `l = 0`), `LSE = m + log(l)` (-inf when `l = 0`),
    which is how the reference lowering computes `sparse_attn.attention`.
    Keys that do not contribute are selected out, never multiplied by a
    weight of 0 (a NaN they hold does not reach the row); a NaN score of an
    attended key propagates.

    `decomposeOperation` (`AggregatedOpInterface`, so
    `transform.structured.decompose_interface` and
    `convert-sparse-attn-to-linalg`) rewrites the op into `linalg.generic`s
    on tensors: scores, mask, row maximum, exponentials, row sum, P V and
    the state update. It needs static head counts and, for a tile, a
    constant head offset `h0` (the grouped-query head map is an affine map
    of the loop indices).

    ```mlir
    %acc1, %m1, %l1 = sparse_attn.online_attention %q, %k1, %v1
        outs(%acc0, %m0, %l0 : tensor<1x8x128x64xf32>, tensor<1x8x128xf32>,
                               tensor<1x8x128xf32>)
        {pattern = #sparse_attn.causal}
        : tensor<1x8x128x64xf16>, tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>
        -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>, tensor<1x8x128xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$query, AnyRankedTensor:$key,
                       AnyRankedTensor:$value,
                       Variadic<AnyRankedTensor>:$segment_ids,
                       Variadic<Index>:$problem_sizes,
                       Variadic<Index>:$offsets,
                       AnyRankedTensor:$acc, AnyRankedTensor:$max,
                       AnyRankedTensor:$sum,
                       SparseAttn_PatternAttrConstraint:$pattern,
                       OptionalAttr<F32Attr>:$scale,
                       OptionalAttr<FlatSymbolRefAttr>:$score_mod);
  let results = (outs AnyRankedTensor:$acc_out, AnyRankedTensor:$max_out,
                      AnyRankedTensor:$sum_out);
  let assemblyFormat = [{
    $query `,` $key `,` $value
    (`segments` `(` $segment_ids^ `:` type($segment_ids) `)`)?
    (`tile_of` `(` $problem_sizes^ `)` `at` `(` $offsets `)`)?
    `outs` `(` $acc `,` $max `,` $sum `:` type($acc) `,` type($max) `,` type($sum) `)`
    attr-dict `:` type($query) `,` type($key) `,` type($value)
    `->` type($acc_out) `,` type($max_out) `,` type($sum_out)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The query-position segment ids (first segment operand), if any.
    ::mlir::Value getQuerySegmentIds() {
      return getSegmentIds().empty() ? ::mlir::Value() : getSegmentIds().front();
    }
    /// The key-position segment ids (second operand, or the first one).
    ::mlir::Value getKeySegmentIds() {
      return getSegmentIds().empty() ? ::mlir::Value() : getSegmentIds().back();
    }
    bool isTile() { return !getOffsets().empty(); }
    /// DestinationStyleOpInterface: the state (acc, max, sum).
    ::mlir::MutableOperandRange getDpsInitsMutable() {
      return ::mlir::MutableOperandRange(getOperation(),
          getOperation()->getNumOperands() - 3, 3);
    }
  }];
}

def SparseAttn_MergeOp : SparseAttn_Op<"merge", [Pure,
    AllTypesMatch<["output_a", "output_b", "output"]>,
    AllTypesMatch<["lse_a", "lse_b", "lse"]>]> {
  let summary = "exact log-sum-exp combination of two partial attentions";
  let description = [{
    Combines the results of attention over two disjoint key sets into the
    result over their union (split-KV, a KV cache in pages, hierarchical
    branches): with `(O_a, LSE_a)` over keys `A` and `(O_b, LSE_b)` over
    keys `B`, `A` and `B` disjoint, for every `(b, h, i)`:

    ```
    m     = max(LSE_a, LSE_b)
    w_a   = exp(LSE_a - m),  w_b = exp(LSE_b - m)        (exp(-inf) = 0)
    O     = (w_a * O_a + w_b * O_b) / (w_a + w_b)
    LSE   = m + log(w_a + w_b)
    ```

    is exactly `sparse_attn.attention` over `A u B` (up to rounding; the
    sums are f32). A row empty on both sides (`LSE_a = LSE_b = -inf`) gives
    `O = 0`, `LSE = -inf`, as an empty row of `sparse_attn.attention` does;
    a row empty on one side takes the other side's values. NaN inputs
    propagate. `+inf` is not a log-sum-exp attention produces; it gives NaN.

    Operands and results: `O` `[B, H, S, Dv]` of f32, f16 or bf16 (all three
    of one type), `LSE` `[B, H, S]` f32 (all three of one type).

    ```mlir
    %o, %lse = sparse_attn.merge %o1, %lse1, %o2, %lse2
        : tensor<1x8x1024x64xbf16>, tensor<1x8x1024xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$output_a, AnyRankedTensor:$lse_a,
                       AnyRankedTensor:$output_b, AnyRankedTensor:$lse_b);
  let results = (outs AnyRankedTensor:$output, AnyRankedTensor:$lse);
  let assemblyFormat = [{
    $output_a `,` $lse_a `,` $output_b `,` $lse_b attr-dict `:`
    type($output_a) `,` type($lse_a)
  }];
  let hasVerifier = 1;
}

def SparseAttn_PoolOp : SparseAttn_Op<"pool", [Pure]> {
  let summary = "mean or max of rows over blocks of a sequence (routing)";
  let description = [{
    Pools the rows of `input` `[B, H, S, D]` over blocks of `block` rows
    taken every `stride` rows (default `stride = block`: disjoint blocks,
    MoBA's and the selection's pooled keys; `stride < block`: NSA's
    overlapping compression blocks). Block `i` covers the rows

    ```
    R(i) = [i * stride, min(i * stride + block, S))
    N    = 0 if S = 0;  1 if S <= block;  ceil((S - block) / stride) + 1
    ```

    the fewest blocks whose union covers every row (the last one may be
    partial and pools over its own rows). For every `(b, h, i, d)`:

    ```
    mean: out[b, h, i, d] = (sum_{r in R(i)} in[b, h, r, d]) / |R(i)|
    max:  out[b, h, i, d] =  max_{r in R(i)} in[b, h, r, d]
    ```

    The sum and the maximum are taken in f32 in increasing row order
    (NaN propagates through both) and rounded once to the result's element
    type, which is the input's or f32. `1 <= stride <= block` (a larger
    stride would skip rows).

    ```mlir
    // MoBA / selection: the mean key of every 128-key block.
    %kp = sparse_attn.pool %k {kind = "mean", block = 128}
        : tensor<1x2x4096x64xbf16> -> tensor<1x2x32x64xbf16>
    // NSA compression: blocks of 32 keys every 16 keys.
    %kc = sparse_attn.pool %k {kind = "mean", block = 32, stride = 16}
        : tensor<1x2x4096x64xbf16> -> tensor<1x2x255x64xbf16>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, StrAttr:$kind,
                       I64Attr:$block, OptionalAttr<I64Attr>:$stride);
  let results = (outs AnyRankedTensor:$output);
  let assemblyFormat = [{
    $input attr-dict `:` type($input) `->` type($output)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The stride attribute, or `block`.
    int64_t getEffectiveStride() {
      return static_cast<int64_t>(getStride() ? *getStride() : getBlock());
    }
    /// The number of blocks of a sequence of `s` rows (the formula above).
    static int64_t numBlocks(int64_t s, int64_t block, int64_t stride);
  }];
}

def SparseAttn_SelectBlocksOp : SparseAttn_Op<"select_blocks", [Pure,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>,
    AllTypesMatch<["kv_num_blocks", "full_num_blocks"]>,
    AllTypesMatch<["kv_indices", "full_indices"]>]> {
  let summary = "top-k key blocks per query block, as runtime block tables";
  let description = [{
    Learned block routing (MoBA, NSA's selection branch, SeerAttention):
    chooses, for every query block, the key blocks with the highest gate
    scores, and returns them as the runtime block tables that
    `sparse_attn.attention` takes (`block_tables(...)`,
    `full_tables(...)` with the same `table_block`).

    Operands: `query` `[B, Hq, Sq, D]`, `pooled_keys` `[B, Hkv, Nk, D]`
    (one row per key block of `BK` keys, e.g. from `sparse_attn.pool`),
    f32, f16 or bf16, `Hq % Hkv == 0`, and optionally
    `key_length(%sk)`, the keys' sequence length `Sk` (default
    `Nk * BK`); `Nk` must be `ceil(Sk / BK)`. `table_block = array<i64:
    BQ, BK>`; `Mq = ceil(Sq / BQ)`. `BQ = 1` selects per query token.

    Results: `kv_num_blocks` `[B, H', Mq]`, `kv_indices` `[B, H', Mq,
    N]`, `full_num_blocks`, `full_indices` (the same types), i32, with
    `H' = Hq` (a selection per query head) or `H' = Hkv` (one per KV head,
    shared by its group of query heads, as NSA does).

    Semantics, for every `(b, h', i)` (query block `i`, rows `Q(i) = [i
    BQ, min((i + 1) BQ, Sq))`; `G(h')` the query heads `{h'}` for `H' =
    Hq`, the `Hq / Hkv` heads of KV head `h'` for `H' = Hkv`; `g` the KV
    head):

    1. Candidates: the key blocks `j` (keys `[j BK, min((j + 1) BK,
       Sk))`) whose tile `Q(i) x keys(j)` holds an allowed pair of
       `pattern` (a static pattern at block level, e.g. causal: no block
       after the query block's diagonal). Its tile class (full or
       partial) decides the table the block goes to.
    2. Scores (f32 accumulation): `s_j = sum_{h in G(h')} qbar_h .
       pooled_keys[b, g, j]` with `qbar_h = mean_{r in Q(i)} query[b, h,
       r]`. A NaN score counts as -inf.
    3. Forced blocks: the candidates `j < sink` (attention sinks) and the
       `local` highest-indexed candidates (the query block's own block and
       the ones before it under a causal pattern).
    4. Selected: the forced blocks and the `top_k` highest-scoring other
       candidates, ties to the lower block index (fewer when there are
       fewer candidates).
    5. Output: the selected blocks in increasing order, the partially
       allowed ones in `kv_indices[b, h', i, 0 : n]` with `n` in
       `kv_num_blocks[b, h', i]`, the fully allowed ones likewise in
       `full_*`; entries past a count are 0. `N >= min(top_k + sink +
       local, Nk)`.

    A reference evaluating the scores in higher precision selects the same
    blocks unless two scores are within f32 rounding of each other.
    The pattern must not read segment ids; the CPU lowering classifies the
    block grid at compile time (static `Sq`, constant `Sk`).

    ```mlir
    // MoBA: per query block of 64 rows, top-3 of the 128-key blocks by
    // mean-query . mean-key, plus the diagonal block, causal.
    %kp = sparse_attn.pool %k {kind = "mean", block = 128}
        : tensor<1x2x4096x64xbf16> -> tensor<1x2x32x64xbf16>
    %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp
        {pattern = #sparse_attn.causal, top_k = 3, local = 1,
         table_block = array<i64: 64, 128>}
        : tensor<1x8x4096x64xbf16>, tensor<1x2x32x64xbf16>
        -> tensor<1x2x64xi32>, tensor<1x2x64x4xi32>,
           tensor<1x2x64xi32>, tensor<1x2x64x4xi32>
    %o = sparse_attn.attention %q, %k, %v
        block_tables(%n, %x : tensor<1x2x64xi32>, tensor<1x2x64x4xi32>)
        full_tables(%fn, %fx : tensor<1x2x64xi32>, tensor<1x2x64x4xi32>)
        outs(%init : tensor<1x8x4096x64xbf16>)
        {pattern = #sparse_attn.causal, table_block = array<i64: 64, 128>}
        : tensor<1x8x4096x64xbf16>, tensor<1x2x4096x64xbf16>,
          tensor<1x2x4096x64xbf16> -> tensor<1x8x4096x64xbf16>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$query, AnyRankedTensor:$pooled_keys,
                       Optional<Index>:$key_length,
                       SparseAttn_PatternAttrConstraint:$pattern,
                       I64Attr:$top_k,
                       DefaultValuedAttr<I64Attr, "0">:$sink,
                       DefaultValuedAttr<I64Attr, "0">:$local,
                       DenseI64ArrayAttr:$table_block);
  let results = (outs AnyRankedTensor:$kv_num_blocks,
                      AnyRankedTensor:$kv_indices,
                      AnyRankedTensor:$full_num_blocks,
                      AnyRankedTensor:$full_indices);
  let assemblyFormat = [{
    $query `,` $pooled_keys (`key_length` `(` $key_length^ `)`)?
    attr-dict `:` type($query) `,` type($pooled_keys) `->`
    type($kv_num_blocks) `,` type($kv_indices) `,` type($full_num_blocks)
    `,` type($full_indices)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getBlockQ() { return getTableBlock().front(); }
    int64_t getBlockK() { return getTableBlock().back(); }
    /// Whether the tables are per KV head (H' = Hkv < Hq).
    bool isPerKVHead();
    /// Sk: the key_length operand's constant value, Nk * BK without it,
    /// nullopt when dynamic.
    std::optional<int64_t> getStaticKeyLength();
  }];
}

def SparseAttn_SelectTokensOp : SparseAttn_Op<"select_tokens", [Pure,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "top-k keys per query token by a lightning-indexer score";
  let description = [{
    Token-level learned routing (DeepSeek sparse attention): every query
    token chooses the `top_k` keys with the highest indexer score, one list
    shared by all heads, returned as runtime block tables of single tokens
    (`table_block = array<i64: 1, 1>` on the `sparse_attn.attention` that
    reads them).

    Operands: the indexer's queries `index_query` `[B, Sq, HI, DI]`, keys
    `index_keys` `[B, Sk, DI]` and head weights `weights` `[B, Sq, HI]`,
    f32, f16 or bf16. The score of key `s` for query `t` (f32 accumulation):

    ```
    I(b, t, s) = sum_{j < HI} weights[b, t, j] *
                 max(0, sum_d index_query[b, t, j, d] * index_keys[b, s, d])
    ```

    a NaN score counting as -inf. Candidates: the keys `s` that the static
    `pattern` allows for query `t` (causal: `s <= t`). Selected: the `top_k`
    candidates with the highest scores, ties to the lower key index (all
    candidates when there are fewer).

    Results: `num` `[B, 1, Sq]` i32 (the count) and `indices` `[B, 1, Sq,
    N]` i32, the selected keys in increasing order, zeros after the count;
    `N >= min(top_k, Sk)`. With `block_tables(%num, %indices)` and
    `table_block = array<i64: 1, 1>` (the list is shared by every head:
    `H' = 1`), attention runs over exactly the selected keys.

    The pattern must not read segment ids, nor (for the lowerings) depend on
    batch or head.

    ```mlir
    %n, %x = sparse_attn.select_tokens %iq, %ik, %w
        {pattern = #sparse_attn.causal, top_k = 64}
        : tensor<1x512x2x32xbf16>, tensor<1x512x32xbf16>, tensor<1x512x2xbf16>
        -> tensor<1x1x512xi32>, tensor<1x1x512x64xi32>
    %o = sparse_attn.attention %q, %k, %v
        block_tables(%n, %x : tensor<1x1x512xi32>, tensor<1x1x512x64xi32>)
        outs(%init : tensor<1x4x512x64xbf16>)
        {pattern = #sparse_attn.causal, table_block = array<i64: 1, 1>}
        : tensor<1x4x512x64xbf16>, tensor<1x1x512x64xbf16>,
          tensor<1x1x512x64xbf16> -> tensor<1x4x512x64xbf16>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$index_query, AnyRankedTensor:$index_keys,
                       AnyRankedTensor:$weights,
                       SparseAttn_PatternAttrConstraint:$pattern,
                       I64Attr:$top_k);
  let results = (outs AnyRankedTensor:$num, AnyRankedTensor:$indices);
  let assemblyFormat = [{
    $index_query `,` $index_keys `,` $weights attr-dict `:`
    type($index_query) `,` type($index_keys) `,` type($weights) `->`
    type($num) `,` type($indices)
  }];
  let hasVerifier = 1;
}

def SparseAttn_MaskOp : SparseAttn_Op<"mask", [
    Symbol, IsolatedFromAbove, SingleBlock]> {
  let summary = "a user-authored mask: (b, h, q, k) -> i1";
  let description = [{
    A symbol whose single-block region computes whether query position `q`
    of batch `b` and query head `h` may attend to key position `k`. The
    block arguments are `(b, h, q, k)`, or `(b, h, q, k, sq, sk)` where `sq`
    and `sk` are the problem's sequence lengths (run-time values with
    dynamic sizes; refused on a tile whose `tile_of` lengths are not
    constants); all are `index` values. Positions are the problem's (a
    tile sees its problem's positions). The region ends with
    `sparse_attn.yield %allowed : i1`. The body may use `arith`, `math` and
    `index` operations without side effects. Integer division and remainder
    need a non-zero constant divisor (not -1 when signed), shifts a constant
    amount below the bit width (both regions; the region runs on every
    pair, and these are undefined otherwise). Referenced from a pattern as
    `#sparse_attn.custom<@name>`, composable with every other pattern.

    Tiles are classified at compile time by abstract interpretation of the
    region (intervals and affine forms; exact for orderings of affine
    expressions), halving undecided tiles and evaluating the rest with a
    compiled, vectorised evaluator; regions outside the integer subset are
    interpreted (`docs/patterns.md`, "How regions are classified").

    ```mlir
    // Queries see keys at an even distance only.
    sparse_attn.mask @even(%b: index, %h: index, %q: index, %k: index) {
      %d = arith.subi %q, %k : index
      %c2 = arith.constant 2 : index
      %r = arith.remsi %d, %c2 : index
      %c0 = arith.constant 0 : index
      %ok = arith.cmpi eq, %r, %c0 : index
      sparse_attn.yield %ok : i1
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name);
  let regions = (region SizedRegion<1>:$body);
  let hasCustomAssemblyFormat = 1;
  let hasRegionVerifier = 1;
}

def SparseAttn_ScoreModOp : SparseAttn_Op<"score_mod", [
    Symbol, IsolatedFromAbove, SingleBlock]> {
  let summary = "a user-authored score modification: (s, b, h, q, k) -> s'";
  let description = [{
    A symbol whose single-block region rewrites a scaled score before the
    softmax: block arguments `(%s: f32, %b: index, %h: index, %q: index,
    %k: index)`, optionally followed by the problem's lengths `(%sq: index,
    %sk: index)` (as for `sparse_attn.mask`), terminated by
    `sparse_attn.yield %s2 : f32`. Lowerings apply it on vectors of rows
    (CPU; math functions as polynomial approximations) or in registers
    (GPU; `math.tanh` as `tanh.approx.f32`). Named by the
    `score_mod` attribute of `sparse_attn.attention`. It applies to allowed
    pairs only; it cannot re-allow a masked pair.

    ```mlir
    // ALiBi with slope 2^-(h+1): s - slope * |q - k|.
    sparse_attn.score_mod @alibi(%s: f32, %b: index, %h: index, %q: index, %k: index) {
      %d = arith.subi %q, %k : index
      ...
      sparse_attn.yield %r : f32
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name);
  let regions = (region SizedRegion<1>:$body);
  let hasCustomAssemblyFormat = 1;
  let hasRegionVerifier = 1;
}

def SparseAttn_YieldOp : SparseAttn_Op<"yield", [
    Pure, Terminator, ParentOneOf<["MaskOp", "ScoreModOp"]>]> {
  let summary = "returns the value of a mask or score-modification region";
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "attr-dict ($values^ `:` type($values))?";
}

#endif // SPARSE_ATTN_OPS_TD
