//===- Reference.cpp - float64 scalar reference of the op -----------------===//

#include "sparse_attn/Dialect/SparseAttn/Analysis/Reference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

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

void mlir::sparse_attn::listedKeyBlocks(const AttentionProblem &p, int64_t b,
                                        int64_t h, int64_t qb,
                                        std::vector<char> &out) {
  int64_t nk = ceilDivPositive(p.sk, p.tableBK);
  out.assign(nk, 0);
  for (const AttentionProblem::BlockTable &t : p.tables) {
    if (qb >= t.mq)
      continue;
    int64_t bp = t.bp == 1 ? 0 : b;
    int64_t hp = t.hp == 1 ? 0 : t.hp == p.hq ? h : h / (p.hq / p.hkv);
    int64_t row = (bp * t.hp + hp) * t.mq + qb;
    int64_t count = std::clamp<int64_t>(t.num[row], 0, t.n);
    for (int64_t e = 0; e < count; ++e) {
      int64_t kb = t.idx[row * t.n + e];
      if (kb >= 0 && kb < nk)
        out[kb] = 1;
    }
  }
}

/// scale * q . k, and `bound` raised to scale * sum |q_d k_d| (the
/// magnitude the kernels' f32 rounding of the score scales with).
static double scaledScore(const AttentionProblem &p, const double *q,
                          const double *k, double &bound) {
  double dot = 0, mag = 0;
  for (int64_t d = 0; d < p.d; ++d) {
    dot += q[d] * k[d];
    mag += std::fabs(q[d] * k[d]);
  }
  if (std::isfinite(mag))
    bound = std::max(bound, mag * std::fabs(p.scale));
  return dot * p.scale;
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
      std::vector<char> listed;
      for (int64_t i = 0; i < p.sq; ++i) {
        const double *qi = &p.q[((b * p.hq + h) * p.sq + i) * p.d];
        double m = -std::numeric_limits<double>::infinity();
        if (!p.tables.empty() && i % p.tableBQ == 0)
          listedKeyBlocks(p, b, h, i / p.tableBQ, listed);
        for (int64_t j = 0; j < p.sk; ++j) {
          allowed[j] = (p.tables.empty() || listed[j / p.tableBK]) &&
                       pattern.isAllowed(ctx, i, j);
          if (!allowed[j])
            continue;
          s[j] = scaledScore(p, qi, &kBase[j * p.d], r.scoreBound);
          if (scoreMod)
            s[j] = interp.evaluateScoreMod(scoreMod, s[j], b, h, i, j, p.sq, p.sk);
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

AttentionGradResult mlir::sparse_attn::computeGradReference(
    SparsityPatternAttrInterface pattern, FlatSymbolRefAttr scoreMod,
    const AttentionProblem &p, const std::vector<double> &dout,
    const MaskInterpreter &interp) {
  AttentionGradResult r;
  r.dq.assign(p.b * p.hq * p.sq * p.d, 0.0);
  r.dk.assign(p.b * p.hkv * p.sk * p.d, 0.0);
  r.dv.assign(p.b * p.hkv * p.sk * p.dv, 0.0);
  const double inf = std::numeric_limits<double>::infinity();
  int64_t group = p.hq / p.hkv;
  std::vector<double> s(p.sk), dsdt(p.sk), w(p.sk), o(p.dv);
  std::vector<char> allowed(p.sk), contributes(p.sk), listed;
  for (int64_t b = 0; b < p.b; ++b)
    for (int64_t h = 0; h < p.hq; ++h) {
      PatternContext ctx = contextFor(p, b, h, interp);
      int64_t g = h / group;
      const double *kBase = &p.k[((b * p.hkv + g) * p.sk) * p.d];
      const double *vBase = &p.v[((b * p.hkv + g) * p.sk) * p.dv];
      double *dkBase = &r.dk[((b * p.hkv + g) * p.sk) * p.d];
      double *dvBase = &r.dv[((b * p.hkv + g) * p.sk) * p.dv];
      for (int64_t i = 0; i < p.sq; ++i) {
        int64_t row = (b * p.hq + h) * p.sq + i;
        const double *qi = &p.q[row * p.d];
        const double *doi = &dout[row * p.dv];
        double *dqi = &r.dq[row * p.d];
        if (!p.tables.empty() && i % p.tableBQ == 0)
          listedKeyBlocks(p, b, h, i / p.tableBQ, listed);
        // Scores, their derivatives through score_mod, and the maximum.
        double m = -inf;
        for (int64_t j = 0; j < p.sk; ++j) {
          allowed[j] = (p.tables.empty() || listed[j / p.tableBK]) &&
                       pattern.isAllowed(ctx, i, j);
          if (!allowed[j])
            continue;
          s[j] = scaledScore(p, qi, &kBase[j * p.d], r.scoreBound);
          dsdt[j] = 1.0;
          if (scoreMod)
            std::tie(s[j], dsdt[j]) = interp.evaluateScoreModWithDerivative(
                scoreMod, s[j], b, h, i, j, p.sq, p.sk);
          m = std::isnan(s[j]) || std::isnan(m) ? NAN : std::max(m, s[j]);
        }
        // Normalised weights P of the keys that contribute (allowed, and
        // not a -inf modified score), and O. Keys that do not contribute
        // are skipped, never multiplied by 0: a NaN or Inf in their rows
        // does not reach this row (as in the forward's definition).
        double l = 0;
        for (int64_t j = 0; j < p.sk; ++j) {
          contributes[j] = allowed[j] && !(s[j] == -inf && !std::isnan(m));
          if (!contributes[j])
            continue;
          w[j] = std::exp(s[j] - m);
          l += w[j];
        }
        if (l == 0)
          continue; // an empty row contributes nothing
        std::fill(o.begin(), o.end(), 0.0);
        for (int64_t j = 0; j < p.sk; ++j) {
          if (!contributes[j])
            continue;
          w[j] /= l;
          for (int64_t e = 0; e < p.dv; ++e)
            o[e] += w[j] * vBase[j * p.dv + e];
        }
        double delta = 0;
        for (int64_t e = 0; e < p.dv; ++e)
          delta += doi[e] * o[e];
        for (int64_t j = 0; j < p.sk; ++j) {
          if (!contributes[j])
            continue;
          double dp = 0;
          for (int64_t e = 0; e < p.dv; ++e) {
            dvBase[j * p.dv + e] += w[j] * doi[e];
            dp += doi[e] * vBase[j * p.dv + e];
          }
          double dt = w[j] * (dp - delta) * dsdt[j] * p.scale;
          for (int64_t d = 0; d < p.d; ++d) {
            dqi[d] += dt * kBase[j * p.d + d];
            dkBase[j * p.d + d] += dt * qi[d];
          }
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
  if (!p.tables.empty()) {
    // Tables differ per (batch, head): count pair by pair.
    std::vector<char> listed;
    for (int64_t b = 0; b < p.b; ++b)
      for (int64_t h = 0; h < p.hq; ++h) {
        PatternContext ctx = contextFor(p, b, h, interp);
        for (int64_t i = 0; i < p.sq; ++i) {
          if (i % p.tableBQ == 0)
            listedKeyBlocks(p, b, h, i / p.tableBQ, listed);
          for (int64_t j = 0; j < p.sk; ++j)
            total += listed[j / p.tableBK] && pattern.isAllowed(ctx, i, j);
        }
      }
    return total;
  }
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
