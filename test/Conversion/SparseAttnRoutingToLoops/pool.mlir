// RUN: sparse-attn-opt %s --convert-sparse-attn-routing-to-loops --canonicalize --cse | FileCheck %s

// Mean: one vector<D x f32> sum per block in row order, divided by the
// block's own row count (the last block is partial), rounded once.
// CHECK-LABEL: func.func @mean
// CHECK-DAG:   %[[C16:.*]] = arith.constant 16 : index
// CHECK-DAG:   %[[C32:.*]] = arith.constant 32 : index
// CHECK-DAG:   %[[C100:.*]] = arith.constant 100 : index
// CHECK-DAG:   %[[C6:.*]] = arith.constant 6 : index
// CHECK:       %[[OUT:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1x2x6x8xbf16>
// CHECK:       scf.parallel (%[[B:.*]], %[[H:.*]]) = {{.*}} to ({{.*}}, %[[C6]])
// CHECK:         %[[R0:.*]] = arith.muli %{{.*}}, %[[C16]] : index
// CHECK:         %[[END:.*]] = arith.addi %[[R0]], %[[C32]] : index
// CHECK:         %[[R1:.*]] = arith.minui %[[END]], %[[C100]] : index
// CHECK:         %[[SUM:.*]] = scf.for %{{.*}} = %[[R0]] to %[[R1]] {{.*}} -> (vector<8xf32>)
// CHECK:           vector.load {{.*}} : memref<1x2x100x8xbf16>, vector<8xbf16>
// CHECK:           arith.extf
// CHECK:           arith.addf
// CHECK:         %[[N:.*]] = arith.subi %[[R1]], %[[R0]] : index
// CHECK:         arith.divf %[[SUM]]
// CHECK:         arith.truncf {{.*}} : vector<8xf32> to vector<8xbf16>
// CHECK:         vector.store {{.*}}, %[[OUT]]
// CHECK:       bufferization.to_tensor %[[OUT]] restrict writable
func.func @mean(%k: tensor<1x2x100x8xbf16>) -> tensor<1x2x6x8xbf16> {
  %p = sparse_attn.pool %k {kind = "mean", block = 32, stride = 16} : tensor<1x2x100x8xbf16> -> tensor<1x2x6x8xbf16>
  return %p : tensor<1x2x6x8xbf16>
}

// Max: arith.maximumf (NaN propagates) from -inf, no division; an f32
// result needs no rounding. A dynamic length gives N at run time:
// ceil(max(S - block, 0) / stride) + (S > 0).
// CHECK-LABEL: func.func @max_dynamic
// CHECK-DAG:   %[[NEGINF:.*]] = arith.constant dense<0xFF800000> : vector<4xf32>
// CHECK:       %[[S:.*]] = tensor.dim %{{.*}}, %c2
// CHECK:       %[[MAX:.*]] = arith.maxsi %[[S]], %c8
// CHECK:       %[[OVER:.*]] = arith.subi %[[MAX]], %c8
// CHECK:       %[[CEIL:.*]] = arith.ceildivui %[[OVER]], %c8
// CHECK:       %[[POS:.*]] = arith.cmpi ugt, %[[S]], %c0
// CHECK:       %[[ONE:.*]] = arith.index_castui %[[POS]] : i1 to index
// CHECK:       %[[N:.*]] = arith.addi %[[CEIL]], %[[ONE]]
// CHECK:       memref.alloc(%{{.*}}, %[[N]]) {alignment = 64 : i64} : memref<?x3x?x4xf32>
// CHECK:       scf.for {{.*}} iter_args(%{{.*}} = %[[NEGINF]])
// CHECK:         arith.maximumf
// CHECK-NOT:   arith.divf
// CHECK:       vector.store
func.func @max_dynamic(%k: tensor<?x3x?x4xf32>) -> tensor<?x3x?x4xf32> {
  %p = sparse_attn.pool %k {kind = "max", block = 8} : tensor<?x3x?x4xf32> -> tensor<?x3x?x4xf32>
  return %p : tensor<?x3x?x4xf32>
}
