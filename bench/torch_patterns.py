"""The pattern tuples of python/sparse_attn/reference.py as vectorised
PyTorch predicates on index tensors (broadcasting; usable as FlexAttention
mask_mods), for the peer benchmarks on the GPU machine (bench/gpu/run_h200.py
on the GPU, bench/host_cpu_matrix.py on its CPU). reference.py stays the
definition; these are checked against the project's kernels on every run
(the harnesses compare outputs)."""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from sparse_attn.reference import random_blocks  # noqa: E402


class Ctx:
    """Sequence lengths, segment ids (a tensor or None) and the tables of
    #sparse_attn.random, on `device`."""

    def __init__(self, sq, sk, seg=None, device="cpu"):
        self.sq, self.sk, self.seg, self.device = sq, sk, seg, device
        self.tables = {}

    def random_layout(self, block, per_row, seed):
        key = (block, per_row, seed)
        if key not in self.tables:
            nq, nk = -(-self.sq // block), -(-self.sk // block)
            lay = torch.zeros(nq, nk, dtype=torch.bool)
            for i in range(nq):
                for j in random_blocks(seed, i, nk, per_row):
                    lay[i, j] = True
            self.tables[key] = lay.to(self.device)
        return self.tables[key]


def runs(tokens):
    """Sorted token list -> maximal runs (lo, hi) of consecutive tokens."""
    tokens = sorted(set(tokens))
    out, i = [], 0
    while i < len(tokens):
        j = i
        while j + 1 < len(tokens) and tokens[j + 1] == tokens[j] + 1:
            j += 1
        out.append((tokens[i], tokens[j]))
        i = j + 1
    return out


def allowed(p, q, k, ctx):
    """reference.allowed on index tensors (broadcasting; vmap-friendly)."""
    kind = p[0]
    if kind == "dense":
        return (q >= 0) & (k >= 0)
    if kind == "causal":
        off = ctx.sk - ctx.sq if tuple(p[1:]) == ("bottom_right",) else 0
        return k <= q + off
    if kind == "window":
        off = ctx.sk - ctx.sq if tuple(p[3:]) == ("bottom_right",) else 0
        return (k >= q + off - p[1]) & (k <= q + off + p[2])
    if kind == "dilated":
        return (k >= q - p[1]) & (k <= q + p[2]) & (torch.remainder(q - k, p[3]) == 0)
    if kind == "strided":
        d = q - k
        return (d >= 0) & ((d < p[1]) | (torch.remainder(d, p[1]) == 0))
    if kind == "fixed":
        s, summ = p[1], p[2]
        return (torch.div(k, s, rounding_mode="floor") == torch.div(q, s, rounding_mode="floor")) | \
            (torch.remainder(k, s) >= s - summ)
    if kind == "global":
        r = (q < 0) & (k < 0)
        for lo, hi in runs(p[1]):
            r = r | ((q >= lo) & (q <= hi)) | ((k >= lo) & (k <= hi))
        return r
    if kind == "random":
        lay = ctx.random_layout(p[1], p[2], p[3])
        return lay[torch.div(q, p[1], rounding_mode="floor"), torch.div(k, p[1], rounding_mode="floor")]
    if kind == "prefix":
        return (k < p[1]) | (k <= q)
    if kind == "segments":
        return ctx.seg[q] == ctx.seg[k]
    if kind == "union":
        r = allowed(p[1][0], q, k, ctx)
        for c in p[1][1:]:
            r = r | allowed(c, q, k, ctx)
        return r
    if kind == "intersect":
        r = allowed(p[1][0], q, k, ctx)
        for c in p[1][1:]:
            r = r & allowed(c, q, k, ctx)
        return r
    if kind == "custom":  # a region of bench/regions.py
        from regions import region
        return region(p)[1](q, k)
    raise ValueError(p)
