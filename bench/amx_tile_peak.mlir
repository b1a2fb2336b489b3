// The throughput of one core's AMX bf16 tile product (tdpbf16ps), the
// hardware ceiling the AMX attention kernel's products are compared with:
// 100000 iterations of 32 tile products (16 x 32 bf16 times 32 x 16 bf16
// into 16 x 16 f32, 16384 FLOPs each) on four independent accumulators.
// Prints the seconds taken; FLOP/s = 100000 * 32 * 16384 / seconds.
//
//   B=/usr/lib/llvm-22/bin; L=/usr/lib/llvm-22/lib
//   $B/mlir-opt bench/amx_tile_peak.mlir --convert-scf-to-cf --expand-strided-metadata \
//       --finalize-memref-to-llvm --convert-vector-to-llvm=enable-amx --convert-arith-to-llvm \
//       --convert-func-to-llvm --convert-cf-to-llvm --reconcile-unrealized-casts \
//     | $B/mlir-runner -O3 -e main -entry-point-result=void \
//       -shared-libs=$L/libmlir_c_runner_utils.so,$L/libmlir_runner_utils.so
//
// (Needs a CPU with amx-bf16; the program asks Linux for the AMX state.)
func.func private @arch_prctl(i32, i64) -> i32
func.func private @rtclock() -> f64
func.func @main() {
  %code = arith.constant 4131 : i32
  %feat = arith.constant 18 : i64
  %r = call @arch_prctl(%code, %feat) : (i32, i64) -> i32
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %o0 = arith.constant 0 : index
  %o1 = arith.constant 16 : index
  %o2 = arith.constant 32 : index
  %o3 = arith.constant 48 : index
  %n = arith.constant 100000 : index
  %a = memref.alloc() : memref<16x32xbf16>
  %c = memref.alloc() : memref<64x16xf32>
  %t0 = call @rtclock() : () -> f64
  scf.for %i = %c0 to %n step %c1 {
    %ta = amx.tile_load %a[%c0, %c0] : memref<16x32xbf16> into !amx.tile<16x32xbf16>
    %tb = amx.tile_load %a[%c0, %c0] : memref<16x32xbf16> into !amx.tile<16x32xbf16>
    %acc0 = amx.tile_load %c[%o0, %c0] : memref<64x16xf32> into !amx.tile<16x16xf32>
    %acc1 = amx.tile_load %c[%o1, %c0] : memref<64x16xf32> into !amx.tile<16x16xf32>
    %acc2 = amx.tile_load %c[%o2, %c0] : memref<64x16xf32> into !amx.tile<16x16xf32>
    %acc3 = amx.tile_load %c[%o3, %c0] : memref<64x16xf32> into !amx.tile<16x16xf32>
    %d0_0 = amx.tile_mulf %ta, %tb, %acc0 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d1_0 = amx.tile_mulf %ta, %tb, %acc1 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d2_0 = amx.tile_mulf %ta, %tb, %acc2 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d3_0 = amx.tile_mulf %ta, %tb, %acc3 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d0_1 = amx.tile_mulf %ta, %tb, %d0_0 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d1_1 = amx.tile_mulf %ta, %tb, %d1_0 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d2_1 = amx.tile_mulf %ta, %tb, %d2_0 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d3_1 = amx.tile_mulf %ta, %tb, %d3_0 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d0_2 = amx.tile_mulf %ta, %tb, %d0_1 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d1_2 = amx.tile_mulf %ta, %tb, %d1_1 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d2_2 = amx.tile_mulf %ta, %tb, %d2_1 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d3_2 = amx.tile_mulf %ta, %tb, %d3_1 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d0_3 = amx.tile_mulf %ta, %tb, %d0_2 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d1_3 = amx.tile_mulf %ta, %tb, %d1_2 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d2_3 = amx.tile_mulf %ta, %tb, %d2_2 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d3_3 = amx.tile_mulf %ta, %tb, %d3_2 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d0_4 = amx.tile_mulf %ta, %tb, %d0_3 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d1_4 = amx.tile_mulf %ta, %tb, %d1_3 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d2_4 = amx.tile_mulf %ta, %tb, %d2_3 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d3_4 = amx.tile_mulf %ta, %tb, %d3_3 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d0_5 = amx.tile_mulf %ta, %tb, %d0_4 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d1_5 = amx.tile_mulf %ta, %tb, %d1_4 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d2_5 = amx.tile_mulf %ta, %tb, %d2_4 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d3_5 = amx.tile_mulf %ta, %tb, %d3_4 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d0_6 = amx.tile_mulf %ta, %tb, %d0_5 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d1_6 = amx.tile_mulf %ta, %tb, %d1_5 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d2_6 = amx.tile_mulf %ta, %tb, %d2_5 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d3_6 = amx.tile_mulf %ta, %tb, %d3_5 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d0_7 = amx.tile_mulf %ta, %tb, %d0_6 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d1_7 = amx.tile_mulf %ta, %tb, %d1_6 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d2_7 = amx.tile_mulf %ta, %tb, %d2_6 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    %d3_7 = amx.tile_mulf %ta, %tb, %d3_6 : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    amx.tile_store %c[%o0, %c0], %d0_7 : memref<64x16xf32>, !amx.tile<16x16xf32>
    amx.tile_store %c[%o1, %c0], %d1_7 : memref<64x16xf32>, !amx.tile<16x16xf32>
    amx.tile_store %c[%o2, %c0], %d2_7 : memref<64x16xf32>, !amx.tile<16x16xf32>
    amx.tile_store %c[%o3, %c0], %d3_7 : memref<64x16xf32>, !amx.tile<16x16xf32>
  }
  %t1 = call @rtclock() : () -> f64
  %dt = arith.subf %t1, %t0 : f64
  vector.print %dt : f64
  return
}
