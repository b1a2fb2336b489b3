/*===- sparse_attn_cuda.c - load and launch sparse-attn GPU artifacts -----===*/

#include "sparse_attn_cuda.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The few CUDA driver API types and entry points used, declared here so that
 * no CUDA header is needed. */
typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef void *CUmodule;
typedef void *CUfunction;
typedef void *CUstream;
typedef unsigned long long CUdeviceptr;
typedef void *CUevent;
enum { CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8 };

static struct {
  int loaded;
  CUresult (*init)(unsigned);
  CUresult (*deviceGet)(CUdevice *, int);
  CUresult (*primaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*ctxGetCurrent)(CUcontext *);
  CUresult (*ctxSetCurrent)(CUcontext);
  CUresult (*ctxSynchronize)(void);
  CUresult (*moduleLoadData)(CUmodule *, const void *);
  CUresult (*moduleUnload)(CUmodule);
  CUresult (*moduleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*funcSetAttribute)(CUfunction, int, int);
  CUresult (*memAlloc)(CUdeviceptr *, size_t);
  CUresult (*memFree)(CUdeviceptr);
  CUresult (*memcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*memcpyDtoH)(void *, CUdeviceptr, size_t);
  CUresult (*memsetD8)(CUdeviceptr, unsigned char, size_t);
  CUresult (*memcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream);
  CUresult (*tensorMapEncodeTiled)(void *, int, unsigned, void *,
                                   const unsigned long long *,
                                   const unsigned long long *,
                                   const unsigned *, const unsigned *, int,
                                   int, int, int);
  CUresult (*eventCreate)(CUevent *, unsigned);
  CUresult (*eventRecord)(CUevent, CUstream);
  CUresult (*eventSynchronize)(CUevent);
  CUresult (*eventElapsedTime)(float *, CUevent, CUevent);
  CUresult (*eventDestroy)(CUevent);
  CUresult (*launchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                           unsigned, unsigned, unsigned, CUstream, void **,
                           void **);
  CUresult (*getErrorString)(CUresult, const char **);
} cu;

static __thread char lastError[1024];

static int fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(lastError, sizeof lastError, fmt, ap);
  va_end(ap);
  return 1;
}

const char *sa_cuda_last_error(void) { return lastError; }

static int check(CUresult r, const char *what) {
  const char *msg = "unknown error";
  if (r == 0)
    return 0;
  if (cu.getErrorString)
    cu.getErrorString(r, &msg);
  return fail("%s failed: %s (CUresult %d)", what, msg, r);
}

static int loadDriver(void) {
  void *h;
  if (cu.loaded)
    return 0;
  h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
  if (!h)
    return fail("cannot load the CUDA driver (libcuda.so.1): %s", dlerror());
#define SYM(field, name)                                                       \
  do {                                                                         \
    *(void **)(&cu.field) = dlsym(h, name);                                    \
    if (!cu.field)                                                             \
      return fail("the CUDA driver lacks %s", name);                           \
  } while (0)
  SYM(init, "cuInit");
  SYM(deviceGet, "cuDeviceGet");
  SYM(primaryCtxRetain, "cuDevicePrimaryCtxRetain");
  SYM(ctxGetCurrent, "cuCtxGetCurrent");
  SYM(ctxSetCurrent, "cuCtxSetCurrent");
  SYM(ctxSynchronize, "cuCtxSynchronize");
  SYM(moduleLoadData, "cuModuleLoadData");
  SYM(moduleUnload, "cuModuleUnload");
  SYM(moduleGetFunction, "cuModuleGetFunction");
  SYM(funcSetAttribute, "cuFuncSetAttribute");
  SYM(memAlloc, "cuMemAlloc_v2");
  SYM(memFree, "cuMemFree_v2");
  SYM(memcpyHtoD, "cuMemcpyHtoD_v2");
  SYM(memcpyDtoH, "cuMemcpyDtoH_v2");
  SYM(memsetD8, "cuMemsetD8_v2");
  SYM(memcpyHtoDAsync, "cuMemcpyHtoDAsync_v2");
  /* CUDA 12+ drivers; only artifacts with tensormap lines need it. */
  *(void **)(&cu.tensorMapEncodeTiled) = dlsym(h, "cuTensorMapEncodeTiled");
  SYM(eventCreate, "cuEventCreate");
  SYM(eventRecord, "cuEventRecord");
  SYM(eventSynchronize, "cuEventSynchronize");
  SYM(eventElapsedTime, "cuEventElapsedTime");
  SYM(eventDestroy, "cuEventDestroy_v2");
  SYM(launchKernel, "cuLaunchKernel");
  SYM(getErrorString, "cuGetErrorString");
#undef SYM
  if (check(cu.init(0), "cuInit"))
    return 1;
  cu.loaded = 1;
  return 0;
}

