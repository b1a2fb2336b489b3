// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu --split-input-file | FileCheck %s
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu="warps=2 block-k=32" --split-input-file | FileCheck %s --check-prefix=OPTS

// Causal, bf16, GQA (8 query heads, 2 key heads), Sk = 1000 (ragged).
// CHECK: module attributes {gpu.container_module}
// CHECK-DAG: memref.global "private" constant @__sparse_attn_full_offsets : memref<17xi32>
// CHECK-DAG: memref.global "private" constant @__sparse_attn_order : memref<16xi32>
// CHECK-LABEL: func.func @causal
// CHECK: %[[O:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1x8x1000x64xbf16>
// Grid: 16 query blocks of 64 rows x 8 heads x 1 batch; 4 warps.
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention blocks in (%c16, %c8, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c36864_i32
// CHECK-SAME: {sparse_attn.kernel_args = ["query", "key", "value", "output", "table:__sparse_attn_full_offsets", "table:__sparse_attn_full_indices", "table:__sparse_attn_partial_offsets", "table:__sparse_attn_partial_indices", "table:__sparse_attn_order"]}
// CHECK: bufferization.to_tensor %[[O]]
// CHECK: gpu.module @sparse_attn_kernels
// CHECK: gpu.func @sparse_attention
// CHECK-SAME: kernel
// CHECK-SAME: known_block_size = array<i32: 128, 1, 1>
// CHECK: gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
// Query rows of the warp; K/V tiles through cp.async; key head = h / 4.
// CHECK: arith.divui %{{.*}}, %c4
// K/V tiles live in two buffers of dynamic shared memory (views at byte
// offsets); the first tile is copied before the loop, then each iteration
// waits for tile j, synchronises, starts copying tile j + 1 into the other
// buffer and computes tile j.
// CHECK: scf.if
// CHECK: memref.view {{.*}} to memref<64x72xbf16, #gpu.address_space<workgroup>>
// Sk = 1000 is ragged: rows past Sk are zero-filled (source elements 0),
// so keys past Sk contribute nothing whatever the clamped source row holds.
// CHECK: %[[N:.*]] = arith.select %{{.*}}, %c8, %c0 : index
// CHECK: nvgpu.device_async_copy {{.*}}, 8, %[[N]] {bypassL1}
// CHECK: nvgpu.device_async_create_group
// CHECK: scf.for
// CHECK: nvgpu.device_async_wait %{{.*}} {numGroups = 0 : i32}
// CHECK-NEXT: gpu.barrier
// CHECK: scf.if
// CHECK: nvgpu.device_async_copy
// CHECK: nvgpu.device_async_create_group
// CHECK: nvgpu.ldmatrix %{{.*}} {numTiles = 4 : i32, transpose = false}
// CHECK: nvvm.mma.sync {{.*}} multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f32"
// CHECK: gpu.shuffle  xor
// CHECK: nvgpu.ldmatrix %{{.*}} {numTiles = 4 : i32, transpose = true}
// The partial-tile loop evaluates the pattern (k <= q) and the bound Sk.
// CHECK: arith.cmpi sle
// CHECK: arith.cmpi ult, %{{.*}}, %c1000
// CHECK: arith.select
// CHECK: gpu.return

// OPTS: blocks in (%c32, %c8, %c1) threads in (%c64, %c1, %c1)
// OPTS: memref.view {{.*}} to memref<32x72xbf16, #gpu.address_space<workgroup>>
func.func @causal(%q: tensor<1x8x1000x64xbf16>, %k: tensor<1x2x1000x64xbf16>, %v: tensor<1x2x1000x64xbf16>) -> tensor<1x8x1000x64xbf16> {
  %init0 = tensor.empty() : tensor<1x8x1000x64xbf16>
  %o = sparse_attn.attention %q, %k, %v outs(%init0 : tensor<1x8x1000x64xbf16>) {pattern = #sparse_attn.causal}
      : tensor<1x8x1000x64xbf16>, tensor<1x2x1000x64xbf16>, tensor<1x2x1000x64xbf16> -> tensor<1x8x1000x64xbf16>
  return %o : tensor<1x8x1000x64xbf16>
}

// -----

// Document mask with LSE, f16: segment ids are kernel arguments and partial
// tiles are skipped at run time when the id ranges are disjoint. A flag per
// partial tile says whether it is full when all its rows and columns share
// one segment (causal: every tile below the diagonal); such tiles skip the
// mask at run time (the scf.if around the 32 masked scores).
// CHECK: memref.global "private" constant @__sparse_attn_partial_flags : memref<10xi32> = dense<[0, 1, 0, 1, 1, 0, 1, 1, 1, 0]>
// CHECK-LABEL: func.func @document
// CHECK: gpu.launch_func
// CHECK-SAME: sparse_attn.kernel_args = ["query", "key", "value", "query_segment_ids", "key_segment_ids", "output", "lse",
// CHECK-SAME: "table:__sparse_attn_order", "table:__sparse_attn_partial_flags"]
// CHECK: gpu.func @sparse_attention
// CHECK: arith.minsi
// CHECK: arith.maxsi
// CHECK: scf.if
// CHECK: scf.if {{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) {
// CHECK: nvvm.mma.sync {{.*}} : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK: llvm.call_intrinsic "llvm.nvvm.lg2.approx.ftz.f"
func.func @document(%q: tensor<1x2x256x64xf16>, %k: tensor<1x2x256x64xf16>, %v: tensor<1x2x256x64xf16>, %ids: tensor<1x256xi32>) -> (tensor<1x2x256x64xf16>, tensor<1x2x256xf32>) {
  %init1 = tensor.empty() : tensor<1x2x256x64xf16>
  %linit1 = tensor.empty() : tensor<1x2x256xf32>
  %o, %lse = sparse_attn.attention %q, %k, %v segments(%ids : tensor<1x256xi32>) outs(%init1, %linit1 : tensor<1x2x256x64xf16>, tensor<1x2x256xf32>) {pattern = #sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>}
      : tensor<1x2x256x64xf16>, tensor<1x2x256x64xf16>, tensor<1x2x256x64xf16> -> tensor<1x2x256x64xf16>, tensor<1x2x256xf32>
  return %o, %lse : tensor<1x2x256x64xf16>, tensor<1x2x256xf32>
}
