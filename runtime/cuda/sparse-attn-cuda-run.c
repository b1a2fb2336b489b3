/*===- sparse-attn-cuda-run.c - run a GPU artifact on .npy inputs ---------===*
 *
 *   sparse-attn-cuda-run ARTIFACT_DIR [--kernel N]
 *       [--input X.npy]...            one per input argument, manifest order
 *                                     (one segment-id tensor used for query
 *                                     and keys is given twice)
 *       [--output Y.npy]...           one per result (output, lse), as f32
 *       [--check REF.npy]...          one per result: compare with REF
 *       [--tolerance T]               largest relative error (default 1e-2)
 *       [--bench N] [--warmup W]      time N launches (CUDA events), JSON
 *       [--seed S] [--documents N]    generated inputs (without --input)
 *       [--allowed-pairs P]           for effective TFLOP/s in --bench
 *       [--size NAME=N]...            a size known only at run time (B, Sq,
 *                                     Sk) for generated inputs; with
 *                                     --input the files' shapes bind them
 *
 * The runtime-only counterpart of `sparse-attn-run` for machines with a GPU
 * but no MLIR: it needs only this file, sparse_attn_cuda.c and a C compiler
 *   cc -O2 -std=c99 sparse-attn-cuda-run.c sparse_attn_cuda.c -ldl -lm
 * Inputs are converted to the argument's element type (f32 / f16 .npy to
 * bf16 or f16 with round-to-nearest-even; f64 is rounded to f32 first on the
 * way to bf16; i32 / i64 ids). Without
 * --input, floats are uniform in [-1, 1) and segment ids split each
 * sequence into --documents equal documents (default 1); generated block
 * tables (kv_num_blocks, kv_indices, full_*) list every key block.
 *
 * --check compares each result with a reference computed elsewhere, e.g. the
 * float64 evaluation of the definition written by
 *   sparse-attn-run MODULE.mlir --input ... --write-reference REF.npy
 * on a machine with the compiler: max |got - ref| / max |ref| <= tolerance,
 * infinities (the LSE of rows with no allowed key) must match exactly, and
 * NaN is an error.
 *
 * Exit status: 0 on success, 1 on a failed check, 2 on bad usage or input.
 *===----------------------------------------------------------------------===*/
#include "sparse_attn_cuda.h"
#include "../npy/sparse_attn_npy.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_FILES = 16, MAX_ARGS = 16, MAX_DIMS = 8, MAX_SIZES = 8 };

static int usage(const char *msg) {
  fprintf(stderr, "sparse-attn-cuda-run: error: %s\n", msg);
  fprintf(stderr,
          "usage: sparse-attn-cuda-run ARTIFACT_DIR [--kernel N] "
          "[--input X.npy]... [--output Y.npy]... [--check REF.npy]... "
          "[--tolerance T] [--bench N] [--warmup W] [--seed S] "
          "[--documents N] [--allowed-pairs P] [--size NAME=N]...\n");
  return 2;
}

static int error(const char *fmt, const char *a, const char *b) {
  fprintf(stderr, "sparse-attn-cuda-run: error: ");
  fprintf(stderr, fmt, a, b);
  fprintf(stderr, "\n");
  return 2;
}

/*--- .npy files -----------------------------------------------------------*/

static double fromF16(uint16_t h);

typedef struct {
  char kind;  /* 'f', 'i' or 'u' */
  int size;   /* bytes per element */
  int rank;
  long long dims[MAX_DIMS];
  long long count;
  double *values; /* converted to double */
} Npy;

/* Reads a .npy of f2 / f4 / f8 / i4 / i8 / u1 / b1 with the project's strict
 * header parser (runtime/npy/sparse_attn_npy.h, shared with the C++ tools).
 * Returns NULL (and a message in `why`) on failure. */
