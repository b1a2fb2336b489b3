#!/usr/bin/env python3
"""Calls an ahead-of-time compiled kernel (`sparse-attn-compile`, one function
`attention(q, k, v) -> o`, B = 1, all four tensors 1 x H x S x D) on random
inputs through its C ABI, N times, and prints the mean milliseconds: a
driver for profiling the kernel with `perf` without the JIT.

    /usr/bin/python3 bench/aot_call.py LIB.so H S D DTYPE N
    perf record -o perf.data /usr/bin/python3 bench/aot_call.py LIB.so 4 8192 64 bf16 5
    perf annotate -i perf.data --stdio -s attention..omp_par.1

DTYPE is f32 or bf16 (bf16 passed as 16-bit patterns). The shapes must be
the ones the library was compiled for: the C ABI cannot check them.
"""
import ctypes
import sys
import time

import numpy as np


class Memref4(ctypes.Structure):
    _fields_ = [("allocated", ctypes.c_void_p), ("aligned", ctypes.c_void_p),
                ("offset", ctypes.c_int64), ("sizes", ctypes.c_int64 * 4),
                ("strides", ctypes.c_int64 * 4)]


def memref(x):
    m = Memref4()
    m.allocated = m.aligned = x.ctypes.data
    m.offset = 0
    for i in range(4):
        m.sizes[i] = x.shape[i]
        m.strides[i] = x.strides[i] // x.itemsize
    return m


def main():
    path, h, s, d, dtype, n = sys.argv[1:7]
    h, s, d, n = int(h), int(s), int(d), int(n)
    rng = np.random.default_rng(0)

    def tensor():
        x = rng.standard_normal((1, h, s, d)).astype(np.float32)
        return x if dtype == "f32" else (x.view(np.uint32) >> 16).astype(np.uint16)

    q, k, v = tensor(), tensor(), tensor()
    o = np.zeros_like(q)
    args = [memref(x) for x in (q, k, v, o)]
    fn = ctypes.CDLL(path)._mlir_ciface_attention
    fn.restype = None
    ptrs = [ctypes.byref(a) for a in args]
    fn(*ptrs)
    t0 = time.perf_counter()
    for _ in range(n):
        fn(*ptrs)
    print("ms %.3f" % ((time.perf_counter() - t0) / n * 1e3))


if __name__ == "__main__":
    main()
