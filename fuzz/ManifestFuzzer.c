/*===- ManifestFuzzer.c - the CUDA artifact manifest reader ---------------===*
 *
 * Input: the text of an artifact's manifest.txt. The runtime's parser
 * (runtime/cuda/sparse_attn_cuda.c, included whole so that its static
 * functions are reachable; no GPU and no libcuda are needed to parse) must
 * never crash or read out of bounds, for the kernel count and for every
 * kernel index; what it accepts has its documented ranges.
 *
 *===----------------------------------------------------------------------===*/
#define _GNU_SOURCE
#include "sparse_attn_cuda.c"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  int n, index;
  FILE *f;
  char *copy;
  if (size == 0 || size > (1 << 16))
    return 0;
  /* A copy of exactly `size` bytes: fmemopen needs writable memory, and
   * reading past it is an ASan report. */
  copy = (char *)malloc(size);
  if (!copy)
    return 0;
  memcpy(copy, data, size);
  f = fmemopen(copy, size, "r");
  if (!f) {
    free(copy);
    return 0;
  }
  n = parseManifestStream(f, "manifest.txt", -1, NULL, NULL, 0);
  for (index = 0; n > 0 && index < n && index < 4; ++index) {
    sa_cuda_kernel *k = (sa_cuda_kernel *)calloc(1, sizeof *k);
    char moduleFile[256] = {0};
    int i, d;
    rewind(f);
    if (parseManifestStream(f, "manifest.txt", index, k, moduleFile,
                            sizeof moduleFile) == n) {
      if (k->numParams > MAX_PARAMS || k->numArgs > k->numParams)
        abort();
      for (i = 0; i < k->numParams; ++i) {
        if (k->params[i].rank < 0 || k->params[i].rank > MAX_RANK)
          abort();
        /* A dimension is a size, or names a run-time size (then -1). */
        for (d = 0; d < k->params[i].rank; ++d)
          if (k->params[i].sizeOf[d] >= 0
                  ? k->params[i].sizeOf[d] >= k->numSizes ||
                        k->params[i].dims[d] != -1
                  : k->params[i].dims[d] < 0)
            abort();
        if (k->params[i].isSize &&
            (k->params[i].size < 0 || k->params[i].size >= k->numSizes))
          abort();
      }
      if (k->numSizes < 0 || k->numSizes > MAX_SIZES)
        abort();
      for (i = 0; i < 3; ++i)
        if ((k->gridSize[i] < 0 ? k->grid[i] < 1
                                : k->gridSize[i] >= k->numSizes ||
                                      k->gridDiv[i] < 1) ||
            k->block[i] < 1 || k->block[i] > 1024)
          abort();
      if ((k->tileQ == 0) != (k->tileK == 0) || k->tileQ < 0)
        abort();
    }
    free(k);
  }
  fclose(f);
  free(copy);
  return 0;
}
