//===- PatternAnalysis.cpp - tile classification and mask evaluation ------===//

#include "sparse_attn/Dialect/SparseAttn/Analysis/PatternAnalysis.h"
#include "sparse_attn/Dialect/SparseAttn/Analysis/MaskProgram.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/IR/Threading.h"
#include "llvm/Support/Format.h"
#include <chrono>
#include <mutex>
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/MathExtras.h"
#include <algorithm>
#include <cmath>

using namespace mlir;
using namespace mlir::sparse_attn;


//===----------------------------------------------------------------------===//
// Block classification
//===----------------------------------------------------------------------===//

int64_t BlockClassification::count(TileKind kind) const {
  return std::count(kinds.begin(), kinds.end(), kind);
}

double BlockClassification::tileDensity() const {
  if (kinds.empty())
    return 0.0;
  return 1.0 - static_cast<double>(count(TileKind::Empty)) / kinds.size();
}

void BlockClassification::mergeWith(const BlockClassification &other) {
  for (size_t i = 0; i < kinds.size(); ++i)
    if (kinds[i] != other.kinds[i])
      kinds[i] = TileKind::Partial;
}

std::optional<int64_t> mlir::sparse_attn::numTiles(int64_t sq, int64_t sk,
                                                   int64_t blockQ,
                                                   int64_t blockK) {
  int64_t nq = ceilDivPositive(sq, blockQ), nk = ceilDivPositive(sk, blockK);
  int64_t n;
  if (llvm::MulOverflow(nq, nk, n) || n > kMaxTiles)
    return std::nullopt;
  return n;
}

namespace {
/// Progress of a long classification on stderr: nothing during the first
/// second, then a line about once a second with the fraction done and an
/// estimate of the time left, and a last line with the total.
class ClassificationProgress {
public:
  ClassificationProgress(ArrayRef<FlatSymbolRefAttr> masks, int64_t total)
      : total(total), start(Clock::now()), last(start) {
    llvm::raw_string_ostream os(what);
    llvm::interleaveComma(masks, os);
  }
  ~ClassificationProgress() {
    if (printed)
      llvm::errs() << "sparse-attn: classified the tiles of mask " << what
                   << " in " << llvm::format("%.1f", seconds(Clock::now()))
                   << " s\n";
  }
  void rowDone() {
    int64_t d = ++done;
    Clock::time_point now = Clock::now();
    if (seconds(now) < 1.0)
      return;
    std::lock_guard<std::mutex> lock(mutex);
    if (std::chrono::duration<double>(now - last).count() < 1.0 && printed)
      return;
    last = now;
    printed = true;
    double t = seconds(now);
    llvm::errs() << "sparse-attn: classifying the tiles of mask " << what
                 << ": " << (100 * d / total) << "% after "
                 << llvm::format("%.1f", t) << " s, about "
                 << llvm::format("%.1f", t * (total - d) / d) << " s left\n";
  }

private:
  using Clock = std::chrono::steady_clock;
  double seconds(Clock::time_point now) const {
    return std::chrono::duration<double>(now - start).count();
  }
  std::string what;
  int64_t total;
  std::atomic<int64_t> done = 0;
  Clock::time_point start, last;
  std::mutex mutex;
  bool printed = false;
};
} // namespace

