"""Masks written as `sparse_attn.mask` regions for the benchmarks and GPU
checks (issue #14), each with the same predicate in Python operators (works
on ints, NumPy arrays and torch tensors: the FlexAttention mask_mod and the
reference). A pattern tuple ("custom", name, *params) names one."""


def _chunked(params):
    (chunk,) = params
    text = """sparse_attn.mask @{name}(%b: index, %h: index, %q: index, %k: index) {{
  %c = arith.constant {chunk} : index
  %qc = arith.divui %q, %c : index
  %kc = arith.divui %k, %c : index
  %same = arith.cmpi eq, %qc, %kc : index
  %causal = arith.cmpi ule, %k, %q : index
  %ok = arith.andi %same, %causal : i1
  sparse_attn.yield %ok : i1
}}
"""
    return text, lambda q, k: ((q // chunk) == (k // chunk)) & (k <= q)


REGIONS = {"chunked": _chunked}


def region(p):
    """(MLIR text of the mask symbol @name, predicate(q, k)) of ("custom", name, *params)."""
    text, fn = REGIONS[p[1]](p[2:])
    return text.format(name=p[1], chunk=p[2] if len(p) > 2 else 0), fn
