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
on the current stream.

Both devices go through one pair of operators where torch has
`torch.library.custom_op` (2.4 and later): `sparse_attn::attention` and
its registered backward `sparse_attn::attention_grad`, with fake (meta)
implementations, so `torch.compile` keeps the call in its graph. Their
arguments are the call's spec (the modules' regions and attribute texts,
read from the pattern's precomputed attributes) and the tensors; the
program is found inside the operator, from the spec and the tensors'
shapes. Older torch: a `torch.autograd.Function` over the same functions.
The LSE is not differentiable.
"""
import torch

from . import api as _api
from . import compile as _compile
from . import patterns as _patterns

__all__ = ["attention", "precompile"]

_ELT = {torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16"}


def _buffer(t):
    """(address, shape) of a contiguous tensor, for api.call."""
    return t.data_ptr(), t.shape


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
    """The inputs after q, k, v: segment ids, then the tables' tensors."""
    return list(ids) + ([] if tables is None else [tables[0], tables[1]])


# ------------------------------------------------------------ programs
#
# An attention call is (spec, inputs): the spec is the shape-free text of its
# modules (api.op_spec: regions, attribute dictionary) with the number of
# segment-id inputs and the CPU thread count; the inputs are q, k, v, the
# segment ids, then the block tables' two tensors. The program that runs it
# (a CPU library, a CUDA artifact directory) is found from the spec and the
# inputs' shapes, dtype and device, inside the operator: under torch.compile
# the spec is a constant of the graph and nothing is looked up while tracing.

_DT = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32,
       "i32": torch.int32, "i64": torch.int64}
_compiled = {}   # (kind, device type, spec, shapes, dtype) -> library path / artifact dir


def _spec_key(pattern, scale, score_mod, table_block, n_seg, threads):
    """The spec of a call: (regions, attributes, segment inputs, threads).
    Reads the pattern's precomputed texts (attributes, not computation:
    constants to torch.compile's tracer)."""
    if isinstance(pattern, str):
        regions, attr = "", pattern
    else:
        regions, attr = pattern._regions, pattern._attr
    name = None
    if score_mod is not None:
        regions, name = regions + score_mod.text, score_mod.name
    return (regions, _api.attr_text(attr, scale, name, table_block), n_seg, threads)


def _module_text(kind, spec, q, k, v, extra):
    regions, attributes, n_seg, _ = spec
    seg_shapes = [tuple(t.shape) for t in extra[:n_seg]]
    tables = extra[n_seg:]
    table_shapes = (tuple(tables[0].shape), tuple(tables[1].shape)) if tables else None
    shapes = (tuple(q.shape), tuple(k.shape), tuple(v.shape), _ELT[q.dtype], seg_shapes)
    if kind == "forward":
        return _api.forward_text((regions, attributes), *shapes, True, table_shapes)
    return _api.backward_text((regions, attributes), *shapes, table_shapes)


def _program(kind, spec, q, k, v, extra):
    """The compiled `kind` ("forward": O and LSE, "backward": dQ, dK, dV)
    of the call `spec` on these inputs: compiled (or found in the disk
    cache) on first use, then a dict lookup."""
    key = (kind, q.device.type, spec, q.shape, k.shape, v.shape, q.dtype,
           tuple(t.shape for t in extra))
    found = _compiled.get(key)
    if found is None:
        text = _module_text(kind, spec, q, k, v, extra)
        if q.device.type == "cuda":
            found = _compile.compile_cuda(text)
        else:
            found = _compile.compile_cpu(text, threads=spec[3])
        _compiled[key] = found
    return found


_launchers = {}


