#!/usr/bin/env python3
"""Side by side on one machine's CPU (meant for the GPU machine's 16-core
host, which has PyTorch): this project's ahead-of-time kernels, called
through their C ABI with ctypes, vs torch scaled_dot_product_attention and
torch.compile(flex_attention) with the same masks (superseded by
bench/host_cpu_matrix.py, the whole matrix; kept to reproduce
h200-host-cpu-peers-2026-11-28.md). fp32, B = 1, H = 8,
S = 4096, D = 64 (the shape of shared/anchors/h200-host-cpu-2026-11-28.jsonl).

    python3 bench/host_cpu_peers.py DIR     # DIR holds lib<case>.so (+ libomp.so.5)

Build the kernels first (on a machine with the project):
    sparse-attn-compile <case>.mlir -o DIR/lib<case>.so --num-threads 0 --mcpu=x86-64-v4
(the .mlir files are written by bench/make_host_cpu_kernels.sh). Every result
is checked against SDPA with the equivalent boolean mask before timing.
"""
import ctypes
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.attention.flex_attention import create_block_mask, flex_attention

B, H, S, D = 1, 8, 4096, 64
RUNS = 5
directory = sys.argv[1]
torch.set_num_threads(os.cpu_count())


class Memref4(ctypes.Structure):
    _fields_ = [("allocated", ctypes.c_void_p), ("aligned", ctypes.c_void_p),
                ("offset", ctypes.c_int64), ("sizes", ctypes.c_int64 * 4),
                ("strides", ctypes.c_int64 * 4)]


def memref(a):
    assert a.dtype == np.float32 and a.flags["C_CONTIGUOUS"]
    m = Memref4()
    m.allocated = m.aligned = a.ctypes.data
    m.offset = 0
    for i in range(4):
        m.sizes[i] = a.shape[i]
        m.strides[i] = a.strides[i] // 4
    return m


def causal(b, h, qi, ki):
    return qi >= ki


def sliding(w):
    def f(b, h, qi, ki):
        return (qi >= ki) & (qi - ki < w)
    return f


cases = [("dense", None), ("causal", causal), ("sliding256", sliding(256)),
         ("sliding1024", sliding(1024))]


def emit(**kw):
    print(json.dumps(kw), flush=True)


emit(cpu=open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": \t"),
     threads=os.cpu_count(), torch=torch.__version__)
torch.manual_seed(0)
q, k, v = (torch.randn(B, H, S, D) for _ in range(3))
qn, kn, vn = (t.numpy() for t in (q, k, v))
idx = torch.arange(S)
for name, mm in cases:
    dense_mask = None if mm is None else mm(0, 0, idx[:, None], idx[None, :])
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=dense_mask)
    allowed = S * S if dense_mask is None else int(dense_mask.sum())
    flops = 4.0 * D * allowed * B * H

    def report(system, ms, err=None):
        emit(sys=system, case=name, S=S, D=D, ms=round(ms, 3),
             eff_gflops=round(flops / (ms * 1e6), 2), max_abs_err=err,
             threads=os.cpu_count())

    # This project's kernel through the C ABI.
    lib = ctypes.CDLL(os.path.join(directory, "lib%s.so" % name))
    fn = lib._mlir_ciface_attention
    fn.restype = None
    out = np.empty((B, H, S, D), dtype=np.float32)
    args = [memref(qn), memref(kn), memref(vn), memref(out)]
    ptrs = [ctypes.byref(a) for a in args]
    fn(*ptrs)
    err = float(np.abs(out - ref.numpy()).max())
    t0 = time.perf_counter()
    for _ in range(RUNS):
        fn(*ptrs)
    report("sparse_attn_cpu", (time.perf_counter() - t0) / RUNS * 1e3, err)

    # torch SDPA (boolean mask; is_causal for causal).
    def sdpa():
        if name == "causal":
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=dense_mask)
    o = sdpa()
    err = float((o - ref).abs().max())
    t0 = time.perf_counter()
    for _ in range(RUNS):
        sdpa()
    report("sdpa_cpu", (time.perf_counter() - t0) / RUNS * 1e3, err)

    # torch.compile(flex_attention) with the block mask.
    try:
        bm = create_block_mask(mm, B=None, H=None, Q_LEN=S, KV_LEN=S,
                               device="cpu") if mm else None
        f = torch.compile(flex_attention)
        t0 = time.perf_counter()
        o = f(q, k, v, block_mask=bm)
        compile_s = time.perf_counter() - t0
        err = float((o - ref).abs().max())
        t0 = time.perf_counter()
        for _ in range(RUNS):
            f(q, k, v, block_mask=bm)
        report("flex_cpu", (time.perf_counter() - t0) / RUNS * 1e3, err)
        emit(sys="flex_cpu", case=name, first_call_s=round(compile_s, 2))
    except Exception as e:  # inductor's CPU backend may be unavailable
        emit(sys="flex_cpu", case=name, error=repr(e)[:300])
