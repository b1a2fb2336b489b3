//===- MaskProgram.cpp - compiled mask regions ----------------------------===//
//
// Values are 64-bit slots holding the value of their integer type
// sign-extended (i1 true is -1, as arith.extsi sees it), the convention of
// the interpreter in PatternAnalysis.cpp.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Dialect/SparseAttn/Analysis/MaskProgram.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Index/IR/IndexOps.h"
#include "llvm/ADT/TypeSwitch.h"
#include <algorithm>

using namespace mlir;
using namespace mlir::sparse_attn;

namespace {
enum class Opc : uint8_t {
  Const,
  Add,
  Sub,
  Mul,
  DivS,
  DivU,
  RemS,
  RemU,
  FloorDivS,
  CeilDivS,
  CeilDivU,
  MinS,
  MaxS,
  MinU,
  MaxU,
  And,
  Or,
  Xor,
  Shl,
  ShrS,
  ShrU,
  Cmp,
  Select,
  /// Sign-extension, truncation, index_cast: wrap to the result width.
  Cast,
  /// Zero-extension from `srcWidth` (extui, index_castui).
  ZExt,
};
} // namespace

struct MaskProgram::Instr {
  Opc opc;
  /// Result width; for Cmp the operands' width; for ZExt also srcWidth.
  unsigned width = 64;
  unsigned srcWidth = 64;
  arith::CmpIPredicate pred = arith::CmpIPredicate::eq;
  unsigned a = 0, b = 0, c = 0, out = 0;
  int64_t imm = 0;
};

MaskProgram::~MaskProgram() = default;

//===----------------------------------------------------------------------===//
// Concrete semantics (shared by the scalar and the lane evaluation)
//===----------------------------------------------------------------------===//

static unsigned widthOf(Type t) {
  if (auto it = llvm::dyn_cast<IntegerType>(t))
    return it.getWidth();
  return 64; // index: the targets this project lowers to use 64 bits
}

static inline uint64_t lowMask(unsigned w) {
  return w >= 64 ? ~uint64_t(0) : (uint64_t(1) << w) - 1;
}
/// `v` wrapped to `w` bits and sign-extended.
static inline int64_t wrapTo(uint64_t v, unsigned w) {
  unsigned sh = 64 - w;
  return static_cast<int64_t>(v << sh) >> sh;
}
static inline int64_t floorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
static inline int64_t ceilDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) == (b < 0))) ? q + 1 : q;
}
static inline bool cmpInt(arith::CmpIPredicate p, int64_t a, int64_t b,
                          unsigned w) {
  uint64_t ua = uint64_t(a) & lowMask(w), ub = uint64_t(b) & lowMask(w);
  switch (p) {
  case arith::CmpIPredicate::eq:
    return a == b;
  case arith::CmpIPredicate::ne:
    return a != b;
  case arith::CmpIPredicate::slt:
    return a < b;
  case arith::CmpIPredicate::sle:
    return a <= b;
  case arith::CmpIPredicate::sgt:
    return a > b;
  case arith::CmpIPredicate::sge:
    return a >= b;
  case arith::CmpIPredicate::ult:
    return ua < ub;
  case arith::CmpIPredicate::ule:
    return ua <= ub;
  case arith::CmpIPredicate::ugt:
    return ua > ub;
  case arith::CmpIPredicate::uge:
    return ua >= ub;
  }
  return false;
}

/// One operation on sign-extended operands. Divisors and shift amounts are
/// constants the verifier has checked (non-zero, not -1 when signed, below
/// the bit width), so nothing here traps or overflows in C++.
template <Opc O>
static inline int64_t apply(const MaskProgram::Instr &in, int64_t a, int64_t b,
                            int64_t c) {
  unsigned w = in.width;
  uint64_t m = lowMask(w);
  if constexpr (O == Opc::Const)
    return in.imm;
  if constexpr (O == Opc::Add)
    return wrapTo(uint64_t(a) + uint64_t(b), w);
  if constexpr (O == Opc::Sub)
    return wrapTo(uint64_t(a) - uint64_t(b), w);
  if constexpr (O == Opc::Mul)
    return wrapTo(uint64_t(a) * uint64_t(b), w);
  if constexpr (O == Opc::DivS)
    return wrapTo(uint64_t(a / b), w);
  if constexpr (O == Opc::DivU)
    return wrapTo((uint64_t(a) & m) / (uint64_t(b) & m), w);
  if constexpr (O == Opc::RemS)
    return a % b;
  if constexpr (O == Opc::RemU)
    return wrapTo((uint64_t(a) & m) % (uint64_t(b) & m), w);
  if constexpr (O == Opc::FloorDivS)
    return wrapTo(uint64_t(floorDiv(a, b)), w);
  if constexpr (O == Opc::CeilDivS)
    return wrapTo(uint64_t(ceilDiv(a, b)), w);
  if constexpr (O == Opc::CeilDivU) {
    uint64_t ua = uint64_t(a) & m, ub = uint64_t(b) & m;
    return wrapTo(ua / ub + (ua % ub != 0), w);
  }
  if constexpr (O == Opc::MinS)
    return a < b ? a : b;
  if constexpr (O == Opc::MaxS)
    return a > b ? a : b;
  if constexpr (O == Opc::MinU)
    return (uint64_t(a) & m) < (uint64_t(b) & m) ? a : b;
  if constexpr (O == Opc::MaxU)
    return (uint64_t(a) & m) > (uint64_t(b) & m) ? a : b;
  if constexpr (O == Opc::And)
    return a & b;
  if constexpr (O == Opc::Or)
    return a | b;
  if constexpr (O == Opc::Xor)
    return a ^ b;
  if constexpr (O == Opc::Shl)
    return wrapTo(uint64_t(a) << b, w);
  if constexpr (O == Opc::ShrS)
    return a >> b;
  if constexpr (O == Opc::ShrU)
    return wrapTo((uint64_t(a) & m) >> b, w);
  if constexpr (O == Opc::Cmp)
    return cmpInt(in.pred, a, b, w) ? -1 : 0;
  if constexpr (O == Opc::Select)
    return a ? b : c;
  if constexpr (O == Opc::Cast)
    return wrapTo(uint64_t(a), w);
  if constexpr (O == Opc::ZExt)
    return wrapTo(uint64_t(a) & lowMask(in.srcWidth), w);
  return 0;
}