BlockClassification
mlir::sparse_attn::classifyBlocks(SparsityPatternAttrInterface pattern,
                                  const PatternContext &ctx, int64_t blockQ,
                                  int64_t blockK) {
  BlockClassification res;
  res.sq = ctx.sq;
  res.sk = ctx.sk;
  res.blockQ = blockQ;
  res.blockK = blockK;
  res.numQ = ceilDivPositive(ctx.sq, blockQ);
  res.numK = ceilDivPositive(ctx.sk, blockK);
  res.kinds.resize(res.numQ * res.numK);
  auto classifyRow = [&](int64_t i) {
    int64_t q0 = i * blockQ, q1 = std::min(ctx.sq, q0 + blockQ);
    for (int64_t j = 0; j < res.numK; ++j) {
      int64_t k0 = j * blockK, k1 = std::min(ctx.sk, k0 + blockK);
      res.kinds[i * res.numK + j] = pattern.classifyTile(ctx, q0, q1, k0, k1);
    }
  };
  // Built-in patterns classify a tile in constant or logarithmic time;
  // custom masks may evaluate elements: rows of tiles in parallel, with
  // progress reports when it takes long.
  SmallVector<FlatSymbolRefAttr> custom;
  pattern.collectCustomMasks(custom);
  if (custom.empty() || !ctx.customMasks) {
    for (int64_t i = 0; i < res.numQ; ++i)
      classifyRow(i);
    return res;
  }
  // A pattern that is one compiled mask: bands of rows, each classified as
  // a rectangle of tiles that one abstract evaluation may decide at once.
  constexpr int64_t kBand = 16;
  auto mask = llvm::dyn_cast<CustomAttr>(pattern);
  int64_t steps = mask ? ceilDivPositive(res.numQ, kBand) : res.numQ;
  ClassificationProgress progress(custom, steps);
  auto step = [&](size_t s) {
    int64_t i = static_cast<int64_t>(s);
    if (!mask || !ctx.customMasks->classifyGrid(
                     mask.getMask(), ctx, blockQ, blockK, i * kBand,
                     std::min(res.numQ, (i + 1) * kBand), 0, res.numK,
                     res.numK, res.kinds.data())) {
      int64_t first = mask ? i * kBand : i;
      int64_t last = mask ? std::min(res.numQ, (i + 1) * kBand) : i + 1;
      for (int64_t r = first; r < last; ++r)
        classifyRow(r);
    }
    progress.rowDone();
  };
  if (ctx.customMasks->prepareForThreads(custom)) {
    mlir::parallelFor(pattern.getContext(), 0, steps, step);
  } else {
    for (int64_t i = 0; i < steps; ++i)
      step(i);
  }
  return res;
}

BlockMaskAttr
mlir::sparse_attn::toBlockMaskAttr(MLIRContext *context,
                                   const BlockClassification &blocks) {
  SmallVector<int32_t> po{0}, pi, fo{0}, fi;
  for (int64_t i = 0; i < blocks.numQ; ++i) {
    for (int64_t j = 0; j < blocks.numK; ++j) {
      TileKind kind = blocks.at(i, j);
      if (kind == TileKind::Partial)
        pi.push_back(j);
      else if (kind == TileKind::Full)
        fi.push_back(j);
    }
    po.push_back(pi.size());
    fo.push_back(fi.size());
  }
  return BlockMaskAttr::get(context, blocks.blockQ, blocks.blockK, blocks.numK,
                            po, pi, fo, fi);
}

int64_t mlir::sparse_attn::countAllowedPairs(
    SparsityPatternAttrInterface pattern, const PatternContext &ctx,
    const BlockClassification &blocks) {
  int64_t total = 0;
  for (int64_t i = 0; i < blocks.numQ; ++i) {
    int64_t q0 = i * blocks.blockQ, q1 = std::min(ctx.sq, q0 + blocks.blockQ);
    for (int64_t j = 0; j < blocks.numK; ++j) {
      int64_t k0 = j * blocks.blockK, k1 = std::min(ctx.sk, k0 + blocks.blockK);
      switch (blocks.at(i, j)) {
      case TileKind::Empty:
        break;
      case TileKind::Full:
        total += (q1 - q0) * (k1 - k0);
        break;
      case TileKind::Partial:
        for (int64_t q = q0; q < q1; ++q)
          for (int64_t k = k0; k < k1; ++k)
            total += pattern.isAllowed(ctx, q, k);
        break;
      }
    }
  }
  return total;
}

//===----------------------------------------------------------------------===//
// MaskInterpreter
//===----------------------------------------------------------------------===//

namespace {
/// One runtime value: integers (index, iN) in `i`, floats in `f`.
struct Slot {
  int64_t i = 0;
  double f = 0.0;
  /// Forward mode (evaluateScoreModWithDerivative): d f / d score, and
  /// whether the value depends on the score at all.
  double df = 0.0;
  bool dep = false;
};

struct Step {
  Operation *op;
  SmallVector<unsigned, 3> operands;
  SmallVector<unsigned, 1> results;
};
} // namespace