static Npy *readNpy(const char *path, char *why, size_t whyLen) {
  FILE *f = fopen(path, "rb");
  unsigned char *bytes = NULL;
  size_t size = 0, cap = 0, got;
  SparseAttnNpyHeader h;
  char msg[1024];
  Npy *a = NULL;
  long long i;
  if (!f) {
    snprintf(why, whyLen, "cannot open '%s'", path);
    return NULL;
  }
  do {
    if (size == cap) {
      unsigned char *grown;
      cap = cap ? 2 * cap : 1 << 16;
      grown = (unsigned char *)realloc(bytes, cap);
      if (!grown) {
        snprintf(why, whyLen, "'%s': out of memory reading it", path);
        goto fail;
      }
      bytes = grown;
    }
    got = fread(bytes + size, 1, cap - size, f);
    size += got;
  } while (got > 0);
  if (ferror(f)) {
    snprintf(why, whyLen, "cannot read '%s'", path);
    goto fail;
  }
  if (!sparse_attn_npy_parse(bytes, size, &h, msg, sizeof msg)) {
    snprintf(why, whyLen, "'%s' is not a usable .npy file: %s", path, msg);
    goto fail;
  }
  if (!((h.kind == 'f' && (h.elementSize == 2 || h.elementSize == 4 || h.elementSize == 8)) ||
        (h.kind == 'i' && (h.elementSize == 4 || h.elementSize == 8)) ||
        ((h.kind == 'u' || h.kind == 'b') && h.elementSize == 1))) {
    snprintf(why, whyLen,
             "'%s': unsupported dtype '%s' (need float16/32/64, int32/64, "
             "uint8, bool)", path, h.descr);
    goto fail;
  }
  if (h.rank > MAX_DIMS) {
    snprintf(why, whyLen, "'%s': more than %d dimensions", path, MAX_DIMS);
    goto fail;
  }
  a = (Npy *)calloc(1, sizeof *a);
  if (!a || !(a->values = (double *)malloc((size_t)h.count * sizeof(double) + 1))) {
    snprintf(why, whyLen, "'%s': out of memory (%lld elements)", path,
             (long long)h.count);
    goto fail;
  }
  a->kind = h.kind == 'b' ? 'u' : h.kind;
  a->size = h.elementSize;
  a->rank = h.rank;
  for (i = 0; i < h.rank; ++i)
    a->dims[i] = h.dims[i];
  a->count = h.count;
  for (i = 0; i < a->count; ++i) {
    const unsigned char *e = bytes + h.dataOffset + i * a->size;
    double v = 0;
    if (a->kind == 'f' && a->size == 2) {
      v = fromF16((uint16_t)(e[0] | (e[1] << 8)));
    } else if (a->kind == 'f' && a->size == 4) {
      float x;
      memcpy(&x, e, 4);
      v = x;
    } else if (a->kind == 'f') {
      memcpy(&v, e, 8);
    } else if (a->kind == 'i' && a->size == 4) {
      int32_t x;
      memcpy(&x, e, 4);
      v = x;
    } else if (a->kind == 'i') {
      int64_t x;
      memcpy(&x, e, 8);
      v = (double)x;
    } else {
      v = e[0];
    }
    a->values[i] = v;
  }
  free(bytes);
  fclose(f);
  return a;
fail:
  free(bytes);
  if (a)
    free(a->values);
  free(a);
  fclose(f);
  return NULL;
}

static int writeNpyF32(const char *path, const float *data, int rank,
                       const long long *dims, long long count) {
  char header[256], shape[160] = "";
  int n, i, pad;
  FILE *f;
  for (i = 0; i < rank; ++i) {
    size_t len = strlen(shape);
    snprintf(shape + len, sizeof shape - len, "%lld%s", dims[i],
             rank == 1 ? "," : (i + 1 < rank ? ", " : ""));
  }
  n = snprintf(header, sizeof header,
               "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }",
               shape);
  pad = 64 - (10 + n + 1) % 64;
  if (pad == 64)
    pad = 0;
  f = fopen(path, "wb");
  if (!f)
    return 1;
  fwrite("\x93NUMPY\x01\x00", 1, 8, f);
  fputc((n + pad + 1) & 0xff, f);
  fputc((n + pad + 1) >> 8, f);
  fwrite(header, 1, n, f);
  for (i = 0; i < pad; ++i)
    fputc(' ', f);
  fputc('\n', f);
  fwrite(data, sizeof(float), (size_t)count, f);
  return fclose(f) != 0;
}

/*--- element types --------------------------------------------------------*/

static int dtypeSize(const char *t) {
  if (!strcmp(t, "bf16") || !strcmp(t, "f16"))
    return 2;
  if (!strcmp(t, "f32") || !strcmp(t, "i32"))
    return 4;
  if (!strcmp(t, "i64"))
    return 8;
  return 0;
}

static uint32_t floatBits(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  return u;
}