#define SPARSE_ATTN_FOR_EACH_OPC(X)                                            \
  X(Const)                                                                     \
  X(Add) X(Sub) X(Mul) X(DivS) X(DivU) X(RemS) X(RemU) X(FloorDivS)            \
      X(CeilDivS) X(CeilDivU) X(MinS) X(MaxS) X(MinU) X(MaxU) X(And) X(Or)     \
          X(Xor) X(Shl) X(ShrS) X(ShrU) X(Cmp) X(Select) X(Cast) X(ZExt)

static int64_t applyScalar(const MaskProgram::Instr &in, int64_t a, int64_t b,
                           int64_t c) {
  switch (in.opc) {
#define CASE(O)                                                                \
  case Opc::O:                                                                 \
    return apply<Opc::O>(in, a, b, c);
    SPARSE_ATTN_FOR_EACH_OPC(CASE)
#undef CASE
  }
  return 0;
}

/// out[i] = op(a[i], b[i], c[i]) for i < n: one loop per opcode, which the
/// compiler vectorises, in clones for the x86 vector extensions selected at
/// load time (64-bit lanes need AVX2 compares and AVX-512 multiplies).
#if defined(__x86_64__) && defined(__clang__) && defined(__linux__)
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#endif
static void
applyLanes(const MaskProgram::Instr &instr, const int64_t *__restrict a,
           const int64_t *__restrict b, const int64_t *__restrict c,
           int64_t *__restrict out, int64_t n) {
  // A local copy: stores through `out` cannot change it.
  const MaskProgram::Instr in = instr;
  switch (in.opc) {
#define CASE(O)                                                                \
  case Opc::O:                                                                 \
    for (int64_t i = 0; i < n; ++i)                                            \
      out[i] = apply<Opc::O>(in, a[i], b[i], c[i]);                            \
    return;
    SPARSE_ATTN_FOR_EACH_OPC(CASE)
#undef CASE
  }
}

//===----------------------------------------------------------------------===//
// Compilation
//===----------------------------------------------------------------------===//

static std::optional<arith::CmpIPredicate>
toArithPredicate(index::IndexCmpPredicate p) {
  switch (p) {
  case index::IndexCmpPredicate::EQ:
    return arith::CmpIPredicate::eq;
  case index::IndexCmpPredicate::NE:
    return arith::CmpIPredicate::ne;
  case index::IndexCmpPredicate::SLT:
    return arith::CmpIPredicate::slt;
  case index::IndexCmpPredicate::SLE:
    return arith::CmpIPredicate::sle;
  case index::IndexCmpPredicate::SGT:
    return arith::CmpIPredicate::sgt;
  case index::IndexCmpPredicate::SGE:
    return arith::CmpIPredicate::sge;
  case index::IndexCmpPredicate::ULT:
    return arith::CmpIPredicate::ult;
  case index::IndexCmpPredicate::ULE:
    return arith::CmpIPredicate::ule;
  case index::IndexCmpPredicate::UGT:
    return arith::CmpIPredicate::ugt;
  case index::IndexCmpPredicate::UGE:
    return arith::CmpIPredicate::uge;
  }
  return std::nullopt;
}

