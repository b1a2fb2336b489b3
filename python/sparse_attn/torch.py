"""`sparse_attn.torch.attention`: torch tensors, with autograd.

    import torch
    from sparse_attn import patterns as P
    from sparse_attn.torch import attention
    o = attention(q, k, v, pattern=P.causal())   # q [B, Hq, S, D], requires_grad ok
    o.sum().backward()                           # sparse_attn.attention_grad

CPU tensors (float32, float16, bfloat16) run the CPU kernels compiled in
process (sparse_attn.compile); the backward is `sparse_attn.attention_grad`
(the compiler's CPU backward: deterministic, score modifications
differentiated symbolically). Inputs may be non-contiguous (copied).

CUDA tensors (float16, bfloat16) run the GPU kernels of the same two ops:
artifacts from `sparse-attn-compile --target=cuda` (compile.compile_cuda,
cached by module text; a GPU machine without the compiler uses a cache
filled ahead of time) launched by the CUDA runtime (cuda.default_runtime)
on the current stream. Where torch has `torch.library.custom_op` (2.4 and
later) the GPU call is the operator `sparse_attn::gpu_attention` with a
fake (meta) implementation and a registered backward
(`sparse_attn::gpu_attention_grad`), so `torch.compile` keeps it in its
graph; building the module text and finding the artifact happen in Python
before the operator (outside the graph). The LSE is not differentiable.
"""
import torch

from . import api as _api
from . import compile as _compile
from . import patterns as _patterns

__all__ = ["attention", "precompile"]

_ELT = {torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16"}


def _buffer(t):
    return _api.Buffer(t.data_ptr(), t.shape, list(t.stride()), t)


def _check(q, k, v):
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"sparse_attn.torch.attention: {name} must be a torch.Tensor, got "
                            f"{type(t).__name__}")
        if t.device.type not in ("cpu", "cuda"):
            raise NotImplementedError(
                f"sparse_attn.torch.attention: {name} is on {t.device}; CPU and CUDA "
                "tensors are supported")
        if t.device != q.device:
            raise ValueError(f"sparse_attn.torch.attention: {name} is on {t.device}, q on "
                             f"{q.device}")
    if q.device.type == "cuda" and q.dtype not in (torch.float16, torch.bfloat16):
        raise TypeError("sparse_attn.torch.attention: CUDA tensors must be float16 or "
                        f"bfloat16 (tensor cores), got {q.dtype}")
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


def _extra_inputs(ids, tables):
    """The inputs after q, k, v (segment ids, then the tables' tensors) and
    the tables' description for the module text (None without tables)."""
    extra, table_spec = list(ids), None
    if tables is not None:
        num, idx, block = tables
        table_spec = (tuple(num.shape), tuple(idx.shape), block)
        extra += [num, idx]
    return extra, table_spec


class _Attention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, pattern, scale, ids, tables, threads, score_mod):
        q, k, v = (t.contiguous() for t in (q, k, v))
        elt = _ELT[q.dtype]
        seg_shapes = [tuple(s.shape) for s in ids]
        extra, table_spec = _extra_inputs(ids, tables)
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


# ------------------------------------------------------------------ CUDA

_DT = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32,
       "i32": torch.int32, "i64": torch.int64}
_programs = {}


def _launch(directory, inputs):
    """Runs the GPU artifact in `directory` on `inputs` (its function's
    arguments, in order) on their device's current stream; returns its
    results (fresh tensors)."""
    from . import cuda as _cuda
    prog = _programs.get(directory)
    if prog is None:
        prog = _programs[directory] = _cuda.default_runtime().load_program(directory)
    dev = inputs[0].device
    bufs, results = {}, 0
    for name, (dtn, shape) in prog.buffers.items():
        if name.startswith("input:"):
            t = inputs[int(name[6:])]
            if tuple(t.shape) != tuple(shape) or t.dtype != _DT[dtn]:
                raise ValueError("sparse_attn: argument %s is %s %s, the artifact takes %s %s"
                                 % (name, tuple(t.shape), t.dtype, tuple(shape), dtn))
            bufs[name] = t.contiguous()
        else:
            bufs[name] = torch.empty(shape, dtype=_DT[dtn], device=dev)
            results += name.startswith("output:")
    with torch.cuda.device(dev):
        prog.launch({n: t.data_ptr() for n, t in bufs.items()},
                    torch.cuda.current_stream(dev).cuda_stream)
    return [bufs["output:%d" % i] for i in range(results)]


def _gpu_forward(fwd, inputs):
    return tuple(_launch(fwd, list(inputs)))


def _gpu_backward(bwd, inputs):
    return tuple(_launch(bwd, list(inputs)))


def _grad_inputs(saved, n, do):
    tensors, o, lse = saved[:n], saved[n], saved[n + 1]
    q, k, v, extra = tensors[0], tensors[1], tensors[2], list(tensors[3:])
    return [q, k, v, o, lse, do.to(q.dtype).contiguous()] + extra, len(extra)