struct MaskInterpreter::Program {
  Operation *op = nullptr;
  llvm::DenseMap<Value, unsigned> slots;
  unsigned numSlots = 0;
  std::vector<Step> steps;
  unsigned result = 0;
  /// The compiled form of a mask, when it is in the integer subset.
  std::unique_ptr<MaskProgram> compiled;
};

MaskInterpreter::MaskInterpreter(Operation *scope, bool compile)
    : scope(scope), compile(compile) {}
MaskInterpreter::~MaskInterpreter() = default;

const MaskInterpreter::Program *
MaskInterpreter::getProgram(FlatSymbolRefAttr name) const {
  auto it = programs.find(name);
  if (it != programs.end())
    return it->second.get();
  auto &entry = programs[name];
  Operation *symbol =
      SymbolTable::lookupNearestSymbolFrom(scope, name);
  if (!llvm::isa_and_present<MaskOp, ScoreModOp>(symbol)) {
    scope->emitError("custom mask or score_mod ") << name << " not found";
    error = true;
    return nullptr;
  }
  auto prog = std::make_unique<Program>();
  prog->op = symbol;
  llvm::DenseMap<Value, unsigned> &slots = prog->slots;
  Block &body = symbol->getRegion(0).front();
  for (BlockArgument arg : body.getArguments())
    slots[arg] = prog->numSlots++;
  for (Operation &op : body) {
    if (auto yield = llvm::dyn_cast<YieldOp>(op)) {
      prog->result = slots.lookup(yield.getValues().front());
      break;
    }
    Step step{&op, {}, {}};
    for (Value v : op.getOperands())
      step.operands.push_back(slots.lookup(v));
    for (Value v : op.getResults()) {
      slots[v] = prog->numSlots;
      step.results.push_back(prog->numSlots++);
    }
    prog->steps.push_back(std::move(step));
  }
  if (auto mask = llvm::dyn_cast<MaskOp>(symbol); mask && compile)
    prog->compiled = MaskProgram::compile(mask);
  entry = std::move(prog);
  return entry.get();
}

bool MaskInterpreter::usesBatchOrHead(FlatSymbolRefAttr name) const {
  const Program *prog = getProgram(name);
  if (!prog)
    return false;
  Block &body = prog->op->getRegion(0).front();
  return !body.getArgument(0).use_empty() || !body.getArgument(1).use_empty();
}

static unsigned bitWidth(Type t) {
  if (auto it = llvm::dyn_cast<IntegerType>(t))
    return it.getWidth();
  return 64; // index
}

/// Wraps `v` to the integer type `t`, sign-extended like APInt::getSExtValue
/// (so i1 true is -1, as arith.extsi sees it).
static int64_t wrap(int64_t v, Type t) {
  unsigned w = bitWidth(t);
  if (w >= 64)
    return v;
  uint64_t m = (uint64_t(1) << w) - 1, u = uint64_t(v) & m;
  if (u >> (w - 1))
    u |= ~m;
  return static_cast<int64_t>(u);
}

static uint64_t asUnsigned(int64_t v, Type t) {
  unsigned w = bitWidth(t);
  return w >= 64 ? uint64_t(v) : uint64_t(v) & ((uint64_t(1) << w) - 1);
}

static bool compareInt(arith::CmpIPredicate p, int64_t a, int64_t b, Type t) {
  uint64_t ua = asUnsigned(a, t), ub = asUnsigned(b, t);
  switch (p) {
  case arith::CmpIPredicate::eq: return a == b;
  case arith::CmpIPredicate::ne: return a != b;
  case arith::CmpIPredicate::slt: return a < b;
  case arith::CmpIPredicate::sle: return a <= b;
  case arith::CmpIPredicate::sgt: return a > b;
  case arith::CmpIPredicate::sge: return a >= b;
  case arith::CmpIPredicate::ult: return ua < ub;
  case arith::CmpIPredicate::ule: return ua <= ub;
  case arith::CmpIPredicate::ugt: return ua > ub;
  case arith::CmpIPredicate::uge: return ua >= ub;
  }
  return false;
}

static int64_t negate(int64_t a) {
  return static_cast<int64_t>(0 - static_cast<uint64_t>(a));
}

