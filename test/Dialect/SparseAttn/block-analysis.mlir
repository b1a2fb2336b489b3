// RUN: sparse-attn-opt %s --sparse-attn-block-analysis="block-q=4 block-k=4" --split-input-file --verify-diagnostics | FileCheck %s

!t = tensor<1x2x10x8xf32>

// Causal on 10 x 10 with 4 x 4 tiles (the last row/column of tiles is 2 wide):
//   P..
//   FP.
//   FFP
// CHECK-LABEL: @causal
// CHECK: block_mask = #sparse_attn.block_mask<block = [4, 4], num_k_blocks = 3, partial_offsets = [0, 1, 2, 3], partial_indices = [0, 1, 2], full_offsets = [0, 0, 1, 3], full_indices = [0, 0, 1]>
func.func @causal(%q: !t) -> !t {
  %init0 = tensor.empty() : !t
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : !t) {pattern = #sparse_attn.causal} : !t, !t, !t -> !t
  return %o : !t
}

// -----
!q = tensor<1x1x8x8xf32>
!kv = tensor<1x1x12x8xf32>
// Sq != Sk, window<before = 1, after = 4>: q - 1 <= k <= q + 4.
//   PP.
//   PPP
// CHECK-LABEL: @window
// CHECK: block_mask = #sparse_attn.block_mask<block = [4, 4], num_k_blocks = 3, partial_offsets = [0, 2, 5], partial_indices = [0, 1, 0, 1, 2], full_offsets = [0, 0, 0], full_indices = []>
func.func @window(%q: !q, %kv: !kv) -> !q {
  %init1 = tensor.empty() : !q
  %o = sparse_attn.attention %q, %kv, %kv outs(%init1 : !q) {pattern = #sparse_attn.window<before = 1, after = 4>} : !q, !kv, !kv -> !q
  return %o : !q
}

// -----
!t = tensor<1x1x8x8xf32>
// Segments are only known at run time: every tile of the component is partial,
// but composition still prunes (here with causal).
// CHECK-LABEL: @segments
// CHECK: block_mask = #sparse_attn.block_mask<block = [4, 4], num_k_blocks = 2, partial_offsets = [0, 1, 3], partial_indices = [0, 0, 1], full_offsets = [0, 0, 0], full_indices = []>
func.func @segments(%q: !t, %s: tensor<1x8xi32>) -> !t {
  %init2 = tensor.empty() : !t
  %o = sparse_attn.attention %q, %q, %q segments(%s : tensor<1x8xi32>) outs(%init2 : !t) {pattern = #sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>} : !t, !t, !t -> !t
  return %o : !t
}

// -----
!t = tensor<1x2x8x8xf32>
// A custom mask that reads the head index is classified for every head and
// merged: head 0 allows everything, head 1 only k <= q.
//   F.   (head 0: FF, head 1: P.) -> P P ; row 1: F F / F P -> F P
// CHECK-LABEL: @per_head
// CHECK: block_mask = #sparse_attn.block_mask<block = [4, 4], num_k_blocks = 2, partial_offsets = [0, 2, 3], partial_indices = [0, 1, 1], full_offsets = [0, 0, 1], full_indices = [0]>
sparse_attn.mask @head_causal(%b: index, %h: index, %q: index, %k: index) {
  %c0 = arith.constant 0 : index
  %first = arith.cmpi eq, %h, %c0 : index
  %le = arith.cmpi sle, %k, %q : index
  %ok = arith.ori %first, %le : i1
  sparse_attn.yield %ok : i1
}
func.func @per_head(%q: !t) -> !t {
  %init3 = tensor.empty() : !t
  %o = sparse_attn.attention %q, %q, %q outs(%init3 : !t) {pattern = #sparse_attn.custom<@head_causal>} : !t, !t, !t -> !t
  return %o : !t
}

// -----
// Dynamic sequence lengths are left for the lowering to classify at run time.
// CHECK-LABEL: @dynamic
// CHECK-NOT: block_mask
func.func @dynamic(%q: tensor<1x1x?x8xf32>) -> tensor<1x1x?x8xf32> {
  %dc4_0_2 = arith.constant 2 : index
  %dd4_0_2 = tensor.dim %q, %dc4_0_2 : tensor<1x1x?x8xf32>
  %init4 = tensor.empty(%dd4_0_2) : tensor<1x1x?x8xf32>
  %o = sparse_attn.attention %q, %q, %q outs(%init4 : tensor<1x1x?x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32> -> tensor<1x1x?x8xf32>
  return %o : tensor<1x1x?x8xf32>
}

// -----
sparse_attn.mask @head_causal(%b: index, %h: index, %q: index, %k: index) {
  %c0 = arith.constant 0 : index
  %ok = arith.cmpi eq, %h, %c0 : index
  sparse_attn.yield %ok : i1
}
// A custom mask that reads the head, with dynamic heads: left for the
// lowering to classify at run time.
// CHECK-LABEL: @dynamic_heads
// CHECK-NOT: block_mask
func.func @dynamic_heads(%q: tensor<1x?x8x8xf32>) -> tensor<1x?x8x8xf32> {
  %dc5_0_1 = arith.constant 1 : index
  %dd5_0_1 = tensor.dim %q, %dc5_0_1 : tensor<1x?x8x8xf32>
  %init5 = tensor.empty(%dd5_0_1) : tensor<1x?x8x8xf32>
  %o = sparse_attn.attention %q, %q, %q outs(%init5 : tensor<1x?x8x8xf32>) {pattern = #sparse_attn.custom<@head_causal>} : tensor<1x?x8x8xf32>, tensor<1x?x8x8xf32>, tensor<1x?x8x8xf32> -> tensor<1x?x8x8xf32>
  return %o : tensor<1x?x8x8xf32>
}

// -----
// An operation the interpreter has no rule for (and that does not fold).
// (Division by zero, this test's case before, is now a verifier error.)
sparse_attn.mask @bad(%b: index, %h: index, %q: index, %k: index) {
  %i = arith.index_cast %q : index to i64
  %f = arith.sitofp %i : i64 to f32
  // expected-error @+1 {{cannot evaluate this operation of custom mask @bad at (b, h, q, k) = (0, 0, 0, 0)}}
  %r = math.cbrt %f : f32
  %z = arith.constant 0.5 : f32
  %ok = arith.cmpf ogt, %r, %z : f32
  sparse_attn.yield %ok : i1
}
func.func @unsupported_op(%q: tensor<1x1x8x8xf32>) -> tensor<1x1x8x8xf32> {
  %init6 = tensor.empty() : tensor<1x1x8x8xf32>
  %o = sparse_attn.attention %q, %q, %q outs(%init6 : tensor<1x1x8x8xf32>) {pattern = #sparse_attn.custom<@bad>} : tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32> -> tensor<1x1x8x8xf32>
  return %o : tensor<1x1x8x8xf32>
}

// -----
// A mask that reads h with B x Hq beyond 65536 (issue 13, defect 8: H = 2^31
// classified for minutes): left unclassified with a warning.
sparse_attn.mask @by_head(%b: index, %h: index, %q: index, %k: index) {
  %c2 = arith.constant 2 : index
  %r = arith.remui %h, %c2 : index
  %c0 = arith.constant 0 : index
  %even = arith.cmpi eq, %r, %c0 : index
  %le = arith.cmpi ule, %k, %q : index
  %ok = arith.ori %even, %le : i1
  sparse_attn.yield %ok : i1
}
// CHECK-LABEL: @many_heads
// CHECK-NOT: block_mask
func.func @many_heads(%q: tensor<1x2147483648x8x8xf32>, %k: tensor<1x1x8x8xf32>) -> tensor<1x2147483648x8x8xf32> {
  %init7 = tensor.empty() : tensor<1x2147483648x8x8xf32>
  // expected-warning @+1 {{custom mask reads the batch or head index: B x Hq = 1 x 2147483648 classifications exceed 65536; tiles are left unclassified (all partial)}}
  %o = sparse_attn.attention %q, %k, %k outs(%init7 : tensor<1x2147483648x8x8xf32>) {pattern = #sparse_attn.custom<@by_head>} : tensor<1x2147483648x8x8xf32>, tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32> -> tensor<1x2147483648x8x8xf32>
  return %o : tensor<1x2147483648x8x8xf32>
}

// -----
// Sq = Sk = 2^31 with 4 x 4 tiles: refused (issue 13, defect 4).
func.func @huge_seq(%q: tensor<1x1x2147483648x8xf32>) -> tensor<1x1x2147483648x8xf32> {
  %init8 = tensor.empty() : tensor<1x1x2147483648x8xf32>
  // expected-error @+1 {{block analysis with 4x4 tiles of a 2147483648x2147483648 score matrix needs more than 2147483648 tiles}}
  %o = sparse_attn.attention %q, %q, %q outs(%init8 : tensor<1x1x2147483648x8xf32>) {pattern = #sparse_attn.causal} : tensor<1x1x2147483648x8xf32>, tensor<1x1x2147483648x8xf32>, tensor<1x1x2147483648x8xf32> -> tensor<1x1x2147483648x8xf32>
  return %o : tensor<1x1x2147483648x8xf32>
}
