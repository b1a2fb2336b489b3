//===- ForwardBody.cpp - the forward step of one key tile
//-------------------===//
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

/// Issues S = Q K^T for the K tile in buffer `buf` as warpgroup MMAs (Q
/// and K K-major) and commits them without waiting: the returned
/// accumulator struct may only be read after a later wgmma.wait_group.
Value KernelBuilder::issueScores(Value buf) {
  return issueKMajorProduct(qTile, addi(muli(buf, bk * d * 2), kOff), bk, d);
}

/// allowed(b, h, q, k) of the pattern (with `k < Sk` when the last key
/// block is ragged); positions are clamped into range for the loads the
/// predicate may do.
/// With segment ids, `qId` / `kId` are the ids of qPos / kPos, loaded
/// once per row and per tile column by the caller.
Value KernelBuilder::allowed(Value qPos, Value kPos, Value qId, Value kId,
                             Value head) {
  Value kc = arith::MinUIOp::create(b, loc, kPos, lastKey());
  PatternCodegenInputs in;
  in.b = bIdx;
  in.h = head ? head : hIdx;
  in.q = qPos;
  in.k = kc;
  in.sq = sq;
  in.sk = sk;
  in.sqValue = queryLen();
  in.skValue = keyLen();
  in.symbolScope = op;
  in.querySegmentIds = qSeg;
  in.keySegmentIds = kSeg;
  auto qIdFn = [&](OpBuilder &, Location, Value, Value) { return qId; };
  auto kIdFn = [&](OpBuilder &, Location, Value, Value) { return kId; };
  if (qId && kId) {
    in.querySegment = qIdFn;
    in.keySegment = kIdFn;
  }
  auto load = [&](OpBuilder &b, Location loc, DenseIntElementsAttr table,
                  Value i, Value j) {
    return deviceGlobals->loadBoolTableEntry(b, loc, table, i, j);
  };
  in.loadTable = load;
  FailureOr<Value> a = buildAllowed(b, loc, pattern, in);
  // checkLowerableToGPU verified the predicate before anything was built.
  if (failed(a))
    llvm::report_fatal_error("sparse-attn: pattern code generation failed "
                             "after verifying it");
  Value ok = *a;
  // Token lists are padded with Sk.
  if (raggedKeys() || tokens)
    ok = arith::AndIOp::create(b, loc, ok,
                               arith::CmpIOp::create(b, loc,
                                                     arith::CmpIPredicate::ult,
                                                     kPos, keyLen()));
  return ok;
}

