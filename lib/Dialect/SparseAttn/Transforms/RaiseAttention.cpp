//===- RaiseAttention.cpp - recognise attention written the long way ------===//
//
// Front ends (torch-mlir, StableHLO-to-linalg, IREE input pipelines) spell
// masked attention as a chain of linalg ops on rank-4 tensors:
//
//   S  = generic  (b,h,i,j,d): S[b,h,i,j] += Q[b,h,i,d] * K[b,h,j,d]
//   S' = generic  S * c  or  S / c                           (optional scale)
//   X  = generic  S' + M[i,j]          (constant additive mask: 0 / -inf)
//      | generic  select(cond(i, j), S', -inf)   (iota / linalg.index mask)
//      | generic  select(M[i,j], S', -inf)       (constant boolean mask)
//   P  = linalg.softmax dimension(3) X
//      | max-reduce, exp(X - max), sum-reduce, divide       (decomposed)
//   O  = generic  (b,h,i,e,j): O[b,h,i,e] += P[b,h,i,j] * V[b,h,j,e]
//
// This pass rewrites such a chain into one sparse_attn.attention with the
// equivalent declarative pattern: index masks become causal / window
// patterns when they are comparisons of i - j with constants (unions and
// intersections of them otherwise), any other index predicate a
// sparse_attn.mask with the same region; constant masks become causal or
// window when they are, otherwise an exact #sparse_attn.blocks layout at the
// coarsest block size that represents them. (Intermediate values with other
// users stay and are still computed for them.) The one semantic difference
// is on rows whose mask forbids every key: the original computes NaN there
// (masked with -inf) or the mean of the values (masked with a finite lowest
// value); the raised op returns 0 (its documented semantics).
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"
#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include <cmath>
#include <optional>

namespace mlir {
namespace sparse_attn {
#define GEN_PASS_DEF_SPARSEATTNRAISE
#include "sparse_attn/Dialect/SparseAttn/Transforms/Passes.h.inc"
} // namespace sparse_attn
} // namespace mlir

using namespace mlir;
using namespace mlir::sparse_attn;

