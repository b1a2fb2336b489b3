//===- TileLoads.cpp - K / V tiles into shared memory
//-----------------------===//
//
// Part of the GPU kernel builder (KernelBuilder.h).
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include <algorithm>
#include <limits>
#include <numeric>

using namespace mlir;
using namespace mlir::sparse_attn;

/// A 1-D view of `elements` elements at byte `offset` of the aligned area.
Value KernelBuilder::flatView(Value offset, int64_t elements) {
  auto wg =
      gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  auto type = MemRefType::get({elements}, elt, MemRefLayoutAttrInterface(), wg);
  return memref::ViewOp::create(b, loc, type, smem, add(aligned, offset),
                                ValueRange{});
}

/// The wgmma shared-memory descriptor of a swizzled operand starting at
/// byte `offset` of the aligned area: 128-byte swizzle, stride byte offset
/// 1024 (eight 128-byte rows), leading byte offset `lbo` (K-major: unused;
/// MN-major: the distance of 64-element column blocks).
Value KernelBuilder::descriptor(Value offset, int64_t lbo) {
  auto i64 = b.getI64Type();
  auto c64 = [&](int64_t v) {
    return arith::ConstantIntOp::create(b, loc, i64, v);
  };
  Value addr = arith::AddIOp::create(
      b, loc, alignedAddr, arith::IndexCastOp::create(b, loc, i64, offset));
  Value start = arith::AndIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, addr, c64(4)), c64(0x3fff));
  int64_t fixed =
      ((lbo >> 4) << 16) | ((int64_t)(1024 >> 4) << 32) | ((int64_t)1 << 62);
  return arith::OrIOp::create(b, loc, start, c64(fixed));
}

void KernelBuilder::alignSharedBase() {
  Value addr = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, smem);
  Value mod = arith::RemUIOp::create(b, loc, addr, idx(1024));
  aligned = arith::RemUIOp::create(
      b, loc, arith::SubIOp::create(b, loc, idx(1024), mod), idx(1024));
  alignedAddr = arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                           add(addr, aligned));
}

Value KernelBuilder::issueKMajorProduct(Value aBase, Value bBase, int64_t n,
                                        int64_t kDim) {
  MLIRContext *ctx = b.getContext();
  auto structTy =
      LLVM::LLVMStructType::getLiteral(ctx, SmallVector<Type>(n / 2, f32));
  Value acc = LLVM::UndefOp::create(b, loc, structTy);
  NVVM::WgmmaFenceAlignedOp::create(b, loc);
  NVVM::WGMMATypes ty =
      elt.isF16() ? NVVM::WGMMATypes::f16 : NVVM::WGMMATypes::bf16;
  // Step kk reads 32 bytes of each row in 64-column block kk / 4.
  for (int64_t kk = 0; kk < kDim / 16; ++kk)
    acc = NVVM::WgmmaMmaAsyncOp::create(
        b, loc, structTy, acc,
        descriptor(addi(aBase, (kk / 4) * 64 * 128 + (kk % 4) * 32), 16),
        descriptor(addi(bBase, (kk / 4) * n * 128 + (kk % 4) * 32), 16),
        NVVM::MMAShapeAttr::get(ctx, 64, n, 16), ty, ty, NVVM::WGMMATypes::f32,
        kk ? NVVM::WGMMAScaleOut::one : NVVM::WGMMAScaleOut::zero,
        NVVM::WGMMAScaleIn::one, NVVM::WGMMAScaleIn::one, NVVM::MMALayout::row,
        NVVM::MMALayout::col, NVVM::MMAIntOverflowAttr());
  NVVM::WgmmaGroupSyncAlignedOp::create(b, loc);
  return acc;
}

void KernelBuilder::accumulateRegisterA(ArrayRef<Value> x, int64_t rows,
                                        Value bBase, int64_t n,
                                        MutableArrayRef<Value> acc,
                                        function_ref<void()> beforeFence,
                                        bool wait) {
  SmallVector<Value> a;
  SmallVector<Value> descs;
  for (int64_t kk = 0; kk < rows / 16; ++kk) {
    llvm::append_range(a, packRegisterA(x, kk));
    descs.push_back(descriptor(addi(bBase, kk * 16 * 128), rows * 128));
  }
  issueRegisterA(a, descs, n, acc, beforeFence, wait);
}

SmallVector<Value> KernelBuilder::packRegisterA(ArrayRef<Value> x,
                                                int64_t kk) {
  return {packF32(x[(2 * kk) * 4 + 0], x[(2 * kk) * 4 + 1]),
          packF32(x[(2 * kk) * 4 + 2], x[(2 * kk) * 4 + 3]),
          packF32(x[(2 * kk + 1) * 4 + 0], x[(2 * kk + 1) * 4 + 1]),
          packF32(x[(2 * kk + 1) * 4 + 2], x[(2 * kk + 1) * 4 + 3])};
}