/// One key tile: updates the running state `st` = [m0, m1, l0, l1, O...].
/// With `masked`, the pattern's mask is applied to the scores; only when
/// the i1 `maskIf` holds if it is given (a run-time choice that shares
/// one copy of the tile's code between masked and unmasked tiles).
/// The tile's K and V are in shared buffer `buf`.
void KernelBuilder::tile(Value kb, Value buf, bool masked, Value maskIf,
                         ArrayRef<Value> qFrag, SmallVector<Value> &st,
                         ArrayRef<Value> sIn, function_ref<void()> afterScores,
                         function_ref<void()> beforeValues) {
  int64_t nTiles = bk / 8;
  Value k0 = muli(kb, bk);
  // S = Q K^T (or given: the overlapped loop computed it already).
  SmallVector<Value> s(nTiles * 4, cf(0.0));
  int64_t kSteps = d / 16;
  Value ks, vs;
  if (!sIn.empty()) {
    s.assign(sIn.begin(), sIn.end());
  } else if (wgmma) {
    Value acc = issueScores(buf);
    NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);
    s = extractAll(acc, bk / 2);
  } else {
    ks = kView(buf);
    vs = vView(buf);
  }
  Value rowInTile = arith::RemUIOp::create(b, loc, lane, idx(8));
  Value colGroup = arith::DivUIOp::create(b, loc, lane, idx(8));
  for (int64_t n = 0; !wgmma && n < nTiles; ++n) {
    Value row = addi(rowInTile, n * 8);
    for (int64_t kk = 0; kk < kSteps;) {
      bool two = kk + 1 < kSteps;
      Value col = add(muli(colGroup, 8), idx(kk * 16));
      SmallVector<Value> regs = ldmatrix(ks, row, col, two ? 4 : 2, false);
      for (int64_t step = 0; step < (two ? 2 : 1); ++step) {
        ArrayRef<Value> a = qFrag.slice((kk + step) * 4, 4);
        mma(a, {regs[step * 2], regs[step * 2 + 1]},
            MutableArrayRef<Value>(s).slice(n * 4, 4));
      }
      kk += two ? 2 : 1;
    }
  }
  if (afterScores)
    afterScores();
  scoresToProbabilities(k0, s, masked, maskIf, st);
  int64_t nOut = dv / 8;
  // O += P V.
  if (wgmma) {
    // P stays in registers: the accumulator layout of two adjacent n8
    // column tiles is the A-register layout of one k16 step (as for
    // mma.sync). V is read MN-major (transposed) from shared memory; step
    // kk covers keys 16 kk .. 16 kk + 15.
    if (beforeValues)
      beforeValues();
    accumulateRegisterA(s, bk, addi(muli(buf, bk * dv * 2), vOff), dv,
                        MutableArrayRef<Value>(st).slice(4, dv / 2));
    return;
  }
  Value vRow = arith::RemUIOp::create(b, loc, lane, idx(16));
  Value vColGroup = arith::DivUIOp::create(b, loc, lane, idx(16));
  for (int64_t j = 0; j < bk / 16; ++j) {
    SmallVector<Value> a = {
        packF32(s[(2 * j) * 4 + 0], s[(2 * j) * 4 + 1]),
        packF32(s[(2 * j) * 4 + 2], s[(2 * j) * 4 + 3]),
        packF32(s[(2 * j + 1) * 4 + 0], s[(2 * j + 1) * 4 + 1]),
        packF32(s[(2 * j + 1) * 4 + 2], s[(2 * j + 1) * 4 + 3])};
    Value row = addi(vRow, j * 16);
    for (int64_t n = 0; n < nOut; n += 2) {
      Value col = add(muli(vColGroup, 8), idx(n * 8));
      SmallVector<Value> regs = ldmatrix(vs, row, col, 4, true);
      mma(a, {regs[0], regs[1]},
          MutableArrayRef<Value>(st).slice(4 + n * 4, 4));
      mma(a, {regs[2], regs[3]},
          MutableArrayRef<Value>(st).slice(4 + (n + 1) * 4, 4));
    }
  }
}