static int64_t floorDivI(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/// `v` rounded to the float type `t` (f64 unchanged).
static double roundTo(double v, Type t) {
  if (t.isF64() || !llvm::isa<FloatType>(t))
    return v;
  if (t.isF32())
    return static_cast<float>(v);
  APFloat f(v);
  bool lost;
  f.convert(llvm::cast<FloatType>(t).getFloatSemantics(),
            APFloat::rmNearestTiesToEven, &lost);
  f.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &lost);
  return f.convertToDouble();
}

/// Evaluates `step` through constant folding (the slow, generic path).
static bool foldStep(const Step &step, SmallVectorImpl<Slot> &vals,
                     const llvm::DenseMap<Value, unsigned> &slots) {
  Operation *op = step.op;
  SmallVector<Attribute> operands;
  for (auto [idx, v] : llvm::zip(step.operands, op->getOperands())) {
    Type t = v.getType();
    if (llvm::isa<FloatType>(t))
      operands.push_back(FloatAttr::get(t, vals[idx].f));
    else if (t.isIntOrIndex())
      operands.push_back(IntegerAttr::get(t, vals[idx].i));
    else
      return false;
  }
  SmallVector<OpFoldResult> results;
  if (failed(op->fold(operands, results)) ||
      results.size() != op->getNumResults())
    return false;
  for (auto [i, r] : llvm::enumerate(results)) {
    Slot &out = vals[step.results[i]];
    if (auto v = llvm::dyn_cast_if_present<Value>(r)) {
      // Folded to an existing value of the region.
      auto it = slots.find(v);
      if (it == slots.end())
        return false;
      out = vals[it->second];
    } else if (auto ia = llvm::dyn_cast<IntegerAttr>(llvm::cast<Attribute>(r))) {
      out.i = wrap(ia.getValue().getSExtValue(), ia.getType());
    } else if (auto fa = llvm::dyn_cast<FloatAttr>(llvm::cast<Attribute>(r))) {
      out.f = fa.getValueAsDouble();
    } else {
      return false;
    }
  }
  return true;
}