void KernelBuilder::accumulatePackedA(ArrayRef<Value> a, int64_t rows,
                                      Value bBase, int64_t n,
                                      MutableArrayRef<Value> acc, bool wait) {
  SmallVector<Value> descs;
  for (int64_t kk = 0; kk < rows / 16; ++kk)
    descs.push_back(descriptor(addi(bBase, kk * 16 * 128), rows * 128));
  issueRegisterA(a, descs, n, acc, {}, wait);
}

void KernelBuilder::issueRegisterA(ArrayRef<Value> a, ArrayRef<Value> descs,
                                   int64_t n, MutableArrayRef<Value> acc,
                                   function_ref<void()> beforeFence,
                                   bool wait) {
  if (beforeFence)
    beforeFence();
  NVVM::WgmmaFenceAlignedOp::create(b, loc);
  for (size_t kk = 0; kk < descs.size(); ++kk)
    wgmmaRegisterA(n, a.slice(kk * 4, 4), descs[kk], acc);
  NVVM::WgmmaGroupSyncAlignedOp::create(b, loc);
  if (wait)
    NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);
}

/// An !llvm.ptr<3> to byte `offset` of the dynamic shared memory.
Value KernelBuilder::sharedPtr(Value offset) {
  Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, smem);
  Value addr =
      arith::IndexCastOp::create(b, loc, b.getI64Type(), add(base, offset));
  return LLVM::IntToPtrOp::create(
      b, loc, LLVM::LLVMPointerType::get(b.getContext(), 3), addr);
}

void KernelBuilder::acquireTensorMaps() {
  for (Value map : {kMap, vMap})
    NVVM::FenceProxyAcquireOp::create(
        b, loc,
        NVVM::MemScopeKindAttr::get(b.getContext(), NVVM::MemScopeKind::SYS),
        map, arith::ConstantIntOp::create(b, loc, i32, 128),
        NVVM::ProxyKindAttr::get(b.getContext(), NVVM::ProxyKind::GENERIC),
        NVVM::ProxyKindAttr::get(b.getContext(), NVVM::ProxyKind::TENSORMAP));
}

/// TMA of the K (`values` false) or V tile of key block `kb` into buffer
/// `buf`: thread 0 expects the bytes on that buffer's mbarrier (K: 0, 1;
/// V: 2, 3), then issues one box of [BK rows x 64 columns] per 64-column
/// block.
void KernelBuilder::tmaLoad(Value kb, Value buf, bool values) {
  auto ifOp = scf::IfOp::create(b, loc, threadZero(), /*else=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifOp.thenBlock());
  Value bar = mbarrier(values ? addi(buf, 2) : buf);
  int64_t width = values ? dv : d;
  NVVM::MBarrierArriveExpectTxOp::create(
      b, loc, Type(), bar,
      arith::ConstantIntOp::create(b, loc, i32, bk * width * 2),
      NVVM::MemScopeKind::CTA, /*relaxed=*/false, Value());
  Value k0 = i32v(muli(kb, bk));
  Value map = values ? vMap : kMap;
  int64_t off = values ? vOff : kOff;
  for (int64_t cb = 0; cb < width / 64; ++cb) {
    // The CTA's own shared::cta address, as a shared::cluster one.
    Value dst = LLVM::AddrSpaceCastOp::create(
        b, loc, LLVM::LLVMPointerType::get(b.getContext(), 7),
        sharedPtr(add(aligned,
                      addi(muli(buf, bk * width * 2), off + cb * bk * 128))));
    NVVM::CpAsyncBulkTensorGlobalToSharedClusterOp::create(
        b, loc, dst, map,
        ValueRange{arith::ConstantIntOp::create(b, loc, i32, cb * 64), k0,
                   i32v(kvh), i32v(bIdx)},
        bar, ValueRange{}, Value(), Value(), NVVM::TMALoadMode::TILE,
        /*isCTAOnly=*/false, NVVM::CTAGroupKindAttr(), Value());
  }
}

/// Waits until the K (or V) tile number `t` of the block (counted over
/// all its loops) has landed in buffer t % 2: phase parity (t / 2) % 2 of
/// that buffer's mbarrier.
void KernelBuilder::tmaWait(Value t, bool values) {
  Value buf = arith::RemUIOp::create(b, loc, t, idx(2));
  Value parity = i32v(arith::RemUIOp::create(
      b, loc, arith::DivUIOp::create(b, loc, t, idx(2)), idx(2)));
  NVVM::MBarrierTryWaitParityOp::create(
      b, loc, mbarrier(values ? addi(buf, 2) : buf), parity,
      arith::ConstantIntOp::create(b, loc, i32, 0x989680));
}

