/*===- sparse_attn_npy.h - strict .npy header parser (C99 / C++) ----------===*
 *
 * The one parser of NumPy .npy headers in the project: the C++ tools
 * (lib/Support/Npy.cpp) and the runtime-only CUDA runner
 * (runtime/cuda/sparse-attn-cuda-run.c) both include it, so a file is read
 * the same way everywhere. Header-only and plain C99 (also valid C++), so
 * the runner still builds with one `cc` line and no library.
 *
 * Format versions 1.0, 2.0 and 3.0. The header is the Python dictionary
 * literal NumPy writes, parsed as such: string keys, exactly 'descr',
 * 'fortran_order' and 'shape' (a later duplicate key wins, as in Python);
 * 'descr' a string, 'fortran_order' True / False, 'shape' a tuple of
 * non-negative integers (`(3)` is the integer 3, not a tuple). After the
 * dictionary only spaces and one final newline, ending on a 16-byte
 * boundary (NumPy pads to 64, before 1.14 to 16). The data must be exactly
 * the bytes the shape and dtype need. Byte orders '<', '=' and '|' are
 * little-endian on the supported hosts and are reported as '<'.
 *
 *===----------------------------------------------------------------------===*/
#ifndef SPARSE_ATTN_NPY_H
#define SPARSE_ATTN_NPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { SPARSE_ATTN_NPY_MAX_RANK = 32 };

typedef struct {
  char descr[8];      /* "<f4", "<f2", "<f8", "<i4", "<i8", "<u1", "<b1", ... */
  char kind;          /* 'f', 'i', 'u' or 'b' */
  int elementSize;    /* bytes */
  int rank;
  int64_t dims[SPARSE_ATTN_NPY_MAX_RANK];
  int64_t count;      /* elements */
  size_t dataOffset;  /* where the data starts in the file */
  size_t dataBytes;   /* count * elementSize, and the bytes after the header */
} SparseAttnNpyHeader;

/* Internal state of one header parse. */
typedef struct {
  const char *s;
  size_t n, pos;
  char *why;
  size_t whyLen;
  int failed;
} SparseAttnNpyParser;

static int sparse_attn_npy_fail(SparseAttnNpyParser *p, const char *what) {
  if (!p->failed)
    snprintf(p->why, p->whyLen, "bad header: %s at header offset %zu", what,
             p->pos);
  p->failed = 1;
  return 0;
}

static void sparse_attn_npy_space(SparseAttnNpyParser *p) {
  while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                           p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
    ++p->pos;
}

static int sparse_attn_npy_peek(SparseAttnNpyParser *p, char c) {
  sparse_attn_npy_space(p);
  return p->pos < p->n && p->s[p->pos] == c;
}

/* A quoted string without escapes; its bytes in [*begin, *begin + *len). */
static int sparse_attn_npy_string(SparseAttnNpyParser *p, size_t *begin,
                                  size_t *len) {
  char quote;
  size_t i;
  sparse_attn_npy_space(p);
  if (p->pos >= p->n || (p->s[p->pos] != '\'' && p->s[p->pos] != '"'))
    return sparse_attn_npy_fail(p, "expected a string");
  quote = p->s[p->pos++];
  for (i = p->pos; i < p->n && p->s[i] != quote; ++i)
    if (p->s[i] == '\\' || p->s[i] == '\n')
      return sparse_attn_npy_fail(p, "escapes and newlines in strings are "
                                     "not supported");
  if (i >= p->n)
    return sparse_attn_npy_fail(p, "unterminated string");
  *begin = p->pos;
  *len = i - p->pos;
  p->pos = i + 1;
  return 1;
}

static int sparse_attn_npy_int(SparseAttnNpyParser *p, int64_t *out) {
  int64_t v = 0;
  size_t start;
  sparse_attn_npy_space(p);
  start = p->pos;
  while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
    int d = p->s[p->pos] - '0';
    if (v > (INT64_MAX - d) / 10)
      return sparse_attn_npy_fail(p, "integer out of range");
    v = v * 10 + d;
    ++p->pos;
  }
  if (p->pos == start)
    return sparse_attn_npy_fail(p, "expected a non-negative integer");
  *out = v;
  return 1;
}

/* Value kinds. */
enum { SPARSE_ATTN_NPY_STR, SPARSE_ATTN_NPY_BOOL, SPARSE_ATTN_NPY_INT,
       SPARSE_ATTN_NPY_TUPLE };