/// The opcode of a binary integer operation, if supported.
static std::optional<Opc> binaryOpc(Operation *op) {
  return llvm::TypeSwitch<Operation *, std::optional<Opc>>(op)
      .Case<arith::AddIOp, index::AddOp>([](auto) { return Opc::Add; })
      .Case<arith::SubIOp, index::SubOp>([](auto) { return Opc::Sub; })
      .Case<arith::MulIOp, index::MulOp>([](auto) { return Opc::Mul; })
      .Case<arith::DivSIOp, index::DivSOp>([](auto) { return Opc::DivS; })
      .Case<arith::DivUIOp, index::DivUOp>([](auto) { return Opc::DivU; })
      .Case<arith::RemSIOp, index::RemSOp>([](auto) { return Opc::RemS; })
      .Case<arith::RemUIOp, index::RemUOp>([](auto) { return Opc::RemU; })
      .Case<arith::FloorDivSIOp, index::FloorDivSOp>(
          [](auto) { return Opc::FloorDivS; })
      .Case<arith::CeilDivSIOp, index::CeilDivSOp>(
          [](auto) { return Opc::CeilDivS; })
      .Case<arith::CeilDivUIOp, index::CeilDivUOp>(
          [](auto) { return Opc::CeilDivU; })
      .Case<arith::MinSIOp, index::MinSOp>([](auto) { return Opc::MinS; })
      .Case<arith::MaxSIOp, index::MaxSOp>([](auto) { return Opc::MaxS; })
      .Case<arith::MinUIOp, index::MinUOp>([](auto) { return Opc::MinU; })
      .Case<arith::MaxUIOp, index::MaxUOp>([](auto) { return Opc::MaxU; })
      .Case<arith::AndIOp, index::AndOp>([](auto) { return Opc::And; })
      .Case<arith::OrIOp, index::OrOp>([](auto) { return Opc::Or; })
      .Case<arith::XOrIOp, index::XOrOp>([](auto) { return Opc::Xor; })
      .Case<arith::ShLIOp, index::ShlOp>([](auto) { return Opc::Shl; })
      .Case<arith::ShRSIOp, index::ShrSOp>([](auto) { return Opc::ShrS; })
      .Case<arith::ShRUIOp, index::ShrUOp>([](auto) { return Opc::ShrU; })
      .Default([](Operation *) { return std::nullopt; });
}

std::unique_ptr<MaskProgram> MaskProgram::compile(MaskOp mask) {
  std::unique_ptr<MaskProgram> p(new MaskProgram());
  Block &body = mask.getBody().front();
  llvm::DenseMap<Value, unsigned> slots;
  static constexpr MaskVar kArgVars[] = {kVarB, kVarH,  kVarQ,
                                         kVarK, kVarSq, kVarSk};
  if (body.getNumArguments() > kNumMaskVars)
    return nullptr;
  for (BlockArgument arg : body.getArguments()) {
    slots[arg] = p->numSlots++;
    p->argVar.push_back(kArgVars[arg.getArgNumber()]);
    p->varying.push_back(kArgVars[arg.getArgNumber()] == kVarK);
  }
  auto slotOf = [&](Value v) -> std::optional<unsigned> {
    auto it = slots.find(v);
    if (it == slots.end())
      return std::nullopt;
    return it->second;
  };
  for (Operation &op : body) {
    if (auto yield = llvm::dyn_cast<YieldOp>(op)) {
      std::optional<unsigned> r = slotOf(yield.getValues().front());
      if (!r)
        return nullptr;
      p->result = *r;
      break;
    }
    if (op.getNumResults() != 1 || op.getNumOperands() > 3)
      return nullptr;
    Type resultType = op.getResult(0).getType();
    if (!resultType.isIntOrIndex())
      return nullptr;
    Instr in;
    in.width = widthOf(resultType);
    SmallVector<unsigned, 3> operands;
    for (Value v : op.getOperands()) {
      if (!v.getType().isIntOrIndex())
        return nullptr;
      std::optional<unsigned> s = slotOf(v);
      if (!s)
        return nullptr;
      operands.push_back(*s);
    }
    bool ok = true;
    llvm::TypeSwitch<Operation *>(&op)
        .Case<arith::ConstantOp, index::ConstantOp, index::BoolConstantOp>(
            [&](Operation *c) {
              auto ia =
                  llvm::dyn_cast_if_present<IntegerAttr>(c->getAttr("value"));
              if (!ia) {
                ok = false;
                return;
              }
              in.opc = Opc::Const;
              if (ia.getValue().getBitWidth() > 64) {
                ok = false;
                return;
              }
              in.imm = wrapTo(uint64_t(ia.getValue().getSExtValue()), in.width);
            })
        .Case([&](arith::CmpIOp c) {
          in.opc = Opc::Cmp;
          in.pred = c.getPredicate();
          in.width = widthOf(c.getLhs().getType());
        })
        .Case([&](index::CmpOp c) {
          std::optional<arith::CmpIPredicate> pred =
              toArithPredicate(c.getPred());
          ok = pred.has_value();
          in.opc = Opc::Cmp;
          if (pred)
            in.pred = *pred;
          in.width = 64;
        })
        .Case([&](arith::SelectOp) { in.opc = Opc::Select; })
        .Case<arith::ExtSIOp, arith::TruncIOp, arith::IndexCastOp,
              index::CastSOp>([&](Operation *) { in.opc = Opc::Cast; })
        .Case<arith::ExtUIOp, arith::IndexCastUIOp, index::CastUOp>(
            [&](Operation *o) {
              in.opc = Opc::ZExt;
              in.srcWidth = widthOf(o->getOperand(0).getType());
            })
        .Default([&](Operation *o) {
          std::optional<Opc> opc = binaryOpc(o);
          ok = opc.has_value() && o->getNumOperands() == 2;
          if (ok)
            in.opc = *opc;
        });
    if (!ok)
      return nullptr;
    if (operands.size() > 0)
      in.a = operands[0];
    if (operands.size() > 1)
      in.b = operands[1];
    if (operands.size() > 2)
      in.c = operands[2];
    bool isVarying = false;
    for (unsigned s : operands)
      isVarying |= p->varying[s];
    in.out = p->numSlots++;
    slots[op.getResult(0)] = in.out;
    p->varying.push_back(isVarying);
    p->instrs.push_back(in);
  }
  // Uniform slots that a varying instruction reads are broadcast per row.
  std::vector<bool> needed(p->numSlots, false);
  for (const Instr &in : p->instrs) {
    if (!p->varying[in.out])
      continue;
    unsigned n = in.opc == Opc::Select                          ? 3
                 : in.opc == Opc::Const                         ? 0
                 : (in.opc == Opc::Cast || in.opc == Opc::ZExt) ? 1
                                                                : 2;
    unsigned ops[3] = {in.a, in.b, in.c};
    for (unsigned i = 0; i < n; ++i)
      if (!p->varying[ops[i]])
        needed[ops[i]] = true;
  }
  if (!p->varying[p->result])
    needed[p->result] = true;
  for (unsigned s = 0; s < p->numSlots; ++s)
    if (needed[s])
      p->broadcast.push_back(s);
  return p;
}