void KernelBuilder::loadTile(Value kb, Value buf) {
  if (tma) {
    tmaLoad(kb, buf, /*values=*/false);
    tmaLoad(kb, buf, /*values=*/true);
    return;
  }
  if (wgmma) {
    Value k0 = muli(kb, bk);
    copyRows(k, k0, flatView(addi(muli(buf, bk * d * 2), kOff), bk * d), bk, d,
             /*kv=*/true);
    copyRows(v, k0, flatView(addi(muli(buf, bk * dv * 2), vOff), bk * dv), bk,
             dv,
             /*kv=*/true);
    return;
  }
  Value ks = kView(buf), vs = vView(buf);
  int64_t threads = 32 * warps;
  Value k0 = muli(kb, bk);
  Value tid = add(muli(warp, 32), lane);
  auto copy = [&](Value src, Value dst, int64_t width) {
    int64_t chunksPerRow = width / 8;
    int64_t total = bk * chunksPerRow;
    for (int64_t i = 0; i < total; i += threads) {
      Value c = addi(tid, i);
      auto body = [&](OpBuilder &, Location) {
        Value r = arith::DivUIOp::create(b, loc, c, idx(chunksPerRow));
        Value col =
            muli(arith::RemUIOp::create(b, loc, c, idx(chunksPerRow)), 8);
        Value gr, fill;
        if (tokens) {
          // Row r of tile kb is the key at list position k0 + r; the
          // padding (Sk) is zero-filled.
          Value key = arith::IndexCastOp::create(
              b, loc, b.getIndexType(),
              memref::LoadOp::create(b, loc, keyList, add(k0, r)));
          gr = arith::MinUIOp::create(b, loc, key, lastKey());
          fill = arith::SelectOp::create(
              b, loc,
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, key,
                                    keyLen()),
              idx(8), idx(0));
        } else {
          gr = arith::MinUIOp::create(b, loc, add(k0, r), lastKey());
          fill = pastEndZeroFill(/*kv=*/true, add(k0, r), bk);
        }
        nvgpu::DeviceAsyncCopyOp::create(
            b, loc, dst, ValueRange{r, col}, src,
            ValueRange{bIdx, kvh, gr, col}, b.getIndexAttr(8), fill,
            /*bypassL1=*/b.getUnitAttr());
      };
      if (i + threads <= total) {
        body(b, loc);
      } else {
        Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                              c, idx(total));
        auto ifOp = scf::IfOp::create(b, loc, inRange, /*else=*/false);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(ifOp.thenBlock());
        body(b, loc);
      }
    }
  };
  copy(k, ks, d);
  copy(v, vs, dv);
}

/// The source-element count of a cp.async of 8 elements of key / value
/// row `row`: 0 past the sequence end (the copy zero-fills the shared
/// row, so a key past Sk contributes exactly nothing to the tile
/// products, whatever the clamped source row holds), none (a full copy)
/// when the sequence is a whole number of tiles or for query rows.
Value KernelBuilder::pastEndZeroFill(bool kv, Value row, int64_t rows) {
  if (!kv || (!ShapedType::isDynamic(sk) && sk % rows == 0))
    return Value();
  Value inside =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row, keyLen());
  return arith::SelectOp::create(b, loc, inside, idx(8), idx(0));
}

/// cp.async of rows [r0, r0 + rows) (clamped to the sequence) of `src`
/// (K or V at [b, kv head], else Q at [b, h]) into a swizzled tile.
void KernelBuilder::copyRows(Value src, Value r0, Value dst, int64_t rows,
                             int64_t width, bool kv) {
  int64_t threads = 32 * warps;
  Value tid = add(muli(warp, 32), lane);
  int64_t chunksPerRow = width / 8;
  int64_t total = rows * chunksPerRow;
  for (int64_t i = 0; i < total; i += threads) {
    Value c = addi(tid, i);
    auto body = [&]() {
      Value r = arith::DivUIOp::create(b, loc, c, idx(chunksPerRow));
      Value col = muli(arith::RemUIOp::create(b, loc, c, idx(chunksPerRow)), 8);
      Value gr = arith::MinUIOp::create(b, loc, add(r0, r),
                                        kv ? lastKey() : lastQuery());
      nvgpu::DeviceAsyncCopyOp::create(
          b, loc, dst, ValueRange{swizzledIndex(r, col, rows)}, src,
          ValueRange{bIdx, kv ? kvh : hIdx, gr, col}, b.getIndexAttr(8),
          pastEndZeroFill(kv, add(r0, r), rows),
          /*bypassL1=*/b.getUnitAttr());
    };
    if (i + threads <= total) {
      body();
    } else {
      Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                            c, idx(total));
      auto ifOp = scf::IfOp::create(b, loc, inRange, /*else=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifOp.thenBlock());
      body();
    }
  }
}
