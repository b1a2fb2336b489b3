//===- GPUPrimitives.cpp - tensor-core and memory primitives
//----------------===//
//
// Part of the GPU kernel builder (KernelBuilder.h).
//
//===----------------------------------------------------------------------===//

#include "GPUPrimitives.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::sparse_attn;

/// Element index of (row, col) in a swizzled [rows x width] tile; col is
/// a multiple of 8 plus `within` (< 8).
Value GpuPrimitives::swizzledIndex(Value row, Value col, int64_t rows,
                                   Value within) {
  Value block = arith::DivUIOp::create(b, loc, col, idx(64));
  Value chunk = arith::DivUIOp::create(
      b, loc, arith::RemUIOp::create(b, loc, col, idx(64)), idx(8));
  Value sw = arith::XOrIOp::create(b, loc, chunk,
                                   arith::RemUIOp::create(b, loc, row, idx(8)));
  Value e = add(add(muli(block, rows * 64), muli(row, 64)), muli(sw, 8));
  return within ? add(e, within) : e;
}

SmallVector<Value> GpuPrimitives::extractAll(Value structV, int64_t n) {
  SmallVector<Value> out;
  for (int64_t i = 0; i < n; ++i)
    out.push_back(
        LLVM::ExtractValueOp::create(b, loc, structV, ArrayRef<int64_t>{i}));
  return out;
}

/// D (n / 2 f32 per thread, updated in place) += A B for one k16 step of
/// a warpgroup MMA whose A comes from registers (four 32-bit registers of
/// packed pairs, mma.sync's A layout per warp) and B, transposed (MN-major),
/// from shared memory. The NVVM op takes A from shared memory only, so
/// this is the PTX instruction as inline assembly (as the NVVM op itself
/// lowers); the caller issues the fence, commit and wait.
void GpuPrimitives::wgmmaRegisterA(int64_t n, ArrayRef<Value> a, Value descB,
                                   MutableArrayRef<Value> d) {
  MLIRContext *ctx = b.getContext();
  int64_t m = n / 2;
  std::string asmStr, constraints;
  llvm::raw_string_ostream os(asmStr), cs(constraints);
  os << "{\n.reg .pred p;\n.reg .b32 one;\nmov.b32 one, 1;\n"
        "setp.ne.b32 p, one, 0;\nwgmma.mma_async.sync.aligned.m64n"
     << n << "k16.f32." << (elt.isF16() ? "f16.f16" : "bf16.bf16") << " {";
  for (int64_t i = 0; i < m; ++i)
    os << (i ? ", " : "") << "$" << i;
  os << "}, {$" << 2 * m << ", $" << 2 * m + 1 << ", $" << 2 * m + 2 << ", $"
     << 2 * m + 3 << "}, $" << 2 * m + 4 << ", p, 1, 1, 1;\n}";
  SmallVector<Value> operands;
  for (int64_t i = 0; i < m; ++i)
    cs << (i ? "," : "") << "=f";
  for (int64_t i = 0; i < m; ++i) {
    cs << "," << i; // tied to output i
    operands.push_back(d[i]);
  }
  for (Value r : a) {
    cs << ",r";
    if (r.getType() != i32) // f16: vector<2xf16>
      r = LLVM::BitcastOp::create(b, loc, i32, r);
    operands.push_back(r);
  }
  cs << ",l";
  operands.push_back(descB);
  auto structTy =
      LLVM::LLVMStructType::getLiteral(ctx, SmallVector<Type>(m, f32));
  auto op = LLVM::InlineAsmOp::create(
      b, loc, structTy, operands, b.getStringAttr(asmStr),
      b.getStringAttr(constraints), b.getUnitAttr(), UnitAttr(),
      LLVM::TailCallKindAttr(),
      LLVM::AsmDialectAttr::get(ctx, LLVM::AsmDialect::AD_ATT), ArrayAttr());
  for (int64_t i = 0; i < m; ++i)
    d[i] = LLVM::ExtractValueOp::create(b, loc, op.getResult(0),
                                        ArrayRef<int64_t>{i});
}

/// Makes this thread's shared-memory writes (cp.async, stores) visible to
/// wgmma's asynchronous proxy.
void GpuPrimitives::fenceAsyncProxy() {
  NVVM::FenceProxyOp::create(
      b, loc,
      NVVM::ProxyKindAttr::get(b.getContext(), NVVM::ProxyKind::async_shared),
      NVVM::SharedSpaceAttr::get(b.getContext(),
                                 NVVM::SharedSpace::shared_cta));
}

void GpuPrimitives::fenceOperands(MutableArrayRef<Value> regs) {
  if (regs.empty())
    return;
  std::string constraints;
  llvm::raw_string_ostream cs(constraints);
  for (size_t i = 0; i < regs.size(); ++i)
    cs << (i ? "," : "") << "=f";
  for (size_t i = 0; i < regs.size(); ++i)
    cs << "," << i;
  MLIRContext *ctx = b.getContext();
  auto structTy = LLVM::LLVMStructType::getLiteral(
      ctx, SmallVector<Type>(regs.size(), b.getF32Type()));
  auto op = LLVM::InlineAsmOp::create(
      b, loc, structTy, SmallVector<Value>(regs.begin(), regs.end()),
      b.getStringAttr(""), b.getStringAttr(constraints),
      /*has_side_effects=*/b.getUnitAttr(), /*is_align_stack=*/UnitAttr(),
      LLVM::TailCallKindAttr(),
      LLVM::AsmDialectAttr::get(ctx, LLVM::AsmDialect::AD_ATT), ArrayAttr());
  for (size_t i = 0; i < regs.size(); ++i)
    regs[i] = LLVM::ExtractValueOp::create(b, loc, op.getResult(0),
                                           ArrayRef<int64_t>{(int64_t)i});
}

