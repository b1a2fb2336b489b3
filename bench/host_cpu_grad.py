#!/usr/bin/env python3
"""The CPU backward (issue #16) on the GPU machine's CPU, side by side in
one process with the same threads: this project's ahead-of-time kernels
(bench/make_host_cpu_grad.py; forward with LSE, then the backward, called
through their C ABI) against PyTorch's CPU autograd of
scaled_dot_product_attention (is_causal for causal, a boolean mask for the
other sparse patterns, none for dense), f32.

    LD_LIBRARY_PATH=DIR python3 bench/host_cpu_grad.py DIR [--runs 3]

Before timing, dQ / dK / dV are compared with PyTorch's (max error relative
to max |PyTorch|). Times: the backward alone (ours: attention_grad given O
and LSE; PyTorch: torch.autograd.grad of a retained graph) and forward +
backward. One JSON object per line.
"""
import argparse
import ctypes
import json
import os
import time

import torch
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--runs", type=int, default=3)
a = ap.parse_args()
torch.set_num_threads(os.cpu_count())
man = json.load(open(os.path.join(a.dir, "manifest.json")))
B, H, S, D = man["B"], man["H"], man["S"], man["D"]


def memref_type(rank):
    class M(ctypes.Structure):
        _fields_ = [("allocated", ctypes.c_void_p), ("aligned", ctypes.c_void_p),
                    ("offset", ctypes.c_int64), ("sizes", ctypes.c_int64 * rank),
                    ("strides", ctypes.c_int64 * rank)]
    return M


def memref(t):
    assert t.is_contiguous()
    m = memref_type(t.dim())()
    m.allocated = m.aligned = t.data_ptr()
    m.offset = 0
    for i in range(t.dim()):
        m.sizes[i] = t.shape[i]
        m.strides[i] = t.stride(i)
    return m


def call(fn, tensors):
    args = [memref(t) for t in tensors]
    fn(*[ctypes.byref(x) for x in args])


def timed(fn, runs):
    fn()
    t0 = time.perf_counter()
    for _ in range(runs):
        fn()
    return (time.perf_counter() - t0) / runs * 1e3


def emit(**kw):
    print(json.dumps(kw), flush=True)


emit(kind="machine", cpu=open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": "),
     threads=torch.get_num_threads(), torch=torch.__version__, B=B, H=H, S=S, D=D)
for c in man["cases"]:
    name = c["name"]
    torch.manual_seed(0)
    q, k, v, do = (torch.randn(B, H, S, D) for _ in range(4))
    ids = (torch.arange(S) * 8 // S).to(torch.int32)[None, :].contiguous()
    extra = [ids] if c["segments"] else []
    fwd = getattr(ctypes.CDLL(os.path.join(a.dir, f"lib{name}_fwd.so")), "_mlir_ciface_fwd")
    bwd = getattr(ctypes.CDLL(os.path.join(a.dir, f"lib{name}_bwd.so")), "_mlir_ciface_bwd")
    o, lse = torch.empty(B, H, S, D), torch.empty(B, H, S)
    dq, dk, dv = (torch.empty(B, H, S, D) for _ in range(3))
    run_fwd = lambda: call(fwd, [q, k, v] + extra + [o, lse])
    run_bwd = lambda: call(bwd, [q, k, v, o, lse, do] + extra + [dq, dk, dv])
    run_fwd()
    run_bwd()
    # PyTorch with the same allowed pairs.
    i = torch.arange(S)
    mask, causal = None, False
    if name == "causal":
        causal = True
    elif name == "sliding1024":
        mask = (i[None, :] <= i[:, None]) & (i[:, None] - i[None, :] <= 1023)
    elif name == "document8":
        seg = ids[0].long()
        mask = (i[None, :] <= i[:, None]) & (seg[:, None] == seg[None, :])
    qt, kt, vt = (x.clone().requires_grad_() for x in (q, k, v))
    ot = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=mask, is_causal=causal)
    gq, gk, gv = torch.autograd.grad(ot, (qt, kt, vt), do, retain_graph=True)
    err = {n: float((x - y).abs().max() / y.abs().max())
           for n, x, y in (("dq", dq, gq), ("dk", dk, gk), ("dv", dv, gv), ("o", o, ot.detach()))}
    ours_bwd = timed(run_bwd, a.runs)
    ours_all = timed(lambda: (run_fwd(), run_bwd()), a.runs)
    torch_bwd = timed(lambda: torch.autograd.grad(ot, (qt, kt, vt), do, retain_graph=True), a.runs)

    def torch_step():
        o2 = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=mask, is_causal=causal)
        torch.autograd.grad(o2, (qt, kt, vt), do)
    torch_all = timed(torch_step, a.runs)
    emit(kind="grad", pattern=name, rel_err=err, ours_bwd_ms=ours_bwd, torch_bwd_ms=torch_bwd,
         ours_fwd_bwd_ms=ours_all, torch_fwd_bwd_ms=torch_all,
         bwd_speedup=torch_bwd / ours_bwd, step_speedup=torch_all / ours_all)
