//===- RoutingReference.cpp - float64 reference of the routing ops --------===//

#include "sparse_attn/Dialect/SparseAttn/Analysis/RoutingReference.h"

#include "llvm/ADT/APFloat.h"
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

using namespace mlir;
using namespace mlir::sparse_attn;

double mlir::sparse_attn::roundToElementType(double value, Type elt) {
  float f = static_cast<float>(value);
  if (elt.isF32() || std::isnan(f))
    return f;
  const llvm::fltSemantics &sem = elt.isF16() ? llvm::APFloat::IEEEhalf()
                                              : llvm::APFloat::BFloat();
  llvm::APFloat x(f);
  bool lost;
  x.convert(sem, llvm::APFloat::rmNearestTiesToEven, &lost);
  x.convert(llvm::APFloat::IEEEdouble(), llvm::APFloat::rmNearestTiesToEven,
            &lost);
  return x.convertToDouble();
}

RefArray mlir::sparse_attn::poolReference(const RefArray &in, bool isMax,
                                          int64_t block, int64_t stride,
                                          Type resultElt) {
  int64_t b = in.shape[0], h = in.shape[1], s = in.shape[2], d = in.shape[3];
  int64_t n = PoolOp::numBlocks(s, block, stride);
  RefArray out;
  out.shape = {b, h, n, d};
  out.data.assign(b * h * n * d, 0.0);
  for (int64_t bh = 0; bh < b * h; ++bh)
    for (int64_t i = 0; i < n; ++i) {
      int64_t r0 = i * stride, r1 = std::min(r0 + block, s);
      for (int64_t e = 0; e < d; ++e) {
        double acc = isMax ? -std::numeric_limits<double>::infinity() : 0.0;
        for (int64_t r = r0; r < r1; ++r) {
          double x = in.data[(bh * s + r) * d + e];
          if (std::isnan(x) || std::isnan(acc))
            acc = NAN;
          else
            acc = isMax ? std::max(acc, x) : acc + x;
        }
        if (!isMax)
          acc /= static_cast<double>(r1 - r0);
        out.data[(bh * n + i) * d + e] = roundToElementType(acc, resultElt);
      }
    }
  return out;
}

SelectBlocksReference mlir::sparse_attn::selectBlocksReference(
    SelectBlocksOp op, const RefArray &q, const RefArray &kp, int64_t sk,
    int64_t hp, int64_t width, const MaskInterpreter &interp) {
  int64_t nb = q.shape[0], hq = q.shape[1], sq = q.shape[2], d = q.shape[3];
  int64_t hkv = kp.shape[1], nk = kp.shape[2];
  int64_t bq = op.getBlockQ(), bk = op.getBlockK();
  int64_t mq = ceilDivPositive(sq, bq), group = hq / hkv;
  bool perKV = hp != hq;
  SelectBlocksReference r;
  for (RefArray *t : {&r.kvNum, &r.fullNum}) {
    t->shape = {nb, hp, mq};
    t->data.assign(nb * hp * mq, 0.0);
  }
  for (RefArray *t : {&r.kvIdx, &r.fullIdx}) {
    t->shape = {nb, hp, mq, width};
    t->data.assign(nb * hp * mq * width, 0.0);
  }
  SparsityPatternAttrInterface pattern = op.getPattern();
  PatternContext ctx(sq, sk);
  ctx.customMasks = &interp;
  // Block classes, tile by tile.
  std::vector<TileKind> kind(mq * nk, TileKind::Empty);
  for (int64_t i = 0; i < mq; ++i)
    for (int64_t j = 0; j < nk && j * bk < sk; ++j)
      kind[i * nk + j] =
          pattern.classifyTile(ctx, i * bq, std::min(sq, (i + 1) * bq),
                               j * bk, std::min(sk, (j + 1) * bk));
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> qsum(d), score(nk);
  std::vector<char> forced(nk);
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t t = 0; t < hp; ++t)
      for (int64_t i = 0; i < mq; ++i) {
        int64_t r0 = i * bq, r1 = std::min(sq, r0 + bq);
        std::fill(qsum.begin(), qsum.end(), 0.0);
        int64_t h0 = perKV ? t * group : t, hn = perKV ? group : 1;
        for (int64_t h = h0; h < h0 + hn; ++h)
          for (int64_t e = 0; e < d; ++e) {
            double acc = 0;
            for (int64_t row = r0; row < r1; ++row)
              acc += q.data[((b * hq + h) * sq + row) * d + e];
            qsum[e] += acc / static_cast<double>(r1 - r0);
          }
        int64_t g = perKV ? t : t / group;
        std::vector<int64_t> candidates, others;
        double magnitude = 0;
        for (int64_t j = 0; j < nk; ++j) {
          if (kind[i * nk + j] == TileKind::Empty)
            continue;
          candidates.push_back(j);
          double s = 0, mag = 0;
          for (int64_t e = 0; e < d; ++e) {
            double x = qsum[e] * kp.data[((b * hkv + g) * nk + j) * d + e];
            s += x;
            mag += std::fabs(x);
          }
          score[j] = std::isnan(s) ? -inf : s;
          if (std::isfinite(mag))
            magnitude = std::max(magnitude, mag);
        }
        std::fill(forced.begin(), forced.end(), 0);
        for (int64_t j : candidates)
          if (j < static_cast<int64_t>(op.getSink()))
            forced[j] = 1;
        for (int64_t c = 0; c < std::min<int64_t>(op.getLocal(),
                                                  candidates.size());
             ++c)
          forced[candidates[candidates.size() - 1 - c]] = 1;
        for (int64_t j : candidates)
          if (!forced[j])
            others.push_back(j);
        // Highest score first, ties to the lower block index.
        std::sort(others.begin(), others.end(), [&](int64_t a, int64_t c) {
          return score[a] > score[c] || (score[a] == score[c] && a < c);
        });
        int64_t take = std::min<int64_t>(op.getTopK(), others.size());
        if (take > 0 && take < static_cast<int64_t>(others.size())) {
          double last = score[others[take - 1]], next = score[others[take]];
          // Equal scores are decided by the index rule; distinct ones within
          // rounding of each other may be ordered either way in f32.
          if (last != next && std::fabs(last - next) <= 1e-6 * magnitude)
            ++r.nearTies;
        }
        std::vector<char> selected(forced);
        for (int64_t c = 0; c < take; ++c)
          selected[others[c]] = 1;
        int64_t row = (b * hp + t) * mq + i, np = 0, nf = 0;
        for (int64_t j = 0; j < nk; ++j) {
          if (!selected[j])
            continue;
          if (kind[i * nk + j] == TileKind::Full)
            r.fullIdx.data[row * width + nf++] = j;
          else
            r.kvIdx.data[row * width + np++] = j;
        }
        r.kvNum.data[row] = np;
        r.fullNum.data[row] = nf;
      }
  return r;
}