//===----------------------------------------------------------------------===//
// Concrete evaluation
//===----------------------------------------------------------------------===//

static int64_t argValue(MaskVar v, int64_t b, int64_t h, int64_t sq, int64_t sk,
                        int64_t q, int64_t k) {
  switch (v) {
  case kVarB:
    return b;
  case kVarH:
    return h;
  case kVarQ:
    return q;
  case kVarK:
    return k;
  case kVarSq:
    return sq;
  case kVarSk:
    return sk;
  case kNumMaskVars:
    break;
  }
  return 0;
}

bool MaskProgram::evaluate(int64_t b, int64_t h, int64_t sq, int64_t sk,
                           int64_t q, int64_t k) const {
  SmallVector<int64_t, 32> v(numSlots);
  for (unsigned i = 0; i < argVar.size(); ++i)
    v[i] = argValue(argVar[i], b, h, sq, sk, q, k);
  for (const Instr &in : instrs)
    v[in.out] = applyScalar(in, v[in.a], v[in.b], v[in.c]);
  return v[result] != 0;
}

/// Lanes per chunk of a row.
static constexpr int64_t kLanes = 256;

void MaskProgram::evaluateRow(int64_t b, int64_t h, int64_t sq, int64_t sk,
                              int64_t q, int64_t k0, int64_t n,
                              uint8_t *out) const {
  std::vector<int64_t> lanes(size_t(numSlots) * kLanes);
  evaluateRow(b, h, sq, sk, q, k0, n, out, lanes.data());
}

void MaskProgram::evaluateRow(int64_t b, int64_t h, int64_t sq, int64_t sk,
                              int64_t q, int64_t k0, int64_t n, uint8_t *out,
                              int64_t *lanes) const {
  // Uniform slots: once per row.
  SmallVector<int64_t, 32> scalar(numSlots);
  for (unsigned i = 0; i < argVar.size(); ++i)
    scalar[i] = argValue(argVar[i], b, h, sq, sk, q, 0);
  for (const Instr &in : instrs)
    if (!varying[in.out])
      scalar[in.out] =
          applyScalar(in, scalar[in.a], scalar[in.b], scalar[in.c]);
  auto lane = [&](unsigned s) { return lanes + size_t(s) * kLanes; };
  for (unsigned s : broadcast)
    std::fill_n(lane(s), std::min(kLanes, n), scalar[s]);
  for (int64_t c0 = 0; c0 < n; c0 += kLanes) {
    int64_t m = std::min(kLanes, n - c0);
    for (unsigned i = 0; i < argVar.size(); ++i)
      if (argVar[i] == kVarK)
        for (int64_t j = 0; j < m; ++j)
          lane(i)[j] = k0 + c0 + j;
    for (const Instr &in : instrs)
      if (varying[in.out])
        applyLanes(in, lane(in.a), lane(in.b), lane(in.c), lane(in.out), m);
    const int64_t *r = lane(result);
    for (int64_t j = 0; j < m; ++j)
      out[c0 + j] = r[j] != 0;
  }
}

TileKind MaskProgram::classifyByElements(int64_t b, int64_t h, int64_t sq,
                                         int64_t sk, int64_t q0, int64_t q1,
                                         int64_t k0, int64_t k1) const {
  bool anyAllowed = false, anyForbidden = false;
  SmallVector<uint8_t, kLanes> row;
  // One scratch per thread, reused across calls (no per-tile allocation).
  thread_local std::vector<int64_t> lanes;
  if (lanes.size() < size_t(numSlots) * kLanes)
    lanes.resize(size_t(numSlots) * kLanes);
  for (int64_t q = q0; q < q1; ++q) {
    for (int64_t c0 = k0; c0 < k1; c0 += kLanes) {
      int64_t m = std::min(kLanes, k1 - c0);
      row.resize(m);
      evaluateRow(b, h, sq, sk, q, c0, m, row.data(), lanes.data());
      int64_t allowed = 0;
      for (uint8_t x : row)
        allowed += x;
      anyAllowed |= allowed > 0;
      anyForbidden |= allowed < m;
      if (anyAllowed && anyForbidden)
        return TileKind::Partial;
    }
  }
  return anyAllowed ? TileKind::Full : TileKind::Empty;
}