static bool runStep(const Step &step, SmallVectorImpl<Slot> &vals,
                    const llvm::DenseMap<Value, unsigned> &slots,
                    bool exact = false) {
  Operation *op = step.op;
  auto I = [&](unsigned n) { return vals[step.operands[n]].i; };
  auto F = [&](unsigned n) { return vals[step.operands[n]].f; };
  auto setI = [&](int64_t v) {
    vals[step.results[0]].i = wrap(v, op->getResult(0).getType());
    return true;
  };
  auto setF = [&](double v) {
    vals[step.results[0]].f =
        exact ? v : roundTo(v, op->getResult(0).getType());
    return true;
  };
  return llvm::TypeSwitch<Operation *, bool>(op)
      .Case([&](arith::ConstantOp c) {
        if (auto ia = llvm::dyn_cast<IntegerAttr>(c.getValue()))
          return setI(ia.getValue().getSExtValue());
        if (auto fa = llvm::dyn_cast<FloatAttr>(c.getValue()))
          return setF(fa.getValueAsDouble());
        return false;
      })
      // Two's-complement wrapping, as arith defines it (computed unsigned:
      // signed overflow would be undefined in C++; found by UBSan).
      .Case([&](arith::AddIOp) {
        return setI(static_cast<int64_t>(uint64_t(I(0)) + uint64_t(I(1))));
      })
      .Case([&](arith::SubIOp) {
        return setI(static_cast<int64_t>(uint64_t(I(0)) - uint64_t(I(1))));
      })
      .Case([&](arith::MulIOp) {
        return setI(static_cast<int64_t>(uint64_t(I(0)) * uint64_t(I(1))));
      })
      // Division by zero is undefined: report it. Division by -1 negates
      // (wrapping), which avoids the INT64_MIN / -1 trap.
      .Case([&](arith::DivSIOp) {
        return I(1) != 0 && setI(I(1) == -1 ? negate(I(0)) : I(0) / I(1));
      })
      .Case([&](arith::RemSIOp) {
        return I(1) != 0 && setI(I(1) == -1 ? 0 : I(0) % I(1));
      })
      .Case([&](arith::FloorDivSIOp) {
        return I(1) != 0 &&
               setI(I(1) == -1 ? negate(I(0)) : floorDivI(I(0), I(1)));
      })
      .Case([&](arith::CeilDivSIOp) {
        if (I(1) == 0)
          return false;
        if (I(1) == -1)
          return setI(negate(I(0)));
        int64_t q = I(0) / I(1);
        return setI((I(0) % I(1) != 0 && ((I(0) < 0) == (I(1) < 0))) ? q + 1 : q);
      })
      .Case([&](arith::MinSIOp) { return setI(std::min(I(0), I(1))); })
      .Case([&](arith::MaxSIOp) { return setI(std::max(I(0), I(1))); })
      .Case([&](arith::AndIOp) { return setI(I(0) & I(1)); })
      .Case([&](arith::OrIOp) { return setI(I(0) | I(1)); })
      .Case([&](arith::XOrIOp) { return setI(I(0) ^ I(1)); })
      .Case([&](arith::CmpIOp c) {
        return setI(compareInt(c.getPredicate(), I(0), I(1),
                               c.getLhs().getType()));
      })
      .Case([&](arith::SelectOp s) {
        vals[step.results[0]] = I(0) ? vals[step.operands[1]]
                                     : vals[step.operands[2]];
        return true;
      })
      .Case<arith::IndexCastOp, arith::ExtSIOp, arith::TruncIOp>(
          [&](Operation *) { return setI(I(0)); })
      .Case<arith::ExtUIOp, arith::IndexCastUIOp>([&](Operation *o) {
        return setI(static_cast<int64_t>(
            asUnsigned(I(0), o->getOperand(0).getType())));
      })
      .Case([&](arith::AddFOp) { return setF(F(0) + F(1)); })
      .Case([&](arith::SubFOp) { return setF(F(0) - F(1)); })
      .Case([&](arith::MulFOp) { return setF(F(0) * F(1)); })
      .Case([&](arith::DivFOp) { return setF(F(0) / F(1)); })
      .Case([&](arith::SIToFPOp) { return setF(static_cast<double>(I(0))); })
      .Case([&](arith::UIToFPOp o) {
        return setF(static_cast<double>(
            asUnsigned(I(0), o.getIn().getType())));
      })
      .Case([&](arith::NegFOp) { return setF(-F(0)); })
      .Case([&](arith::MaximumFOp) { return setF(std::fmax(F(0), F(1))); })
      .Case([&](arith::MinimumFOp) { return setF(std::fmin(F(0), F(1))); })
      .Case<arith::ExtFOp, arith::TruncFOp>([&](Operation *) { return setF(F(0)); })
      .Case([&](arith::FPToSIOp) { return setI(static_cast<int64_t>(F(0))); })
      .Case([&](arith::CmpFOp c) {
        double a = F(0), b = F(1);
        bool unordered = std::isnan(a) || std::isnan(b), r = false;
        switch (c.getPredicate()) {
        case arith::CmpFPredicate::OEQ: r = !unordered && a == b; break;
        case arith::CmpFPredicate::ONE: r = !unordered && a != b; break;
        case arith::CmpFPredicate::OLT: r = !unordered && a < b; break;
        case arith::CmpFPredicate::OLE: r = !unordered && a <= b; break;
        case arith::CmpFPredicate::OGT: r = !unordered && a > b; break;
        case arith::CmpFPredicate::OGE: r = !unordered && a >= b; break;
        case arith::CmpFPredicate::UEQ: r = unordered || a == b; break;
        case arith::CmpFPredicate::UNE: r = unordered || a != b; break;
        case arith::CmpFPredicate::ULT: r = unordered || a < b; break;
        case arith::CmpFPredicate::ULE: r = unordered || a <= b; break;
        case arith::CmpFPredicate::UGT: r = unordered || a > b; break;
        case arith::CmpFPredicate::UGE: r = unordered || a >= b; break;
        case arith::CmpFPredicate::ORD: r = !unordered; break;
        case arith::CmpFPredicate::UNO: r = unordered; break;
        case arith::CmpFPredicate::AlwaysTrue: r = true; break;
        case arith::CmpFPredicate::AlwaysFalse: r = false; break;
        }
        return setI(r);
      })
      .Case([&](math::TanhOp) { return setF(std::tanh(F(0))); })
      .Case([&](math::ExpOp) { return setF(std::exp(F(0))); })
      .Case([&](math::Exp2Op) { return setF(std::exp2(F(0))); })
      .Case([&](math::LogOp) { return setF(std::log(F(0))); })
      .Case([&](math::SqrtOp) { return setF(std::sqrt(F(0))); })
      .Case([&](math::AbsFOp) { return setF(std::fabs(F(0))); })
      .Default([&](Operation *) { return foldStep(step, vals, slots); });
}

