"""`sparse_attn.torch.attention`: torch tensors, with autograd.

    import torch
    from sparse_attn import patterns as P
    from sparse_attn.torch import attention
    o = attention(q, k, v, pattern=P.causal())   # q [B, Hq, S, D], requires_grad ok
    o.sum().backward()                           # sparse_attn.attention_grad

CPU tensors (float32, float16, bfloat16) run the CPU kernels compiled in
process (sparse_attn.compile); the backward is `sparse_attn.attention_grad`
(the compiler's CPU backward: deterministic, score modifications
differentiated symbolically). Inputs may be non-contiguous (copied). CUDA
tensors are refused for now with a message (the GPU path goes through
artifacts and the CUDA runtime: issue #17's next step), as is a torch
without autograd support for the inputs' dtype.
"""
import torch

from . import api as _api
from . import compile as _compile
from . import patterns as _patterns

__all__ = ["attention"]

_ELT = {torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16"}


def _buffer(t):
    return _api.Buffer(t.data_ptr(), t.shape, list(t.stride()), t)


def _check(q, k, v):
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"sparse_attn.torch.attention: {name} must be a torch.Tensor, got "
                            f"{type(t).__name__}")
        if t.device.type != "cpu":
            raise NotImplementedError(
                f"sparse_attn.torch.attention: {name} is on {t.device}; this version runs "
                "CPU tensors (the CUDA path through compiled artifacts is not wired yet)")
    if q.dtype not in _ELT or k.dtype != q.dtype or v.dtype != q.dtype:
        raise TypeError("sparse_attn.torch.attention: q, k, v must share one dtype among "
                        f"float32, float16 and bfloat16, got {q.dtype}, {k.dtype}, {v.dtype}")
    _api.check_shapes(tuple(q.shape), tuple(k.shape), tuple(v.shape))


def _segments(segment_ids):
    def to_int32(s):
        if not isinstance(s, torch.Tensor) or s.dim() != 2 or s.is_floating_point():
            raise TypeError("sparse_attn.torch.attention: segment ids must be 2-D integer "
                            "tensors [B, S]")
        return s.to(torch.int32).contiguous()
    return _api.segment_list(segment_ids, to_int32)


class _Attention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, pattern, scale, ids, tables, threads, score_mod):
        q, k, v = (t.contiguous() for t in (q, k, v))
        elt = _ELT[q.dtype]
        seg_shapes = [tuple(s.shape) for s in ids]
        extra = list(ids)
        table_spec = None
        if tables is not None:
            num, idx, block = tables
            table_spec = (tuple(num.shape), tuple(idx.shape), block)
            extra += [num, idx]
        text = _api.forward_module(pattern, tuple(q.shape), tuple(k.shape), tuple(v.shape),
                                   elt, scale, seg_shapes, True, table_spec, score_mod)
        path = _compile.compile_cpu(text, threads=threads)
        b, hq, sq, _ = q.shape
        o = torch.empty((b, hq, sq, v.shape[3]), dtype=q.dtype)
        lse = torch.empty((b, hq, sq), dtype=torch.float32)
        _api.call(path, "attention", [_buffer(t) for t in [q, k, v] + extra + [o, lse]])
        ctx.save_for_backward(q, k, v, o, lse, *extra)
        ctx.pattern, ctx.scale, ctx.threads = pattern, scale, threads
        ctx.score_mod = score_mod
        ctx.seg_shapes, ctx.table_spec = seg_shapes, table_spec
        ctx.mark_non_differentiable(lse)
        return o, lse

    @staticmethod
    def backward(ctx, do, dlse):
        q, k, v, o, lse, *extra = ctx.saved_tensors
        do = do.to(q.dtype).contiguous()
        text = _api.backward_module(ctx.pattern, tuple(q.shape), tuple(k.shape),
                                    tuple(v.shape), _ELT[q.dtype], ctx.scale,
                                    ctx.seg_shapes, ctx.table_spec, ctx.score_mod)
        path = _compile.compile_cpu(text, threads=ctx.threads)
        dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        _api.call(path, "attention_grad",
                  [_buffer(t) for t in [q, k, v, o, lse, do] + extra + [dq, dk, dv]])
        return dq, dk, dv, None, None, None, None, None, None


def attention(q, k, v, pattern=None, scale=None, return_lse=False, segment_ids=None,
              block_tables=None, threads=0, score_mod=None):
    """`sparse_attn.attention` on torch tensors [B, Hq, Sq, D], [B, Hkv, Sk,
    D], [B, Hkv, Sk, Dv] (Hq a multiple of Hkv), differentiable with
    respect to q, k and v (the LSE is not). Arguments as
    `sparse_attn.attention`, plus `block_tables=(kv_num_blocks,
    kv_indices, (BQ, BK))`: FlexAttention-style runtime tables ([B', H',
    Mq] and [B', H', Mq, N] integers) restricting the pattern to the listed
    blocks (one compiled kernel for every table content), and `score_mod`: a
    FlexAttention `score_mod(score, b, h, q_idx, kv_idx)` traced into the
    kernel (its derivative generated by the compiler for the backward)."""
    _check(q, k, v)
    ids = _segments(segment_ids)
    if pattern is None:
        pattern = _patterns.dense()
    tables = None
    if block_tables is not None:
        num, idx, block = block_tables
        if not all(isinstance(t, torch.Tensor) and not t.is_floating_point()
                   for t in (num, idx)) or num.dim() != 3 or idx.dim() != 4:
            raise TypeError("sparse_attn.torch.attention: block_tables are (kv_num_blocks "
                            "[B', H', Mq], kv_indices [B', H', Mq, N], (BQ, BK)) with "
                            "integer tensors")
        tables = (num.to(torch.int32).contiguous(), idx.to(torch.int32).contiguous(),
                  (int(block[0]), int(block[1])))
    o, lse = _Attention.apply(q, k, v, pattern, scale, ids, tables, threads,
                              _api.as_score_mod(score_mod))
    return (o, lse) if return_lse else o
