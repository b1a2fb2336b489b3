//===- ScoreModDerivative.cpp - d score_mod / d score, generated ----------===//
//
// Forward mode over the region's single block: each operation is cloned
// (the primal values), and for each one whose operands depend on the score
// its tangent is built from the operands' tangents by the rule of the
// operation. A value that does not depend on the score has no tangent (it
// is 0 and builds nothing). Rules:
//
//   addf / subf / negf / mulf / divf / fma   sums, product and quotient rules
//   maximumf / maxnumf / minimumf / minnumf  the tangent of the chosen side
//   select                                   the tangent of the chosen side
//   extf / truncf                            the tangent converted alike
//   exp, exp2, expm1, log, log2, log1p, sqrt, rsqrt, tanh, erf, sin, cos,
//   absf, powf                               their derivatives
//   floor, ceil, round, roundeven, trunc     0 (piecewise constant)
//   cmpf, fptosi, fptoui                     no tangent (integer results)
//
// Anything else that reads a score-dependent value is refused.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Dialect/SparseAttn/Utils/ScoreModDerivative.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/TypeSwitch.h"
#include <cmath>

using namespace mlir;
using namespace mlir::sparse_attn;

namespace {
/// Builds tangents next to the cloned primal operations.
class Differentiator {
public:
  Differentiator(OpBuilder &b, Location loc) : b(b), loc(loc) {}

  /// The tangent of (the original value) `v`, or null when it is 0.
  Value tangent(Value v) const { return tangents.lookup(v); }

  /// Clones `op` (operands through `map`) and records the tangents of its
  /// results; fails at an operation without a rule.
  LogicalResult visit(Operation &op, IRMapping &map);

private:
  Value cst(Type t, double v) {
    return arith::ConstantOp::create(b, loc, t, b.getFloatAttr(t, v));
  }
  Value add(Value x, Value y) {
    if (!x)
      return y;
    if (!y)
      return x;
    return arith::AddFOp::create(b, loc, x, y);
  }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value neg(Value x) { return x ? arith::NegFOp::create(b, loc, x) : x; }
  Value zeroIfNull(Value t, Type type) { return t ? t : cst(type, 0.0); }

  OpBuilder &b;
  Location loc;
  llvm::DenseMap<Value, Value> tangents;

public:
  void seed(Value score, Value one) { tangents[score] = one; }
};
} // namespace