static int ensureContext(void) {
  CUcontext ctx = NULL;
  CUdevice dev;
  if (loadDriver())
    return 1;
  if (check(cu.ctxGetCurrent(&ctx), "cuCtxGetCurrent"))
    return 1;
  if (ctx)
    return 0;
  if (check(cu.deviceGet(&dev, 0), "cuDeviceGet") ||
      check(cu.primaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain") ||
      check(cu.ctxSetCurrent(ctx), "cuCtxSetCurrent"))
    return 1;
  return 0;
}

enum { MAX_PARAMS = 32, MAX_RANK = 8, MAX_SIZES = 8 };

typedef struct {
  int isTable;
  /* tensormap <argument> <rows> <cols>: a CUtensorMap of the caller's
   * argument `source` (index into the caller arguments), encoded at launch
   * when the argument's pointer changes, uploaded on the launch stream. */
  int isTensorMap, source, boxRows, boxCols;
  CUdeviceptr encodedFor;
  long long encodedDims[MAX_RANK];
  /* size <name>: a 64-bit argument holding the value of size `size`. */
  int isSize, size;
  char role[64], dtype[16];
  int rank;
  long long dims[MAX_RANK];
  /* Dimension d is run-time size sizeOf[d] (its dims[d] is -1), or -1. */
  int sizeOf[MAX_RANK];
  CUdeviceptr table; /* uploaded table */
} Param;

struct sa_cuda_kernel {
  CUmodule module;
  CUfunction function;
  char entry[128];
  unsigned grid[3], block[3], shared;
  /* Sizes known at run time (B, Sq, Sk): names, values bound by
   * sa_cuda_set_sizes (-1 until then); grid dimension i is grid[i], or
   * ceil(size gridSize[i] / gridDiv[i]) when gridSize[i] >= 0. */
  int numSizes;
  char sizeName[MAX_SIZES][16];
  long long sizeValue[MAX_SIZES];
  int gridSize[3];
  long long gridDiv[3];
  int tileQ, tileK;                /* 0 if the manifest has no tile line */
  long long fullTiles, partialTiles; /* (query block, key block) tiles */
  int numParams, numArgs;
  Param params[MAX_PARAMS];
  int argParam[MAX_PARAMS]; /* caller argument i -> parameter index */
};

/* The next kernel parameter, zeroed (not yet counted), or NULL if full. */
static Param *newParam(sa_cuda_kernel *k) {
  Param *p;
  int d;
  if (k->numParams == MAX_PARAMS)
    return NULL;
  p = &k->params[k->numParams];
  memset(p, 0, sizeof *p);
  for (d = 0; d < MAX_RANK; ++d)
    p->sizeOf[d] = -1;
  return p;
}

/* The index of run-time size `name` (added when new), or -1 if `name` is
 * not a size name (letters, digits, '_', starting with a letter) or there
 * are too many. */
static int sizeIndex(sa_cuda_kernel *k, const char *name) {
  int i;
  size_t n = strlen(name);
  if (n == 0 || n >= sizeof k->sizeName[0] ||
      !((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z')))
    return -1;
  for (i = 0; name[i]; ++i)
    if (!((name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= 'a' && name[i] <= 'z') ||
          (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
      return -1;
  for (i = 0; i < k->numSizes; ++i)
    if (!strcmp(k->sizeName[i], name))
      return i;
  if (k->numSizes == MAX_SIZES)
    return -1;
  strcpy(k->sizeName[k->numSizes], name);
  k->sizeValue[k->numSizes] = -1;
  return k->numSizes++;
}

/* A non-negative decimal integer (all of `text`), or -1. */
static long long parseCount(const char *text) {
  long long v = 0;
  if (!*text)
    return -1;
  for (; *text; ++text) {
    if (*text < '0' || *text > '9' || v > (1LL << 56))
      return -1;
    v = v * 10 + (*text - '0');
  }
  return v;
}

/* A grid token: an integer, a size name or ceil(<name>/<integer>). */
static int parseGridToken(sa_cuda_kernel *k, int i, const char *tok) {
  char name[32];
  long long div;
  int n = 0;
  k->gridSize[i] = -1;
  if ((div = parseCount(tok)) >= 0) {
    if (div > 2147483647LL)
      return 1;
    k->grid[i] = (unsigned)div;
    return 0;
  }
  if (sscanf(tok, "ceil(%31[A-Za-z0-9_]/%lld)%n", name, &div, &n) == 2 &&
      tok[n] == 0 && div > 0) {
    k->gridSize[i] = sizeIndex(k, name);
    k->gridDiv[i] = div;
  } else {
    k->gridSize[i] = sizeIndex(k, tok);
    k->gridDiv[i] = 1;
  }
  k->grid[i] = 1; /* checked at launch */
  return k->gridSize[i] < 0;
}

static char *readFile(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  char *data;
  long n;
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  data = (char *)malloc((size_t)n + 1);
  if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
    free(data);
    data = NULL;
  }
  fclose(f);
  if (data) {
    data[n] = 0; /* PTX must be NUL-terminated */
    if (size)
      *size = (size_t)n;
  }
  return data;
}

static void joinPath(char *out, size_t n, const char *dir, const char *file) {
  snprintf(out, n, "%s/%s", dir, file);
}

/* Limits a manifest's values must respect (anything else is a corrupt or
 * hostile file, refused with its line number). */
enum { MAX_TABLE_ENTRIES = 1 << 30 };

/* Parses a manifest from `f` (named `path` in messages); fills `k` for
 * kernel `index` (without loading) and the module file. Returns the number
 * of kernels seen, or -1. Closes nothing. */
static int parseManifestStream(FILE *f, const char *path, int index,
                               sa_cuda_kernel *k, char *moduleFile,
                               size_t moduleFileSize) {
  char line[1024];
  int kernel = -1, lineNo = 0, version = 0;
  if (k)
    k->gridSize[0] = k->gridSize[1] = k->gridSize[2] = -1;
  while (fgets(line, sizeof line, f)) {
    char word[64] = {0};
    int used = 0;
    Param *p;
    ++lineNo;
    if (!strchr(line, '\n')) {
      /* Either the last line (no newline at the end of the file) or a
       * line longer than the buffer. */
      int next = getc(f);
      if (next != EOF) {
        fail("%s:%d: line longer than %d characters", path, lineNo,
             (int)sizeof line - 2);
        return -1;
      }
    }
    if (line[0] == '#' || line[0] == '\n')
      continue;
    if (sscanf(line, "%63s%n", word, &used) != 1)
      continue;
    if (!strcmp(word, "sparse-attn-cuda-artifact")) {
      if (sscanf(line + used, "%d", &version) != 1 || version != 1) {
        fail("%s: unsupported artifact version", path);
        return -1;
      }
      continue;
    }
    if (!strcmp(word, "module")) {
      if (moduleFile && sscanf(line + used, "%255s", moduleFile) != 1) {
        fail("%s:%d: malformed module line", path, lineNo);
        return -1;
      }
      (void)moduleFileSize;
      continue;
    }
    if (!strcmp(word, "kernel")) {
      ++kernel;
      if (kernel == index && k)
        sscanf(line + used, "%127s", k->entry);
      continue;
    }
    if (kernel != index || !k)
      continue;
    if (!strcmp(word, "grid")) {
      char tok[3][64];
      int i;
      if (sscanf(line + used, "%63s %63s %63s", tok[0], tok[1], tok[2]) != 3) {
        fail("%s:%d: malformed grid line", path, lineNo);
        return -1;
      }
      for (i = 0; i < 3; ++i)
        if (parseGridToken(k, i, tok[i])) {
          fail("%s:%d: malformed grid line", path, lineNo);
          return -1;
        }
    } else if (!strcmp(word, "block")) {
      sscanf(line + used, "%u %u %u", &k->block[0], &k->block[1],
             &k->block[2]);
    } else if (!strcmp(word, "shared_bytes")) {
      sscanf(line + used, "%u", &k->shared);
    } else if (!strcmp(word, "tile")) {
      sscanf(line + used, "%d %d", &k->tileQ, &k->tileK);
    } else if (!strcmp(word, "size")) {
      char name[64];
      if (!(p = newParam(k))) {
        fail("%s:%d: too many kernel arguments", path, lineNo);
        return -1;
      }
      p->isSize = 1;
      if (sscanf(line + used, "%63s", name) != 1 ||
          (p->size = sizeIndex(k, name)) < 0) {
        fail("%s:%d: malformed size line", path, lineNo);
        return -1;
      }
      strcpy(p->role, name);
      ++k->numParams;
    } else if (!strcmp(word, "tensormap")) {
      if (!(p = newParam(k))) {
        fail("%s:%d: too many kernel arguments", path, lineNo);
        return -1;
      }
      p->isTensorMap = 1;
      p->source = -1;
      if (sscanf(line + used, "%63s %d %d", p->role, &p->boxRows,
                 &p->boxCols) != 3 ||
          p->boxRows <= 0 || p->boxCols <= 0) {
        fail("%s:%d: malformed tensormap line", path, lineNo);
        return -1;
      }
      ++k->numParams;
    } else if (!strcmp(word, "arg") || !strcmp(word, "table")) {
      int off = used, n = 0, d;
      if (!(p = newParam(k))) {
        fail("%s:%d: too many kernel arguments", path, lineNo);
        return -1;
      }
      if (!strcmp(word, "table")) {
        p->isTable = 1;
        p->rank = 1;
        if (sscanf(line + off, "%63s %lld", p->role, &p->dims[0]) != 2) {
            fail("%s:%d: malformed table line", path, lineNo);
          return -1;
        }
        strcpy(p->dtype, "i32");
      } else {
        if (sscanf(line + off, "%63s %15s %d%n", p->role, p->dtype, &p->rank,
                   &n) != 3 ||
            p->rank < 0 || p->rank > MAX_RANK) {
            fail("%s:%d: malformed arg line", path, lineNo);
          return -1;
        }
        off += n;
        for (d = 0; d < p->rank; ++d) {
          char tok[64];
          if (sscanf(line + off, "%63s%n", tok, &n) != 1) {
            fail("%s:%d: malformed arg line", path, lineNo);
            return -1;
          }
          /* An integer, or the name of a size known at run time. */
          if ((p->dims[d] = parseCount(tok)) < 0) {
            if ((p->sizeOf[d] = sizeIndex(k, tok)) < 0) {
              fail("%s:%d: malformed arg line", path, lineNo);
              return -1;
            }
          }
          off += n;
        }
        k->argParam[k->numArgs++] = k->numParams;
      }
      ++k->numParams;
    }
  }
  if (version != 1) {
    fail("%s: not a sparse-attn artifact manifest", path);
    return -1;
  }
  if (k && index >= 0 && index <= kernel) {
    /* What the launch and the table upload will trust. */
    int i, d;
    for (i = 0; i < 3; ++i)
      if ((k->gridSize[i] < 0 && (k->grid[i] < 1 || k->grid[i] > 2147483647u)) ||
          k->block[i] < 1 || k->block[i] > 1024) {
        fail("%s: kernel %d: grid or block dimensions out of range", path,
             index);
        return -1;
      }
    for (i = 0; i < k->numParams; ++i) {
      Param *q = &k->params[i];
      /* A table's role names its file in the artifact directory. */
      if (q->isTable && (strchr(q->role, '/') || !strcmp(q->role, "..") ||
                         !strcmp(q->role, "."))) {
        fail("%s: kernel %d: table '%s' is not a file name of the artifact",
             path, index, q->role);
        return -1;
      }
      {
        /* Element counts the callers multiply out stay far from overflow:
         * at most 2^56 elements (8-byte elements: 2^59 bytes). */
        long long count = 1;
        for (d = 0; d < q->rank; ++d) {
          if (q->sizeOf[d] >= 0)
            continue; /* checked when bound */
          if (q->dims[d] < 0 ||
              (q->isTable && q->dims[d] > MAX_TABLE_ENTRIES) ||
              (q->dims[d] > 0 && count > (1LL << 56) / q->dims[d])) {
            fail("%s: kernel %d: argument '%s' has a dimension out of range",
                 path, index, q->role);
            return -1;
          }
          count *= q->dims[d];
        }
      }
    }
    if (k->tileQ < 0 || k->tileK < 0 || (k->tileQ == 0) != (k->tileK == 0)) {
      fail("%s: kernel %d: tile sizes out of range", path, index);
      return -1;
    }
  }
  return kernel + 1;
}

/* The manifest of artifact directory `dir`. */
static int parseManifest(const char *dir, int index, sa_cuda_kernel *k,
                         char *moduleFile, size_t moduleFileSize) {
  char path[4096];
  FILE *f;
  int n;
  joinPath(path, sizeof path, dir, "manifest.txt");
  f = fopen(path, "r");
  if (!f) {
    fail("cannot open %s", path);
    return -1;
  }
  n = parseManifestStream(f, path, index, k, moduleFile, moduleFileSize);
  fclose(f);
  return n;
}


int sa_cuda_num_kernels(const char *dir) {
  return parseManifest(dir, -1, NULL, NULL, 0);
}

int sa_cuda_load(const char *dir, int index, sa_cuda_kernel **out) {
  char moduleFile[256] = {0}, path[4096];
  sa_cuda_kernel *k;
  char *image;
  int n, i, tableNo = 0;
  *out = NULL;
  k = (sa_cuda_kernel *)calloc(1, sizeof *k);
  if (!k)
    return fail("out of memory");
  n = parseManifest(dir, index, k, moduleFile, sizeof moduleFile);
  if (n < 0) {
    free(k);
    return 1;
  }
  if (index < 0 || index >= n || !k->entry[0]) {
    free(k);
    return fail("%s: no kernel number %d (the artifact has %d)", dir, index,
                n);
  }
  if (ensureContext()) {
    free(k);
    return 1;
  }
  joinPath(path, sizeof path, dir, moduleFile);
  image = readFile(path, NULL);
  if (!image) {
    free(k);
    return fail("cannot read %s", path);
  }
  if (check(cu.moduleLoadData(&k->module, image), "cuModuleLoadData")) {
    free(image);
    free(k);
    return 1;
  }
  free(image);
  if (check(cu.moduleGetFunction(&k->function, k->module, k->entry),
            "cuModuleGetFunction")) {
    sa_cuda_unload(k);
    return 1;
  }
  if (k->shared > 48 * 1024 &&
      check(cu.funcSetAttribute(k->function,
                                CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                (int)k->shared),
            "cuFuncSetAttribute")) {
    sa_cuda_unload(k);
    return 1;
  }
  for (i = 0; i < k->numParams; ++i) {
    Param *p = &k->params[i];
    size_t size;
    char *data;
    if (p->isTensorMap) {
      int a;
      for (a = 0; a < k->numArgs; ++a)
        if (!strcmp(k->params[k->argParam[a]].role, p->role))
          p->source = a;
      if (p->source < 0 || k->params[k->argParam[p->source]].rank != 4) {
        fail("%s: tensormap of '%s', which is not a 4-D argument", dir,
             p->role);
        sa_cuda_unload(k); /* p points into k: report first */
        return 1;
      }
      if (!cu.tensorMapEncodeTiled) {
        sa_cuda_unload(k);
        return fail("the CUDA driver lacks cuTensorMapEncodeTiled (needed by "
                    "TMA kernels; CUDA 12 or newer)");
      }
      if (check(cu.memAlloc(&p->table, 128), "cuMemAlloc")) {
        sa_cuda_unload(k);
        return 1;
      }
      continue;
    }
    if (!p->isTable)
      continue;
    joinPath(path, sizeof path, dir, p->role);
    data = readFile(path, &size);
    if (!data || size != (size_t)p->dims[0] * 4) {
      free(data);
      fail("cannot read %s (expected %lld int32 values)", path, p->dims[0]);
      sa_cuda_unload(k); /* p points into k: report first */
      return 1;
    }
    /* The last offset of a compressed-row table is its number of tiles;
     * the kernel's tables come in a fixed order (full offsets, full
     * indices, partial offsets, ...), and identical tables may share one
     * file, so they are told apart by position, not by name. */
    if (size >= 4 && tableNo == 0)
      k->fullTiles = ((const int *)data)[size / 4 - 1];
    if (size >= 4 && tableNo == 2)
      k->partialTiles = ((const int *)data)[size / 4 - 1];
    ++tableNo;
    if (check(cu.memAlloc(&p->table, size), "cuMemAlloc") ||
        check(cu.memcpyHtoD(p->table, data, size), "cuMemcpyHtoD")) {
      free(data);
      sa_cuda_unload(k);
      return 1;
    }
    free(data);
  }
  *out = k;
  return 0;
}

int sa_cuda_num_args(const sa_cuda_kernel *k) { return k->numArgs; }
const char *sa_cuda_arg_role(const sa_cuda_kernel *k, int i) {
  return i >= 0 && i < k->numArgs ? k->params[k->argParam[i]].role : NULL;
}
const char *sa_cuda_arg_dtype(const sa_cuda_kernel *k, int i) {
  return i >= 0 && i < k->numArgs ? k->params[k->argParam[i]].dtype : NULL;
}
int sa_cuda_arg_rank(const sa_cuda_kernel *k, int i) {
  return i >= 0 && i < k->numArgs ? k->params[k->argParam[i]].rank : -1;
}
/* Dimension d of a parameter: its size, the bound value of its run-time
 * size, or -1 while that is unbound. */
static long long paramDim(const sa_cuda_kernel *k, const Param *p, int d) {
  return p->sizeOf[d] >= 0 ? k->sizeValue[p->sizeOf[d]] : p->dims[d];
}

long long sa_cuda_arg_dim(const sa_cuda_kernel *k, int i, int d) {
  if (i < 0 || i >= k->numArgs)
    return -1;
  if (d < 0 || d >= k->params[k->argParam[i]].rank)
    return -1;
  return paramDim(k, &k->params[k->argParam[i]], d);
}

const char *sa_cuda_arg_dim_name(const sa_cuda_kernel *k, int i, int d) {
  const Param *p;
  if (i < 0 || i >= k->numArgs)
    return NULL;
  p = &k->params[k->argParam[i]];
  if (d < 0 || d >= p->rank || p->sizeOf[d] < 0)
    return NULL;
  return k->sizeName[p->sizeOf[d]];
}

int sa_cuda_bind_sizes(sa_cuda_kernel *k, const long long *dims, int count) {
  long long value[MAX_SIZES];
  int a, d, at = 0, i;
  for (i = 0; i < k->numSizes; ++i)
    value[i] = -1;
  for (a = 0; a < k->numArgs; ++a) {
    const Param *p = &k->params[k->argParam[a]];
    for (d = 0; d < p->rank; ++d, ++at) {
      long long x;
      if (at >= count)
        return fail("%s: %d dimensions given, the arguments have more",
                    k->entry, count);
      x = dims[at];
      if (p->sizeOf[d] < 0) {
        if (x != p->dims[d])
          return fail("%s: argument %d (%s) has size %lld in dimension %d, "
                      "not %lld", k->entry, a, p->role, x, d, p->dims[d]);
        continue;
      }
      /* Sizes stay far from overflow in the kernel and the tensor maps. */
      if (x < 0 || x > (1LL << 31) - 1)
        return fail("%s: size %s = %lld is out of range [0, 2^31)", k->entry,
                    k->sizeName[p->sizeOf[d]], x);
      if (value[p->sizeOf[d]] >= 0 && value[p->sizeOf[d]] != x)
        return fail("%s: size %s is %lld in one argument and %lld in "
                    "argument %d (%s)", k->entry, k->sizeName[p->sizeOf[d]],
                    value[p->sizeOf[d]], x, a, p->role);
      value[p->sizeOf[d]] = x;
    }
  }
  if (at != count)
    return fail("%s: %d dimensions given, the arguments have %d", k->entry,
                count, at);
  for (i = 0; i < k->numSizes; ++i) {
    if (value[i] < 0)
      return fail("%s: size %s is named by no argument", k->entry,
                  k->sizeName[i]);
    k->sizeValue[i] = value[i];
  }
  return 0;
}
const char *sa_cuda_entry(const sa_cuda_kernel *k) { return k->entry; }

void sa_cuda_tile_info(const sa_cuda_kernel *k, int *tile_q, int *tile_k,
                       long long *full_tiles, long long *partial_tiles) {
  *tile_q = k->tileQ;
  *tile_k = k->tileK;
  *full_tiles = k->fullTiles;
  *partial_tiles = k->partialTiles;
}

int sa_cuda_launch(sa_cuda_kernel *k, const unsigned long long *ptrs,
                   int nptrs, void *stream) {
  CUdeviceptr values[MAX_PARAMS];
  void *params[MAX_PARAMS];
  unsigned grid[3];
  int i, a = 0;
  if (nptrs != k->numArgs)
    return fail("%s takes %d buffers, got %d", k->entry, k->numArgs, nptrs);
  for (i = 0; i < k->numSizes; ++i)
    if (k->sizeValue[i] < 0)
      return fail("%s has sizes known at run time (%s, ...): bind them with "
                  "sa_cuda_bind_sizes first", k->entry, k->sizeName[0]);
  for (i = 0; i < 3; ++i) {
    long long g = k->grid[i];
    if (k->gridSize[i] >= 0)
      g = (k->sizeValue[k->gridSize[i]] + k->gridDiv[i] - 1) / k->gridDiv[i];
    if (g == 0)
      return 0; /* an empty batch or query: nothing to compute */
    if (g > (i ? 65535 : 2147483647LL))
      return fail("%s: grid dimension %d would be %lld, more than CUDA "
                  "allows", k->entry, i, g);
    grid[i] = (unsigned)g;
  }
  for (i = 0; i < k->numSizes; ++i)
    if (k->sizeValue[i] == 0)
      return fail("%s: size %s is 0 (the kernel needs at least one key)",
                  k->entry, k->sizeName[i]);
  /* A thread that never made a context current (PyTorch's autograd worker
   * threads may not have) gets the primary context, the one the module was
   * loaded into by the caller's framework. */
  if (ensureContext())
    return 1;
  for (i = 0; i < k->numParams; ++i) {
    if (k->params[i].isSize) {
      values[i] = (CUdeviceptr)k->sizeValue[k->params[i].size];
    } else if (k->params[i].isTensorMap) {
      Param *p = &k->params[i];
      const Param *src = &k->params[k->argParam[p->source]];
      CUdeviceptr base = ptrs[p->source];
      long long now[4];
      int d;
      for (d = 0; d < 4; ++d)
        now[d] = paramDim(k, src, d);
      if (p->encodedFor != base || memcmp(now, p->encodedDims, sizeof now)) {
        /* [B, H, S, D] row-major -> dims innermost first. */
        int bytes = (!strcmp(src->dtype, "f32") || !strcmp(src->dtype, "i32"))
                        ? 4
                        : 2;
        unsigned long long dims[4] = {
            (unsigned long long)now[3], (unsigned long long)now[2],
            (unsigned long long)now[1], (unsigned long long)now[0]};
        unsigned long long strides[3] = {dims[0] * bytes,
                                         dims[0] * dims[1] * bytes,
                                         dims[0] * dims[1] * dims[2] * bytes};
        unsigned box[4] = {(unsigned)p->boxCols, (unsigned)p->boxRows, 1, 1};
        unsigned one[4] = {1, 1, 1, 1};
        /* bf16 9, f16 6; no interleave; 128-byte swizzle (3); L2 promotion
         * 128 B (2); out-of-bounds elements read as zero (0). */
        int type = !strcmp(src->dtype, "bf16") ? 9 : 6;
        /* CUtensorMap: 128 bytes, 64-byte aligned. */
        unsigned long long map[16] __attribute__((aligned(64)));
        if (check(cu.tensorMapEncodeTiled(map, type, 4, (void *)base,
                                          dims, strides, box, one, 0, 3, 2,
                                          0),
                  "cuTensorMapEncodeTiled") ||
            check(cu.memcpyHtoDAsync(p->table, map, 128,
                                     (CUstream)stream),
                  "cuMemcpyHtoDAsync"))
          return 1;
        p->encodedFor = base;
        memcpy(p->encodedDims, now, sizeof now);
      }
      values[i] = p->table;
    } else if (k->params[i].isTable) {
      values[i] = k->params[i].table;
    } else {
      if (!ptrs[a])
        return fail("%s: null pointer for argument %d (%s)", k->entry, a,
                    k->params[i].role);
      values[i] = ptrs[a++];
    }
    params[i] = &values[i];
  }
  return check(cu.launchKernel(k->function, grid[0], grid[1],
                               grid[2], k->block[0], k->block[1],
                               k->block[2], k->shared, (CUstream)stream,
                               params, NULL),
               "cuLaunchKernel");
}

int sa_cuda_synchronize(void) {
  if (ensureContext())
    return 1;
  return check(cu.ctxSynchronize(), "cuCtxSynchronize");
}

void sa_cuda_unload(sa_cuda_kernel *k) {
  int i;
  if (!k)
    return;
  for (i = 0; i < k->numParams; ++i)
    if (k->params[i].table)
      cu.memFree(k->params[i].table);
  if (k->module)
    cu.moduleUnload(k->module);
  free(k);
}

int sa_cuda_alloc(unsigned long long *ptr, size_t bytes) {
  CUdeviceptr p = 0;
  *ptr = 0;
  if (ensureContext())
    return 1;
  if (check(cu.memAlloc(&p, bytes ? bytes : 1), "cuMemAlloc"))
    return 1;
  *ptr = p;
  return 0;
}

int sa_cuda_free(unsigned long long ptr) {
  if (!ptr)
    return 0;
  if (ensureContext())
    return 1;
  return check(cu.memFree(ptr), "cuMemFree");
}

int sa_cuda_copy_to_device(unsigned long long dst, const void *src,
                           size_t bytes) {
  if (ensureContext())
    return 1;
  return check(cu.memcpyHtoD(dst, src, bytes), "cuMemcpyHtoD");
}

int sa_cuda_copy_to_host(void *dst, unsigned long long src, size_t bytes) {
  if (ensureContext())
    return 1;
  return check(cu.memcpyDtoH(dst, src, bytes), "cuMemcpyDtoH");
}

int sa_cuda_fill(unsigned long long dst, unsigned char byte, size_t bytes) {
  if (ensureContext())
    return 1;
  return check(cu.memsetD8(dst, byte, bytes), "cuMemsetD8");
}

int sa_cuda_time_launches(sa_cuda_kernel *k, const unsigned long long *ptrs,
                          int nptrs, int runs, float *ms) {
  CUevent start = NULL, stop = NULL;
  int i, status = 0;
  if (ensureContext())
    return 1;
  if (check(cu.eventCreate(&start, 0), "cuEventCreate") ||
      check(cu.eventCreate(&stop, 0), "cuEventCreate"))
    status = 1;
  for (i = 0; !status && i < runs; ++i) {
    status = check(cu.eventRecord(start, NULL), "cuEventRecord") ||
             sa_cuda_launch(k, ptrs, nptrs, NULL) ||
             check(cu.eventRecord(stop, NULL), "cuEventRecord") ||
             check(cu.eventSynchronize(stop), "cuEventSynchronize") ||
             check(cu.eventElapsedTime(&ms[i], start, stop),
                   "cuEventElapsedTime");
  }
  if (start)
    cu.eventDestroy(start);
  if (stop)
    cu.eventDestroy(stop);
  return status;
}