/// Rectangles at most this many pairs are decided by their elements.
static constexpr int64_t kLeafPairs = 4096;

TileKind MaskProgram::classify(int64_t b, int64_t h, int64_t sq, int64_t sk,
                               int64_t q0, int64_t q1, int64_t k0,
                               int64_t k1) const {
  if (q0 >= q1 || k0 >= k1)
    return TileKind::Empty;
  MaskBox box;
  int64_t lo[] = {b, h, q0, k0, sq, sk}, hi[] = {b, h, q1 - 1, k1 - 1, sq, sk};
  std::copy(lo, lo + kNumMaskVars, box.lo);
  std::copy(hi, hi + kNumMaskVars, box.hi);
  TileKind kind = abstractClassify(box);
  if (kind != TileKind::Partial)
    return kind;
  int64_t rows = q1 - q0, cols = k1 - k0;
  if (rows <= kLeafPairs / cols)
    return classifyByElements(b, h, sq, sk, q0, q1, k0, k1);
  // Halve the longer side; a partial half, or two halves of different
  // kinds, make the rectangle partial.
  TileKind first, second;
  if (rows >= cols) {
    int64_t mid = q0 + rows / 2;
    first = classify(b, h, sq, sk, q0, mid, k0, k1);
    if (first == TileKind::Partial)
      return first;
    second = classify(b, h, sq, sk, mid, q1, k0, k1);
  } else {
    int64_t mid = k0 + cols / 2;
    first = classify(b, h, sq, sk, q0, q1, k0, mid);
    if (first == TileKind::Partial)
      return first;
    second = classify(b, h, sq, sk, q0, q1, mid, k1);
  }
  return first == second ? first : TileKind::Partial;
}

void MaskProgram::classifyGrid(int64_t b, int64_t h, int64_t sq, int64_t sk,
                               int64_t bq, int64_t bk, int64_t i0, int64_t i1,
                               int64_t j0, int64_t j1, int64_t numK,
                               TileKind *kinds) const {
  int64_t q0 = i0 * bq, q1 = std::min(sq, i1 * bq);
  int64_t k0 = j0 * bk, k1 = std::min(sk, j1 * bk);
  if (i1 - i0 == 1 && j1 - j0 == 1) {
    kinds[i0 * numK + j0] = classify(b, h, sq, sk, q0, q1, k0, k1);
    return;
  }
  MaskBox box;
  int64_t lo[] = {b, h, q0, k0, sq, sk}, hi[] = {b, h, q1 - 1, k1 - 1, sq, sk};
  std::copy(lo, lo + kNumMaskVars, box.lo);
  std::copy(hi, hi + kNumMaskVars, box.hi);
  TileKind kind = abstractClassify(box);
  if (kind != TileKind::Partial) {
    for (int64_t i = i0; i < i1; ++i)
      std::fill(kinds + i * numK + j0, kinds + i * numK + j1, kind);
    return;
  }
  if (i1 - i0 >= j1 - j0) {
    int64_t mid = i0 + (i1 - i0) / 2;
    classifyGrid(b, h, sq, sk, bq, bk, i0, mid, j0, j1, numK, kinds);
    classifyGrid(b, h, sq, sk, bq, bk, mid, i1, j0, j1, numK, kinds);
  } else {
    int64_t mid = j0 + (j1 - j0) / 2;
    classifyGrid(b, h, sq, sk, bq, bk, i0, i1, j0, mid, numK, kinds);
    classifyGrid(b, h, sq, sk, bq, bk, i0, i1, mid, j1, numK, kinds);
  }
}

//===----------------------------------------------------------------------===//
// Abstract evaluation
//===----------------------------------------------------------------------===//

namespace {
using i128 = __int128;

/// An abstract integer of width `w`: every concrete value lies in
/// [lo, hi]; when `affine`, the value at a point is exactly
/// c + sum(coef[v] * var[v]) (no wrapping happened on the way).
struct AbsVal {
  int64_t lo = 0, hi = 0;
  bool affine = false;
  int64_t coef[kNumMaskVars] = {};
  int64_t c = 0;
};

struct AbstractEval {
  const MaskBox &box;

  static i128 minOf(unsigned w) { return -(i128(1) << (w - 1)); }
  static i128 maxOf(unsigned w) { return (i128(1) << (w - 1)) - 1; }

  static AbsVal top(unsigned w) {
    AbsVal r;
    r.lo = static_cast<int64_t>(minOf(w));
    r.hi = static_cast<int64_t>(maxOf(w));
    return r;
  }

