#!/usr/bin/env python3
"""TMA kernels keep one device copy of each CUtensorMap per loaded kernel,
re-encoded when an argument's pointer changes: launch one loaded dense
artifact with three different (Q, K, V) sets in a row, twice, and compare
every output with PyTorch SDPA (so a stale tensor map would show).

    python3 bench/gpu/pointer_change.py --runtime LIB --artifact DIR
"""
import argparse, os, sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from sparse_attn.cuda import Runtime  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--runtime", required=True)
ap.add_argument("--artifact", required=True)
a = ap.parse_args()
rt = Runtime(a.runtime)
k = rt.load(a.artifact)
shapes = {role: shape for role, _, shape in k.args}
sets = []
for seed in range(3):
    torch.manual_seed(seed)
    t = {r: torch.randn(*shapes[r], device="cuda", dtype=torch.bfloat16)
         for r in ("query", "key", "value")}
    t["output"] = torch.full(shapes["output"], float("nan"), device="cuda", dtype=torch.bfloat16)
    sets.append(t)
worst = 0.0
for rnd in range(2):
    for i, t in enumerate(sets):
        t["output"].fill_(float("nan"))
        k.launch([t[r].data_ptr() for r, _, _ in k.args],
                 torch.cuda.current_stream().cuda_stream)
        torch.cuda.synchronize()
        g = t["key"].shape[1]
        rep = t["query"].shape[1] // g
        ref = F.scaled_dot_product_attention(
            t["query"].float(), t["key"].float().repeat_interleave(rep, 1),
            t["value"].float().repeat_interleave(rep, 1))
        err = (t["output"].float() - ref).abs().max().item()
        worst = max(worst, err)
        print("round %d set %d max_abs_err %.3e" % (rnd, i, err))
print("pointer-change", "OK" if worst < 2e-2 else "FAILED", "worst %.3e" % worst)
