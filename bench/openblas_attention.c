/* The baseline issue 4 names: dense masked attention written the obvious way
   with a BLAS (OpenBLAS sgemm for Q K^T and P V, a masked softmax in
   between), and the sgemm ceiling of the machine.

     openblas_attention sgemm N [runs]          C = A B, N x N x N
     openblas_attention PATTERN S D [runs]      PATTERN: dense | causal | window:W
                                                  | bits:FILE (S lines of S 0/1
                                                  characters, as written by
                                                  sparse-attn-inspect --format=bits)

   Prints one JSON line; gflops counts 4 * D FLOPs per allowed (query, key)
   pair (the same effective metric as sparse-attn-run), 2 N^3 for sgemm.
   Build: cc -O3 -march=native bench/openblas_attention.c -lopenblas -lm */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static float *randoms(size_t n, unsigned *seed) {
  float *p = aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64);
  for (size_t i = 0; i < n; ++i) {
    *seed = *seed * 1103515245u + 12345u;
    p[i] = ((*seed >> 8) & 0xffff) / 32768.0f - 1.0f;
  }
  return p;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s sgemm N [runs] | PATTERN S D [runs]\n", argv[0]);
    return 2;
  }
  unsigned seed = 1;
  int sgemm = strcmp(argv[1], "sgemm") == 0;
  int runs = argc > (sgemm ? 3 : 4) ? atoi(argv[sgemm ? 3 : 4]) : 3;
  double times[64];
  if (runs > 64)
    runs = 64;
  if (sgemm) {
    int n = atoi(argv[2]);
    float *a = randoms((size_t)n * n, &seed), *b = randoms((size_t)n * n, &seed),
          *c = randoms((size_t)n * n, &seed);
    for (int r = -1; r < runs; ++r) {
      double t0 = now_ms();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a,
                  n, b, n, 0.0f, c, n);
      if (r >= 0)
        times[r] = now_ms() - t0;
    }
    qsort(times, runs, sizeof(double), cmp);
    double med = times[runs / 2];
    printf("{\"kernel\": \"sgemm\", \"n\": %d, \"median_ms\": %.4f, \"gflops\": %.3f}\n",
           n, med, 2.0 * n * (double)n * n / (med * 1e6));
    return 0;
  }
  const char *pattern = argv[1];
  int s = atoi(argv[2]), d = atoi(argv[3]);
  long window = -1;
  int causal = strcmp(pattern, "causal") == 0;
  unsigned char *bits = NULL; /* S x S, 1 = allowed */
  if (strncmp(pattern, "window:", 7) == 0)
    window = atol(pattern + 7);
  else if (strncmp(pattern, "bits:", 5) == 0) {
    FILE *f = fopen(pattern + 5, "r");
    size_t n = 0;
    int c;
    if (!f) {
      fprintf(stderr, "cannot open %s\n", pattern + 5);
      return 2;
    }
    bits = malloc((size_t)s * s);
    while ((c = fgetc(f)) != EOF && n < (size_t)s * s)
      if (c == '0' || c == '1')
        bits[n++] = (unsigned char)(c == '1');
    fclose(f);
    if (n != (size_t)s * s) {
      fprintf(stderr, "%s holds %zu mask bits, expected %d x %d\n",
              pattern + 5, n, s, s);
      return 2;
    }
  } else if (!causal && strcmp(pattern, "dense") != 0) {
    fprintf(stderr, "unknown pattern %s\n", pattern);
    return 2;
  }
  float *q = randoms((size_t)s * d, &seed), *k = randoms((size_t)s * d, &seed),
        *v = randoms((size_t)s * d, &seed), *o = randoms((size_t)s * d, &seed);
  float *p = aligned_alloc(64, (size_t)s * s * sizeof(float));
  float scale = 1.0f / sqrtf((float)d);
  long allowed = 0;
  for (int r = -1; r < runs; ++r) {
    double t0 = now_ms();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s, s, d, scale, q, d,
                k, d, 0.0f, p, s);
    allowed = 0;
    for (int i = 0; i < s; ++i) {
      float *row = p + (size_t)i * s, m = -INFINITY, l = 0;
      for (int j = 0; j < s; ++j) {
        int ok = bits     ? bits[(size_t)i * s + j]
                 : causal ? j <= i
                 : window >= 0 ? (i - j <= window && j - i <= window)
                               : 1;
        allowed += ok;
        row[j] = ok ? row[j] : -INFINITY;
        m = row[j] > m ? row[j] : m;
      }
      for (int j = 0; j < s; ++j) {
        row[j] = expf(row[j] - m);
        l += row[j];
      }
      float inv = l > 0 ? 1.0f / l : 0.0f; /* rows with no allowed key */
      for (int j = 0; j < s; ++j)
        row[j] *= inv;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s, d, s, 1.0f, p, s,
                v, d, 0.0f, o, d);
    if (r >= 0)
      times[r] = now_ms() - t0;
  }
  qsort(times, runs, sizeof(double), cmp);
  double med = times[runs / 2];
  printf("{\"kernel\": \"openblas-masked\", \"pattern\": \"%s\", \"s\": %d, \"d\": %d, "
         "\"median_ms\": %.4f, \"gflops\": %.3f, \"density\": %.6f, \"check\": %.6f}\n",
         pattern, s, d, med, 4.0 * d * (double)allowed / (med * 1e6),
         allowed / ((double)s * s), o[0]);
  return 0;
}