  /// [lo, hi] as a value of width w: a constant when one point, all of
  /// the width when it does not fit (the concrete value wrapped).
  static AbsVal interval(i128 lo, i128 hi, unsigned w) {
    if (lo < minOf(w) || hi > maxOf(w))
      return top(w);
    AbsVal r;
    r.lo = static_cast<int64_t>(lo);
    r.hi = static_cast<int64_t>(hi);
    if (lo == hi) {
      r.affine = true;
      r.c = r.lo;
    }
    return r;
  }

  /// The value of an affine form, with its exact range over the box (the
  /// extremes are at corners); all of the width when it may wrap.
  AbsVal affine(const i128 coef[], i128 c, unsigned w) const {
    const i128 lim = i128(1) << 100;
    if (c > INT64_MAX || c < INT64_MIN)
      return top(w);
    i128 lo = c, hi = c;
    for (unsigned v = 0; v < kNumMaskVars; ++v) {
      if (coef[v] > INT64_MAX || coef[v] < INT64_MIN)
        return top(w);
      i128 a = coef[v] * box.lo[v], b = coef[v] * box.hi[v];
      lo += std::min(a, b);
      hi += std::max(a, b);
      if (lo < -lim || hi > lim)
        return top(w);
    }
    if (lo < minOf(w) || hi > maxOf(w))
      return top(w);
    AbsVal r;
    r.lo = static_cast<int64_t>(lo);
    r.hi = static_cast<int64_t>(hi);
    r.affine = true;
    for (unsigned v = 0; v < kNumMaskVars; ++v)
      r.coef[v] = static_cast<int64_t>(coef[v]);
    r.c = static_cast<int64_t>(c);
    return r;
  }

  /// x * s + t (s, t constants) when x is affine; else from the interval.
  AbsVal scaleShift(const AbsVal &x, i128 s, i128 t, unsigned w) const {
    if (x.affine) {
      i128 coef[kNumMaskVars];
      for (unsigned v = 0; v < kNumMaskVars; ++v)
        coef[v] = i128(x.coef[v]) * s;
      return affine(coef, i128(x.c) * s + t, w);
    }
    i128 a = i128(x.lo) * s + t, b = i128(x.hi) * s + t;
    return interval(std::min(a, b), std::max(a, b), w);
  }

  static bool isConst(const AbsVal &x) { return x.lo == x.hi; }
  static bool sameForm(const AbsVal &a, const AbsVal &b) {
    return a.affine && b.affine && a.c == b.c &&
           std::equal(a.coef, a.coef + kNumMaskVars, b.coef);
  }

  AbsVal addSub(const AbsVal &a, const AbsVal &b, int sign, unsigned w) const {
    if (a.affine && b.affine) {
      i128 coef[kNumMaskVars];
      for (unsigned v = 0; v < kNumMaskVars; ++v)
        coef[v] = i128(a.coef[v]) + sign * i128(b.coef[v]);
      return affine(coef, i128(a.c) + sign * i128(b.c), w);
    }
    if (sign > 0)
      return interval(i128(a.lo) + b.lo, i128(a.hi) + b.hi, w);
    return interval(i128(a.lo) - b.hi, i128(a.hi) - b.lo, w);
  }

  AbsVal mul(const AbsVal &a, const AbsVal &b, unsigned w) const {
    if (isConst(b))
      return scaleShift(a, b.lo, 0, w);
    if (isConst(a))
      return scaleShift(b, a.lo, 0, w);
    i128 p[] = {i128(a.lo) * b.lo, i128(a.lo) * b.hi, i128(a.hi) * b.lo,
                i128(a.hi) * b.hi};
    return interval(*std::min_element(p, p + 4), *std::max_element(p, p + 4),
                    w);
  }

  /// f monotone (non-decreasing for d > 0, non-increasing for d < 0).
  template <typename F>
  static AbsVal monotone(const AbsVal &a, F f, unsigned w) {
    i128 x = f(a.lo), y = f(a.hi);
    return interval(std::min(x, y), std::max(x, y), w);
  }

  /// Signed remainder by the constant d (truncated, sign of the dividend).
  AbsVal remS(const AbsVal &a, int64_t d, unsigned w) const {
    if (d == INT64_MIN)
      return top(w);
    i128 m = d < 0 ? -i128(d) : i128(d);
    i128 qlo = a.lo / m, qhi = a.hi / m;
    if (qlo == qhi) // one quotient over the box: x - m * q, exactly
      return scaleShift(a, 1, -m * qlo, w);
    i128 lo = std::max(-(m - 1), std::min<i128>(a.lo, 0));
    i128 hi = std::min(m - 1, std::max<i128>(a.hi, 0));
    return interval(lo, hi, w);
  }

  static int bitLength(int64_t x) { // x >= 0
    int n = 0;
    while (x) {
      ++n;
      x >>= 1;
    }
    return n;
  }

  /// -1 true, 0 false, 1 unknown (i1 values).
  static int truth(const AbsVal &x) {
    if (x.lo == x.hi)
      return x.lo != 0 ? -1 : 0;
    return 1;
  }
  static AbsVal boolVal(int t) { return t == 1 ? top(1) : interval(t, t, 1); }

