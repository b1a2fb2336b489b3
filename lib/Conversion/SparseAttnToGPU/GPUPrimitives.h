//===- GPUPrimitives.h - tensor-core and memory primitives ------*- C++ -*-===//
//
// The target primitives of the GPU kernels, apart from any kernel state:
// index / float arithmetic helpers, mma.sync (m16n8k16) with ldmatrix
// fragments, warpgroup MMA with A from registers, the 128-byte swizzle,
// cp.async groups, fences, shuffles and the ex2 / lg2 approximations.
// Register fragments follow the PTX ISA's layouts for mma.m16n8k16 with
// lane = 4 * g + t (see SparseAttnToGPU.cpp). A kernel builder derives from
// GpuPrimitives and adds its state (KernelBuilder.h).
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_LIB_CONVERSION_SPARSEATTNTOGPU_GPUPRIMITIVES_H
#define SPARSE_ATTN_LIB_CONVERSION_SPARSEATTNTOGPU_GPUPRIMITIVES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"

namespace mlir {
namespace sparse_attn {

/// Emits target instructions at `b`'s insertion point; `elt` is the input
/// element type (f16 / bf16).
struct GpuPrimitives {
  GpuPrimitives(OpBuilder &b, Location loc) : b(b), loc(loc) {}
  OpBuilder &b;
  Location loc;
  Type elt, f32, i32;

  /// Element index of (row, col) in a swizzled [rows x width] tile; col is
  /// a multiple of 8 plus `within` (< 8).
  Value swizzledIndex(Value row, Value col, int64_t rows, Value within = {});
  SmallVector<Value> extractAll(Value structV, int64_t n);

  /// D (n / 2 f32 per thread, updated in place) += A B for one k16 step of
  /// a warpgroup MMA whose A comes from registers (four 32-bit registers of
  /// packed pairs, mma.sync's A layout per warp) and B, transposed (MN-major),
  /// from shared memory. The NVVM op takes A from shared memory only, so
  /// this is the PTX instruction as inline assembly (as the NVVM op itself
  /// lowers); the caller issues the fence, commit and wait.
  void wgmmaRegisterA(int64_t n, ArrayRef<Value> a, Value descB,
                      MutableArrayRef<Value> d);

  /// Makes this thread's shared-memory writes (cp.async, stores) visible to
  /// wgmma's asynchronous proxy.
  void fenceAsyncProxy();
  /// Passes `regs` (f32) through an empty inline asm with side effects
  /// that reads and writes each of them (CUTLASS's
  /// warpgroup_fence_operand): every later use reads the results, which
  /// LLVM cannot move above an earlier side-effecting op such as
  /// wgmma.wait_group -- so the accumulators of asynchronous wgmmas are
  /// read only after the wait that completes them.
  void fenceOperands(MutableArrayRef<Value> regs);
  Value i32v(Value index) {
    return arith::IndexCastOp::create(b, loc, b.getI32Type(), index);
  }

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value i32c(int64_t v) {
    return arith::ConstantIntOp::create(b, loc, b.getI32Type(), v);
  }
  Value toIndex(Value x) {
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), x);
  }
  /// for (i = from; i < to; i += step) body(i), as an scf.for (the usual
  /// use: the threads of a block striding over a range, step = threads).
  void strided(Value from, Value to, int64_t step,
               function_ref<void(Value)> body);
  /// if (cond) body(), as an scf.if without results.
  void ifThen(Value cond, function_ref<void()> body);
  Value ult(Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, y);
  }
  Value cf(double v) {
    return arith::ConstantFloatOp::create(b, loc, b.getF32Type(),
                                          APFloat((float)v));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value addi(Value x, int64_t c) { return c ? add(x, idx(c)) : x; }
  Value muli(Value x, int64_t c) { return mul(x, idx(c)); }
  Value fmul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value fadd(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value fsub(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value fmax(Value x, Value y) {
    return arith::MaximumFOp::create(b, loc, x, y);
  }
  Value ex2(Value x);
  Value lg2(Value x);
  /// tanh.approx.f32 (sm_75+): maximum relative error 2^-10.987 over the
  /// whole range (PTX ISA), about 5e-4.
  Value tanhApprox(Value x);
  Value shuffleXor(Value x, int32_t offset) {
    return gpu::ShuffleOp::create(b, loc, x, offset, 32, gpu::ShuffleMode::XOR)
        .getShuffleResult();
  }
  /// The register type of one pair of input elements in an mma operand:
  /// vector<2xf16> for f16, i32 for bf16 (what nvvm.mma.sync takes).
  Value packVec(Value pair);
  Value packF32(Value x, Value y);
  /// Two consecutive elements at an even column (4-byte aligned: rows of
  /// D elements, D even, and 16-byte aligned buffers).
  Value loadPair(Value mem, ValueRange indices) {
    return packVec(vector::LoadOp::create(b, loc, VectorType::get({2}, elt),
                                          mem, indices, /*nontemporal=*/false,
                                          llvm::MaybeAlign(4)));
  }
  /// ldmatrix of `tiles` 8x8 matrices; lane l addresses row (row, col) of
  /// matrix l / 8. Returns one register per matrix.
  SmallVector<Value> ldmatrix(Value smem, Value row, Value col, int tiles,
                              bool transpose);
  /// c += a * b on one m16n8k16 tile.
  void mma(ArrayRef<Value> a, ArrayRef<Value> bb, MutableArrayRef<Value> c);

  /// Commits the copies issued since the last commit (possibly none) as one
  /// group; returns its token.
  Value commit() {
    auto tokenTy = nvgpu::DeviceAsyncTokenType::get(b.getContext());
    return nvgpu::DeviceAsyncCreateGroupOp::create(b, loc, tokenTy,
                                                   ValueRange{});
  }

  /// One step of warp-wide stream compaction (one ballot): the lanes where
  /// the i1 `keep` holds get consecutive slots from `base` (index) in lane
  /// order; `store(slot)` runs on those lanes. Returns the base of the next
  /// step (base + the number of kept lanes). `lane` is the lane index.
  Value ballotCompact(Value keep, Value lane, Value base,
                      function_ref<void(Value slot)> store);
};

} // namespace sparse_attn
} // namespace mlir

#endif
