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
descriptors = [api.descriptor(a.ctypes.data, a.shape) for a in (q, k, v, out)]
refs = [ctypes.byref(d) for d in descriptors]
t = time.perf_counter()
for _ in range(N):
    fn(*refs)
per_direct = (time.perf_counter() - t) / N * 1e6
print(f"sparse_attn.attention: {per_api:.1f} us per call; the compiled function called "
      f"directly: {per_direct:.1f} us; overhead {per_api - per_direct:.1f} us ({N} calls)")

# The torch front end on CPU tensors (when torch is installed): the same
# problem through sparse_attn.torch.attention (no autograd recording, then
# with it), against its compiled forward (O and LSE) called directly.
try:
    import torch
except ImportError:
    torch = None
if torch is not None:
    from sparse_attn import torch as sat
    tq = torch.from_numpy(q)
    sat.attention(tq, tq, tq, pattern=p)
    (path, entry), = [key for key in api._loaded if key[0] != path]
    tfn = api._loaded[(path, entry)]
    to, tl = torch.empty(1, 1, 16, 16), torch.empty(1, 1, 16)
    trefs = [ctypes.byref(api.descriptor(*sat._buffer(t))) for t in (tq, tq, tq, to, tl)]
    t = time.perf_counter()
    for _ in range(N):
        tfn(*trefs)
    t_direct = (time.perf_counter() - t) / N * 1e6
    for label, grad in (("no_grad", False), ("requires_grad", True)):
        x = tq.clone().requires_grad_(grad)
        with torch.set_grad_enabled(grad):
            for _ in range(100):
                sat.attention(x, x, x, pattern=p)
            t = time.perf_counter()
            for _ in range(N):
                sat.attention(x, x, x, pattern=p)
        per = (time.perf_counter() - t) / N * 1e6
        print(f"sparse_attn.torch.attention ({label}, torch {torch.__version__}): {per:.1f} us "
              f"per call; its compiled forward called directly: {t_direct:.1f} us; overhead "
              f"{per - t_direct:.1f} us")
