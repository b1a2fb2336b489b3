/*===- sparse_attn_cuda.h - load and launch sparse-attn GPU artifacts -----===*
 *
 * A small C runtime for the artifacts written by
 * `sparse-attn-compile --target=cuda` (see
 * include/sparse_attn/Target/CudaArtifact.h for the manifest). It loads the
 * CUDA driver (libcuda.so.1) with dlopen at run time, so building it needs
 * neither MLIR nor a CUDA toolkit: any C compiler will do.
 *
 *   sa_cuda_kernel *k;
 *   if (sa_cuda_load("artifact_dir", 0, &k)) error(sa_cuda_last_error());
 *   // device pointers, one per `arg` line of the manifest, in order
 *   unsigned long long ptrs[] = {q, k, v, out};
 *   sa_cuda_launch(k, ptrs, 4, stream);   // stream: a CUstream or NULL
 *   sa_cuda_unload(k);
 *
 * The kernel runs in the current CUDA context of the calling thread; if
 * there is none, the primary context of device 0 is made current (the one
 * the CUDA runtime and PyTorch use).
 *===----------------------------------------------------------------------===*/
#ifndef SPARSE_ATTN_CUDA_H
#define SPARSE_ATTN_CUDA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sa_cuda_kernel sa_cuda_kernel;

/* Loads kernel number `index` (0-based, in manifest order) of an artifact
 * directory: parses the manifest, loads the module (the driver compiles PTX
 * for the current GPU) and uploads the block tables. Returns 0 on success. */
int sa_cuda_load(const char *artifact_dir, int index, sa_cuda_kernel **out);

/* Number of kernels described by an artifact's manifest (-1 on error). */
int sa_cuda_num_kernels(const char *artifact_dir);

/* The caller-provided arguments: role ("query", "output", ...), element type
 * ("bf16", "f16", "f32", "i32", "i64") and shape. */
int sa_cuda_num_args(const sa_cuda_kernel *k);
const char *sa_cuda_arg_role(const sa_cuda_kernel *k, int i);
const char *sa_cuda_arg_dtype(const sa_cuda_kernel *k, int i);
int sa_cuda_arg_rank(const sa_cuda_kernel *k, int i);
long long sa_cuda_arg_dim(const sa_cuda_kernel *k, int i, int d);
/* Kernels compiled with sizes known only at run time (B, Sq, Sk): dimension
 * d of argument i is the name of such a size (NULL for a fixed size), and
 * sa_cuda_arg_dim gives its bound value, or -1 until sa_cuda_bind_sizes. */
const char *sa_cuda_arg_dim_name(const sa_cuda_kernel *k, int i, int d);
/* Binds the run-time sizes for the next launches from the arguments'
 * shapes: `dims` holds every argument's dimensions, in argument order
 * (`count` in all). Fixed sizes must match the manifest and every
 * occurrence of a name must agree; sizes lie in [0, 2^31). One loaded kernel
 * holds one binding (like its tensor maps): launches with other sizes on
 * other streams need their own loaded kernel. Returns 0 on success. */
int sa_cuda_bind_sizes(sa_cuda_kernel *k, const long long *dims, int count);
const char *sa_cuda_entry(const sa_cuda_kernel *k);

/* The tile sizes (0 if the manifest does not say) and the number of full and
 * partial (query block, key block) tiles the kernel visits per (batch,
 * head), before any run-time skip. */
void sa_cuda_tile_info(const sa_cuda_kernel *k, int *tile_q, int *tile_k,
                       long long *full_tiles, long long *partial_tiles);

/* Launches the kernel asynchronously on `stream` (a CUstream; NULL: the
 * legacy default stream). `ptrs` holds one device pointer per argument.
 * A kernel with run-time sizes launches with the sizes last bound (an
 * empty batch or query launches nothing; Sk must be at least 1).
 * Kernels with TMA loads (manifest `tensormap` lines) keep one device copy
 * of each CUtensorMap per loaded kernel, re-encoded and uploaded on
 * `stream` when an argument's pointer changes: launches of one loaded
 * kernel with different K / V buffers must be ordered on one stream (load
 * the artifact once per stream otherwise). Returns 0 on success. */
int sa_cuda_launch(sa_cuda_kernel *k, const unsigned long long *ptrs,
                   int nptrs, void *stream);

/* Waits for all work of the current context. Returns 0 on success. */
int sa_cuda_synchronize(void);

void sa_cuda_unload(sa_cuda_kernel *k);

/* Device memory of the current context (made current as for sa_cuda_load),
 * for callers without a CUDA runtime of their own (the runner). Each returns
 * 0 on success. */
int sa_cuda_alloc(unsigned long long *ptr, size_t bytes);
int sa_cuda_free(unsigned long long ptr);
int sa_cuda_copy_to_device(unsigned long long dst, const void *src,
                           size_t bytes);
int sa_cuda_copy_to_host(void *dst, unsigned long long src, size_t bytes);
int sa_cuda_fill(unsigned long long dst, unsigned char byte, size_t bytes);

/* Launches the kernel `runs` times on the default stream, one at a time,
 * and stores each launch's time in milliseconds (CUDA events) in ms[i]. */
int sa_cuda_time_launches(sa_cuda_kernel *k, const unsigned long long *ptrs,
                          int nptrs, int runs, float *ms);

/* The message of the last failure of this thread. */
const char *sa_cuda_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
