// RUN: sparse-attn-opt %s --sparse-attn-block-analysis="block-q=4 block-k=4" --convert-sparse-attn-to-loops --split-input-file | FileCheck %s

// Causal, 10 x 10, 4 x 4 tiles: the block tables become constant globals; an
// scf.parallel runs over (batch, head, query block), each iteration with its
// own scratch buffers; full key blocks run without the mask, partial ones
// with it; nothing of size S x S is created.
// CHECK-DAG: memref.global "private" constant @__sparse_attn_partial_offsets : memref<4xi32> = dense<[0, 1, 2, 3]>
// CHECK-DAG: memref.global "private" constant @__sparse_attn_partial_indices : memref<3xi32> = dense<[0, 1, 2]>
// CHECK-DAG: memref.global "private" constant @__sparse_attn_full_offsets : memref<4xi32> = dense<[0, 0, 1, 3]>
// CHECK-DAG: memref.global "private" constant @__sparse_attn_full_indices : memref<3xi32> = dense<[0, 0, 1]>
// CHECK-LABEL: func.func @causal
// CHECK-NOT: memref<1x2x10x10
// CHECK: %[[Q:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<1x2x10x8xf16> to memref<1x2x10x8xf16>
// CHECK: %[[OUT:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1x2x10x8xf16>
// CHECK: scf.parallel (%[[B:.*]], %[[H:.*]], %[[QB:.*]]) =
// Scratch of one query block (rows padded to the vector width 16): the
// accumulators, m, l, the transposed query block and the tile's scores.
// CHECK:   memref.alloc() {alignment = 64 : i64} : memref<16x8xf32>
// CHECK:   %[[QT:.*]] = memref.alloc() {alignment = 64 : i64} : memref<8x16xf32>
// CHECK:   %[[ST:.*]] = memref.alloc() {alignment = 64 : i64} : memref<4x16xf32>
// The query block is transposed once: qT[d][r].
// CHECK:   vector.load %[[Q]]{{.*}} : memref<1x2x10x8xf16>, vector<8xf16>
// CHECK:   vector.extract
// Full blocks (from the table): a column of 16 scores is D vector FMAs, with
// no element-wise masking.
// CHECK:   memref.load %{{.*}}[%[[QB]]] : memref<4xi32>
// CHECK:   scf.for
// CHECK:     scf.for {{.*}} -> (vector<16xf32>)
// CHECK:       scf.for {{.*}} -> (vector<16xf32>)
// CHECK:         vector.load %[[QT]]
// CHECK:         vector.fma {{.*}} : vector<16xf32>
// CHECK-NOT:     arith.cmpi
// CHECK:       vector.store %{{.*}}, %[[ST]]
// Online softmax on vectors over the rows: new maximum, exp, sums.
// CHECK:     arith.cmpf oeq, %{{.*}} : vector<16xf32>
// exp of the non-positive arguments (alpha, then each probability column):
// 2^roundeven(t) built in the exponent bits times a polynomial.
// CHECK:     math.roundeven %{{.*}} : vector<16xf32>
// CHECK:     arith.shli {{.*}} : vector<16xi32>
// CHECK:     math.roundeven %{{.*}} : vector<16xf32>
// CHECK:     arith.shli {{.*}} : vector<16xi32>
// P V per row.
// CHECK:     vector.fma {{.*}} : vector<8xf32>
// Partial blocks: the causal predicate k <= q selects -inf element-wise.
// CHECK:   scf.for
// CHECK:     vector.fma {{.*}} : vector<16xf32>
// CHECK:     vector.store %{{.*}}, %[[ST]]
// CHECK:     scf.for
// CHECK:       %[[LE:.*]] = arith.cmpi sle
// CHECK:       arith.select %[[LE]], %{{.*}}, %cst
// Normalisation: 1 / l, or 0 for rows with no allowed key.
// CHECK:   arith.cmpf oeq
// CHECK:   arith.divf
// CHECK:   arith.truncf %{{.*}} : vector<8xf32> to vector<8xf16>
// CHECK:   vector.store %{{.*}}, %[[OUT]]
// CHECK: bufferization.to_tensor %[[OUT]] restrict writable
func.func @causal(%q: tensor<1x2x10x8xf16>, %kv: tensor<1x1x10x8xf16>) -> tensor<1x2x10x8xf16> {
  %init0 = tensor.empty() : tensor<1x2x10x8xf16>
  %o = sparse_attn.attention %q, %kv, %kv outs(%init0 : tensor<1x2x10x8xf16>) {pattern = #sparse_attn.causal} : tensor<1x2x10x8xf16>, tensor<1x1x10x8xf16>, tensor<1x1x10x8xf16> -> tensor<1x2x10x8xf16>
  return %o : tensor<1x2x10x8xf16>
}

// -----

// Dynamic sequence lengths: no tables, every key block is visited with the
// mask; the segment ids are read per position; LSE is written.
// CHECK-LABEL: func.func @dynamic_segments
// CHECK-NOT: memref.get_global
// CHECK: arith.ceildivui
// CHECK: %[[NK:.*]] = arith.ceildivui
// CHECK: scf.parallel
// CHECK:   scf.for %{{.*}} = %{{.*}} to %[[NK]]
// CHECK:     memref.load %{{.*}} : memref<1x?xi32>
// CHECK:     memref.load %{{.*}} : memref<1x?xi32>
// CHECK:     arith.cmpi eq
// CHECK:   math.log
// CHECK:   memref.store %{{.*}} : memref<1x1x?xf32>
sparse_attn.mask @unused(%b: index, %h: index, %q: index, %k: index) {
  %t = arith.constant true
  sparse_attn.yield %t : i1
}
func.func @dynamic_segments(%q: tensor<1x1x?x16xf32>, %s: tensor<1x?xi32>) -> (tensor<1x1x?x16xf32>, tensor<1x1x?xf32>) {
  %dc1_0_2 = arith.constant 2 : index
  %dd1_0_2 = tensor.dim %q, %dc1_0_2 : tensor<1x1x?x16xf32>
  %init1 = tensor.empty(%dd1_0_2) : tensor<1x1x?x16xf32>
  %dc1_1_2 = arith.constant 2 : index
  %dd1_1_2 = tensor.dim %q, %dc1_1_2 : tensor<1x1x?x16xf32>
  %linit1 = tensor.empty(%dd1_1_2) : tensor<1x1x?xf32>
  %o, %l = sparse_attn.attention %q, %q, %q segments(%s : tensor<1x?xi32>) outs(%init1, %linit1 : tensor<1x1x?x16xf32>, tensor<1x1x?xf32>) {pattern = #sparse_attn.segments} : tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32> -> tensor<1x1x?x16xf32>, tensor<1x1x?xf32>
  return %o, %l : tensor<1x1x?x16xf32>, tensor<1x1x?xf32>
}
// The masks are inlined and their symbols removed.
// CHECK-NOT: sparse_attn.mask

// -----

// Score modification and custom mask are inlined into the kernel.
// CHECK-LABEL: func.func @inlined
// CHECK: math.tanh
// CHECK: arith.remsi
// CHECK-NOT: sparse_attn.
sparse_attn.mask @even(%b: index, %h: index, %q: index, %k: index) {
  %d = arith.subi %q, %k : index
  %c2 = arith.constant 2 : index
  %r = arith.remsi %d, %c2 : index
  %c0 = arith.constant 0 : index
  %ok = arith.cmpi eq, %r, %c0 : index
  sparse_attn.yield %ok : i1
}
sparse_attn.score_mod @softcap(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  %t = math.tanh %s : f32
  sparse_attn.yield %t : f32
}
func.func @inlined(%q: tensor<1x1x8x8xf32>) -> tensor<1x1x8x8xf32> {
  %init2 = tensor.empty() : tensor<1x1x8x8xf32>
  %o = sparse_attn.attention %q, %q, %q outs(%init2 : tensor<1x1x8x8xf32>) {pattern = #sparse_attn.custom<@even>, score_mod = @softcap} : tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32> -> tensor<1x1x8x8xf32>
  return %o : tensor<1x1x8x8xf32>
}

// -----

// Index-only patterns (window, causal, ...) are evaluated on vectors of query
// positions in partial tiles; patterns that read tables, segment ids or a
// custom region use the element-wise path.
// CHECK-LABEL: func.func @vector_mask
// CHECK: arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]> : vector<16xindex>
// CHECK: arith.cmpi sle, %{{.*}} : vector<16xindex>
// CHECK: arith.select %{{.*}} : vector<16xi1>, vector<16xf32>
func.func @vector_mask(%q: tensor<1x1x64x8xf32>) -> tensor<1x1x64x8xf32> {
  %init3 = tensor.empty() : tensor<1x1x64x8xf32>
  %o = sparse_attn.attention %q, %q, %q outs(%init3 : tensor<1x1x64x8xf32>) {pattern = #sparse_attn.window<before = 5, after = 2>} : tensor<1x1x64x8xf32>, tensor<1x1x64x8xf32>, tensor<1x1x64x8xf32> -> tensor<1x1x64x8xf32>
  return %o : tensor<1x1x64x8xf32>
}