  /// Sign class for unsigned reasoning: 0 all non-negative, 1 all negative,
  /// -1 mixed.
  static int signClass(const AbsVal &x) {
    return x.lo >= 0 ? 0 : x.hi < 0 ? 1 : -1;
  }

  AbsVal compare(arith::CmpIPredicate p, const AbsVal &a, const AbsVal &b,
                 unsigned w) const {
    using P = arith::CmpIPredicate;
    bool isUnsigned = p == P::ult || p == P::ule || p == P::ugt || p == P::uge;
    if (isUnsigned) {
      int ca = signClass(a), cb = signClass(b);
      if (ca < 0 || cb < 0)
        return top(1);
      if (ca != cb) {
        // Negative values are the larger unsigned ones.
        bool aLess = ca == 0;
        bool r = (p == P::ult || p == P::ule) ? aLess : !aLess;
        return boolVal(r ? -1 : 0);
      }
      // Same class: unsigned order is the signed order.
      p = p == P::ult   ? P::slt
          : p == P::ule ? P::sle
          : p == P::ugt ? P::sgt
                        : P::sge;
    }
    // The range of a - b, exact when both are affine.
    i128 lo, hi;
    AbsVal d = addSub(a, b, -1, 64);
    if (a.affine && b.affine && d.affine) {
      lo = d.lo;
      hi = d.hi;
    } else {
      lo = i128(a.lo) - b.hi;
      hi = i128(a.hi) - b.lo;
    }
    auto decide = [&](bool always, bool never) {
      return boolVal(always ? -1 : never ? 0 : 1);
    };
    switch (p) {
    case P::eq:
      return decide(lo == 0 && hi == 0, lo > 0 || hi < 0);
    case P::ne:
      return decide(lo > 0 || hi < 0, lo == 0 && hi == 0);
    case P::slt:
      return decide(hi < 0, lo >= 0);
    case P::sle:
      return decide(hi <= 0, lo > 0);
    case P::sgt:
      return decide(lo > 0, hi <= 0);
    case P::sge:
      return decide(lo >= 0, hi < 0);
    default:
      break;
    }
    return top(1);
  }

  AbsVal run(const MaskProgram::Instr &in, const AbsVal &a, const AbsVal &b,
             const AbsVal &c) const {
    unsigned w = in.width;
    switch (in.opc) {
    case Opc::Const:
      return interval(in.imm, in.imm, w);
    case Opc::Add:
      return addSub(a, b, 1, w);
    case Opc::Sub:
      return addSub(a, b, -1, w);
    case Opc::Mul:
      return mul(a, b, w);
    case Opc::DivS:
      if (!isConst(b) || b.lo == 0)
        return top(w);
      return monotone(
          a, [&](int64_t x) { return i128(x) / b.lo; }, w);
    case Opc::FloorDivS:
      if (!isConst(b) || b.lo == 0)
        return top(w);
      return monotone(
          a,
          [&](int64_t x) {
            i128 q = i128(x) / b.lo;
            return (i128(x) % b.lo != 0 && ((x < 0) != (b.lo < 0))) ? q - 1 : q;
          },
          w);
    case Opc::CeilDivS:
      if (!isConst(b) || b.lo == 0)
        return top(w);
      return monotone(
          a,
          [&](int64_t x) {
            i128 q = i128(x) / b.lo;
            return (i128(x) % b.lo != 0 && ((x < 0) == (b.lo < 0))) ? q + 1 : q;
          },
          w);
    case Opc::DivU:
    case Opc::CeilDivU:
      // Non-negative dividend and positive divisor: the signed operation.
      if (!isConst(b) || b.lo <= 0 || a.lo < 0)
        return top(w);
      return monotone(
          a,
          [&](int64_t x) {
            i128 q = i128(x) / b.lo;
            return in.opc == Opc::CeilDivU && i128(x) % b.lo != 0 ? q + 1 : q;
          },
          w);
    case Opc::RemS:
      if (!isConst(b) || b.lo == 0)
        return top(w);
      return remS(a, b.lo, w);
    case Opc::RemU:
      if (!isConst(b) || b.lo <= 0)
        return top(w);
      if (a.lo >= 0)
        return remS(a, b.lo, w);
      return interval(0, b.lo - 1, w);
    case Opc::MinS:
    case Opc::MaxS: {
      bool isMin = in.opc == Opc::MinS;
      if (a.hi <= b.lo)
        return isMin ? a : b;
      if (b.hi <= a.lo)
        return isMin ? b : a;
      if (isMin)
        return interval(std::min(a.lo, b.lo), std::min(a.hi, b.hi), w);
      return interval(std::max(a.lo, b.lo), std::max(a.hi, b.hi), w);
    }
    case Opc::MinU:
    case Opc::MaxU: {
      bool isMin = in.opc == Opc::MinU;
      int ca = signClass(a), cb = signClass(b);
      if (ca < 0 || cb < 0)
        return top(w);
      if (ca != cb) // the negative one is the larger unsigned value
        return (ca == 0) == isMin ? a : b;
      if (a.hi <= b.lo)
        return isMin ? a : b;
      if (b.hi <= a.lo)
        return isMin ? b : a;
      if (isMin)
        return interval(std::min(a.lo, b.lo), std::min(a.hi, b.hi), w);
      return interval(std::max(a.lo, b.lo), std::max(a.hi, b.hi), w);
    }
    case Opc::And:
    case Opc::Or:
    case Opc::Xor:
      return bitwise(in.opc, a, b, w);
    case Opc::Shl:
      if (!isConst(b) || b.lo < 0 || b.lo >= 63)
        return top(w);
      return scaleShift(a, i128(1) << b.lo, 0, w);
    case Opc::ShrS:
    case Opc::ShrU:
      if (!isConst(b) || b.lo < 0 || b.lo >= 63 || b.lo >= int64_t(w))
        return top(w);
      if (in.opc == Opc::ShrU && a.lo < 0)
        return b.lo == 0 ? top(w) : interval(0, (i128(1) << (w - b.lo)) - 1, w);
      // An arithmetic shift is floor division by 2^s.
      return monotone(
          a, [&](int64_t x) { return i128(x >> b.lo); }, w);
    case Opc::Cmp:
      return compare(in.pred, a, b, w);
    case Opc::Select: {
      int t = truth(a);
      if (t != 1)
        return t ? b : c;
      if (sameForm(b, c))
        return b;
      return interval(std::min(b.lo, c.lo), std::max(b.hi, c.hi), w);
    }
    case Opc::Cast:
      if (i128(a.lo) >= minOf(w) && i128(a.hi) <= maxOf(w))
        return a;
      return top(w);
    case Opc::ZExt: {
      unsigned sw = in.srcWidth;
      if (a.lo >= 0)
        return i128(a.hi) <= maxOf(w) ? a : top(w);
      if (a.hi < 0) // all negative: plus 2^srcWidth
        return scaleShift(a, 1, i128(1) << sw, w);
      return interval(0, (i128(1) << sw) - 1, w);
    }
    }
    return top(w);
  }