SelectTokensReference mlir::sparse_attn::selectTokensReference(
    SelectTokensOp op, const RefArray &iq, const RefArray &ik,
    const RefArray &w, int64_t width, const MaskInterpreter &interp) {
  int64_t nb = iq.shape[0], sq = iq.shape[1], hi = iq.shape[2],
          di = iq.shape[3], sk = ik.shape[1];
  SelectTokensReference r;
  r.num.shape = {nb, 1, sq};
  r.num.data.assign(nb * sq, 0.0);
  r.indices.shape = {nb, 1, sq, width};
  r.indices.data.assign(nb * sq * width, 0.0);
  SparsityPatternAttrInterface pattern = op.getPattern();
  const double inf = std::numeric_limits<double>::infinity();
  int64_t topK = static_cast<int64_t>(op.getTopK());
  std::vector<double> score(sk);
  for (int64_t b = 0; b < nb; ++b) {
    PatternContext ctx(sq, sk);
    ctx.batch = b;
    ctx.customMasks = &interp;
    for (int64_t t = 0; t < sq; ++t) {
      std::vector<int64_t> cand;
      double magnitude = 0;
      for (int64_t s = 0; s < sk; ++s) {
        if (!pattern.isAllowed(ctx, t, s))
          continue;
        cand.push_back(s);
        double total = 0, mag = 0;
        for (int64_t j = 0; j < hi; ++j) {
          double dot = 0;
          for (int64_t e = 0; e < di; ++e)
            dot += iq.data[((b * sq + t) * hi + j) * di + e] *
                   ik.data[(b * sk + s) * di + e];
          double wj = w.data[(b * sq + t) * hi + j];
          double term = wj * (std::isnan(dot) ? dot : std::max(0.0, dot));
          total += term;
          mag += std::fabs(term);
        }
        score[s] = std::isnan(total) ? -inf : total;
        if (std::isfinite(mag))
          magnitude = std::max(magnitude, mag);
      }
      std::sort(cand.begin(), cand.end(), [&](int64_t a, int64_t c) {
        return score[a] > score[c] || (score[a] == score[c] && a < c);
      });
      int64_t take = std::min<int64_t>(topK, cand.size());
      if (take > 0 && take < static_cast<int64_t>(cand.size()) &&
          score[cand[take - 1]] != score[cand[take]] &&
          std::fabs(score[cand[take - 1]] - score[cand[take]]) <=
              1e-6 * magnitude)
        ++r.nearTies;
      std::vector<int64_t> chosen(cand.begin(), cand.begin() + take);
      std::sort(chosen.begin(), chosen.end());
      int64_t row = b * sq + t;
      r.num.data[row] = take;
      for (int64_t e = 0; e < take; ++e)
        r.indices.data[row * width + e] = chosen[e];
    }
  }
  return r;
}
