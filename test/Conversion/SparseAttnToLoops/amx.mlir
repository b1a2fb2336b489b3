// RUN: sparse-attn-opt %s --convert-sparse-attn-to-loops="amx=true" --split-input-file | FileCheck %s
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-loops --split-input-file | FileCheck %s --check-prefix=OFF

// bf16 with amx: the kernel first asks Linux for the AMX state
// (arch_prctl(ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18)) and
// stops with a message if refused; builds V^T once per call (pairs of keys
// interleaved, 16 x 16 transposes of 32-bit words) in a Dv x Sk buffer per
// key/value head; per query block keeps Q^T in bf16 pairs (32 x 128 for
// D = 64 and 64 rows) and accumulates O^T (Dv x 64, f32). A tile computes
// S^T = K Q^T with K tiles loaded straight from the key tensor (16 keys x
// 32 dimensions) and Q^T tiles from the pair buffer, 16 x 16 f32 results
// stored into the score buffer (64 keys x 64 rows); a short last key block
// is copied into a zero-padded buffer first. P is rounded to bf16 and
// interleaved in pairs of keys; O^T += V^T P^T accumulates in the O^T
// buffer; at the end O^T is transposed back.
// CHECK-LABEL: func.func private @arch_prctl(i32, i64) -> i32
// CHECK-LABEL: func.func @amx
// CHECK: %[[GRANT:.*]] = call @arch_prctl(%{{.*}}, %{{.*}}) : (i32, i64) -> i32
// CHECK: cf.assert %{{.*}}, "sparse-attn: this kernel was compiled for AMX, but the operating system did not grant the AMX tile state (arch_prctl)"
// CHECK: %[[VT:.*]] = memref.alloc(%{{.*}}, %{{.*}}, %{{.*}}) {alignment = 64 : i64} : memref<?x?x32x?xbf16>
// CHECK: scf.parallel
// CHECK: vector.interleave {{.*}} : vector<16xbf16> -> vector<32xbf16>
// CHECK: vector.transpose {{.*}}, [1, 0] : vector<16x16xi32> to vector<16x16xi32>
// CHECK: vector.store {{.*}}, %[[VT]][{{.*}}] : memref<?x?x32x?xbf16>, vector<32xbf16>
// CHECK: scf.parallel
// CHECK-DAG: %[[ACCT:.*]] = memref.alloc() {alignment = 64 : i64} : memref<32x64xf32>
// CHECK-DAG: %[[KTAIL:.*]] = memref.alloc() {alignment = 64 : i64} : memref<64x64xbf16>
// CHECK-DAG: %[[PB:.*]] = memref.alloc() {alignment = 64 : i64} : memref<32x128xbf16>
// CHECK-DAG: %[[QT:.*]] = memref.alloc() {alignment = 64 : i64} : memref<32x128xbf16>
// CHECK-DAG: %[[ST:.*]] = memref.alloc() {alignment = 64 : i64} : memref<64x64xf32>
// CHECK: vector.transpose {{.*}} : vector<16x16xi32> to vector<16x16xi32>
// Four independent accumulators (16 keys x 4 x 16 rows) per key tile A.
// CHECK: scf.if
// CHECK-COUNT-4: amx.tile_zero : !amx.tile<16x16xf32>
// CHECK: %[[KA:.*]] = amx.tile_load %{{.*}}[{{.*}}] : memref<1x2x256x64xbf16> into !amx.tile<16x32xbf16>
// CHECK: %[[QB:.*]] = amx.tile_load %[[QT]][{{.*}}] : memref<32x128xbf16> into !amx.tile<16x32xbf16>
// CHECK: amx.tile_mulf %[[KA]], %[[QB]], %{{.*}}
// CHECK: amx.tile_store %[[ST]][{{.*}}], %{{.*}} : memref<64x64xf32>, !amx.tile<16x16xf32>
// CHECK: } else {
// CHECK: vector.store {{.*}}, %[[KTAIL]]
// CHECK: amx.tile_load %[[KTAIL]]
// CHECK: arith.truncf {{.*}} : vector<64xf32> to vector<64xbf16>
// CHECK: vector.interleave {{.*}} : vector<64xbf16> -> vector<128xbf16>
// CHECK: vector.store {{.*}}, %[[PB]]
// CHECK: %[[C:.*]] = amx.tile_load %[[ACCT]][{{.*}}] : memref<32x64xf32> into !amx.tile<16x16xf32>
// CHECK: %[[VA:.*]] = amx.tile_load %[[VT]][{{.*}}] : memref<?x?x32x?xbf16> into !amx.tile<16x32xbf16>
// CHECK: %[[PT:.*]] = amx.tile_load %[[PB]][{{.*}}] : memref<32x128xbf16> into !amx.tile<16x32xbf16>
// CHECK: amx.tile_mulf %[[VA]], %[[PT]], %[[C]]
// CHECK: amx.tile_store %[[ACCT]]
// CHECK: vector.transpose {{.*}} : vector<16x16xf32> to vector<16x16xf32>
// OFF-LABEL: func.func @amx
// OFF-NOT: amx.
// OFF-NOT: arch_prctl
func.func @amx(%q: tensor<1x4x256x64xbf16>, %k: tensor<1x2x256x64xbf16>, %v: tensor<1x2x256x32xbf16>) -> tensor<1x4x256x32xbf16> {
  %init0 = tensor.empty() : tensor<1x4x256x32xbf16>
  %o = sparse_attn.attention %q, %k, %v outs(%init0 : tensor<1x4x256x32xbf16>) {pattern = #sparse_attn.causal}
      : tensor<1x4x256x64xbf16>, tensor<1x2x256x64xbf16>, tensor<1x2x256x32xbf16> -> tensor<1x4x256x32xbf16>
  return %o : tensor<1x4x256x32xbf16>
}

// -----

// Ops that do not qualify use the vector path: f32 inputs, D not a
// multiple of 32, key tiles not a multiple of 32 (a 40-key sequence is one
// 40-key tile).
// CHECK-LABEL: func.func @f32
// CHECK-NOT: amx.
// CHECK-LABEL: func.func @d48
// CHECK-NOT: amx.
// CHECK-LABEL: func.func @short
// CHECK-NOT: amx.
// CHECK: return
func.func @f32(%q: tensor<1x2x256x64xf32>) -> tensor<1x2x256x64xf32> {
  %init1 = tensor.empty() : tensor<1x2x256x64xf32>
  %o = sparse_attn.attention %q, %q, %q outs(%init1 : tensor<1x2x256x64xf32>) {pattern = #sparse_attn.causal}
      : tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x2x256x64xf32>
  return %o : tensor<1x2x256x64xf32>
}
func.func @d48(%q: tensor<1x2x256x48xbf16>) -> tensor<1x2x256x48xbf16> {
  %init2 = tensor.empty() : tensor<1x2x256x48xbf16>
  %o = sparse_attn.attention %q, %q, %q outs(%init2 : tensor<1x2x256x48xbf16>) {pattern = #sparse_attn.causal}
      : tensor<1x2x256x48xbf16>, tensor<1x2x256x48xbf16>, tensor<1x2x256x48xbf16> -> tensor<1x2x256x48xbf16>
  return %o : tensor<1x2x256x48xbf16>
}
func.func @short(%q: tensor<1x2x40x64xbf16>) -> tensor<1x2x40x64xbf16> {
  %init3 = tensor.empty() : tensor<1x2x40x64xbf16>
  %o = sparse_attn.attention %q, %q, %q outs(%init3 : tensor<1x2x40x64xbf16>) {pattern = #sparse_attn.causal}
      : tensor<1x2x40x64xbf16>, tensor<1x2x40x64xbf16>, tensor<1x2x40x64xbf16> -> tensor<1x2x40x64xbf16>
  return %o : tensor<1x2x40x64xbf16>
}