/// The tangent of `step`'s result, after runStep computed its value: the
/// derivative rule of the operation applied to the operands' tangents.
/// Fails for an operation that reads a score-dependent value and has no
/// rule here (the oracle's own rules, written apart from the compiler's
/// symbolic differentiation in Utils/ScoreModDerivative.cpp).
static bool tangentStep(const Step &step, SmallVectorImpl<Slot> &vals) {
  Operation *op = step.op;
  bool depends = llvm::any_of(step.operands,
                              [&](unsigned s) { return vals[s].dep; });
  if (!depends || op->getNumResults() != 1)
    return !depends;
  Slot &out = vals[step.results[0]];
  if (llvm::isa<arith::SelectOp>(op)) // runStep copied the chosen slot
    return true;
  if (!llvm::isa<FloatType>(op->getResult(0).getType()))
    return true; // comparisons, conversions to integers: no tangent
  auto F = [&](unsigned n) { return vals[step.operands[n]].f; };
  auto D = [&](unsigned n) { return vals[step.operands[n]].df; };
  double r = out.f;
  std::optional<double> d =
      llvm::TypeSwitch<Operation *, std::optional<double>>(op)
          .Case([&](arith::AddFOp) { return D(0) + D(1); })
          .Case([&](arith::SubFOp) { return D(0) - D(1); })
          .Case([&](arith::MulFOp) { return D(0) * F(1) + F(0) * D(1); })
          .Case([&](arith::DivFOp) { return (D(0) - r * D(1)) / F(1); })
          .Case([&](arith::NegFOp) { return -D(0); })
          .Case([&](arith::MaximumFOp) { return F(0) >= F(1) ? D(0) : D(1); })
          .Case([&](arith::MinimumFOp) { return F(0) <= F(1) ? D(0) : D(1); })
          .Case<arith::ExtFOp, arith::TruncFOp>(
              [&](Operation *) { return D(0); })
          .Case([&](math::TanhOp) { return (1 - r * r) * D(0); })
          .Case([&](math::ExpOp) { return r * D(0); })
          .Case([&](math::Exp2Op) { return r * std::log(2.0) * D(0); })
          .Case([&](math::LogOp) { return D(0) / F(0); })
          .Case([&](math::SqrtOp) { return D(0) / (2 * r); })
          .Case([&](math::AbsFOp) { return F(0) < 0 ? -D(0) : D(0); })
          .Default([&](Operation *) { return std::nullopt; });
  if (!d)
    return false;
  out.df = *d;
  out.dep = true;
  return true;
}

/// Runs `prog` on `vals` (arguments already set); on an operation it cannot
/// evaluate, reports it once (naming `what` and the position) and fails.
static bool runProgram(const MaskInterpreter::Program &prog,
                       SmallVectorImpl<Slot> &vals, StringRef what,
                       FlatSymbolRefAttr name, int64_t b, int64_t h, int64_t q,
                       int64_t k, std::atomic<bool> &error,
                       bool tangents = false, bool exact = false);

bool MaskInterpreter::evaluate(FlatSymbolRefAttr name,
                               const PatternContext &ctx, int64_t q,
                               int64_t k) const {
  const Program *prog = getProgram(name);
  if (!prog)
    return false;
  if (prog->compiled)
    return prog->compiled->evaluate(ctx.batch, ctx.head, ctx.sq, ctx.sk, q, k);
  SmallVector<Slot, 16> vals(prog->numSlots);
  int64_t args[] = {ctx.batch, ctx.head, q, k, ctx.sq, ctx.sk};
  unsigned numArgs = prog->op->getRegion(0).front().getNumArguments();
  for (unsigned i = 0; i < numArgs; ++i)
    vals[i].i = args[i];
  if (!runProgram(*prog, vals, "custom mask", name, ctx.batch, ctx.head, q, k,
                  error))
    return false;
  return vals[prog->result].i != 0;
}