static uint16_t toBF16(float x) {
  uint32_t u = floatBits(x);
  if ((u & 0x7fffffff) > 0x7f800000)
    return 0x7fc0; /* NaN */
  return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

static float fromBF16(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float x;
  memcpy(&x, &u, 4);
  return x;
}

/* IEEE half from double, round to nearest even, overflow to infinity. */
static uint16_t toF16(double x) {
  uint16_t sign = signbit(x) ? 0x8000 : 0;
  double a = fabs(x), m;
  int e;
  if (isnan(x))
    return 0x7e00;
  if (a >= 65520.0)
    return sign | 0x7c00;
  if (a < ldexp(1, -14)) { /* subnormal: multiples of 2^-24 */
    return sign | (uint16_t)nearbyint(a * ldexp(1, 24));
  }
  m = frexp(a, &e); /* a = m * 2^e, m in [0.5, 1) */
  m = nearbyint(m * 2048.0); /* 11 significant bits */
  if (m == 2048.0) {
    m = 1024.0;
    ++e;
  }
  return sign | (uint16_t)(((e + 14) << 10) | ((int)m - 1024));
}

static double fromF16(uint16_t h) {
  int exp = (h >> 10) & 31, man = h & 1023;
  double v = exp == 0    ? ldexp(man, -24)
             : exp == 31 ? (man ? NAN : INFINITY)
                         : ldexp(man | 1024, exp - 25);
  return (h & 0x8000) ? -v : v;
}

static void store(void *buf, const char *t, long long i, double v) {
  if (!strcmp(t, "bf16"))
    ((uint16_t *)buf)[i] = toBF16((float)v);
  else if (!strcmp(t, "f16"))
    ((uint16_t *)buf)[i] = toF16(v);
  else if (!strcmp(t, "f32"))
    ((float *)buf)[i] = (float)v;
  else if (!strcmp(t, "i32"))
    ((int32_t *)buf)[i] = (int32_t)v;
  else
    ((int64_t *)buf)[i] = (int64_t)v;
}

static double load(const void *buf, const char *t, long long i) {
  if (!strcmp(t, "bf16"))
    return fromBF16(((const uint16_t *)buf)[i]);
  if (!strcmp(t, "f16"))
    return fromF16(((const uint16_t *)buf)[i]);
  if (!strcmp(t, "f32"))
    return ((const float *)buf)[i];
  if (!strcmp(t, "i32"))
    return ((const int32_t *)buf)[i];
  return (double)((const int64_t *)buf)[i];
}

static uint64_t rngState;
static double uniform(void) { /* splitmix64 -> [-1, 1) */
  uint64_t z = (rngState += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return (double)(z >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static int isResult(const char *role) {
  return !strcmp(role, "output") || !strcmp(role, "lse");
}

static int cmpFloat(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  const char *dir = NULL, *inputs[MAX_FILES], *outputs[MAX_FILES],
             *checks[MAX_FILES];
  int numInputs = 0, numOutputs = 0, numChecks = 0, kernelIndex = 0;
  int bench = 0, warmup = 3, documents = 1, status = 0, i, a, numArgs;
  double tolerance = 1e-2, allowedPairs = 0;
  unsigned long long seed = 0, ptrs[MAX_ARGS] = {0};
  void *host[MAX_ARGS] = {0};
  long long counts[MAX_ARGS];
  sa_cuda_kernel *k = NULL;
  int in = 0, out = 0;
  Npy *inputNpy[MAX_FILES] = {0}, *checkNpy[MAX_FILES] = {0};
  /* Run-time sizes (--size, then bound from the --input shapes). */
  char sizeNames[MAX_SIZES][16];
  long long sizeValues[MAX_SIZES];
  int numSizes = 0;
  char why[1536];

  for (i = 1; i < argc; ++i) {
    const char *opt = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    int takesValue = opt[0] == '-' && opt[1] == '-';
    if (takesValue && !val)
      return usage("missing value after an option");
    if (!strcmp(opt, "--input") || !strcmp(opt, "--output") ||
        !strcmp(opt, "--check")) {
      int *n = opt[2] == 'i' ? &numInputs : opt[2] == 'o' ? &numOutputs
                                                          : &numChecks;
      const char **list = opt[2] == 'i' ? inputs : opt[2] == 'o' ? outputs
                                                                 : checks;
      if (*n == MAX_FILES)
        return usage("too many files");
      list[(*n)++] = val;
    } else if (!strcmp(opt, "--kernel")) {
      kernelIndex = atoi(val);
    } else if (!strcmp(opt, "--tolerance")) {
      tolerance = atof(val);
    } else if (!strcmp(opt, "--bench")) {
      bench = atoi(val);
    } else if (!strcmp(opt, "--warmup")) {
      warmup = atoi(val);
    } else if (!strcmp(opt, "--seed")) {
      seed = strtoull(val, NULL, 10);
    } else if (!strcmp(opt, "--documents")) {
      documents = atoi(val);
    } else if (!strcmp(opt, "--allowed-pairs")) {
      allowedPairs = atof(val);
    } else if (!strcmp(opt, "--size")) {
      const char *eq = strchr(val, '=');
      char *end;
      if (numSizes == MAX_SIZES || !eq || eq == val ||
          (size_t)(eq - val) >= sizeof sizeNames[0])
        return usage("--size takes NAME=N");
      memcpy(sizeNames[numSizes], val, (size_t)(eq - val));
      sizeNames[numSizes][eq - val] = 0;
      sizeValues[numSizes] = strtoll(eq + 1, &end, 10);
      if (*end || end == eq + 1 || sizeValues[numSizes] < 0)
        return usage("--size takes NAME=N with N >= 0");
      ++numSizes;
    } else if (takesValue) {
      return error("unknown option '%s'%s", opt, "");
    } else if (!dir) {
      dir = opt;
      continue;
    } else {
      return usage("more than one artifact directory");
    }
    ++i;
  }
  if (!dir)
    return usage("no artifact directory");
  if (bench < 0 || warmup < 0 || documents < 1 || tolerance <= 0)
    return usage("--bench and --warmup must be >= 0, --documents >= 1, "
                 "--tolerance > 0");
  rngState = seed;

  /* Every .npy file is read and validated before the GPU is touched. */
  for (i = 0; i < numInputs; ++i)
    if (!(inputNpy[i] = readNpy(inputs[i], why, sizeof why)))
      return error("%s%s", why, "");
  for (i = 0; i < numChecks; ++i)
    if (!(checkNpy[i] = readNpy(checks[i], why, sizeof why)))
      return error("%s%s", why, "");

  if (sa_cuda_num_kernels(dir) < 0)
    return error("%s%s", sa_cuda_last_error(), "");
  if (sa_cuda_load(dir, kernelIndex, &k))
    return error("%s%s", sa_cuda_last_error(), "");
  numArgs = sa_cuda_num_args(k);
  if (numArgs > MAX_ARGS)
    return error("the kernel has too many arguments%s%s", "", "");
  {
    int numIn = 0, numOut = 0;
    for (a = 0; a < numArgs; ++a)
      isResult(sa_cuda_arg_role(k, a)) ? ++numOut : ++numIn;
    if (numInputs && numInputs != numIn) {
      char msg[160];
      snprintf(msg, sizeof msg,
               "the kernel takes %d inputs but %d --input files were given",
               numIn, numInputs);
      return usage(msg);
    }
    if (numOutputs > numOut || numChecks > numOut) {
      char msg[160];
      snprintf(msg, sizeof msg, "the kernel has %d results", numOut);
      return usage(msg);
    }
  }

  /* Sizes known only at run time: from --size, or the --input files'
   * shapes (which must agree with each other and with --size). */
  {
    long long all[MAX_ARGS * MAX_DIMS];
    int count = 0, pass, s2;
    for (pass = 0; pass < 2; ++pass) {
      int inArg = 0;
      count = 0;
      for (a = 0; a < numArgs; ++a) {
        int rank = sa_cuda_arg_rank(k, a), d;
        Npy *x = NULL;
        if (!isResult(sa_cuda_arg_role(k, a)) && numInputs)
          x = inputNpy[inArg++];
        for (d = 0; d < rank; ++d) {
          const char *name = sa_cuda_arg_dim_name(k, a, d);
          long long v = sa_cuda_arg_dim(k, a, d);
          if (name) {
            for (s2 = 0; s2 < numSizes && strcmp(sizeNames[s2], name); ++s2)
              ;
            if (pass == 0 && x && d < x->rank) {
              if (s2 < numSizes && sizeValues[s2] != x->dims[d]) {
                char msg[200];
                snprintf(msg, sizeof msg,
                         "size %s is %lld here and %lld in input '%s'", name,
                         sizeValues[s2], x->dims[d], inputs[inArg - 1]);
                return usage(msg);
              }
              if (s2 == numSizes) {
                if (numSizes == MAX_SIZES)
                  return usage("too many sizes");
                snprintf(sizeNames[numSizes], sizeof sizeNames[0], "%s", name);
                ++numSizes;
              }
              sizeValues[s2] = x->dims[d];
            }
            if (pass == 1) {
              if (s2 == numSizes) {
                char msg[160];
                snprintf(msg, sizeof msg,
                         "the kernel's size %s is known only at run time: "
                         "give --size %s=N or --input files", name, name);
                return usage(msg);
              }
              v = sizeValues[s2];
            }
          }
          all[count++] = v;
        }
      }
    }
    if (sa_cuda_bind_sizes(k, all, count))
      return error("%s%s", sa_cuda_last_error(), "");
  }

  /* Host buffers: inputs from files or generated; results zeroed. */
  for (a = 0; a < numArgs; ++a) {
    const char *role = sa_cuda_arg_role(k, a), *dt = sa_cuda_arg_dtype(k, a);
    int rank = sa_cuda_arg_rank(k, a), d, size = dtypeSize(dt);
    long long n = 1, e;
    for (d = 0; d < rank; ++d)
      n *= sa_cuda_arg_dim(k, a, d);
    counts[a] = n;
    if (!size)
      return error("argument '%s' has the unsupported type %s", role, dt);
    host[a] = calloc((size_t)n ? (size_t)n : 1, (size_t)size);
    if (!host[a])
      return error("out of memory%s%s", "", "");
    if (isResult(role))
      continue;
    if (numInputs) {
      const char *path = inputs[in];
      Npy *x = inputNpy[in++];
      int same = x->rank == rank;
      for (d = 0; same && d < rank; ++d)
        same = x->dims[d] == sa_cuda_arg_dim(k, a, d);
      if (!same) {
        char want[128] = "";
        for (d = 0; d < rank; ++d) {
          size_t len = strlen(want);
          snprintf(want + len, sizeof want - len, "%s%lld", d ? "x" : "",
                   sa_cuda_arg_dim(k, a, d));
        }
        fprintf(stderr,
                "sparse-attn-cuda-run: error: '%s' does not have the shape "
                "%s of argument '%s'\n",
                path, want, role);
        return 2;
      }
      if ((x->kind == 'f') != (dt[0] == 'b' || dt[0] == 'f'))
        return error("'%s' holds %s values for a %s argument", path,
                     x->kind == 'f' ? "floating-point" : "integer");
      for (e = 0; e < n; ++e)
        store(host[a], dt, e, x->values[e]);
    } else if (!strcmp(role, "kv_num_blocks") ||
               !strcmp(role, "full_num_blocks")) {
      /* Generated block tables list every key block: counts past N are
       * clamped to N, and indices 0, 1, ... follow. */
      for (e = 0; e < n; ++e)
        store(host[a], dt, e, 1 << 30);
    } else if (!strcmp(role, "kv_indices") || !strcmp(role, "full_indices")) {
      long long len = rank ? sa_cuda_arg_dim(k, a, rank - 1) : 1;
      for (e = 0; e < n; ++e)
        store(host[a], dt, e, (double)(e % len));
    } else if (dt[0] == 'i') {
      long long len = rank ? sa_cuda_arg_dim(k, a, rank - 1) : 1;
      for (e = 0; e < n; ++e)
        store(host[a], dt, e, (double)((e % len) * documents / len));
    } else {
      for (e = 0; e < n; ++e)
        store(host[a], dt, e, uniform());
    }
  }

  for (a = 0; a < numArgs; ++a) {
    size_t bytes = (size_t)counts[a] * dtypeSize(sa_cuda_arg_dtype(k, a));
    if (sa_cuda_alloc(&ptrs[a], bytes) ||
        sa_cuda_copy_to_device(ptrs[a], host[a], bytes))
      return error("%s%s", sa_cuda_last_error(), "");
  }
  if (sa_cuda_launch(k, ptrs, numArgs, NULL) || sa_cuda_synchronize())
    return error("%s%s", sa_cuda_last_error(), "");

  /* Results. */
  for (a = 0; a < numArgs; ++a) {
    const char *role = sa_cuda_arg_role(k, a), *dt = sa_cuda_arg_dtype(k, a);
    int rank = sa_cuda_arg_rank(k, a), d;
    long long dims[MAX_DIMS], e, n = counts[a];
    float *got;
    if (!isResult(role))
      continue;
    if (sa_cuda_copy_to_host(host[a], ptrs[a],
                             (size_t)n * dtypeSize(dt)))
      return error("%s%s", sa_cuda_last_error(), "");
    got = (float *)malloc((size_t)n * sizeof(float) + 1);
    if (!got)
      return error("out of memory%s%s", "", "");
    for (e = 0; e < n; ++e)
      got[e] = (float)load(host[a], dt, e);
    for (d = 0; d < rank; ++d)
      dims[d] = sa_cuda_arg_dim(k, a, d);
    if (out < numOutputs &&
        writeNpyF32(outputs[out], got, rank, dims, n))
      return error("cannot write '%s'%s", outputs[out], "");
    if (out < numChecks) {
      Npy *ref = checkNpy[out];
      double maxAbs = 0, maxRef = 0, rel;
      long long nans = 0, bothNan = 0, infs = 0, compared = 0;
      if (ref->count != n)
        return error("'%s' does not have the shape of result '%s'",
                     checks[out], role);
      for (e = 0; e < n; ++e) {
        double g = got[e], w = ref->values[e];
        /* NaN passes only where the reference is NaN too (NaN inputs the
         * definition propagates); a result with nothing but NaN to compare
         * fails. The same rule as sparse-attn-run --check. */
        if (isnan(g) || isnan(w)) {
          nans += isnan(g) != isnan(w);
          bothNan += isnan(g) && isnan(w);
          continue;
        }
        ++compared;
        if (isinf(g) || isinf(w)) {
          infs += g != w;
          continue;
        }
        if (fabs(g - w) > maxAbs)
          maxAbs = fabs(g - w);
        if (fabs(w) > maxRef)
          maxRef = fabs(w);
      }
      rel = maxAbs / (maxRef > 1e-30 ? maxRef : 1e-30);
      printf("check %s: max_abs_err=%.3e max_rel_err=%.3e (relative to max "
             "|reference| = %.3g, tolerance %.0e)",
             role, maxAbs, rel, maxRef, tolerance);
      if (nans)
        printf(" NaN-mismatch=%lld", nans);
      if (bothNan)
        printf(" NaN-as-reference=%lld", bothNan);
      if (infs)
        printf(" infinite-mismatch=%lld", infs);
      if (!compared)
        printf(" nothing-to-compare");
      if (nans || infs || !compared || rel > tolerance) {
        printf(" FAILED\n");
        status = 1;
      } else {
        printf(" OK\n");
      }
    }
    ++out;
    free(got);
  }

  if (bench > 0) {
    float *ms = (float *)malloc(sizeof(float) * (size_t)(warmup + bench));
    int tq, tk;
    long long full, partial;
    long long b = 0, h = 0, sq = 0, sk = 0, dq = 0, dv = 0;
    double median;
    if (!ms || sa_cuda_time_launches(k, ptrs, numArgs, warmup + bench, ms))
      return error("%s%s", sa_cuda_last_error(), "");
    qsort(ms + warmup, (size_t)bench, sizeof(float), cmpFloat);
    median = ms[warmup + bench / 2];
    for (a = 0; a < numArgs; ++a) {
      const char *role = sa_cuda_arg_role(k, a);
      if (!strcmp(role, "query")) {
        b = sa_cuda_arg_dim(k, a, 0);
        h = sa_cuda_arg_dim(k, a, 1);
        sq = sa_cuda_arg_dim(k, a, 2);
        dq = sa_cuda_arg_dim(k, a, 3);
      } else if (!strcmp(role, "value")) {
        sk = sa_cuda_arg_dim(k, a, 2);
        dv = sa_cuda_arg_dim(k, a, 3);
      }
    }
    sa_cuda_tile_info(k, &tq, &tk, &full, &partial);
    printf("{\"kernel\": \"%s\", \"median_ms\": %.4f, \"min_ms\": %.4f, "
           "\"runs\": %d",
           sa_cuda_entry(k), median, ms[warmup], bench);
    if (tq > 0) {
      double tiles = (double)(full + partial);
      double nq = (double)((sq + tq - 1) / tq), nk = (double)((sk + tk - 1) / tk);
      printf(", \"tile\": [%d, %d], \"full_tiles\": %lld, "
             "\"partial_tiles\": %lld, \"tile_density\": %.6f",
             tq, tk, full, partial, tiles / (nq * nk));
      /* What the tensor cores compute: every visited tile in full. */
      printf(", \"tile_tflops\": %.2f",
             2.0 * (double)(dq + dv) * b * h * tiles * tq * tk /
                 (median * 1e9));
    }
    if (allowedPairs > 0)
      printf(", \"allowed_pairs\": %.0f, \"tflops\": %.2f", allowedPairs,
             2.0 * (double)(dq + dv) * allowedPairs / (median * 1e9));
    printf("}\n");
    free(ms);
  }

  for (a = 0; a < numArgs; ++a) {
    sa_cuda_free(ptrs[a]);
    free(host[a]);
  }
  sa_cuda_unload(k);
  return status;
}