namespace {

//===----------------------------------------------------------------------===//
// Small matchers on linalg.generic
//===----------------------------------------------------------------------===//

linalg::GenericOp genericOf(Value v) {
  auto g = v.getDefiningOp<linalg::GenericOp>();
  if (!g || g.getNumResults() != 1 || !g.hasPureTensorSemantics())
    return {};
  return g;
}

AffineMap map(MLIRContext *ctx, unsigned dims, ArrayRef<unsigned> results) {
  SmallVector<AffineExpr> exprs;
  for (unsigned r : results)
    exprs.push_back(getAffineDimExpr(r, ctx));
  return AffineMap::get(dims, 0, exprs, ctx);
}

bool hasMaps(linalg::GenericOp g, ArrayRef<AffineMap> maps) {
  return g.getIndexingMapsArray() == SmallVector<AffineMap>(maps);
}

bool allParallel(linalg::GenericOp g) {
  return llvm::all_of(g.getIteratorTypesArray(), [](utils::IteratorType t) {
    return t == utils::IteratorType::parallel;
  });
}

/// The value yielded by the generic's body.
Value yielded(linalg::GenericOp g) {
  return g.getBody()->getTerminator()->getOperand(0);
}

/// Whether `v` is the constant `c` (float), looking through broadcasts.
std::optional<double> constantFloat(Value v) {
  FloatAttr f;
  if (matchPattern(v, m_Constant(&f)))
    return f.getValueAsDouble();
  return std::nullopt;
}

bool isNegInfOrLowest(Value v) {
  auto c = constantFloat(v);
  return c && (std::isinf(*c) ? *c < 0 : *c <= -1e30);
}

/// `out + a * b` with a, b the block arguments #0 and #1 (either order).
bool isMulAdd(linalg::GenericOp g) {
  Block *body = g.getBody();
  auto add = yielded(g).getDefiningOp<arith::AddFOp>();
  if (!add)
    return false;
  Value acc = body->getArgument(2);
  Value mul = add.getLhs() == acc ? add.getRhs() : add.getLhs();
  if (add.getLhs() != acc && add.getRhs() != acc)
    return false;
  auto m = mul.getDefiningOp<arith::MulFOp>();
  if (!m)
    return false;
  Value a = body->getArgument(0), b = body->getArgument(1);
  return (m.getLhs() == a && m.getRhs() == b) ||
         (m.getLhs() == b && m.getRhs() == a);
}

/// An init that is linalg.fill of the constant `value`.
bool isFilledWith(Value init, double value) {
  auto fill = init.getDefiningOp<linalg::FillOp>();
  if (!fill)
    return false;
  auto c = constantFloat(fill.getInputs()[0]);
  return c && (*c == value || (std::isinf(value) && *c == value));
}

/// A batched contraction over the last of 5 loops, out(b,h,0,1) +=
/// x(b,h,aDims) * y(b,h,bDims) starting from 0, as front ends emit einsums.
bool matchContraction(linalg::GenericOp g, ArrayRef<unsigned> aDims,
                      ArrayRef<unsigned> bDims, Value &x, Value &y) {
  if (!g || g.getNumDpsInputs() != 2 || g.getNumLoops() != 5)
    return false;
  MLIRContext *ctx = g.getContext();
  if (!hasMaps(g, {map(ctx, 5, aDims), map(ctx, 5, bDims),
                   map(ctx, 5, {0, 1, 2, 3})}) ||
      g.getIteratorTypesArray()[4] != utils::IteratorType::reduction ||
      !isMulAdd(g) || !isFilledWith(g.getDpsInits()[0], 0.0))
    return false;
  x = g.getDpsInputs()[0];
  y = g.getDpsInputs()[1];
  return true;
}

/// Q K^T: (b,h,i,j,d) with Q(b,h,i,d), K(b,h,j,d) -> S(b,h,i,j).
bool matchScores(Value s, Value &q, Value &k) {
  return matchContraction(genericOf(s), {0, 1, 2, 4}, {0, 1, 3, 4}, q, k);
}

/// P V: (b,h,i,e,j) with P(b,h,i,j), V(b,h,j,e) -> O(b,h,i,e).
bool matchOutput(linalg::GenericOp g, Value &p, Value &v) {
  return matchContraction(g, {0, 1, 2, 4}, {0, 1, 4, 3}, p, v);
}

/// A 4-d all-parallel generic whose first input and output use the identity
/// map (other inputs are checked by the caller).
bool isElementwise4d(linalg::GenericOp g) {
  if (!g || g.getNumLoops() != 4 || !allParallel(g) || g.getNumDpsInputs() < 1)
    return false;
  AffineMap id4 = AffineMap::getMultiDimIdentityMap(4, g.getContext());
  SmallVector<AffineMap> maps = g.getIndexingMapsArray();
  return maps.front() == id4 && maps.back() == id4;
}

/// Whether the body reads its output (accumulator) block argument.
bool readsOutput(linalg::GenericOp g) {
  Block *body = g.getBody();
  return !body->getArgument(body->getNumArguments() - 1).use_empty();
}

/// Softmax over the last dimension: linalg.softmax or its decomposition.
bool matchSoftmax(Value p, Value &x) {
  if (auto sm = p.getDefiningOp<linalg::SoftmaxOp>()) {
    if (sm.getDimension() != 3)
      return false;
    x = sm.getInput();
    return true;
  }
  // p = e / l
  linalg::GenericOp div = genericOf(p);
  MLIRContext *ctx = p.getContext();
  AffineMap id4 = map(ctx, 4, {0, 1, 2, 3}), row = map(ctx, 4, {0, 1, 2});
  if (!isElementwise4d(div) || div.getNumDpsInputs() != 2 ||
      !hasMaps(div, {id4, row, id4}))
    return false;
  auto d = yielded(div).getDefiningOp<arith::DivFOp>();
  if (!d || d.getLhs() != div.getBody()->getArgument(0) ||
      d.getRhs() != div.getBody()->getArgument(1))
    return false;
  Value e = div.getDpsInputs()[0], l = div.getDpsInputs()[1];
  // l = sum_j e
  linalg::GenericOp sum = genericOf(l);
  if (!sum || sum.getNumDpsInputs() != 1 || sum.getDpsInputs()[0] != e ||
      !hasMaps(sum, {id4, row}) || !isFilledWith(sum.getDpsInits()[0], 0.0))
    return false;
  auto add = yielded(sum).getDefiningOp<arith::AddFOp>();
  Block *sumBody = sum.getBody();
  if (!add || !((add.getLhs() == sumBody->getArgument(0) &&
                 add.getRhs() == sumBody->getArgument(1)) ||
                (add.getLhs() == sumBody->getArgument(1) &&
                 add.getRhs() == sumBody->getArgument(0))))
    return false;
  // e = exp(x - m)
  linalg::GenericOp ex = genericOf(e);
  if (!isElementwise4d(ex) || ex.getNumDpsInputs() != 2 ||
      !hasMaps(ex, {id4, row, id4}))
    return false;
  auto exp = yielded(ex).getDefiningOp<math::ExpOp>();
  auto sub = exp ? exp.getOperand().getDefiningOp<arith::SubFOp>() : nullptr;
  if (!sub || sub.getLhs() != ex.getBody()->getArgument(0) ||
      sub.getRhs() != ex.getBody()->getArgument(1))
    return false;
  Value xx = ex.getDpsInputs()[0], m = ex.getDpsInputs()[1];
  // m = max_j x
  linalg::GenericOp mx = genericOf(m);
  if (!mx || mx.getNumDpsInputs() != 1 || mx.getDpsInputs()[0] != xx ||
      !hasMaps(mx, {id4, row}) ||
      !isFilledWith(mx.getDpsInits()[0], -INFINITY))
    return false;
  Operation *maxOp = yielded(mx).getDefiningOp();
  Block *mxBody = mx.getBody();
  if (!llvm::isa_and_present<arith::MaximumFOp, arith::MaxNumFOp>(maxOp) ||
      !llvm::is_contained(maxOp->getOperands(), mxBody->getArgument(0)) ||
      !llvm::is_contained(maxOp->getOperands(), mxBody->getArgument(1)))
    return false;
  x = xx;
  return true;
}

//===----------------------------------------------------------------------===//
// Masks
//===----------------------------------------------------------------------===//

/// `a * i + b * j + c` over the query index i and the key index j.
struct Affine {
  int64_t a = 0, b = 0, c = 0;
};

std::optional<Affine> affineOf(Value v, Value i, Value j) {
  if (v == i)
    return Affine{1, 0, 0};
  if (v == j)
    return Affine{0, 1, 0};
  APInt cst;
  if (matchPattern(v, m_ConstantInt(&cst)))
    return Affine{0, 0, cst.getSExtValue()};
  Operation *op = v.getDefiningOp();
  if (!op)
    return std::nullopt;
  if (auto cast = llvm::dyn_cast<arith::IndexCastOp>(op))
    return affineOf(cast.getIn(), i, j);
  if (llvm::isa<arith::AddIOp, arith::SubIOp>(op)) {
    auto l = affineOf(op->getOperand(0), i, j),
         r = affineOf(op->getOperand(1), i, j);
    if (!l || !r)
      return std::nullopt;
    int s = llvm::isa<arith::AddIOp>(op) ? 1 : -1;
    return Affine{l->a + s * r->a, l->b + s * r->b, l->c + s * r->c};
  }
  return std::nullopt;
}

/// A pattern for the i1 `cond` computed from the indices i (query) and j
/// (key), or null when it is not a combination of bounds on i - j.
Attribute patternOfCondition(Value cond, Value i, Value j, int64_t bound) {
  MLIRContext *ctx = cond.getContext();
  Operation *op = cond.getDefiningOp();
  if (!op)
    return {};
  if (llvm::isa<arith::AndIOp, arith::OrIOp>(op)) {
    Attribute l = patternOfCondition(op->getOperand(0), i, j, bound);
    Attribute r = patternOfCondition(op->getOperand(1), i, j, bound);
    if (!l || !r)
      return {};
    SmallVector<Attribute> parts = {l, r};
    return llvm::isa<arith::AndIOp>(op)
               ? simplifyPattern(IntersectAttr::get(ctx, parts))
               : simplifyPattern(UnionAttr::get(ctx, parts));
  }
  auto cmp = llvm::dyn_cast<arith::CmpIOp>(op);
  if (!cmp)
    return {};
  auto l = affineOf(cmp.getLhs(), i, j), r = affineOf(cmp.getRhs(), i, j);
  if (!l || !r)
    return {};
  // lhs - rhs = a * i + b * j + c with (a, b) = (1, -1) or (-1, 1).
  int64_t a = l->a - r->a, b = l->b - r->b, c = l->c - r->c;
  if (!((a == 1 && b == -1) || (a == -1 && b == 1)))
    return {};
  // Normalise to d = i - j compared with a constant: sign * d + c  PRED 0.
  int64_t sign = a;
  arith::CmpIPredicate p = cmp.getPredicate();
  // d PRED' k.
  int64_t k = -c * sign;
  auto flip = [](arith::CmpIPredicate q) {
    switch (q) {
    case arith::CmpIPredicate::slt: return arith::CmpIPredicate::sgt;
    case arith::CmpIPredicate::sle: return arith::CmpIPredicate::sge;
    case arith::CmpIPredicate::sgt: return arith::CmpIPredicate::slt;
    case arith::CmpIPredicate::sge: return arith::CmpIPredicate::sle;
    default: return q;
    }
  };
  if (sign < 0)
    p = flip(p);
  // Lower bound lo and upper bound hi on d (inclusive).
  int64_t lo = -bound, hi = bound;
  switch (p) {
  case arith::CmpIPredicate::sge: lo = k; break;
  case arith::CmpIPredicate::sgt: lo = k + 1; break;
  case arith::CmpIPredicate::sle: hi = k; break;
  case arith::CmpIPredicate::slt: hi = k - 1; break;
  case arith::CmpIPredicate::eq: lo = hi = k; break;
  default: return {};
  }
  // d in [lo, hi]: window<before = hi, after = -lo> when lo <= 0 <= hi;
  // causal is d >= 0.
  if (lo == 0 && hi >= bound)
    return CausalAttr::get(ctx);
  if (lo <= 0 && hi >= 0)
    return WindowAttr::get(ctx, std::min(hi, bound), std::min(-lo, bound));
  return {};
}

/// A pattern for a constant Sq x Sk boolean mask.
Attribute patternOfBits(MLIRContext *ctx, const std::vector<bool> &bits,
                        int64_t sq, int64_t sk) {
  auto at = [&](int64_t q, int64_t k) { return bits[q * sk + k]; };
  // A band lo <= q - k <= hi?
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (int64_t q = 0; q < sq; ++q)
    for (int64_t k = 0; k < sk; ++k)
      if (at(q, k)) {
        lo = std::min(lo, q - k);
        hi = std::max(hi, q - k);
      }
  if (lo != INT64_MAX && lo <= 0 && hi >= 0) {
    bool band = true;
    for (int64_t q = 0; q < sq && band; ++q)
      for (int64_t k = 0; k < sk && band; ++k)
        band = at(q, k) == (lo <= q - k && q - k <= hi);
    if (band) {
      if (lo == 0 && hi >= sq - 1)
        return CausalAttr::get(ctx);
      return WindowAttr::get(ctx, hi, -lo);
    }
  }
  // The coarsest power-of-two blocks on which the mask is constant.
  for (int64_t bsz = 128; bsz >= 1; bsz /= 2) {
    int64_t nq = ceilDivPositive(sq, bsz), nk = ceilDivPositive(sk, bsz);
    SmallVector<bool> layout;
    bool uniform = true;
    for (int64_t bi = 0; bi < nq && uniform; ++bi)
      for (int64_t bj = 0; bj < nk && uniform; ++bj) {
        bool first = at(bi * bsz, bj * bsz);
        for (int64_t q = bi * bsz; q < std::min(sq, (bi + 1) * bsz) && uniform; ++q)
          for (int64_t k = bj * bsz; k < std::min(sk, (bj + 1) * bsz) && uniform; ++k)
            uniform = at(q, k) == first;
        layout.push_back(first);
      }
    if (!uniform)
      continue;
    auto type = RankedTensorType::get({nq, nk}, IntegerType::get(ctx, 1));
    return BlocksAttr::get(
        ctx, bsz, bsz,
        llvm::cast<DenseIntElementsAttr>(DenseElementsAttr::get(type, layout)));
  }
  return {};
}

/// Bits of a constant mask operand read with map (b,h,i,j) -> (i,j) or the
/// identity on a [1,1,Sq,Sk] tensor; `allowed(x)` tells masked from allowed.
std::optional<std::vector<bool>>
constantMaskBits(Value operand, AffineMap m, int64_t sq, int64_t sk,
                 function_ref<bool(Attribute)> allowed) {
  DenseElementsAttr dense;
  if (!matchPattern(operand, m_Constant(&dense)))
    return std::nullopt;
  MLIRContext *ctx = operand.getContext();
  auto type = llvm::cast<ShapedType>(dense.getType());
  bool twoD = m == map(ctx, 4, {2, 3}) && type.getRank() == 2;
  bool fourD = m == map(ctx, 4, {0, 1, 2, 3}) && type.getRank() == 4 &&
               type.getDimSize(0) == 1 && type.getDimSize(1) == 1;
  if (!(twoD || fourD) || type.getDimSize(type.getRank() - 2) != sq ||
      type.getDimSize(type.getRank() - 1) != sk)
    return std::nullopt;
  std::vector<bool> bits(sq * sk);
  auto values = dense.getValues<Attribute>();
  for (int64_t e = 0; e < sq * sk; ++e)
    bits[e] = allowed(values[e]);
  return bits;
}

struct Mask {
  Attribute pattern;                 // null: no mask (dense)
  linalg::GenericOp customSource;    // index predicate kept as a custom mask
  Value customCond;
};

/// X = mask(S'): additive constant, select on a constant, select on indices.
/// Returns S' in `scores` and the mask; false if `x` is not a mask (then the
/// caller treats x itself as the scores).
bool matchMask(Value x, Value &scores, Mask &mask, int64_t sq, int64_t sk) {
  linalg::GenericOp g = genericOf(x);
  if (!isElementwise4d(g))
    return false;
  MLIRContext *ctx = x.getContext();
  AffineMap id4 = map(ctx, 4, {0, 1, 2, 3});
  Block *body = g.getBody();
  Value result = yielded(g);
  int64_t bound = std::max(sq, sk);
  // Additive constant mask: s + m with m in {0, -inf}.
  if (readsOutput(g))
    return false;
  if (auto add = result.getDefiningOp<arith::AddFOp>()) {
    if (g.getNumDpsInputs() != 2)
      return false;
    if (add.getLhs() != body->getArgument(0) ||
        add.getRhs() != body->getArgument(1))
      return false;
    // Only 0 (allowed) and -inf or the lowest finite values (masked) make a
    // mask; any other value is a bias, which is not a sparsity pattern.
    bool pureMask = true;
    auto bits = constantMaskBits(
        g.getDpsInputs()[1], g.getIndexingMapsArray()[1], sq, sk,
        [&](Attribute a) {
          double v = llvm::cast<FloatAttr>(a).getValueAsDouble();
          bool masked = v < 0 && (std::isinf(v) || v <= -1e30);
          pureMask &= masked || v == 0.0;
          return !masked;
        });
    if (!bits || !pureMask)
      return false;
    mask.pattern = patternOfBits(ctx, *bits, sq, sk);
    scores = g.getDpsInputs()[0];
    return bool(mask.pattern);
  }
  auto sel = result.getDefiningOp<arith::SelectOp>();
  if (!sel || sel.getTrueValue() != body->getArgument(0) ||
      !isNegInfOrLowest(sel.getFalseValue()) ||
      g.getIndexingMapsArray()[0] != id4)
    return false;
  scores = g.getDpsInputs()[0];
  // select(m[i, j], s, -inf) with a constant i1 mask.
  if (g.getNumDpsInputs() == 2 && sel.getCondition() == body->getArgument(1)) {
    auto bits = constantMaskBits(g.getDpsInputs()[1],
                                 g.getIndexingMapsArray()[1], sq, sk,
                                 [](Attribute a) {
                                   return llvm::cast<BoolAttr>(a).getValue();
                                 });
    if (!bits)
      return false;
    mask.pattern = patternOfBits(ctx, *bits, sq, sk);
    return bool(mask.pattern);
  }
  // select(cond(linalg.index 2, linalg.index 3), s, -inf).
  if (g.getNumDpsInputs() != 1 || readsOutput(g))
    return false;
  Value qi, kj;
  for (Operation &op : body->without_terminator()) {
    if (auto idx = llvm::dyn_cast<linalg::IndexOp>(op)) {
      if (idx.getDim() == 2)
        qi = idx;
      else if (idx.getDim() == 3)
        kj = idx;
      continue; // b and h indices are fine: such masks stay custom
    }
    // The predicate must be side-effect free and must not read the score.
    if (!isMemoryEffectFree(&op))
      return false;
    if (&op != sel.getOperation() &&
        llvm::is_contained(op.getOperands(), body->getArgument(0)))
      return false;
  }
  if (qi && kj)
    mask.pattern = patternOfCondition(sel.getCondition(), qi, kj, bound);
  if (!mask.pattern) {
    // Kept as a sparse_attn.mask region: values from outside the body must
    // be constants (which are cloned into the isolated region).
    for (Operation &op : body->without_terminator())
      for (Value operand : op.getOperands())
        if (operand.getParentBlock() != body &&
            !matchPattern(operand, m_Constant()))
          return false;
    mask.customSource = g;
    mask.customCond = sel.getCondition();
  }
  return true;
}

/// S' = S * c or S / c (c a constant), else S' itself with scale 1.
Value matchScale(Value s, double &scale) {
  linalg::GenericOp g = genericOf(s);
  scale = 1.0;
  if (!isElementwise4d(g) || g.getNumDpsInputs() != 1 || readsOutput(g))
    return s;
  Value r = yielded(g);
  Value arg = g.getBody()->getArgument(0);
  if (auto mul = r.getDefiningOp<arith::MulFOp>()) {
    Value other = mul.getLhs() == arg ? mul.getRhs() : mul.getLhs();
    if ((mul.getLhs() == arg || mul.getRhs() == arg))
      if (auto c = constantFloat(other)) {
        scale = *c;
        return g.getDpsInputs()[0];
      }
  }
  if (auto div = r.getDefiningOp<arith::DivFOp>())
    if (div.getLhs() == arg)
      if (auto c = constantFloat(div.getRhs()); c && *c != 0) {
        scale = 1.0 / *c;
        return g.getDpsInputs()[0];
      }
  return s;
}

struct RaiseAttention : OpRewritePattern<linalg::GenericOp> {
  RaiseAttention(MLIRContext *ctx, SymbolTable &symbols)
      : OpRewritePattern(ctx), symbols(symbols) {}

