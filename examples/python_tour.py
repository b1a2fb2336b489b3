#!/usr/bin/env python3
"""A tour of the Python package: a pattern, its mask, a FlexAttention
mask_mod traced into IR, compiled and run on NumPy arrays, compared with
NumPy; then a training step's gradients through torch (if installed).

    PYTHONPATH=python /usr/bin/python3 examples/python_tour.py
"""
import numpy as np

import sparse_attn
from sparse_attn import patterns as P

# 1. A pattern: a causal sliding window of 4 keys plus global token 0.
p = (P.causal() & P.window(3, 0)) | P.global_tokens([0])
print("pattern:", p)
for row in p.mask(8, 8):
    print("  " + "".join("#" if x else "." for x in row))


# 2. The same mask written as a FlexAttention mask_mod, traced into IR.
def mask_mod(b, h, q_idx, kv_idx):
    return ((q_idx >= kv_idx) & (q_idx - kv_idx <= 3)) | (kv_idx == 0) | (q_idx == 0)


m = P.from_mask_mod(mask_mod)
print(m.symbols()[0])
assert (m.mask(64, 64) == p.mask(64, 64)).all()

# 3. Compiled (in process, cached) and run on NumPy arrays.
rng = np.random.default_rng(0)
q, k, v = (rng.standard_normal((1, 4, 64, 32)).astype(np.float32) for _ in range(3))
o = sparse_attn.attention(q, k, v, pattern=m)
s = np.einsum("bhqd,bhkd->bhqk", q, k) / np.sqrt(32)
s = np.where(p.mask(64, 64), s, -np.inf)
w = np.exp(s - s.max(-1, keepdims=True))
want = np.einsum("bhqk,bhkd->bhqd", w / w.sum(-1, keepdims=True), v)
print("max |sparse_attn - numpy| = %.2e" % np.abs(o - want).max())
assert np.abs(o - want).max() < 1e-5

# 4. Training: gradients through sparse_attn.attention_grad.
try:
    import torch
except ImportError:
    print("torch not installed: skipping the training step")
else:
    from sparse_attn.torch import attention
    qt, kt, vt = (torch.from_numpy(x).requires_grad_() for x in (q, k, v))
    attention(qt, kt, vt, pattern=m).square().sum().backward()
    print("gradient norms: dq %.3f, dk %.3f, dv %.3f"
          % (qt.grad.norm(), kt.grad.norm(), vt.grad.norm()))
print("tour: OK")