class _Launcher:
    """A GPU artifact's program with its launch plan, made once: which
    buffer each input is (its dtype and shape checked on every call unless
    the caller checked them), and the buffers to allocate (results first,
    then temporaries)."""

    def __init__(self, directory):
        from . import cuda as _cuda
        self.program = _cuda.default_runtime().load_program(directory)
        self.inputs, self.allocated = [], []
        for name, (dtn, shape) in self.program.buffers.items():
            if name.startswith("input:"):
                self.inputs.append((name, int(name[6:]), _DT[dtn], tuple(shape)))
            else:
                self.allocated.append((name, _DT[dtn], tuple(shape)))
        # Results first, in their order ("output:0", "output:1", ...).
        self.allocated.sort(key=lambda a: (not a[0].startswith("output:"),
                                           int(a[0].split(":")[1])))
        self.results = sum(a[0].startswith("output:") for a in self.allocated)
        # The program's buffers (its `names` order) as positions in the
        # list [allocated..., inputs...] of a call.
        n = len(self.allocated)
        where = {a[0]: j for j, a in enumerate(self.allocated)}
        where.update((name, n + i) for name, i, _, _ in self.inputs)
        self.slots = [where[name] for name in self.program.names]

    def __call__(self, inputs, checked=False):
        """Runs the program on `inputs` (its function's arguments, in order,
        contiguous; `checked`: their shapes and dtypes known to be the
        artifact's) on their device's current stream; returns its results
        (fresh tensors)."""
        dev = inputs[0].device
        if not checked:
            for name, i, dtype, shape in self.inputs:
                t = inputs[i]
                if t.shape != shape or t.dtype != dtype:
                    raise ValueError("sparse_attn: argument %s is %s %s, the artifact takes "
                                     "%s %s" % (name, tuple(t.shape), t.dtype, shape, dtype))
        made = [torch.empty(shape, dtype=dtype, device=dev)
                for _, dtype, shape in self.allocated]
        every = [t.data_ptr() for t in made] + [t.data_ptr() for t in inputs]
        pointers = [every[i] for i in self.slots]
        index = dev.index
        if index == _current_device():
            self.program.launch_ordered(pointers, _raw_stream(index))
        else:
            with torch.cuda.device(dev):
                self.program.launch_ordered(pointers, _raw_stream(index))
        return made[:self.results]


def _raw_stream(index):
    """The current stream of device `index` as the address the runtime
    takes: torch's raw-stream query where it has one (what Triton's
    launcher calls: no Stream object per call), else the public API."""
    return torch.cuda.current_stream(index).cuda_stream


def _current_device():
    return torch.cuda.current_device()


if hasattr(torch._C, "_cuda_getCurrentRawStream"):
    _raw_stream = torch._C._cuda_getCurrentRawStream  # noqa: F811
if hasattr(torch._C, "_cuda_getDevice"):
    def _current_device():  # noqa: F811
        """The current device without torch.cuda's lazy-initialisation
        check (a tensor already lives on the device: CUDA is initialised)."""
        return torch._C._cuda_getDevice()


def _launcher(directory):
    launcher = _launchers.get(directory)
    if launcher is None:
        launcher = _launchers[directory] = _Launcher(directory)
    return launcher


def _launch(directory, inputs):
    return _launcher(directory)(inputs)


def _forward(spec, inputs):
    """(O, LSE) of the call on `inputs` = [q, k, v, segment ids..., tables...]."""
    q, k, v = (t.contiguous() for t in inputs[:3])
    extra = [t.contiguous() for t in inputs[3:]]
    path = _program("forward", spec, q, k, v, extra)
    if q.device.type == "cuda":
        o, lse = _launch(path, [q, k, v] + extra)
        return o, lse
    b, hq, sq, _ = q.shape
    o = torch.empty((b, hq, sq, v.shape[3]), dtype=q.dtype)
    lse = torch.empty((b, hq, sq), dtype=torch.float32)
    _api.call(path, "attention", [_buffer(t) for t in [q, k, v] + extra + [o, lse]])
    return o, lse


def _backward(spec, inputs):
    """(dQ, dK, dV) of the call on `inputs` = [q, k, v, O, LSE, dO, segment
    ids..., tables...]."""
    q, k, v, o, lse = (t.contiguous() for t in inputs[:5])
    do = inputs[5].to(q.dtype).contiguous()
    extra = [t.contiguous() for t in inputs[6:]]
    path = _program("backward", spec, q, k, v, extra)
    if q.device.type == "cuda":
        dq, dk, dv = _launch(path, [q, k, v, o, lse, do] + extra)
        return dq, dk, dv
    dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
    _api.call(path, "attention_grad",
              [_buffer(t) for t in [q, k, v, o, lse, do] + extra + [dq, dk, dv]])
    return dq, dk, dv


def _grad_inputs(saved, do):
    """The backward's inputs from the forward's saved inputs, O and LSE."""
    inputs, o, lse = saved[:-2], saved[-2], saved[-1]
    return list(inputs[:3]) + [o, lse, do] + list(inputs[3:])


