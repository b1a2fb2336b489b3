"""`sparse_attn.attention` on NumPy arrays, on the CPU."""
import ctypes

import numpy as np

from . import compile as _compile
from . import patterns as _patterns

__all__ = ["attention"]

_DTYPES = {np.dtype(np.float32): "f32", np.dtype(np.float16): "f16"}
_loaded = {}


def _memref(a):
    rank = a.ndim

    class M(ctypes.Structure):
        _fields_ = [("allocated", ctypes.c_void_p), ("aligned", ctypes.c_void_p),
                    ("offset", ctypes.c_int64), ("sizes", ctypes.c_int64 * rank),
                    ("strides", ctypes.c_int64 * rank)]
    m = M()
    m.allocated = m.aligned = a.ctypes.data
    m.offset = 0
    for i in range(rank):
        m.sizes[i] = a.shape[i]
        m.strides[i] = a.strides[i] // a.itemsize
    return m


def _tensor(shape, elt):
    return "tensor<%sx%s>" % ("x".join(str(d) for d in shape), elt)


def attention(q, k, v, pattern=None, scale=None, return_lse=False, segment_ids=None,
              threads=0):
    """Scaled dot-product attention restricted to `pattern` (a
    `sparse_attn.patterns.Pattern`, an attribute string, or None for dense)
    on NumPy arrays `q` [B, Hq, Sq, D], `k` [B, Hkv, Sk, D], `v` [B, Hkv, Sk,
    Dv] (float32 or float16, one dtype; Hq a multiple of Hkv: grouped-query
    attention), compiled for this CPU on first use (sparse_attn.compile's
    cache). `segment_ids`: [B, S] integers (or a pair for queries and keys)
    for patterns with `segments`. Returns O [B, Hq, Sq, Dv] (and LSE
    [B, Hq, Sq] float32 with `return_lse`)."""
    arrays = []
    for name, a in (("q", q), ("k", k), ("v", v)):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"sparse_attn.attention: {name} must be a NumPy array, got "
                            f"{type(a).__name__}")
        if a.ndim != 4:
            raise ValueError(f"sparse_attn.attention: {name} must be 4-D [B, H, S, D], got "
                             f"shape {a.shape}")
        arrays.append(np.ascontiguousarray(a))
    q, k, v = arrays
    if q.dtype not in _DTYPES or k.dtype != q.dtype or v.dtype != q.dtype:
        raise TypeError("sparse_attn.attention: q, k, v must share one dtype among float32 "
                        f"and float16, got {q.dtype}, {k.dtype}, {v.dtype}")
    b, hq, sq, d = q.shape
    _, hkv, sk, _ = k.shape
    dv = v.shape[3]
    if k.shape[0] != b or v.shape[0] != b or k.shape[3] != d or v.shape[1:3] != (hkv, sk):
        raise ValueError(f"sparse_attn.attention: shapes do not agree: q {q.shape}, k "
                         f"{k.shape}, v {v.shape} (want [B, Hq, Sq, D], [B, Hkv, Sk, D], "
                         f"[B, Hkv, Sk, Dv])")
    if hkv == 0 or hq % hkv:
        raise ValueError(f"sparse_attn.attention: query heads ({hq}) must be a multiple of "
                         f"key/value heads ({hkv})")
    if pattern is None:
        pattern = _patterns.dense()
    symbols = pattern.symbols() if isinstance(pattern, _patterns.Pattern) else []
    elt = _DTYPES[q.dtype]
    qT, kT, vT = _tensor(q.shape, elt), _tensor(k.shape, elt), _tensor(v.shape, elt)
    oT, lT = _tensor((b, hq, sq, dv), elt), _tensor((b, hq, sq), "f32")
    args, segs = [f"%q: {qT}", f"%k: {kT}", f"%v: {vT}"], ""
    ids = []
    if segment_ids is not None:
        pair = segment_ids if isinstance(segment_ids, (tuple, list)) else (segment_ids,)
        for i, s in enumerate(pair):
            s = np.ascontiguousarray(s)
            if s.dtype.kind not in "iu" or s.ndim != 2:
                raise TypeError("sparse_attn.attention: segment ids must be 2-D integer "
                                f"arrays [B, S], got {s.dtype} {s.shape}")
            s = s.astype(np.int32)
            ids.append(s)
            args.append(f"%s{i}: {_tensor(s.shape, 'i32')}")
        segs = " segments(%s : %s)" % (", ".join(f"%s{i}" for i in range(len(ids))),
                                       ", ".join(_tensor(s.shape, "i32") for s in ids))
    attrs = f"pattern = {pattern}"
    if scale is not None:
        attrs += f", scale = {float(scale)!r} : f32"
    results = f"{oT}, {lT}" if return_lse else oT
    outs = f"%i0, %i1 : {oT}, {lT}" if return_lse else f"%i0 : {oT}"
    rets = "%o#0, %o#1" if return_lse else "%o"
    text = ("".join(symbols) +
            f"func.func @attention({', '.join(args)}) -> ({results}) {{\n"
            f"  %i0 = tensor.empty() : {oT}\n" +
            (f"  %i1 = tensor.empty() : {lT}\n" if return_lse else "") +
            f"  %o{':2' if return_lse else ''} = sparse_attn.attention %q, %k, %v{segs} "
            f"outs({outs}) {{{attrs}}} : {qT}, {kT}, {vT} -> {results}\n"
            f"  return {rets} : {results}\n}}\n")
    path = _compile.compile_cpu(text, threads=threads)
    fn = _loaded.get(path)
    if fn is None:
        fn = ctypes.CDLL(path)._mlir_ciface_attention
        fn.restype = None
        _loaded[path] = fn
    out = np.empty((b, hq, sq, dv), q.dtype)
    lse = np.empty((b, hq, sq), np.float32)
    buffers = [q, k, v] + ids + [out] + ([lse] if return_lse else [])
    descriptors = [_memref(a) for a in buffers]
    fn(*[ctypes.byref(m) for m in descriptors])
    return (out, lse) if return_lse else out
