"""sparse-attn Python helpers.

`sparse_attn.reference` is an independent, pure-Python statement of every
built-in sparsity pattern, used by the tests as the brute-force oracle;
`sparse_attn.cuda` binds the CUDA runtime; `sparse_attn.deepspeed` keeps
DeepSpeed's sparsity configurations and their layouts (docs/python.md).
`sparse_attn.patterns` has the patterns as objects (and traces
FlexAttention mask_mods); `sparse_attn.attention` runs attention on NumPy
arrays on the CPU, compiled in process (`sparse_attn.compile`).
"""
from .api import attention  # noqa: F401
