// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu | FileCheck %s
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu="mma=wgmma tma=true" | FileCheck %s --check-prefix=WGMMA

// B, Sq and Sk known only at run time: one kernel for every length. No
// compile-time table: each thread block classifies the key tiles of its
// query block on the device (the window's buildTileKind), in chunks of
// 1024 tiles. Sizes travel as kernel arguments; buffers with run-time
// sizes as bare pointers (memref<1 x elt>) that the kernel views with them.
// CHECK-NOT: memref.global
// CHECK-LABEL: func.func @dyn
// CHECK-DAG: %[[B:.*]] = memref.dim %{{.*}}, %c0 : memref<?x8x?x64xbf16>
// CHECK-DAG: %[[SQ:.*]] = memref.dim %{{.*}}, %c2 : memref<?x8x?x64xbf16>
// CHECK-DAG: %[[SK:.*]] = memref.dim %{{.*}}, %c2 : memref<?x2x?x64xbf16>
// CHECK: %[[O:.*]] = memref.alloc(%[[B]], %[[SQ]]) {alignment = 64 : i64} : memref<?x8x?x64xbf16>
// CHECK: memref.reinterpret_cast %[[O]] to offset: [0], sizes: [1], strides: [1] : memref<?x8x?x64xbf16> to memref<1xbf16>
// Grid (ceil(Sq / 64), 8, B).
// CHECK: %[[X0:.*]] = arith.addi %[[SQ]], %c63
// CHECK: %[[X:.*]] = arith.divui %[[X0]], %c64
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention blocks in (%[[X]], %c8, %[[B]])
// CHECK-SAME: args({{.*}}, %[[B]] : index, %[[SQ]] : index, %[[SK]] : index)
// CHECK-SAME: sparse_attn.kernel_arg_dims = {{\[}}["B", 8, "Sq", 64], ["B", 2, "Sk", 64], ["B", 2, "Sk", 64], ["B", 8, "Sq", 64], ["B", 8, "Sq"], [], [], []]
// CHECK-SAME: sparse_attn.kernel_args = ["query", "key", "value", "output", "lse", "size:B", "size:Sq", "size:Sk"]
// CHECK-SAME: sparse_attn.kernel_grid = ["ceil(Sq/64)", "8", "B"]
// CHECK: gpu.func @sparse_attention(%[[QP:.*]]: memref<1xbf16>, %{{.*}}: memref<1xbf16>, %{{.*}}: memref<1xbf16>, %{{.*}}: memref<1xbf16>, %{{.*}}: memref<1xf32>, %[[AB:.*]]: index, %[[ASQ:.*]]: index, %[[ASK:.*]]: index)
// CHECK: memref.reinterpret_cast %[[QP]] to offset: [0], sizes: [%[[AB]], 8, %[[ASQ]], 64], strides: [%{{.*}}, %{{.*}}, 64, 1] : memref<1xbf16> to memref<?x8x?x64xbf16, strided<[?, ?, 64, 1]>>
// Chunks of 1024 key tiles of 64 keys: ceil(Sk / 64) tiles.
// CHECK: %[[NK0:.*]] = arith.addi %[[ASK]], %c63
// CHECK: %[[NK:.*]] = arith.divui %[[NK0]], %c64
// CHECK: scf.for %[[C0:.*]] = %c0 to %[[NK]] step %c1024 iter_args
// CHECK: gpu.barrier
// CHECK: arith.minui %{{.*}}, %{{.*}} : index
// CHECK: scf.for %{{.*}} = %[[C0]] to %{{.*}} step %c32 iter_args
// The window's classifier and the bound Sk as a value.
// CHECK: nvvm.vote.sync ballot
// CHECK: memref.store %{{.*}}, %{{.*}}[%c1024] : memref<1025xi32, #gpu.address_space<workgroup>>
// CHECK: nvvm.mma.sync
// Rows past Sq are not written.
// CHECK: arith.cmpi ult, %{{.*}}, %[[ASQ]] : index

// WGMMA: sparse_attn.kernel_args = ["query", "key", "value", "output", "lse", "tensormap:key:64x64", "tensormap:value:64x64", "size:B", "size:Sq", "size:Sk"]
// WGMMA: nvvm.wgmma.mma_async
func.func @dyn(%q: tensor<?x8x?x64xbf16>, %k: tensor<?x2x?x64xbf16>) -> (tensor<?x8x?x64xbf16>, tensor<?x8x?xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x8x?x64xbf16>
  %s = tensor.dim %q, %c2 : tensor<?x8x?x64xbf16>
  %init = tensor.empty(%b, %s) : tensor<?x8x?x64xbf16>
  %linit = tensor.empty(%b, %s) : tensor<?x8x?xf32>
  %o, %l = sparse_attn.attention %q, %k, %k outs(%init, %linit : tensor<?x8x?x64xbf16>, tensor<?x8x?xf32>) {pattern = #sparse_attn.window<before = 255, after = 0>} : tensor<?x8x?x64xbf16>, tensor<?x2x?x64xbf16>, tensor<?x2x?x64xbf16> -> tensor<?x8x?x64xbf16>, tensor<?x8x?xf32>
  return %o, %l : tensor<?x8x?x64xbf16>, tensor<?x8x?xf32>
}
