/* Calls the ahead-of-time compiled kernel of odd.mlir through its C ABI and
   compares it with a naive double-precision evaluation of the definition
   written here, independently of the compiler. */
#include "odd.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { B = 2, HQ = 6, HKV = 2, SQ = 37, SK = 53, D = 24, DV = 40 };

static int allowed(int q, int k) {
  int global = q == 0 || q == 36 || q == 52 || k == 0 || k == 36 || k == 52;
  return (q - 5 <= k && k <= q + 3) || global;
}

static SparseAttnMemref4d desc4(float *p, int64_t a, int64_t b, int64_t c,
                                int64_t d) {
  SparseAttnMemref4d m = {p, p, 0, {a, b, c, d}, {b * c * d, c * d, d, 1}};
  return m;
}

int main(void) {
  float *q = malloc(sizeof(float) * B * HQ * SQ * D);
  float *k = malloc(sizeof(float) * B * HKV * SK * D);
  float *v = malloc(sizeof(float) * B * HKV * SK * DV);
  float *o = malloc(sizeof(float) * B * HQ * SQ * DV);
  float *lse = malloc(sizeof(float) * B * HQ * SQ);
  unsigned s = 12345;
#define RND() ((s = s * 1103515245u + 12345u), ((s >> 8) & 0xffff) / 32768.0f - 1.0f)
  for (int i = 0; i < B * HQ * SQ * D; ++i) q[i] = RND();
  for (int i = 0; i < B * HKV * SK * D; ++i) k[i] = RND();
  for (int i = 0; i < B * HKV * SK * DV; ++i) v[i] = RND();
  SparseAttnMemref4d mq = desc4(q, B, HQ, SQ, D), mk = desc4(k, B, HKV, SK, D),
                     mv = desc4(v, B, HKV, SK, DV), mo = desc4(o, B, HQ, SQ, DV);
  SparseAttnMemref3d ml = {lse, lse, 0, {B, HQ, SQ}, {HQ * SQ, SQ, 1}};
  _mlir_ciface_odd(&mq, &mk, &mv, &mo, &ml);

  double maxErr = 0, maxRef = 0, maxLseErr = 0, scale = 1.0 / sqrt((double)D);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < HQ; ++h)
      for (int i = 0; i < SQ; ++i) {
        int g = h / (HQ / HKV);
        double sc[SK], m = -INFINITY, l = 0, acc[DV] = {0};
        for (int j = 0; j < SK; ++j) {
          double dot = 0;
          for (int d = 0; d < D; ++d)
            dot += (double)q[((b * HQ + h) * SQ + i) * D + d] *
                   k[((b * HKV + g) * SK + j) * D + d];
          sc[j] = allowed(i, j) ? dot * scale : -INFINITY;
          if (sc[j] > m) m = sc[j];
        }
        for (int j = 0; j < SK; ++j) {
          if (sc[j] == -INFINITY) continue;
          double w = exp(sc[j] - m);
          l += w;
          for (int e = 0; e < DV; ++e) acc[e] += w * v[((b * HKV + g) * SK + j) * DV + e];
        }
        for (int e = 0; e < DV; ++e) {
          double ref = acc[e] / l, got = o[((b * HQ + h) * SQ + i) * DV + e];
          if (fabs(got - ref) > maxErr) maxErr = fabs(got - ref);
          if (fabs(ref) > maxRef) maxRef = fabs(ref);
        }
        double lref = m + log(l), lgot = lse[(b * HQ + h) * SQ + i];
        if (fabs(lgot - lref) > maxLseErr) maxLseErr = fabs(lgot - lref);
      }
  int ok = maxErr / maxRef < 1e-5 && maxLseErr < 1e-5;
  printf("aot: max rel err %.2e, lse max abs err %.2e: %s\n", maxErr / maxRef,
         maxLseErr, ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