/* Parses one value; for a tuple fills dims / rank (at most the limit). */
static int sparse_attn_npy_value(SparseAttnNpyParser *p, int *kind,
                                 size_t *strBegin, size_t *strLen, int *flag,
                                 int64_t *dims, int *rank) {
  char c;
  sparse_attn_npy_space(p);
  if (p->pos >= p->n)
    return sparse_attn_npy_fail(p, "expected a value");
  c = p->s[p->pos];
  if (c == '\'' || c == '"') {
    *kind = SPARSE_ATTN_NPY_STR;
    return sparse_attn_npy_string(p, strBegin, strLen);
  }
  if (c == '(') {
    int comma = 0;
    ++p->pos;
    *kind = SPARSE_ATTN_NPY_TUPLE;
    *rank = 0;
    while (!sparse_attn_npy_peek(p, ')')) {
      int64_t d;
      if (p->pos >= p->n)
        return sparse_attn_npy_fail(p, "unclosed '(' in a tuple");
      if (!sparse_attn_npy_int(p, &d))
        return 0;
      if (*rank == SPARSE_ATTN_NPY_MAX_RANK)
        return sparse_attn_npy_fail(p, "more than 32 dimensions");
      dims[(*rank)++] = d;
      if (sparse_attn_npy_peek(p, ',')) {
        ++p->pos;
        comma = 1;
        continue;
      }
      if (!sparse_attn_npy_peek(p, ')'))
        return sparse_attn_npy_fail(p, "unclosed '(' in a tuple");
    }
    ++p->pos;
    if (*rank == 1 && !comma)
      *kind = SPARSE_ATTN_NPY_INT; /* (3) is the integer 3 */
    return 1;
  }
  if (p->n - p->pos >= 4 && memcmp(p->s + p->pos, "True", 4) == 0) {
    *kind = SPARSE_ATTN_NPY_BOOL;
    *flag = 1;
    p->pos += 4;
    return 1;
  }
  if (p->n - p->pos >= 5 && memcmp(p->s + p->pos, "False", 5) == 0) {
    *kind = SPARSE_ATTN_NPY_BOOL;
    *flag = 0;
    p->pos += 5;
    return 1;
  }
  if (c >= '0' && c <= '9') {
    int64_t v;
    *kind = SPARSE_ATTN_NPY_INT;
    return sparse_attn_npy_int(p, &v);
  }
  return sparse_attn_npy_fail(p, "unsupported value");
}

/* Parses the file `bytes` (all `size` of them). Returns 1 and fills `h`, or
 * 0 with a message in `why`. Never reads outside [bytes, bytes + size). */
