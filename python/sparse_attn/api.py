"""`sparse_attn.attention` on NumPy arrays, on the CPU, and the modules and
calls it shares with the torch front end (sparse_attn/torch.py)."""
import ctypes

import numpy as np

from . import compile as _compile
from . import patterns as _patterns

__all__ = ["attention"]

_NUMPY_ELT = {np.dtype(np.float32): "f32", np.dtype(np.float16): "f16"}
_loaded = {}
_paths = {}  # in-process: what determines a module -> its library


_descriptor_types = {}


def _descriptor_type(rank):
    t = _descriptor_types.get(rank)
    if t is None:
        class M(ctypes.Structure):
            _fields_ = [("allocated", ctypes.c_void_p), ("aligned", ctypes.c_void_p),
                        ("offset", ctypes.c_int64), ("sizes", ctypes.c_int64 * rank),
                        ("strides", ctypes.c_int64 * rank)]
        t = _descriptor_types[rank] = M
    return t


_templates = {}


def descriptor(address, shape):
    """The memref descriptor of a C-contiguous buffer of `shape` at
    `address`: a copy of a template made once per shape (sizes, row-major
    strides) with its pointers set, a fraction of the cost of filling the
    fields one by one (the per-call overhead, bench/python/overhead.py)."""
    template = _templates.get(shape)
    if template is None:
        rank = len(shape)
        strides = [1] * rank
        for i in range(rank - 2, -1, -1):
            strides[i] = strides[i + 1] * shape[i + 1]
        template = _templates[shape] = _descriptor_type(rank)(0, 0, 0, tuple(shape),
                                                                tuple(strides))
    m = type(template).from_buffer_copy(template)
    m.allocated = m.aligned = address
    return m


def function(path, entry):
    """The C interface of `entry` in the compiled library at `path` (loaded
    once)."""
    fn = _loaded.get((path, entry))
    if fn is None:
        fn = getattr(ctypes.CDLL(path), "_mlir_ciface_" + entry)
        fn.restype = None
        _loaded[(path, entry)] = fn
    return fn


def call(path, entry, buffers):
    """Calls `entry` of the compiled library at `path` (C ABI: one memref
    descriptor per argument, then per result) on `buffers`: (address,
    shape) of C-contiguous memory the caller keeps alive."""
    descriptors = [descriptor(address, shape) for address, shape in buffers]
    function(path, entry)(*[ctypes.byref(m) for m in descriptors])


def tensor_type(shape, elt):
    return "tensor<%sx%s>" % ("x".join(str(d) for d in shape), elt)


def check_shapes(q_shape, k_shape, v_shape):
    """(B, Hq, Sq, D, Hkv, Sk, Dv), or ValueError naming the problem."""
    for name, s in (("q", q_shape), ("k", k_shape), ("v", v_shape)):
        if len(s) != 4:
            raise ValueError(f"sparse_attn.attention: {name} must be 4-D [B, H, S, D], got "
                             f"shape {tuple(s)}")
    b, hq, sq, d = q_shape
    _, hkv, sk, _ = k_shape
    dv = v_shape[3]
    if k_shape[0] != b or v_shape[0] != b or k_shape[3] != d or tuple(v_shape[1:3]) != (hkv, sk):
        raise ValueError(f"sparse_attn.attention: shapes do not agree: q {tuple(q_shape)}, k "
                         f"{tuple(k_shape)}, v {tuple(v_shape)} (want [B, Hq, Sq, D], "
                         f"[B, Hkv, Sk, D], [B, Hkv, Sk, Dv])")
    if hkv == 0 or hq % hkv:
        raise ValueError(f"sparse_attn.attention: query heads ({hq}) must be a multiple of "
                         f"key/value heads ({hkv})")
    return b, hq, sq, d, hkv, sk, dv


def as_score_mod(score_mod):
    """None, a traced `patterns.ScoreMod`, or a FlexAttention-style function
    `score_mod(score, b, h, q_idx, kv_idx)` (traced here)."""
    if score_mod is None or isinstance(score_mod, _patterns.ScoreMod):
        return score_mod
    if callable(score_mod):
        return _patterns.from_score_mod(score_mod)
    raise TypeError("sparse_attn.attention: score_mod must be a function score_mod(score, b, "
                    f"h, q_idx, kv_idx) or a patterns.ScoreMod, got {type(score_mod).__name__}")


def attr_text(pattern_attr, scale=None, score_mod_name=None, table_block=None):
    """The attribute dictionary's body of an attention op: the pattern's
    attribute text, the scale, the score modification's symbol and the
    runtime tables' block size (None: absent)."""
    attrs = f"pattern = {pattern_attr}"
    if scale is not None:
        attrs += f", scale = {float(scale)!r} : f32"
    if score_mod_name is not None:
        attrs += f", score_mod = @{score_mod_name}"
    if table_block is not None:
        attrs += ", table_block = array<i64: %d, %d>" % tuple(table_block)
    return attrs


