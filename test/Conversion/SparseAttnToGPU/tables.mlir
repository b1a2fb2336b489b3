// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu | FileCheck %s
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu="mma=wgmma tma=true" | FileCheck %s --check-prefix=WGMMA

// Runtime block tables (FlexAttention's BlockMask tensors) with a causal
// pattern: GQA (8 query heads, 2 KV heads) with one list per KV head
// (H' = Hkv), B' = 1, table blocks of 128 x 128 = 2 x 2 kernel tiles,
// Sk = 1000 (ragged). No compile-time table exists: the tables are kernel
// arguments and each thread block builds its tile list in shared memory.
// CHECK-NOT: memref.global
// CHECK-LABEL: func.func @tables
// No schedule table; shared memory: two K and
// two V tiles (36864 bytes), 16 tile entries and the count (68), one bit
// word for the 8 table blocks (4).
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention blocks in (%c16, %c8, %c2) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c36936_i32
// CHECK-SAME: {sparse_attn.kernel_args = ["query", "key", "value", "output", "kv_num_blocks", "kv_indices", "full_num_blocks", "full_indices"]}
// CHECK: gpu.func @sparse_attention
// CHECK: %[[LIST:.*]] = memref.view %{{.*}}[%c36864][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<17xi32, #gpu.address_space<workgroup>>
// CHECK: %[[BITS:.*]] = memref.view %{{.*}}[%c36932][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<1xi32, #gpu.address_space<workgroup>>
// CHECK: %[[SLOT:.*]] = gpu.block_id x
// CHECK: %[[H:.*]] = gpu.block_id y
// CHECK: %[[KVH:.*]] = arith.divui %[[H]], %c4
// Query blocks last first (causal-like patterns: the longest rows start
// early).
// CHECK: %[[GX:.*]] = gpu.grid_dim x
// CHECK: %[[R:.*]] = arith.subi %[[GX]], %[[SLOT]] : index
// CHECK: %[[QB:.*]] = arith.subi %[[R]], %c1 : index
// The bits are cleared, then every thread sets those of the listed blocks:
// row (0, kv head, query block / 2), count clamped to [0, N], indices
// outside [0, 8) ignored (unsigned compare; the chunk of tiles starts at
// table block 0 and covers 32 of them), one atomic OR per entry.
// CHECK: memref.store %c0_i32, %[[BITS]]
// CHECK: gpu.barrier
// CHECK: %[[ROW:.*]] = arith.divui %[[QB]], %c2 : index
// CHECK: %[[N:.*]] = memref.load %arg4[%c0, %[[KVH]], %[[ROW]]] : memref<1x2x8xi32>
// CHECK: arith.maxsi %[[N]], %c0_i32
// CHECK: arith.minsi %{{.*}}, %c5_i32
// CHECK: scf.for
// CHECK: %[[IDX:.*]] = memref.load %arg5[%c0, %[[KVH]], %[[ROW]], %{{.*}}] : memref<1x2x8x5xi32>
// CHECK: %[[REL:.*]] = arith.subi %[[IDX]], %{{.*}} : i32
// CHECK: arith.cmpi ult, %[[IDX]], %{{.*}} : i32
// CHECK: arith.cmpi ult, %[[REL]], %c32_i32
// CHECK: memref.atomic_rmw ori %{{.*}}, %[[BITS]]
// The full tables are only a list too (the pattern still decides).
// CHECK: memref.load %arg6
// CHECK: memref.atomic_rmw ori %{{.*}}, %[[BITS]]
// CHECK: gpu.barrier
// Warp 0 compacts the 16 key tiles, 32 per ballot: listed and not empty
// by the causal classifier; the mask where the tile is not proven full or
// runs past Sk = 1000.
// CHECK: scf.for %{{.*}} = %c0 to %{{.*}} step %c32 iter_args
// CHECK: memref.load %[[BITS]]
// CHECK: arith.cmpi ugt, %{{.*}}, %c1000 : index
// CHECK: nvvm.vote.sync ballot
// CHECK: llvm.intr.ctpop
// CHECK: memref.store %{{.*}}, %[[LIST]]
// CHECK: memref.store %{{.*}}, %[[LIST]][%c16]
// CHECK: gpu.barrier
// CHECK: %[[COUNT:.*]] = memref.load %[[LIST]][%c16]
// CHECK: scf.for %{{.*}} = %c0 to %{{.*}} step %c1 iter_args
// CHECK: nvvm.mma.sync

// WGMMA: gpu.launch_func
// WGMMA-SAME: {sparse_attn.kernel_args = ["query", "key", "value", "output", "kv_num_blocks", "kv_indices", "full_num_blocks", "full_indices", "tensormap:key:64x64", "tensormap:value:64x64"]}
// WGMMA: nvvm.vote.sync ballot
// WGMMA: nvvm.wgmma.mma_async
func.func @tables(%q: tensor<2x8x1000x64xbf16>, %k: tensor<2x2x1000x64xbf16>, %n: tensor<1x2x8xi32>, %i: tensor<1x2x8x5xi32>, %fn: tensor<1x2x8xi32>, %fi: tensor<1x2x8x3xi32>) -> tensor<2x8x1000x64xbf16> {
  %init = tensor.empty() : tensor<2x8x1000x64xbf16>
  %o = sparse_attn.attention %q, %k, %k block_tables(%n, %i : tensor<1x2x8xi32>, tensor<1x2x8x5xi32>) full_tables(%fn, %fi : tensor<1x2x8xi32>, tensor<1x2x8x3xi32>) outs(%init : tensor<2x8x1000x64xbf16>) {pattern = #sparse_attn.causal, table_block = array<i64: 128, 128>} : tensor<2x8x1000x64xbf16>, tensor<2x2x1000x64xbf16>, tensor<2x2x1000x64xbf16> -> tensor<2x8x1000x64xbf16>
  return %o : tensor<2x8x1000x64xbf16>
}