static int sparse_attn_npy_parse(const unsigned char *bytes, size_t size,
                                 SparseAttnNpyHeader *h, char *why,
                                 size_t whyLen) {
  SparseAttnNpyParser p;
  size_t headerLen, start, descrBegin = 0, descrLen = 0;
  int haveDescr = 0, haveOrder = 0, haveShape = 0, fortran = 0, i;
  int64_t need;
  memset(h, 0, sizeof *h);
  if (size < 10 || memcmp(bytes, "\x93NUMPY", 6) != 0) {
    snprintf(why, whyLen, "missing the \\x93NUMPY magic");
    return 0;
  }
  if (bytes[6] == 1) {
    headerLen = (size_t)bytes[8] | ((size_t)bytes[9] << 8);
    start = 10;
  } else if (bytes[6] == 2 || bytes[6] == 3) {
    if (size < 12) {
      snprintf(why, whyLen, "truncated header");
      return 0;
    }
    headerLen = (size_t)bytes[8] | ((size_t)bytes[9] << 8) |
                ((size_t)bytes[10] << 16) | ((size_t)bytes[11] << 24);
    start = 12;
  } else {
    snprintf(why, whyLen, "unsupported format version %d", (int)bytes[6]);
    return 0;
  }
  if (bytes[7] != 0) {
    snprintf(why, whyLen, "unsupported format version %d.%d", (int)bytes[6],
             (int)bytes[7]);
    return 0;
  }
  if (size - start < headerLen) {
    snprintf(why, whyLen, "truncated header");
    return 0;
  }
  if ((start + headerLen) % 16 != 0) {
    snprintf(why, whyLen,
             "header length %zu does not end the header on a 16-byte boundary",
             headerLen);
    return 0;
  }
  p.s = (const char *)bytes + start;
  p.n = headerLen;
  p.pos = 0;
  p.why = why;
  p.whyLen = whyLen;
  p.failed = 0;
  if (!sparse_attn_npy_peek(&p, '{'))
    return sparse_attn_npy_fail(&p, "expected '{'");
  ++p.pos;
  while (!sparse_attn_npy_peek(&p, '}')) {
    size_t kb, kl, sb = 0, sl = 0;
    int kind = 0, flag = 0, rank = 0;
    int64_t dims[SPARSE_ATTN_NPY_MAX_RANK];
    if (!sparse_attn_npy_string(&p, &kb, &kl))
      return 0;
    if (!sparse_attn_npy_peek(&p, ':'))
      return sparse_attn_npy_fail(&p, "expected ':'");
    ++p.pos;
    if (!sparse_attn_npy_value(&p, &kind, &sb, &sl, &flag, dims, &rank))
      return 0;
    /* A later duplicate key replaces the earlier value, as in Python. */
    if (kl == 5 && memcmp(p.s + kb, "descr", 5) == 0) {
      if (kind != SPARSE_ATTN_NPY_STR) {
        snprintf(why, whyLen, "'descr' must be a string (structured dtypes "
                              "are not supported)");
        return 0;
      }
      haveDescr = 1;
      descrBegin = sb;
      descrLen = sl;
    } else if (kl == 13 && memcmp(p.s + kb, "fortran_order", 13) == 0) {
      if (kind != SPARSE_ATTN_NPY_BOOL) {
        snprintf(why, whyLen, "'fortran_order' must be True or False");
        return 0;
      }
      haveOrder = 1;
      fortran = flag;
    } else if (kl == 5 && memcmp(p.s + kb, "shape", 5) == 0) {
      if (kind != SPARSE_ATTN_NPY_TUPLE) {
        snprintf(why, whyLen, "'shape' must be a tuple of integers");
        return 0;
      }
      haveShape = 1;
      h->rank = rank;
      for (i = 0; i < rank; ++i)
        h->dims[i] = dims[i];
    } else {
      snprintf(why, whyLen, "the header must hold exactly the keys 'descr', "
                            "'fortran_order' and 'shape'");
      return 0;
    }
    if (sparse_attn_npy_peek(&p, ',')) {
      ++p.pos;
      continue;
    }
    if (!sparse_attn_npy_peek(&p, '}'))
      return sparse_attn_npy_fail(&p, "expected ',' or '}'");
  }
  ++p.pos;
  while (p.pos < p.n && p.s[p.pos] == ' ')
    ++p.pos;
  if (p.pos + 1 != p.n || p.s[p.pos] != '\n')
    return sparse_attn_npy_fail(&p, "the dictionary must be followed by "
                                    "space padding and one final newline");
  if (!haveDescr || !haveOrder || !haveShape) {
    snprintf(why, whyLen, "the header must hold exactly the keys 'descr', "
                          "'fortran_order' and 'shape'");
    return 0;
  }
  if (descrLen >= 1 && p.s[descrBegin] == '>') {
    snprintf(why, whyLen, "big-endian data is not supported");
    return 0;
  }
  {
    /* '<', '=' or '|', a kind letter, a size. */
    const char *d = p.s + descrBegin;
    int n = 0;
    size_t k;
    int ok = descrLen >= 3 && descrLen <= 4 &&
             (d[0] == '<' || d[0] == '=' || d[0] == '|');
    for (k = 2; ok && k < descrLen; ++k) {
      ok = d[k] >= '0' && d[k] <= '9';
      n = n * 10 + (d[k] - '0');
    }
    if (ok)
      ok = (d[1] == 'f' && (n == 2 || n == 4 || n == 8)) ||
           ((d[1] == 'i' || d[1] == 'u') &&
            (n == 1 || n == 2 || n == 4 || n == 8)) ||
           (d[1] == 'b' && n == 1);
    if (!ok) {
      snprintf(why, whyLen, "unsupported dtype '%.*s'", (int)(descrLen > 16 ? 16 : descrLen), d);
      return 0;
    }
    h->descr[0] = '<';
    memcpy(h->descr + 1, d + 1, descrLen - 1);
    h->descr[descrLen] = 0;
    h->kind = d[1];
    h->elementSize = n;
  }
  if (fortran) {
    snprintf(why, whyLen,
             "Fortran order is not supported (use np.ascontiguousarray)");
    return 0;
  }
  {
    char shape[SPARSE_ATTN_NPY_MAX_RANK * 22 + 4];
    size_t len = 0;
    shape[len++] = '(';
    for (i = 0; i < h->rank; ++i)
      len += (size_t)snprintf(shape + len, sizeof shape - len, "%s%lld",
                              i ? ", " : "", (long long)h->dims[i]);
    shape[len++] = ')';
    shape[len] = 0;
    need = h->elementSize;
    h->count = 1;
    for (i = 0; i < h->rank; ++i) {
      if (h->dims[i] != 0 && need > INT64_MAX / h->dims[i]) {
        snprintf(why, whyLen, "shape %s is too large", shape);
        return 0;
      }
      need *= h->dims[i];
      h->count *= h->dims[i];
    }
    h->dataOffset = start + headerLen;
    if ((uint64_t)(size - h->dataOffset) == (uint64_t)need) {
      h->dataBytes = (size_t)need;
      return 1;
    }
    snprintf(why, whyLen,
             "holds %zu data bytes, but shape %s of '%.*s' needs %lld",
             size - h->dataOffset, shape, (int)descrLen, p.s + descrBegin,
             (long long)need);
    return 0;
  }
}

#endif