if hasattr(torch.library, "custom_op"):
    @torch.library.custom_op(
        "sparse_attn::gpu_attention", mutates_args=(),
        schema="(str forward, str backward, Tensor[] inputs, int[] out_shape) -> "
               "(Tensor, Tensor)")
    def _gpu_attention_op(forward, backward, inputs, out_shape):
        return _gpu_forward(forward, inputs)

    @_gpu_attention_op.register_fake
    def _(forward, backward, inputs, out_shape):
        q = inputs[0]
        return (q.new_empty(out_shape),
                q.new_empty(out_shape[:3], dtype=torch.float32))

    @torch.library.custom_op(
        "sparse_attn::gpu_attention_grad", mutates_args=(),
        schema="(str backward, Tensor[] inputs) -> (Tensor, Tensor, Tensor)")
    def _gpu_attention_grad_op(backward, inputs):
        return _gpu_backward(backward, inputs)

    @_gpu_attention_grad_op.register_fake
    def _(backward, inputs):
        return tuple(torch.empty_like(t) for t in inputs[:3])

    def _setup_context(ctx, inputs, output):
        _, backward, tensors, _ = inputs
        ctx.save_for_backward(*tensors, *output)
        ctx.backward_dir, ctx.n = backward, len(tensors)

    def _op_backward(ctx, do, dlse):
        args, n_extra = _grad_inputs(ctx.saved_tensors, ctx.n, do)
        dq, dk, dv = _gpu_attention_grad_op(ctx.backward_dir, args)
        return None, None, [dq, dk, dv] + [None] * n_extra, None

    _gpu_attention_op.register_autograd(_op_backward, setup_context=_setup_context)

    def _gpu_attention(forward, backward, tensors, out_shape):
        return _gpu_attention_op(forward, backward, tensors, out_shape)
else:
    class _GpuAttention(torch.autograd.Function):
        @staticmethod
        def forward(ctx, forward, backward, *tensors):
            o, lse = _gpu_forward(forward, tensors)
            ctx.save_for_backward(*tensors, o, lse)
            ctx.backward_dir, ctx.n = backward, len(tensors)
            ctx.mark_non_differentiable(lse)
            return o, lse

        @staticmethod
        def backward(ctx, do, dlse):
            args, n_extra = _grad_inputs(ctx.saved_tensors, ctx.n, do)
            dq, dk, dv = _gpu_backward(ctx.backward_dir, args)
            return (None, None, dq, dk, dv) + (None,) * n_extra

    def _gpu_attention(forward, backward, tensors, out_shape):
        return _GpuAttention.apply(forward, backward, *tensors)


def precompile(q_shape, k_shape, v_shape, dtype, pattern=None, scale=None, seg_shapes=(),
               table_spec=None, score_mod=None):
    """The GPU artifacts (forward with LSE, backward) of an attention call,
    compiled into the cache now (on a machine with the compiler, for a GPU
    machine without it: copy the cache and set SPARSE_ATTN_CACHE there).
    Shapes as the tensors'; `table_spec` = (kv_num_blocks shape,
    kv_indices shape, (BQ, BK)). Returns (forward dir, backward dir)."""
    elt = _ELT[dtype]
    pattern = _patterns.dense() if pattern is None else pattern
    score_mod = _api.as_score_mod(score_mod)
    seg_shapes = [tuple(s) for s in seg_shapes]
    shapes = (tuple(q_shape), tuple(k_shape), tuple(v_shape))
    fwd = _compile.compile_cuda(_api.forward_module(pattern, *shapes, elt, scale, seg_shapes,
                                                    True, table_spec, score_mod))
    bwd = _compile.compile_cuda(_api.backward_module(pattern, *shapes, elt, scale, seg_shapes,
                                                     table_spec, score_mod))
    return fwd, bwd


def _artifacts(q, k, v, pattern, scale, ids, table_spec, score_mod):
    return precompile(q.shape, k.shape, v.shape, q.dtype, pattern, scale,
                      [s.shape for s in ids], table_spec, score_mod)


# torch.compile: the lookup (module text, hashing, maybe the compiler) runs
# as plain Python outside the graph, the operator inside it.
if hasattr(torch, "compiler") and hasattr(torch.compiler, "disable"):
    _artifacts = torch.compiler.disable(_artifacts)


def _cuda_attention(q, k, v, pattern, scale, ids, tables, score_mod):
    extra, table_spec = _extra_inputs(ids, tables)
    fwd, bwd = _artifacts(q, k, v, pattern, scale, ids, table_spec, score_mod)
    out_shape = [q.shape[0], q.shape[1], q.shape[2], v.shape[3]]
    tensors = [t.contiguous() for t in [q, k, v]] + [t.to(q.device) for t in extra]
    return _gpu_attention(fwd, bwd, tensors, out_shape)


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
    if q.device.type == "cuda":
        o, lse = _cuda_attention(q, k, v, pattern, scale, ids, tables,
                                 _api.as_score_mod(score_mod))
    else:
        o, lse = _Attention.apply(q, k, v, pattern, scale, ids, tables, threads,
                                  _api.as_score_mod(score_mod))
    return (o, lse) if return_lse else o