class _Attention(torch.autograd.Function):
    """The eager call: cheaper per call than the custom operator's
    dispatch (bench/gpu/torch_train.py check_overhead), same functions."""

    @staticmethod
    def forward(ctx, spec, plan, *inputs):
        o, lse = plan.forward(*inputs) if plan is not None else _forward(spec, inputs)
        ctx.save_for_backward(*inputs, o, lse)
        ctx.spec = spec
        ctx.mark_non_differentiable(lse)
        return o, lse

    @staticmethod
    def backward(ctx, do, dlse):
        saved = ctx.saved_tensors
        dq, dk, dv = _backward(ctx.spec, _grad_inputs(saved, do))
        return (None, None, dq, dk, dv) + (None,) * (len(saved) - 5)


if hasattr(torch.library, "custom_op"):
    # torch >= 2.4: two operators with fake (meta) implementations and a
    # registered backward, kept whole in torch.compile's graph.
    @torch.library.custom_op(
        "sparse_attn::attention", mutates_args=(),
        schema="(str regions, str attributes, int segments, int threads, Tensor[] inputs)"
               " -> (Tensor, Tensor)")
    def _attention_op(regions, attributes, segments, threads, inputs):
        return _forward((regions, attributes, segments, threads), inputs)

    @_attention_op.register_fake
    def _(regions, attributes, segments, threads, inputs):
        q, v = inputs[0], inputs[2]
        b, hq, sq, _ = q.shape
        return (q.new_empty((b, hq, sq, v.shape[3])),
                q.new_empty((b, hq, sq), dtype=torch.float32))

    @torch.library.custom_op(
        "sparse_attn::attention_grad", mutates_args=(),
        schema="(str regions, str attributes, int segments, int threads, Tensor[] inputs)"
               " -> (Tensor, Tensor, Tensor)")
    def _attention_grad_op(regions, attributes, segments, threads, inputs):
        return _backward((regions, attributes, segments, threads), inputs)

    @_attention_grad_op.register_fake
    def _(regions, attributes, segments, threads, inputs):
        return tuple(torch.empty_like(t, memory_format=torch.contiguous_format)
                     for t in inputs[:3])

    def _setup_context(ctx, inputs, output):
        regions, attributes, segments, threads, tensors = inputs
        ctx.save_for_backward(*tensors, *output)
        ctx.spec, ctx.n = (regions, attributes, segments, threads), len(tensors)

    def _op_backward(ctx, do, dlse):
        dq, dk, dv = _attention_grad_op(*ctx.spec, _grad_inputs(ctx.saved_tensors, do))
        return None, None, None, None, [dq, dk, dv] + [None] * (ctx.n - 3)

    _attention_op.register_autograd(_op_backward, setup_context=_setup_context)

    def _apply(spec, inputs):
        if torch.compiler.is_compiling():
            return _attention_op(*spec, inputs)
        return _Attention.apply(spec, None, *inputs)
else:
    def _apply(spec, inputs):
        return _Attention.apply(spec, None, *inputs)


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
    table_shapes, block = (None, None) if table_spec is None else (
        (tuple(table_spec[0]), tuple(table_spec[1])), table_spec[2])
    spec = _spec_key(pattern, scale, score_mod, block, len(seg_shapes), 0)
    texts = (spec[:2], tuple(q_shape), tuple(k_shape), tuple(v_shape), elt, seg_shapes)
    return (_compile.compile_cuda(_api.forward_text(*texts, True, table_shapes)),
            _compile.compile_cuda(_api.backward_text(*texts, table_shapes)))


def _compiling():
    is_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", None)
    return is_compiling is not None and is_compiling()


def _trace_score_mod(score_mod):
    """A FlexAttention `score_mod` function traced into a ScoreMod, on every
    call (the function may read globals that change between calls). Under
    torch.compile it is not traced by Dynamo (torch.compiler.disable);
    `patterns.from_score_mod(fn)`, traced once by the caller, is the form
    guaranteed to keep the call in one graph (fullgraph=True)."""
    return _api.as_score_mod(score_mod)


if hasattr(torch, "compiler") and hasattr(torch.compiler, "disable"):
    _trace_score_mod = torch.compiler.disable(_trace_score_mod)