Value GpuPrimitives::ex2(Value x) {
  return LLVM::CallIntrinsicOp::create(
             b, loc, f32, b.getStringAttr("llvm.nvvm.ex2.approx.ftz.f32"),
             ValueRange{x})
      .getResult(0);
}

Value GpuPrimitives::tanhApprox(Value x) {
  auto op = LLVM::InlineAsmOp::create(
      b, loc, x.getType(), ValueRange{x},
      b.getStringAttr("tanh.approx.f32 $0, $1;"), b.getStringAttr("=f,f"),
      /*has_side_effects=*/UnitAttr(), /*is_align_stack=*/UnitAttr(),
      LLVM::TailCallKindAttr(),
      LLVM::AsmDialectAttr::get(b.getContext(), LLVM::AsmDialect::AD_ATT),
      ArrayAttr());
  return op.getResult(0);
}

Value GpuPrimitives::lg2(Value x) {
  return LLVM::CallIntrinsicOp::create(
             b, loc, f32, b.getStringAttr("llvm.nvvm.lg2.approx.ftz.f"),
             ValueRange{x})
      .getResult(0);
}

/// The register type of one pair of input elements in an mma operand:
/// vector<2xf16> for f16, i32 for bf16 (what nvvm.mma.sync takes).
Value GpuPrimitives::packVec(Value pair) { // pair: vector<2 x elt>
  if (elt.isF16())
    return pair;
  Value w = vector::BitCastOp::create(b, loc, VectorType::get({1}, i32), pair);
  return vector::ExtractOp::create(b, loc, w, ArrayRef<int64_t>{0});
}

Value GpuPrimitives::packF32(Value x, Value y) {
  Value v = vector::FromElementsOp::create(b, loc, VectorType::get({2}, f32),
                                           ValueRange{x, y});
  v = arith::TruncFOp::create(b, loc, VectorType::get({2}, elt), v);
  return packVec(v);
}

/// ldmatrix of `tiles` 8x8 matrices; lane l addresses row (row, col) of
/// matrix l / 8. Returns one register per matrix.
SmallVector<Value> GpuPrimitives::ldmatrix(Value smem, Value row, Value col,
                                           int tiles, bool transpose) {
  auto type = VectorType::get({tiles, 2}, elt);
  Value m = nvgpu::LdMatrixOp::create(b, loc, type, smem, ValueRange{row, col},
                                      transpose, tiles);
  SmallVector<Value> regs;
  for (int i = 0; i < tiles; ++i)
    regs.push_back(
        packVec(vector::ExtractOp::create(b, loc, m, ArrayRef<int64_t>{i})));
  return regs;
}

/// c += a * b on one m16n8k16 tile.
void GpuPrimitives::mma(ArrayRef<Value> a, ArrayRef<Value> bb,
                        MutableArrayRef<Value> c) {
  auto s =
      LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
  NVVM::MMATypes ty = elt.isF16() ? NVVM::MMATypes::f16 : NVVM::MMATypes::bf16;
  Value r = NVVM::MmaOp::create(
      b, loc, s, a, bb, c, ArrayRef<int64_t>{16, 8, 16}, std::nullopt,
      std::nullopt, std::array<NVVM::MMATypes, 2>{ty, ty},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  for (int i = 0; i < 4; ++i)
    c[i] = LLVM::ExtractValueOp::create(b, loc, r, ArrayRef<int64_t>{i});
}

Value GpuPrimitives::ballotCompact(Value keep, Value lane, Value base,
                                   function_ref<void(Value slot)> store) {
  Value all = arith::ConstantIntOp::create(b, loc, i32, -1);
  Value ballot = NVVM::VoteSyncOp::create(b, loc, i32, all, keep,
                                          NVVM::VoteSyncKind::ballot);
  Value laneI32 = arith::IndexCastOp::create(b, loc, i32, lane);
  Value below = arith::SubIOp::create(
      b, loc,
      arith::ShLIOp::create(
          b, loc, arith::ConstantIntOp::create(b, loc, i32, 1), laneI32),
      arith::ConstantIntOp::create(b, loc, i32, 1));
  auto popc = [&](Value x) -> Value {
    Value c = LLVM::CtPopOp::create(b, loc, i32, x);
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), c);
  };
  Value slot = add(base, popc(arith::AndIOp::create(b, loc, ballot, below)));
  auto ifKeep = scf::IfOp::create(b, loc, keep, /*else=*/false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifKeep.thenBlock());
    store(slot);
  }
  return add(base, popc(ballot));
}

void GpuPrimitives::strided(Value from, Value to, int64_t step,
                            function_ref<void(Value)> body) {
  auto loop = scf::ForOp::create(b, loc, from, to, idx(step));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  body(loop.getInductionVar());
}

void GpuPrimitives::ifThen(Value cond, function_ref<void()> body) {
  auto ifOp = scf::IfOp::create(b, loc, cond, /*else=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifOp.thenBlock());
  body();
}