LogicalResult Differentiator::visit(Operation &op, IRMapping &map) {
  Operation *clone = b.clone(op, map);
  bool depends = llvm::any_of(op.getOperands(),
                              [&](Value v) { return tangent(v) != nullptr; });
  if (!depends)
    return success();
  // The cloned primal operands and results.
  auto x = [&](unsigned i) { return clone->getOperand(i); };
  auto t = [&](unsigned i) { return tangent(op.getOperand(i)); };
  Value r = clone->getNumResults() == 1 ? clone->getResult(0) : Value();
  Type type = r ? r.getType() : Type();
  // d r = dr_dx * t(0), with t(0) non-null for unary rules.
  auto chain = [&](Value drdx) { return mul(drdx, t(0)); };
  Value result;
  bool handled = true;
  llvm::TypeSwitch<Operation *>(&op)
      .Case([&](arith::AddFOp) { result = add(t(0), t(1)); })
      .Case([&](arith::SubFOp) {
        result = t(1) ? (t(0) ? arith::SubFOp::create(b, loc, t(0), t(1))
                                    .getResult()
                              : neg(t(1)))
                      : t(0);
      })
      .Case([&](arith::NegFOp) { result = neg(t(0)); })
      .Case([&](arith::MulFOp) {
        result = add(t(0) ? mul(t(0), x(1)) : Value(),
                     t(1) ? mul(x(0), t(1)) : Value());
      })
      .Case([&](arith::DivFOp) {
        // d(a / b) = (da - r db) / b
        Value num = t(0);
        if (t(1)) {
          Value rdb = mul(r, t(1));
          num = num ? arith::SubFOp::create(b, loc, num, rdb).getResult()
                    : neg(rdb);
        }
        result = arith::DivFOp::create(b, loc, num, x(1));
      })
      .Case([&](math::FmaOp) {
        result = add(add(t(0) ? mul(t(0), x(1)) : Value(),
                         t(1) ? mul(x(0), t(1)) : Value()),
                     t(2));
      })
      .Case<arith::MaximumFOp, arith::MaxNumFOp>([&](Operation *) {
        Value first = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGE,
                                            x(0), x(1));
        result = arith::SelectOp::create(b, loc, first, zeroIfNull(t(0), type),
                                         zeroIfNull(t(1), type));
      })
      .Case<arith::MinimumFOp, arith::MinNumFOp>([&](Operation *) {
        Value first = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLE,
                                            x(0), x(1));
        result = arith::SelectOp::create(b, loc, first, zeroIfNull(t(0), type),
                                         zeroIfNull(t(1), type));
      })
      .Case([&](arith::SelectOp) {
        // A score-dependent condition choosing between values that do not
        // depend on the score: piecewise constant (tangent 0).
        if (!t(1) && !t(2))
          return;
        result = arith::SelectOp::create(b, loc, x(0), zeroIfNull(t(1), type),
                                         zeroIfNull(t(2), type));
      })
      .Case([&](arith::ExtFOp) {
        result = arith::ExtFOp::create(b, loc, type, t(0));
      })
      .Case([&](arith::TruncFOp) {
        result = arith::TruncFOp::create(b, loc, type, t(0));
      })
      .Case([&](math::ExpOp) { result = chain(r); })
      .Case([&](math::Exp2Op) { result = chain(mul(r, cst(type, M_LN2))); })
      .Case([&](math::ExpM1Op) { result = chain(add(r, cst(type, 1.0))); })
      .Case([&](math::LogOp) {
        result = arith::DivFOp::create(b, loc, t(0), x(0));
      })
      .Case([&](math::Log2Op) {
        result = arith::DivFOp::create(b, loc, t(0),
                                       mul(x(0), cst(type, M_LN2)));
      })
      .Case([&](math::Log1pOp) {
        result = arith::DivFOp::create(b, loc, t(0), add(x(0), cst(type, 1.0)));
      })
      .Case([&](math::SqrtOp) {
        result = arith::DivFOp::create(b, loc, t(0), mul(r, cst(type, 2.0)));
      })
      .Case([&](math::RsqrtOp) {
        // d x^-1/2 = -1/2 x^-3/2 = -r^3 / 2
        result = chain(mul(mul(mul(r, r), r), cst(type, -0.5)));
      })
      .Case([&](math::TanhOp) {
        result = chain(arith::SubFOp::create(b, loc, cst(type, 1.0), mul(r, r)));
      })
      .Case([&](math::ErfOp) {
        Value sq = mul(x(0), x(0));
        result = chain(mul(math::ExpOp::create(b, loc, neg(sq)),
                           cst(type, 2.0 / std::sqrt(M_PI))));
      })
      .Case([&](math::SinOp) { result = chain(math::CosOp::create(b, loc, x(0))); })
      .Case([&](math::CosOp) {
        result = chain(neg(math::SinOp::create(b, loc, x(0))));
      })
      .Case([&](math::AbsFOp) {
        Value negative = arith::CmpFOp::create(
            b, loc, arith::CmpFPredicate::OLT, x(0), cst(type, 0.0));
        result = arith::SelectOp::create(b, loc, negative, neg(t(0)), t(0));
      })
      .Case([&](math::PowFOp) {
        // d a^e = e a^(e-1) da + a^e log(a) de
        Value da, de;
        if (t(0))
          da = mul(mul(x(1), math::PowFOp::create(
                                 b, loc, x(0),
                                 arith::SubFOp::create(b, loc, x(1),
                                                       cst(type, 1.0)))),
                   t(0));
        if (t(1))
          de = mul(mul(r, math::LogOp::create(b, loc, x(0))), t(1));
        result = add(da, de);
      })
      .Case<math::FloorOp, math::CeilOp, math::RoundOp, math::RoundEvenOp,
            math::TruncOp>([&](Operation *) { result = Value(); })
      .Case<arith::CmpFOp, arith::FPToSIOp, arith::FPToUIOp>(
          [&](Operation *) {})
      .Default([&](Operation *) { handled = false; });
  if (!handled)
    return op.emitOpError("cannot be differentiated with respect to the "
                          "score (no derivative rule; the backward pass "
                          "differentiates arith and math operations: addf, "
                          "subf, negf, mulf, divf, fma, maximumf, minimumf, "
                          "select, extf, truncf, exp, exp2, expm1, log, log2, "
                          "log1p, sqrt, rsqrt, tanh, erf, sin, cos, absf, "
                          "powf, floor / ceil / round / trunc, cmpf)");
  if (result)
    tangents[op.getResult(0)] = result;
  return success();
}

FailureOr<ScoreModOp>
mlir::sparse_attn::getOrCreateScoreModDerivative(ScoreModOp scoreMod) {
  Operation *tableOp = SymbolTable::getNearestSymbolTable(scoreMod);
  auto name = FlatSymbolRefAttr::get(scoreMod.getSymNameAttr());
  // Already generated?
  for (Operation &op : tableOp->getRegion(0).front())
    if (auto mod = llvm::dyn_cast<ScoreModOp>(op))
      if (mod->getAttr(kDerivativeOfAttrName) == name)
        return mod;

  // Built detached, then inserted into the symbol table (which renames it
  // on a clash).
  OpBuilder b(scoreMod.getContext());
  Location loc = scoreMod.getLoc();
  auto deriv = ScoreModOp::create(
      b, loc, b.getStringAttr(scoreMod.getSymName() + "_dscore"));
  deriv->setAttr(kDerivativeOfAttrName, name);
  Block &src = scoreMod.getBody().front();
  Block *dst = new Block();
  deriv.getBody().push_back(dst);
  IRMapping map;
  for (BlockArgument arg : src.getArguments())
    map.map(arg, dst->addArgument(arg.getType(), arg.getLoc()));
  b.setInsertionPointToStart(dst);
  Differentiator diff(b, loc);
  Type f32 = b.getF32Type();
  diff.seed(src.getArgument(0),
            arith::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(1.0f)));
  for (Operation &op : src.without_terminator())
    if (failed(diff.visit(op, map))) {
      deriv.erase();
      return failure();
    }
  auto yield = llvm::cast<YieldOp>(src.getTerminator());
  Value d = diff.tangent(yield.getValues().front());
  if (!d)
    d = arith::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(0.0f));
  YieldOp::create(b, loc, ValueRange{d});
  // A unique name in the symbol table (renamed on a clash).
  SymbolTable table(tableOp);
  table.insert(deriv, Block::iterator(std::next(scoreMod->getIterator())));
  return deriv;
}
