// RUN: sparse-attn-opt %s --convert-sparse-attn-merge-to-linalg | FileCheck %s

// Static sizes: two element-wise generics (rows, then elements), no checks.
// CHECK-LABEL: func.func @static
// CHECK-NOT: cf.assert
// CHECK: linalg.generic {{.*}} ins(%arg1, %arg3 : tensor<1x2x5xf32>, tensor<1x2x5xf32>)
// CHECK: math.exp
// CHECK: math.log
// CHECK: linalg.generic
// CHECK: arith.select
// CHECK: arith.truncf {{.*}} : f32 to bf16
func.func @static(%o1: tensor<1x2x5x8xbf16>, %l1: tensor<1x2x5xf32>, %o2: tensor<1x2x5x8xbf16>, %l2: tensor<1x2x5xf32>) -> (tensor<1x2x5x8xbf16>, tensor<1x2x5xf32>) {
  %o, %l = sparse_attn.merge %o1, %l1, %o2, %l2 : tensor<1x2x5x8xbf16>, tensor<1x2x5xf32>
  return %o, %l : tensor<1x2x5x8xbf16>, tensor<1x2x5xf32>
}

// Dynamic sizes are compared at run time (B and S here: 2 x 3 checks).
// CHECK-LABEL: func.func @dynamic
// CHECK-COUNT-6: cf.assert {{.*}} "sparse_attn.merge: operand sizes differ"
// CHECK-NOT: cf.assert
func.func @dynamic(%o1: tensor<?x2x?x8xf32>, %l1: tensor<?x2x?xf32>, %o2: tensor<?x2x?x8xf32>, %l2: tensor<?x2x?xf32>) -> (tensor<?x2x?x8xf32>, tensor<?x2x?xf32>) {
  %o, %l = sparse_attn.merge %o1, %l1, %o2, %l2 : tensor<?x2x?x8xf32>, tensor<?x2x?xf32>
  return %o, %l : tensor<?x2x?x8xf32>, tensor<?x2x?xf32>
}