TileKind MaskInterpreter::classifyTile(FlatSymbolRefAttr name,
                                       const PatternContext &ctx, int64_t q0,
                                       int64_t q1, int64_t k0,
                                       int64_t k1) const {
  const Program *prog = getProgram(name);
  if (prog && prog->compiled)
    return prog->compiled->classify(ctx.batch, ctx.head, ctx.sq, ctx.sk, q0, q1,
                                    k0, k1);
  return CustomMaskEvaluator::classifyTile(name, ctx, q0, q1, k0, k1);
}

bool MaskInterpreter::prepareForThreads(
    ArrayRef<FlatSymbolRefAttr> names) const {
  // After this, lookups of `names` only read the map.
  for (FlatSymbolRefAttr name : names)
    getProgram(name);
  return true;
}

bool MaskInterpreter::classifyGrid(FlatSymbolRefAttr name,
                                   const PatternContext &ctx, int64_t bq,
                                   int64_t bk, int64_t i0, int64_t i1,
                                   int64_t j0, int64_t j1, int64_t numK,
                                   TileKind *kinds) const {
  const Program *prog = getProgram(name);
  if (!prog || !prog->compiled)
    return false;
  prog->compiled->classifyGrid(ctx.batch, ctx.head, ctx.sq, ctx.sk, bq, bk,
                               i0, i1, j0, j1, numK, kinds);
  return true;
}

bool MaskInterpreter::isCompiled(FlatSymbolRefAttr name) const {
  const Program *prog = getProgram(name);
  return prog && prog->compiled;
}

double MaskInterpreter::evaluateScoreMod(FlatSymbolRefAttr name, double s,
                                         int64_t b, int64_t h, int64_t q,
                                         int64_t k, int64_t sq,
                                         int64_t sk) const {
  const Program *prog = getProgram(name);
  if (!prog)
    return s;
  SmallVector<Slot, 16> vals(prog->numSlots);
  vals[0].f = s;
  int64_t args[] = {b, h, q, k, sq, sk};
  unsigned numArgs = prog->op->getRegion(0).front().getNumArguments();
  for (unsigned i = 1; i < numArgs; ++i)
    vals[i].i = args[i - 1];
  if (!runProgram(*prog, vals, "score_mod", name, b, h, q, k, error,
                  /*tangents=*/false, exactFloats))
    return s;
  return vals[prog->result].f;
}

std::pair<double, double> MaskInterpreter::evaluateScoreModWithDerivative(
    FlatSymbolRefAttr name, double s, int64_t b, int64_t h, int64_t q,
    int64_t k, int64_t sq, int64_t sk) const {
  const Program *prog = getProgram(name);
  if (!prog)
    return {s, 1.0};
  SmallVector<Slot, 16> vals(prog->numSlots);
  vals[0].f = s;
  vals[0].df = 1.0;
  vals[0].dep = true;
  int64_t args[] = {b, h, q, k, sq, sk};
  unsigned numArgs = prog->op->getRegion(0).front().getNumArguments();
  for (unsigned i = 1; i < numArgs; ++i)
    vals[i].i = args[i - 1];
  if (!runProgram(*prog, vals, "score_mod", name, b, h, q, k, error,
                  /*tangents=*/true, exactFloats))
    return {s, 1.0};
  const Slot &r = vals[prog->result];
  return {r.f, r.dep ? r.df : 0.0};
}

static bool runProgram(const MaskInterpreter::Program &prog,
                       SmallVectorImpl<Slot> &vals, StringRef what,
                       FlatSymbolRefAttr name, int64_t b, int64_t h, int64_t q,
                       int64_t k, std::atomic<bool> &error, bool tangents,
                       bool exact) {
  for (const Step &step : prog.steps) {
    if (runStep(step, vals, prog.slots, exact)) {
      if (!tangents || tangentStep(step, vals))
        continue;
      if (!error.exchange(true))
        step.op->emitError("cannot differentiate this operation of ")
            << what << " " << name << " with respect to the score";
      return false;
    }
    if (!error.exchange(true))
      step.op->emitError("cannot evaluate this operation of ")
          << what << " " << name << " at (b, h, q, k) = (" << b << ", " << h
          << ", " << q << ", " << k << ")";
    return false;
  }
  return true;
}