class _Plan:
    """An eager call's forward for one signature (`_signature`: the
    pattern's texts, the options, the inputs' shapes, dtypes and devices),
    made once by the checked path: its spec and its program. A repeated
    call costs the signature's dictionary lookup, a contiguity check, the
    results' allocation and the launch (issue #17's per-call budget;
    bench/gpu/torch_train.py check_overhead)."""

    def __init__(self, spec, q, k, v):
        self.spec = spec
        self.path = _program("forward", spec, q, k, v, [])
        self.launcher = _launcher(self.path) if q.device.type == "cuda" else None
        b, hq, sq, _ = q.shape
        self.o_shape, self.lse_shape = (b, hq, sq, v.shape[3]), (b, hq, sq)

    def forward(self, q, k, v):
        if not (q.is_contiguous() and k.is_contiguous() and v.is_contiguous()):
            q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
        if self.launcher is not None:
            o, lse = self.launcher([q, k, v], checked=True)
            return o, lse
        o = torch.empty(self.o_shape, dtype=q.dtype)
        lse = torch.empty(self.lse_shape, dtype=torch.float32)
        _api.call(self.path, "attention", [_buffer(t) for t in (q, k, v, o, lse)])
        return o, lse


_plans = {}   # _signature -> _Plan


def _signature(q, k, v, pattern, scale, score_mod, threads):
    """What determines an eager call without segment ids or tables, read
    from attributes only (None: not such a call)."""
    if not (isinstance(q, torch.Tensor) and isinstance(k, torch.Tensor) and
            isinstance(v, torch.Tensor)):
        return None
    if isinstance(pattern, _patterns.Pattern):
        texts = (pattern._regions, pattern._attr)
    elif pattern is None or isinstance(pattern, str):
        texts = pattern
    else:
        return None
    if score_mod is not None and not isinstance(score_mod, _patterns.ScoreMod):
        return None
    if not (scale is None or type(scale) in (float, int)) or type(threads) is not int:
        return None   # e.g. a tensor scale: its hash is its identity
    return (texts, scale, None if score_mod is None else score_mod.text, threads, q.shape,
            k.shape, v.shape, q.dtype, k.dtype, v.dtype, q.device, k.device, v.device)


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
    kernel (its derivative generated by the compiler for the backward), or
    a `patterns.from_score_mod(...)` traced once (under torch.compile, the
    form that keeps the call in one graph: see docs/python.md)."""
    if score_mod is not None and not isinstance(score_mod, _patterns.ScoreMod):
        score_mod = _trace_score_mod(score_mod)
    if segment_ids is None and block_tables is None and not _compiling():
        # The eager call's fast path: everything but the launch found once
        # per signature (the checks included: a new signature takes the
        # checked path below first).
        key = _signature(q, k, v, pattern, scale, score_mod, threads)
        plan = _plans.get(key) if key is not None else None
        if plan is not None:
            if torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or
                                            v.requires_grad):
                o, lse = _Attention.apply(plan.spec, plan, q, k, v)
            else:
                o, lse = plan.forward(q, k, v)
            return (o, lse) if return_lse else o
    else:
        key = None
    _check(q, k, v)
    ids = _segments(segment_ids)
    if pattern is None:
        pattern = _patterns.dense()
    if not isinstance(pattern, (_patterns.Pattern, str)):
        raise TypeError("sparse_attn.torch.attention: pattern must be a "
                        "sparse_attn.patterns.Pattern, an attribute string or None, got "
                        f"{type(pattern).__name__}")
    tables, block = None, None
    if block_tables is not None:
        num, idx, block = block_tables
        if not all(isinstance(t, torch.Tensor) and not t.is_floating_point()
                   for t in (num, idx)) or num.dim() != 3 or idx.dim() != 4:
            raise TypeError("sparse_attn.torch.attention: block_tables are (kv_num_blocks "
                            "[B', H', Mq], kv_indices [B', H', Mq, N], (BQ, BK)) with "
                            "integer tensors")
        tables = (num.to(torch.int32), idx.to(torch.int32), (int(block[0]), int(block[1])))
        block = tables[2]
    extra = _extra_inputs(ids, tables)
    spec = _spec_key(pattern, scale, score_mod, block, len(ids), int(threads))
    if key is not None:
        # Checked: later calls of this signature take the fast path.
        _plans[key] = _Plan(spec, q, k, v)
    inputs = [q, k, v] + [t.to(q.device) for t in extra]
    if not torch.is_grad_enabled() or not (q.requires_grad or k.requires_grad or
                                           v.requires_grad):
        # Nothing to differentiate: the forward alone, without the autograd
        # node (the custom operator under torch.compile).
        o, lse = _forward(spec, inputs) if not _compiling() else _apply(spec, inputs)
    else:
        o, lse = _apply(spec, inputs)
    return (o, lse) if return_lse else o