  AbsVal bitwise(Opc opc, const AbsVal &a, const AbsVal &b, unsigned w) const {
    if (w == 1) { // Kleene logic on i1
      int x = truth(a), y = truth(b);
      if (opc == Opc::And) {
        if (x == 0 || y == 0)
          return boolVal(0);
        return boolVal(x == -1 && y == -1 ? -1 : 1);
      }
      if (opc == Opc::Or) {
        if (x == -1 || y == -1)
          return boolVal(-1);
        return boolVal(x == 0 && y == 0 ? 0 : 1);
      }
      if (x == 1 || y == 1)
        return boolVal(1);
      return boolVal(x != y ? -1 : 0);
    }
    if (isConst(a) && isConst(b)) {
      int64_t v = opc == Opc::And  ? (a.lo & b.lo)
                  : opc == Opc::Or ? (a.lo | b.lo)
                                   : (a.lo ^ b.lo);
      return interval(v, v, w);
    }
    // Identities: x & -1, x | 0, x ^ 0.
    for (int swap = 0; swap < 2; ++swap) {
      const AbsVal &x = swap ? b : a, &k = swap ? a : b;
      if (!isConst(k))
        continue;
      if ((opc == Opc::And && k.lo == -1) || (opc != Opc::And && k.lo == 0))
        return x;
      if (opc == Opc::And && k.lo == 0)
        return interval(0, 0, w);
      // x & (2^j - 1) with x >= 0 is x mod 2^j.
      if (opc == Opc::And && k.lo > 0 && k.lo < INT64_MAX &&
          (k.lo & (k.lo + 1)) == 0 && x.lo >= 0)
        return remS(x, k.lo + 1, w);
    }
    if (opc == Opc::And) {
      if (a.lo >= 0 && b.lo >= 0)
        return interval(0, std::min(a.hi, b.hi), w);
      if (a.lo >= 0)
        return interval(0, a.hi, w);
      if (b.lo >= 0)
        return interval(0, b.hi, w);
      return top(w);
    }
    if (a.lo >= 0 && b.lo >= 0) {
      i128 bound = (i128(1) << bitLength(std::max(a.hi, b.hi))) - 1;
      return interval(opc == Opc::Or ? std::max(a.lo, b.lo) : 0, bound, w);
    }
    return top(w);
  }
};
} // namespace

TileKind MaskProgram::abstractClassify(const MaskBox &box) const {
  AbstractEval eval{box};
  SmallVector<AbsVal, 32> v(numSlots);
  for (unsigned i = 0; i < argVar.size(); ++i) {
    i128 coef[kNumMaskVars] = {};
    coef[argVar[i]] = 1;
    v[i] = eval.affine(coef, 0, 64);
  }
  for (const Instr &in : instrs)
    v[in.out] = eval.run(in, v[in.a], v[in.b], v[in.c]);
  switch (AbstractEval::truth(v[result])) {
  case -1:
    return TileKind::Full;
  case 0:
    return TileKind::Empty;
  default:
    return TileKind::Partial;
  }
}