def op_spec(pattern, scale=None, score_mod=None, table_block=None):
    """What an attention call's modules hold besides shapes and types:
    (the regions they define, the attribute dictionary's body). With the
    shapes, `forward_text` / `backward_text` make the modules from it."""
    regions = "".join(_symbols(pattern, score_mod))
    return regions, attr_text(pattern, scale, None if score_mod is None else score_mod.name,
                              table_block)


def _tables(table_shapes):
    """Arguments and operand group of runtime block tables: `table_shapes`
    is (counts shape, indices shape) or None."""
    if table_shapes is None:
        return [], ""
    nT, xT = tensor_type(table_shapes[0], "i32"), tensor_type(table_shapes[1], "i32")
    return ([f"%tn: {nT}", f"%tx: {xT}"], f" block_tables(%tn, %tx : {nT}, {xT})")


def _segments(seg_shapes):
    if not seg_shapes:
        return [], ""
    args = [f"%s{i}: {tensor_type(s, 'i32')}" for i, s in enumerate(seg_shapes)]
    text = " segments(%s : %s)" % (", ".join(f"%s{i}" for i in range(len(seg_shapes))),
                                   ", ".join(tensor_type(s, "i32") for s in seg_shapes))
    return args, text


def _symbols(pattern, score_mod):
    symbols = list(pattern.symbols()) if isinstance(pattern, _patterns.Pattern) else []
    return symbols + ([score_mod.text] if score_mod is not None else [])


def _split_tables(tables):
    """(table shapes, block) of `tables` = (counts shape, indices shape,
    (BQ, BK)) or None."""
    return (None, None) if tables is None else ((tables[0], tables[1]), tables[2])


def forward_text(spec, q_shape, k_shape, v_shape, elt, seg_shapes=(), return_lse=False,
                 table_shapes=None):
    """The module of `@attention(q, k, v, segment ids..., tables...) -> O
    (, LSE)` from an `op_spec` and the shapes."""
    regions, attributes = spec
    b, hq, sq, d, hkv, sk, dv = check_shapes(q_shape, k_shape, v_shape)
    qT, kT, vT = (tensor_type(s, elt) for s in (q_shape, k_shape, v_shape))
    oT, lT = tensor_type((b, hq, sq, dv), elt), tensor_type((b, hq, sq), "f32")
    seg_args, segs = _segments(seg_shapes)
    tab_args, tabs = _tables(table_shapes)
    args = [f"%q: {qT}", f"%k: {kT}", f"%v: {vT}"] + seg_args + tab_args
    results = f"{oT}, {lT}" if return_lse else oT
    outs = f"%i0, %i1 : {oT}, {lT}" if return_lse else f"%i0 : {oT}"
    rets = "%o#0, %o#1" if return_lse else "%o"
    return (regions +
            f"func.func @attention({', '.join(args)}) -> ({results}) {{\n"
            f"  %i0 = tensor.empty() : {oT}\n" +
            (f"  %i1 = tensor.empty() : {lT}\n" if return_lse else "") +
            f"  %o{':2' if return_lse else ''} = sparse_attn.attention %q, %k, %v{segs}{tabs} "
            f"outs({outs}) {{{attributes}}} : {qT}, {kT}, "
            f"{vT} -> "
            f"{results}\n"
            f"  return {rets} : {results}\n}}\n")


def backward_text(spec, q_shape, k_shape, v_shape, elt, seg_shapes=(), table_shapes=None):
    """The module of `@attention_grad(q, k, v, o, lse, do, segment ids...,
    tables...) -> (dQ, dK, dV)` from an `op_spec` and the shapes."""
    regions, attributes = spec
    b, hq, sq, d, hkv, sk, dv = check_shapes(q_shape, k_shape, v_shape)
    qT, kT, vT = (tensor_type(s, elt) for s in (q_shape, k_shape, v_shape))
    oT, lT = tensor_type((b, hq, sq, dv), elt), tensor_type((b, hq, sq), "f32")
    seg_args, segs = _segments(seg_shapes)
    tab_args, tabs = _tables(table_shapes)
    args = ([f"%q: {qT}", f"%k: {kT}", f"%v: {vT}", f"%o: {oT}", f"%lse: {lT}",
             f"%do: {oT}"] + seg_args + tab_args)
    return (regions +
            f"func.func @attention_grad({', '.join(args)}) -> ({qT}, {kT}, {vT}) {{\n"
            f"  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, "
            f"%do{segs}{tabs} {{{attributes}}} : {qT}, {kT}, "
            f"{vT}, {oT}, "
            f"{lT}, {oT} -> "
            f"{qT}, {kT}, {vT}\n"
            f"  return %dq, %dk, %dv : {qT}, {kT}, {vT}\n}}\n")