  LogicalResult matchAndRewrite(linalg::GenericOp root,
                                PatternRewriter &rw) const override {
    Value p, v, x, scaled, s, q, k;
    if (!root.hasPureTensorSemantics() || root.getNumResults() != 1 ||
        !matchOutput(root, p, v) || !matchSoftmax(p, x))
      return failure();
    auto oT = llvm::cast<RankedTensorType>(root.getResult(0).getType());
    auto xT = llvm::dyn_cast<RankedTensorType>(x.getType());
    if (!xT || !xT.hasStaticShape() || !oT.getElementType().isF32())
      return rw.notifyMatchFailure(root, "needs static f32 tensors");
    int64_t sq = xT.getDimSize(2), sk = xT.getDimSize(3);
    Mask mask;
    if (!matchMask(x, scaled, mask, sq, sk))
      scaled = x;
    double scale;
    s = matchScale(scaled, scale);
    if (!matchScores(s, q, k))
      return rw.notifyMatchFailure(root, "no Q K^T generic");
    for (Value t : {q, k, v})
      if (llvm::cast<RankedTensorType>(t.getType()).getElementType() !=
          oT.getElementType())
        return failure();

    MLIRContext *ctx = rw.getContext();
    Attribute pattern = mask.pattern ? mask.pattern : DensePatternAttr::get(ctx);
    if (mask.customSource) {
      // Keep the predicate as IR: a sparse_attn.mask with the same ops.
      OpBuilder::InsertionGuard guard(rw);
      auto module = root->getParentOfType<ModuleOp>();
      rw.setInsertionPointToStart(module.getBody());
      OperationState state(root.getLoc(), MaskOp::getOperationName());
      state.addAttribute(SymbolTable::getSymbolAttrName(),
                         rw.getStringAttr("__raised_mask"));
      state.addRegion();
      auto maskOp = llvm::cast<MaskOp>(rw.create(state));
      Block *block = rw.createBlock(&maskOp.getBody());
      Type index = rw.getIndexType();
      SmallVector<Value> args;
      for (int i = 0; i < 4; ++i)
        args.push_back(block->addArgument(index, root.getLoc()));
      IRMapping mapping;
      for (Operation &op : mask.customSource.getBody()->without_terminator()) {
        if (auto idx = llvm::dyn_cast<linalg::IndexOp>(op)) {
          mapping.map(idx.getResult(), args[idx.getDim()]);
          continue;
        }
        if (llvm::is_contained(op.getOperands(),
                               mask.customSource.getBody()->getArgument(0)))
          continue; // the select itself
        for (Value operand : op.getOperands())
          if (!mapping.contains(operand) &&
              operand.getParentBlock() != mask.customSource.getBody())
            rw.clone(*operand.getDefiningOp(), mapping); // a constant
        rw.clone(op, mapping);
      }
      YieldOp::create(rw, root.getLoc(),
                      ValueRange{mapping.lookup(mask.customCond)});
      symbols.insert(maskOp); // unique name
      pattern = CustomAttr::get(
          ctx, FlatSymbolRefAttr::get(ctx, maskOp.getSymName()));
    }
    auto op = AttentionOp::create(
        rw, root.getLoc(), TypeRange{oT}, q, k, v, ValueRange{},
        /*kv_num_blocks=*/Value(), /*kv_indices=*/Value(),
        /*full_num_blocks=*/Value(), /*full_indices=*/Value(),
        /*problem_sizes=*/ValueRange{}, /*offsets=*/ValueRange{},
        // An empty of O's type, dynamic sizes read from the original
        // output's destination.
        /*inits=*/
        ValueRange{tensor::EmptyOp::create(
            rw, root.getLoc(),
            tensor::getMixedSizes(rw, root.getLoc(), root.getDpsInits()[0]),
            oT.getElementType())},
        llvm::cast<SparsityPatternAttrInterface>(pattern),
        rw.getF32FloatAttr(static_cast<float>(scale)), FlatSymbolRefAttr(),
        BlockMaskAttr(), DenseI64ArrayAttr());
    rw.replaceOp(root, op.getOutput());
    return success();
  }

  SymbolTable &symbols;
};

struct RaisePass : sparse_attn::impl::SparseAttnRaiseBase<RaisePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    RewritePatternSet patterns(&getContext());
    patterns.add<RaiseAttention>(&getContext(), symbols);
    if (failed(applyPatternsGreedily(module, std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
