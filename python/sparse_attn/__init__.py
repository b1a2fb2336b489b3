"""sparse-attn Python helpers.

`sparse_attn.reference` is an independent, pure-Python statement of every
built-in sparsity pattern, used by the tests as the brute-force oracle.
"""
