#!/usr/bin/env python3
"""Python overhead per call of `sparse_attn.attention` on a cached kernel
(issue #17: at most 20 us over calling the compiled function directly):
a tiny problem (1 x 1 x 16 x 16, causal, f32) so that the kernel itself
takes about a microsecond, timed over N calls both ways in one process.

    SPARSE_ATTN_NATIVE=build/lib/libSparseAttnNative.so /usr/bin/python3 bench/python/overhead.py [N]
"""
import ctypes
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "python"))
import sparse_attn  # noqa: E402
from sparse_attn import api, patterns as P  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
q = k = v = np.random.randn(1, 1, 16, 16).astype(np.float32)
p = P.causal()
sparse_attn.attention(q, k, v, pattern=p)  # compile (or take from the disk cache)
for _ in range(100):
    sparse_attn.attention(q, k, v, pattern=p)
t = time.perf_counter()
for _ in range(N):
    sparse_attn.attention(q, k, v, pattern=p)
per_api = (time.perf_counter() - t) / N * 1e6
path, entry = next(iter(api._loaded))
fn = api._loaded[(path, entry)]
out = np.empty_like(q)
descriptors = [api._descriptor(api.Buffer.of_numpy(a)) for a in (q, k, v, out)]
refs = [ctypes.byref(d) for d in descriptors]
t = time.perf_counter()
for _ in range(N):
    fn(*refs)
per_direct = (time.perf_counter() - t) / N * 1e6
print(f"sparse_attn.attention: {per_api:.1f} us per call; the compiled function called "
      f"directly: {per_direct:.1f} us; overhead {per_api - per_direct:.1f} us ({N} calls)")
