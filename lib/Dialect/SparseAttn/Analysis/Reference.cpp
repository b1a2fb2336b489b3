//===- Reference.cpp - float64 scalar reference of the op -----------------===//

#include "sparse_attn/Dialect/SparseAttn/Analysis/Reference.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::sparse_attn;

PatternContext mlir::sparse_attn::contextFor(const AttentionProblem &p,
                                             int64_t b, int64_t h,
                                             const MaskInterpreter &interp) {
  PatternContext ctx(p.sq, p.sk);
  ctx.batch = b;
  ctx.head = h;
  ctx.customMasks = &interp;
  if (!p.qSeg.empty()) {
    ctx.hasSegments = true;
    ctx.qSegments = ArrayRef<int64_t>(p.qSeg).slice(b * p.sq, p.sq);
    ctx.kSegments = ArrayRef<int64_t>(p.kSeg).slice(b * p.sk, p.sk);
  }
  return ctx;
}

AttentionResult
mlir::sparse_attn::computeReference(AttentionOp op, const AttentionProblem &p,
                                    const MaskInterpreter &interp) {
  AttentionResult r;
  r.out.assign(p.b * p.hq * p.sq * p.dv, 0.0);
  r.lse.assign(p.b * p.hq * p.sq, -std::numeric_limits<double>::infinity());
  SparsityPatternAttrInterface pattern = op.getPattern();
  FlatSymbolRefAttr scoreMod = op.getScoreModAttr();
  int64_t group = p.hq / p.hkv;
  std::vector<double> s(p.sk);
  std::vector<char> allowed(p.sk);
  for (int64_t b = 0; b < p.b; ++b)
    for (int64_t h = 0; h < p.hq; ++h) {
      PatternContext ctx = contextFor(p, b, h, interp);
      int64_t g = h / group;
      const double *kBase = &p.k[((b * p.hkv + g) * p.sk) * p.d];
      const double *vBase = &p.v[((b * p.hkv + g) * p.sk) * p.dv];
      for (int64_t i = 0; i < p.sq; ++i) {
        const double *qi = &p.q[((b * p.hq + h) * p.sq + i) * p.d];
        double m = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < p.sk; ++j) {
          allowed[j] = pattern.isAllowed(ctx, i, j);
          if (!allowed[j])
            continue;
          double dot = 0, mag = 0;
          for (int64_t d = 0; d < p.d; ++d) {
            dot += qi[d] * kBase[j * p.d + d];
            mag += std::fabs(qi[d] * kBase[j * p.d + d]);
          }
          s[j] = dot * p.scale;
          if (std::isfinite(mag))
            r.scoreBound = std::max(r.scoreBound, mag * std::fabs(p.scale));
          if (scoreMod)
            s[j] = interp.evaluateScoreMod(scoreMod, s[j], b, h, i, j);
          m = std::isnan(s[j]) || std::isnan(m) ? NAN : std::max(m, s[j]);
        }
        double l = 0;
        double *oi = &r.out[((b * p.hq + h) * p.sq + i) * p.dv];
        for (int64_t j = 0; j < p.sk; ++j) {
          if (!allowed[j] ||
              (s[j] == -std::numeric_limits<double>::infinity() &&
               !std::isnan(m)))
            continue;
          double w = std::exp(s[j] - m);
          l += w;
          for (int64_t e = 0; e < p.dv; ++e)
            oi[e] += w * vBase[j * p.dv + e];
        }
        // l == 0: nothing allowed (or every score -inf): 0 and -inf. A NaN
        // or +inf score makes l NaN, which propagates as it does in IEEE
        // arithmetic (the kernels behave the same way).
        if (l != 0) {
          for (int64_t e = 0; e < p.dv; ++e)
            oi[e] /= l;
          r.lse[(b * p.hq + h) * p.sq + i] = m + std::log(l);
        }
      }
    }
  return r;
}

int64_t mlir::sparse_attn::countAllowedPairsTotal(AttentionOp op,
                                                  const AttentionProblem &p,
                                                  const MaskInterpreter &interp) {
  SparsityPatternAttrInterface pattern = op.getPattern();
  SmallVector<FlatSymbolRefAttr> custom;
  pattern.collectCustomMasks(custom);
  bool perHead = llvm::any_of(
      custom, [&](FlatSymbolRefAttr m) { return interp.usesBatchOrHead(m); });
  bool perBatch = perHead || pattern.needsSegmentIds();
  int64_t total = 0, cached = -1;
  for (int64_t b = 0; b < p.b; ++b)
    for (int64_t h = 0; h < p.hq; ++h) {
      if (!perBatch && cached >= 0) {
        total += cached;
        continue;
      }
      if (!perHead && h > 0) {
        total += cached;
        continue;
      }
      PatternContext ctx = contextFor(p, b, h, interp);
      BlockClassification blocks = classifyBlocks(pattern, ctx, 64, 64);
      cached = countAllowedPairs(pattern, ctx, blocks);
      total += cached;
    }
  return total;
}
