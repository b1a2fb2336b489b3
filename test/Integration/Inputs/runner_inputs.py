"""Inputs and an independent check for runner_document.mlir.

    runner_inputs.py inputs DIR          q.npy k.npy v.npy ids.npy in DIR
    runner_inputs.py verify DIR PYPATH   ref_o.npy / ref_lse.npy (written by
                                         sparse-attn-run --write-reference)
                                         against NumPy and reference.py

Inputs are float32 values that bf16 represents exactly, so every consumer
(the CPU path, the GPU runner, NumPy) sees the same numbers. Document
boundaries: batch 0 has 3 documents, one boundary on a tile edge (64) and
one inside a tile; batch 1 is a single document.
"""
import os
import sys

import numpy as np

B, H, HKV, S, D = 2, 4, 2, 200, 64


def bf16_exact(x):
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return u.astype(np.uint32).view(np.float32)


def inputs(d):
    rng = np.random.default_rng(7)
    for name, shape in (("q", (B, H, S, D)), ("k", (B, HKV, S, D)),
                        ("v", (B, HKV, S, D))):
        np.save(os.path.join(d, name + ".npy"),
                bf16_exact(rng.uniform(-1, 1, shape)))
    ids = np.zeros((B, S), np.int32)
    ids[0, 64:150] = 1
    ids[0, 150:] = 2
    np.save(os.path.join(d, "ids.npy"), ids)


def verify(d, pypath):
    sys.path.insert(0, pypath)
    from sparse_attn import reference

    class Ctx:
        pass

    q, k, v = (np.load(os.path.join(d, n + ".npy")).astype(np.float64)
               for n in ("q", "k", "v"))
    ids = np.load(os.path.join(d, "ids.npy"))
    pattern = ("intersect", [("segments",), ("causal",)])
    out = np.zeros((B, H, S, D))
    lse = np.zeros((B, H, S))
    for b in range(B):
        ctx = Ctx()
        ctx.qseg = ctx.kseg = ids[b]
        ctx.sq = ctx.sk = S
        allowed = np.array([[reference.allowed(pattern, i, j, ctx)
                             for j in range(S)] for i in range(S)])
        for h in range(H):
            s = q[b, h] @ k[b, h // (H // HKV)].T / np.sqrt(D)
            s = np.where(allowed, s, -np.inf)
            m = s.max(axis=1, keepdims=True)
            p = np.exp(s - m)
            out[b, h] = (p @ v[b, h // (H // HKV)]) / p.sum(axis=1, keepdims=True)
            lse[b, h] = m[:, 0] + np.log(p.sum(axis=1))
    ref_o = np.load(os.path.join(d, "ref_o.npy"))
    ref_lse = np.load(os.path.join(d, "ref_lse.npy"))
    for name, got, want in (("output", ref_o, out), ("lse", ref_lse, lse)):
        err = np.abs(got - want).max()
        print("reference %s: dtype %s shape %s max_abs_diff %.2e %s" % (
            name, got.dtype, "x".join(map(str, got.shape)), err,
            "OK" if got.dtype == np.float64 and err < 1e-9 else "FAILED"))


if __name__ == "__main__":
    if sys.argv[1] == "inputs":
        inputs(sys.argv[2])
    else:
        verify(sys.argv[2], sys.argv[3])