def forward_module(pattern, q_shape, k_shape, v_shape, elt, scale=None, seg_shapes=(),
                   return_lse=False, tables=None, score_mod=None):
    """The module of `@attention(q, k, v, segment ids..., tables...) -> O
    (, LSE)`; `tables` = (counts shape, indices shape, (BQ, BK)) or None."""
    table_shapes, block = _split_tables(tables)
    return forward_text(op_spec(pattern, scale, score_mod, block), q_shape, k_shape, v_shape,
                        elt, seg_shapes, return_lse, table_shapes)


def backward_module(pattern, q_shape, k_shape, v_shape, elt, scale=None, seg_shapes=(),
                    tables=None, score_mod=None):
    """The module of `@attention_grad(q, k, v, o, lse, do, segment ids...,
    tables...) -> (dQ, dK, dV)` (sparse_attn.attention_grad)."""
    table_shapes, block = _split_tables(tables)
    return backward_text(op_spec(pattern, scale, score_mod, block), q_shape, k_shape, v_shape,
                         elt, seg_shapes, table_shapes)


def segment_list(segment_ids, to_int32):
    """Segment ids as a list of one or two int32 [B, S] arrays / tensors."""
    if segment_ids is None:
        return []
    pair = segment_ids if isinstance(segment_ids, (tuple, list)) else (segment_ids,)
    return [to_int32(s) for s in pair]


def attention(q, k, v, pattern=None, scale=None, return_lse=False, segment_ids=None,
              threads=0, score_mod=None):
    """Scaled dot-product attention restricted to `pattern` (a
    `sparse_attn.patterns.Pattern`, an attribute string, or None for dense)
    on NumPy arrays `q` [B, Hq, Sq, D], `k` [B, Hkv, Sk, D], `v` [B, Hkv, Sk,
    Dv] (float32 or float16, one dtype; Hq a multiple of Hkv: grouped-query
    attention), compiled for this CPU on first use (sparse_attn.compile's
    cache). `segment_ids`: [B, S] integers (or a pair for queries and keys)
    for patterns with `segments`. `score_mod`: a FlexAttention-style
    `score_mod(score, b, h, q_idx, kv_idx)` (traced into a region, compiled,
    never called back) or a `patterns.ScoreMod`. Returns O [B, Hq, Sq, Dv] (and LSE
    [B, Hq, Sq] float32 with `return_lse`). Torch tensors:
    `sparse_attn.torch.attention`."""
    arrays = []
    for name, a in (("q", q), ("k", k), ("v", v)):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"sparse_attn.attention: {name} must be a NumPy array, got "
                            f"{type(a).__name__} (torch tensors: sparse_attn.torch.attention)")
        arrays.append(np.ascontiguousarray(a))
    q, k, v = arrays
    if q.dtype not in _NUMPY_ELT or k.dtype != q.dtype or v.dtype != q.dtype:
        raise TypeError("sparse_attn.attention: q, k, v must share one dtype among float32 "
                        f"and float16, got {q.dtype}, {k.dtype}, {v.dtype}")
    b, hq, sq, d, hkv, sk, dv = check_shapes(q.shape, k.shape, v.shape)

    def to_int32(s):
        s = np.ascontiguousarray(s)
        if s.dtype.kind not in "iu" or s.ndim != 2:
            raise TypeError("sparse_attn.attention: segment ids must be 2-D integer arrays "
                            f"[B, S], got {s.dtype} {s.shape}")
        return s.astype(np.int32)
    ids = segment_list(segment_ids, to_int32)
    if pattern is None:
        pattern = _patterns.dense()
    mod = as_score_mod(score_mod)
    # In-memory cache of compiled libraries by what determines the module
    # (a repeated call costs a dict lookup, not the module text and its
    # hash: the per-call overhead the benchmark measures).
    key = (pattern if isinstance(pattern, str) else pattern.key(), q.shape, k.shape,
           v.shape, q.dtype.str, scale, tuple(s.shape for s in ids), return_lse, threads,
           mod.key() if mod is not None else None)
    path = _paths.get(key)
    if path is None:
        text = forward_module(pattern, q.shape, k.shape, v.shape, _NUMPY_ELT[q.dtype], scale,
                              [s.shape for s in ids], return_lse, score_mod=mod)
        path = _paths[key] = _compile.compile_cpu(text, threads=threads)
    out = np.empty((b, hq, sq, dv), q.dtype)
    lse = np.empty((b, hq, sq), np.float32)
    call(path, "attention", [(a.ctypes.data, a.shape) for a in [q, k, v] + ids + [out] +
                             ([lse] if return_lse else [])])
    return (out, lse) if return_lse else out
