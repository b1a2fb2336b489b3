// RUN: sparse-attn-opt %s --convert-sparse-attn-to-loops="bf16-dot=true" --split-input-file | FileCheck %s
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-loops --split-input-file | FileCheck %s --check-prefix=OFF

// bf16 with bf16-dot: the query block is kept as bf16 pairs of dimensions
// (qT[d / 2][2 r + d % 2], built by 16 x 16 transposes of the rows viewed
// as 32-bit words) and Q K^T is one x86vector.avx512.dot (vdpbf16ps)
// per 16 rows and two dimensions, a key's pair broadcast as one 32-bit
// word; the scale multiplies the scores afterwards.
// CHECK-LABEL: func.func @bf16
// CHECK: memref.alloc() {alignment = 64 : i64} : memref<32x128xbf16>
// CHECK-COUNT-16: vector.load {{.*}} : memref<1x2x256x64xbf16>, vector<32xbf16>
// CHECK: vector.transpose {{.*}}, [1, 0] : vector<16x16xi32> to vector<16x16xi32>
// CHECK-COUNT-16: vector.store {{.*}} : memref<32x128xbf16>, vector<32xbf16>
// CHECK: vector.load {{.*}} : memref<32x128xbf16>, vector<32xbf16>
// CHECK: vector.bitcast {{.*}} : vector<2xbf16> to vector<1xi32>
// CHECK: vector.bitcast {{.*}} : vector<16xi32> to vector<32xbf16>
// CHECK: x86vector.avx512.dot {{.*}} : vector<32xbf16> -> vector<16xf32>
// CHECK: vector.insert_strided_slice {{.*}} : vector<16xf32> into vector<64xf32>
// OFF-LABEL: func.func @bf16
// OFF-NOT: x86vector.avx512.dot
func.func @bf16(%q: tensor<1x2x256x64xbf16>) -> tensor<1x2x256x64xbf16> {
  %init0 = tensor.empty() : tensor<1x2x256x64xbf16>
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x2x256x64xbf16>) {pattern = #sparse_attn.causal}
      : tensor<1x2x256x64xbf16>, tensor<1x2x256x64xbf16>, tensor<1x2x256x64xbf16> -> tensor<1x2x256x64xbf16>
  return %o : tensor<1x2x256x64xbf16>
}

// -----

// f32 inputs are unaffected by the option.
// CHECK-LABEL: func.func @f32
// CHECK-NOT: x86vector.avx512.dot
// CHECK: return
func.func @f32(%q: tensor<1x2x256x64xf32>) -> tensor<1x2x256x64xf32> {
  %init1 = tensor.empty() : tensor<1x2x256x64xf32>
  %o = sparse_attn.attention %q, %q, %q outs(%init1 : tensor<1x2x256x64xf32>) {pattern = #sparse_attn.causal}
      : tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x2x256x64xf32>
  return %o : tensor<1x2x256x64xf32>
}

// -----

// D a multiple of 16: the query block is transposed in 16 x 16 register
// blocks (rows loaded as vectors, vector.transpose, columns stored as
// vectors; rows past the sequence end are zeroed with a select).
// CHECK-LABEL: func.func @transpose16
// CHECK: scf.for %[[R0:.*]] = %{{.*}} to %{{.*}} step %c16
// CHECK-COUNT-16: vector.load {{.*}} : memref<1x2x256x32xf32>, vector<16xf32>
// CHECK: vector.transpose {{.*}}, [1, 0] : vector<16x16xf32> to vector<16x16xf32>
// CHECK-COUNT-16: vector.store {{.*}} : memref<32x64xf32>, vector<16xf32>
func.func @transpose16(%q: tensor<1x2x256x32xf32>) -> tensor<1x2x256x32xf32> {
  %init2 = tensor.empty() : tensor<1x2x256x32xf32>
  %o = sparse_attn.attention %q, %q, %q outs(%init2 : tensor<1x2x256x32xf32>) {pattern = #sparse_attn.causal}
      : tensor<1x2x256x32xf32>, tensor<1x2x256x32xf32>, tensor<1x2x256x32xf32> -> tensor<1x2x256x32xf32>
  return %o : tensor<1x2x256x32xf32>
}

// -----

// Document mask (the pattern implies "same segment"): the min / max segment
// id of the block's rows once, of each partial tile's keys, and the tile
// only when the ranges overlap.
// CHECK-LABEL: func.func @document
// CHECK: scf.for {{.*}} -> (i64, i64)
// CHECK:   arith.minsi
// CHECK:   arith.maxsi
// CHECK: scf.for
// CHECK:   scf.for {{.*}} -> (i64, i64)
// CHECK:   arith.cmpi sle
// CHECK:   arith.cmpi sge
// CHECK:   scf.if
// One segment for the whole tile: the mask without the segment test (the
// causal predicate on vectors of rows); else the element-wise mask.
// CHECK:     scf.if
// CHECK:       vector.broadcast
// CHECK:       arith.cmpi sle, {{.*}} : vector<64xindex>
// CHECK:     } else {
func.func @document(%q: tensor<1x2x256x32xf32>, %ids: tensor<1x256xi32>) -> tensor<1x2x256x32xf32> {
  %init3 = tensor.empty() : tensor<1x2x256x32xf32>
  %o = sparse_attn.attention %q, %q, %q segments(%ids : tensor<1x256xi32>) outs(%init3 : tensor<1x2x256x32xf32>) {pattern = #sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>}
      : tensor<1x2x256x32xf32>, tensor<1x2x256x32xf32>, tensor<1x2x256x32xf32> -> tensor<1x2x256x32xf32>
  return %o : tensor<1x2x256x32xf32>
}