void KernelBuilder::scoresToProbabilities(Value k0, SmallVector<Value> &s,
                                          bool masked, Value maskIf,
                                          SmallVector<Value> &st,
                                          SmallVectorImpl<Value> *alphas) {
  int64_t nTiles = bk / 8;
  // Scale, score_mod, mask; into the base-2 domain.
  const double log2e = 1.4426950408889634;
  Value negInf = cf(-std::numeric_limits<double>::infinity());
  Value scaleAll = cf(scoreMod ? scale : scale * log2e);
  Value log2eV = cf(log2e);
  // Token tables: k0 is a position in the key list, which holds the keys.
  auto kPosOf = [&](int64_t n, int64_t e) -> Value {
    Value pos = add(k0, addi(muli(t, 2), n * 8 + (e & 1)));
    if (!tokens)
      return pos;
    return arith::IndexCastOp::create(
        b, loc, b.getIndexType(), memref::LoadOp::create(b, loc, keyList, pos));
  };
  for (int64_t n = 0; n < nTiles; ++n)
    for (int64_t e = 0; e < 4; ++e) {
      Value &x = s[n * 4 + e];
      x = fmul(x, scaleAll);
      if (!scoreMod)
        continue;
      Value qPos = e < 2 ? row0c : row1c;
      FailureOr<Value> m = inlineScoreMod(
          b, loc, scoreMod, x, bIdx, headOfRow(e < 2 ? 0 : 1), qPos,
          arith::MinUIOp::create(b, loc, kPosOf(n, e), lastKey()), queryLen(),
          keyLen());
      if (failed(m)) // the lengths are always known here
        llvm::report_fatal_error("sparse-attn: score_mod inlining failed");
      x = *m;
      x = fmul(x, log2eV);
    }
  auto applyMask = [&](SmallVector<Value> &s) {
    for (int64_t n = 0; n < nTiles; ++n)
      for (int64_t par = 0; par < 2; ++par) {
        Value kPos = kPosOf(n, par);
        Value kId;
        if (qSeg) // one load per column, shared by both rows
          kId = memref::LoadOp::create(
              b, loc, kSeg,
              ValueRange{bIdx,
                         arith::MinUIOp::create(b, loc, kPos, lastKey())});
        for (int64_t half = 0; half < 2; ++half) {
          Value &x = s[n * 4 + 2 * half + par];
          Value ok = allowed(half ? row1c : row0c, kPos, half ? qId1 : qId0,
                             kId, headOfRow(half));
          x = arith::SelectOp::create(b, loc, ok, x, negInf);
        }
      }
  };
  if (masked && !maskIf) {
    applyMask(s);
  } else if (masked) {
    auto ifOp = scf::IfOp::create(b, loc, TypeRange(ValueRange(s)), maskIf,
                                  /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    SmallVector<Value> inner = s;
    applyMask(inner);
    scf::YieldOp::create(b, loc, inner);
    b.setInsertionPointToStart(ifOp.elseBlock());
    scf::YieldOp::create(b, loc, s);
    b.setInsertionPointAfter(ifOp);
    s.assign(ifOp.getResults().begin(), ifOp.getResults().end());
  }
  // Online softmax, rows g (elements 0, 1) and g + 8 (elements 2, 3).
  Value zero = cf(0.0);
  int64_t nOut = dv / 8;
  for (int half = 0; half < 2; ++half) {
    Value mx = st[half];
    for (int64_t n = 0; n < nTiles; ++n)
      mx = fmax(mx, fmax(s[n * 4 + 2 * half], s[n * 4 + 2 * half + 1]));
    mx = fmax(mx, shuffleXor(mx, 1));
    mx = fmax(mx, shuffleXor(mx, 2));
    // Nothing allowed so far: keep exponents finite (2^(-inf - 0) = 0).
    Value isInf =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, mx, negInf);
    Value base = arith::SelectOp::create(b, loc, isInf, zero, mx);
    Value alpha = ex2(fsub(st[half], base));
    Value sum = zero;
    for (int64_t n = 0; n < nTiles; ++n)
      for (int e = 0; e < 2; ++e) {
        Value &x = s[n * 4 + 2 * half + e];
        x = ex2(fsub(x, base));
        sum = fadd(sum, x);
      }
    st[2 + half] = fadd(fmul(st[2 + half], alpha), sum);
    st[half] = mx;
    if (alphas) { // the caller rescales O once its products are complete
      alphas->push_back(alpha);
      continue;
    }
    for (int64_t n = 0; n < nOut; ++n)
      for (int e = 0; e < 2; ++e) {
        Value &o = st[4 + n * 4 + 2 * half + e];
        o = fmul(o, alpha);
      }
  }
}

void KernelBuilder::rescaleOutput(SmallVector<Value> &st,
                                  ArrayRef<Value> alphas) {
  for (int half = 0; half < 2; ++half)
    for (int64_t n = 0; n < dv / 8; ++n)
      for (int e = 0; e < 2; ++e) {
        Value &o = st[4 + n * 4 + 2 * half + e];
        o = fmul(o, alphas[half]);
      }
}
