"""sparse_attn.torch: forward and gradients against PyTorch on the same
masks (float64 references), and torch.autograd.gradcheck."""
import os

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (python3-torch)")

from sparse_attn import compile as C  # noqa: E402
from sparse_attn import patterns as P  # noqa: E402

try:
    C.native_library()
    NATIVE = None
except RuntimeError as e:
    NATIVE = str(e)
pytestmark = pytest.mark.skipif(NATIVE is not None, reason=f"no compiler library: {NATIVE}")

from sparse_attn.torch import attention  # noqa: E402


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSE_ATTN_CACHE", str(tmp_path / "cache"))


def reference(q, k, v, mask, scale, score_mod=None):
    """Masked softmax attention in float64 by torch (autograd through it);
    `score_mod` applied as FlexAttention applies it (broadcast indices)."""
    g = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(g, 1), v.repeat_interleave(g, 1)
    s = torch.einsum("bhqd,bhkd->bhqk", q, k) * scale
    if score_mod is not None:
        b = torch.arange(s.shape[0])[:, None, None, None]
        h = torch.arange(s.shape[1])[None, :, None, None]
        i = torch.arange(s.shape[2])[None, None, :, None]
        j = torch.arange(s.shape[3])[None, None, None, :]
        s = score_mod(s, b, h, i, j)
    s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, -1).nan_to_num(0.0)
    return torch.einsum("bhqk,bhkd->bhqd", w, v)


def window_mod(b, h, q_idx, kv_idx):
    return (q_idx >= kv_idx) & (q_idx - kv_idx <= 6)


CASES = {
    "causal_gqa": (P.causal(), lambda i, j: i >= j, (2, 4, 33, 16), (2, 2, 33, 16)),
    "traced_window": (P.from_mask_mod(window_mod), lambda i, j: window_mod(0, 0, i, j),
                      (1, 2, 40, 8), (1, 2, 40, 8)),
    "dense_rect": (P.dense(), lambda i, j: torch.ones_like(i + j, dtype=torch.bool),
                   (1, 2, 20, 16), (1, 1, 28, 16)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_forward_and_gradients_match_torch(name):
    pattern, mask_fn, qs, ks = CASES[name]
    torch.manual_seed(0)
    q, k, v = torch.randn(qs), torch.randn(ks), torch.randn(ks)
    do = torch.randn(qs)
    leaves = [t.clone().requires_grad_() for t in (q, k, v)]
    o = attention(*leaves, pattern=pattern)
    o.backward(do)
    ref_leaves = [t.double().requires_grad_() for t in (q, k, v)]
    i = torch.arange(qs[2])[:, None]
    j = torch.arange(ks[2])[None, :]
    ro = reference(*ref_leaves, mask_fn(i, j), qs[3] ** -0.5)
    ro.backward(do.double())
    assert (o.double() - ro).abs().max() < 1e-5
    for got, want in zip(leaves, ref_leaves):
        err = (got.grad.double() - want.grad).abs().max() / want.grad.abs().max()
        assert err < 1e-5, err


@pytest.mark.filterwarnings("ignore:Input #:UserWarning")
def test_gradcheck():
    # Finite differences in float32 (the kernels' precision): loose
    # tolerances, a small problem; the check above is the precise one.
    torch.manual_seed(1)
    q, k, v = (torch.randn(1, 2, 12, 8, requires_grad=True) for _ in range(3))
    fn = lambda q, k, v: attention(q, k, v, pattern=P.causal())  # noqa: E731
    assert torch.autograd.gradcheck(fn, (q, k, v), eps=1e-2, atol=1e-2, rtol=1e-2)


def test_bfloat16_and_non_contiguous():
    torch.manual_seed(2)
    q = torch.randn(1, 16, 2, 16).transpose(1, 2)  # [1, 2, 16, 16], strided
    k, v = torch.randn(1, 2, 16, 16), torch.randn(1, 2, 16, 16)
    o = attention(q.bfloat16().requires_grad_(), k.bfloat16(), v.bfloat16(),
                  pattern=P.causal())
    i = torch.arange(16)
    ro = reference(q.double(), k.double(), v.double(), i[:, None] >= i[None, :], 0.25)
    assert o.dtype == torch.bfloat16 and (o.double() - ro).abs().max() < 3e-2


def test_repeated_calls_take_the_fast_path(monkeypatch):
    # The first call of a signature is checked and records its plan; later
    # calls (a fresh pattern object of the same text, a non-contiguous
    # input, autograd recording) reuse it and give the same numbers.
    from sparse_attn import torch as sat
    torch.manual_seed(3)
    q, k, v = torch.randn(1, 2, 24, 16), torch.randn(1, 2, 24, 16), torch.randn(1, 2, 24, 16)
    i = torch.arange(24)
    ro = reference(q.double(), k.double(), v.double(), i[:, None] >= i[None, :], 0.25)
    first = attention(q, k, v, pattern=P.causal())
    plans = len(sat._plans)
    real_check = sat._check

    def checked_again(*args):
        raise AssertionError("a known signature was checked again")
    # The calls below must not reach the checks.
    monkeypatch.setattr(sat, "_check", checked_again)
    strided = torch.randn(1, 24, 2, 16).transpose(1, 2)
    strided.copy_(q)
    assert not strided.is_contiguous()
    again = attention(strided, k, v, pattern=P.causal())
    assert len(sat._plans) == plans
    assert torch.equal(first, again) and (first.double() - ro).abs().max() < 1e-5
    leaves = [t.clone().requires_grad_() for t in (q, k, v)]
    o = attention(*leaves, pattern=P.causal())
    o.sum().backward()
    ref_leaves = [t.double().requires_grad_() for t in (q, k, v)]
    reference(*ref_leaves, i[:, None] >= i[None, :], 0.25).sum().backward()
    assert len(sat._plans) == plans and torch.equal(o.detach(), first)
    for got, want in zip(leaves, ref_leaves):
        assert (got.grad.double() - want.grad).abs().max() / want.grad.abs().max() < 1e-5
    monkeypatch.setattr(sat, "_check", real_check)
    # Not signatures (a tensor scale: its hash is its identity): no plan.
    attention(q, k, v, pattern=P.causal(), scale=torch.tensor(0.25))
    assert len(sat._plans) == plans


GAIN = 1.0


def test_score_mod_function_reads_globals_on_every_call():
    global GAIN

    def scaled(score, b, h, q_idx, kv_idx):
        return score * GAIN
    torch.manual_seed(4)
    q, k, v = (torch.randn(1, 1, 16, 8) for _ in range(3))
    try:
        one = attention(q, k, v, pattern=P.causal(), score_mod=scaled)
        GAIN = 3.0
        three = attention(q, k, v, pattern=P.causal(), score_mod=scaled)
        want = attention(q, k, v, pattern=P.causal(), scale=3.0 * 8 ** -0.5)
    finally:
        GAIN = 1.0
    assert (three - want).abs().max() < 1e-5 and (three - one).abs().max() > 1e-2


def test_errors():
    q = torch.randn(1, 3, 8, 8)
    with pytest.raises(ValueError, match="multiple of key/value heads"):
        attention(q, torch.randn(1, 2, 8, 8), torch.randn(1, 2, 8, 8))
    with pytest.raises(TypeError, match="share one dtype"):
        attention(q.double(), q.double(), q.double())
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        attention(q.numpy(), q, q)
    with pytest.raises(TypeError, match="pattern must be a sparse_attn.patterns.Pattern"):
        attention(q, q, q, pattern=42)


def test_block_tables_gradients():
    # Runtime tables (per head) restricting a causal pattern, gradients too.
    torch.manual_seed(3)
    q, k, v = (torch.randn(1, 2, 32, 8) for _ in range(3))
    num = torch.tensor([[[1, 2, 1, 2], [2, 1, 2, 2]]], dtype=torch.int32)
    idx = torch.tensor([[[[0, 0], [0, 1], [2, 0], [1, 3]],
                         [[0, 1], [1, 0], [0, 2], [2, 3]]]], dtype=torch.int32)
    leaves = [t.clone().requires_grad_() for t in (q, k, v)]
    o = attention(*leaves, pattern=P.causal(), block_tables=(num, idx, (8, 8)))
    o.sum().backward()
    listed = torch.zeros(2, 4, 4, dtype=torch.bool)
    for h in range(2):
        for r in range(4):
            for e in range(int(num[0, h, r])):
                listed[h, r, idx[0, h, r, e]] = True
    mask = listed.repeat_interleave(8, 1).repeat_interleave(8, 2)
    i = torch.arange(32)
    mask = mask & (i[:, None] >= i[None, :])
    ref_leaves = [t.double().requires_grad_() for t in (q, k, v)]
    ro = reference(*ref_leaves, mask[None], 8 ** -0.5)
    ro.sum().backward()
    assert (o.double() - ro).abs().max() < 1e-5
    for got, want in zip(leaves, ref_leaves):
        assert (got.grad.double() - want.grad).abs().max() < 1e-5


def test_deepspeed_sparse_self_attention():
    from sparse_attn import deepspeed as ds
    cfg = ds.BigBirdSparsityConfig(num_heads=2, block=8, different_layout_per_head=True,
                                   num_random_blocks=1, seed=4)
    module = ds.SparseSelfAttention(cfg, max_seq_length=64)
    torch.manual_seed(5)
    q, k, v = (torch.randn(1, 2, 48, 16, requires_grad=True) for _ in range(3))
    o = module(q, k, v)
    o.sum().backward()
    layout = torch.from_numpy(cfg.make_layout(48)).bool()
    mask = layout.repeat_interleave(8, 1).repeat_interleave(8, 2)[None]
    ref = reference(q.detach().double(), k.detach().double(), v.detach().double(), mask, 0.25)
    assert (o.double() - ref).abs().max() < 1e-5 and q.grad is not None
    with pytest.raises(NotImplementedError, match="key_padding_mask is not supported"):
        module(q, k, v, key_padding_mask=torch.ones(1, 48))
    with pytest.raises(ValueError, match="exceeds max_seq_length 64"):
        module(*(torch.randn(1, 2, 72, 16) for _ in range(3)))


def test_pattern_block_tables_run_as_the_pattern():
    # A pattern's BlockMask-style tables restrict a dense attention to the
    # pattern's blocks: with the pattern itself inside them the result is
    # the pattern's attention.
    torch.manual_seed(6)
    q, k, v = (torch.randn(1, 2, 40, 8) for _ in range(3))
    p = P.window(9, 0)
    n, x, fn, fx = (torch.from_numpy(t) for t in p.block_tables(40, 40, (8, 8)))
    listed = torch.cat([x, fx], -1)
    counts = n + fn
    # One list: partial blocks then full ones, compacted per row.
    merged = torch.zeros_like(listed)
    for i in range(listed.shape[2]):
        blocks = list(x[0, 0, i, :n[0, 0, i]]) + list(fx[0, 0, i, :fn[0, 0, i]])
        merged[0, 0, i, :len(blocks)] = torch.tensor(blocks, dtype=torch.int32)
    a = attention(q, k, v, pattern=p, block_tables=(counts, merged, (8, 8)))
    b = attention(q, k, v, pattern=p)
    assert (a - b).abs().max() < 1e-6


# FlexAttention score_mods, ported unchanged: traced into the kernels, the
# backward's derivative generated by the compiler.
def softcap(score, b, h, q_idx, kv_idx):
    return 5.0 * torch.tanh(score / 5.0)


def alibi(score, b, h, q_idx, kv_idx):
    return score - (q_idx - kv_idx).abs() * (0.25 * (h + 1))


def relative_sigmoid(score, b, h, q_idx, kv_idx):
    return torch.where(q_idx >= kv_idx, score + torch.sigmoid(score) * 0.5,
                       score * 0.5 - 1.0)


@pytest.mark.parametrize("mod", [softcap, alibi, relative_sigmoid],
                         ids=lambda f: f.__name__)
def test_score_mod_forward_and_gradients_match_torch(mod):
    torch.manual_seed(7)
    qs, ks = (1, 4, 24, 8), (1, 2, 24, 8)
    q, k, v = torch.randn(qs), torch.randn(ks), torch.randn(ks)
    do = torch.randn(qs)
    leaves = [t.clone().requires_grad_() for t in (q, k, v)]
    o = attention(*leaves, pattern=P.causal(), score_mod=mod)
    o.backward(do)
    ref_leaves = [t.double().requires_grad_() for t in (q, k, v)]
    i = torch.arange(24)
    ro = reference(*ref_leaves, i[:, None] >= i[None, :], 8 ** -0.5, score_mod=mod)
    ro.backward(do.double())
    assert (o.double() - ro).abs().max() < 1e-5
    for got, want in zip(leaves, ref_leaves):
        err = (got.grad.double() - want.grad).abs().max() / want.grad.abs().max()
        assert err < 1e-5, err


@pytest.mark.filterwarnings("ignore:Input #:UserWarning")
def test_gradcheck_with_score_mod():
    torch.manual_seed(8)
    q, k, v = (torch.randn(1, 2, 10, 8, requires_grad=True) for _ in range(3))
    fn = lambda q, k, v: attention(q, k, v, pattern=P.window(4, 0),  # noqa: E731
                                   score_mod=softcap)
    assert torch.autograd.gradcheck(fn, (q, k, v), eps=1e-2, atol=1e-2, rtol=1e-2)


def test_untraced_torch_function_is_named():
    with pytest.raises(TypeError, match="torch.erf is not traced"):
        attention(*(torch.randn(1, 1, 8, 8) for _ in range(3)),
                  score_mod=lambda s, b, h, q, k: torch.erf(s))


def test_gpu_launch_plan_binds_every_buffer(monkeypatch, tmp_path):
    # The CUDA launcher's plan without a GPU: a program whose manifest
    # order mixes inputs, results and a temporary must receive, per
    # buffer name, the pointer of that input or of that fresh allocation,
    # and return the results in their order.
    from sparse_attn import cuda as sa_cuda
    from sparse_attn import torch as sat

    class FakeProgram:
        buffers = {"temp:0": ("f32", (3,)), "input:1": ("f32", (2,)),
                   "output:1": ("f32", (5,)), "input:0": ("f32", (4,)),
                   "output:0": ("bf16", (6,))}
        names = list(buffers)
        launched = []

        def launch_ordered(self, pointers, stream):
            self.launched.append((pointers, stream))

    class FakeRuntime:
        def load_program(self, directory):
            return FakeProgram()

    monkeypatch.setattr(sa_cuda, "default_runtime", FakeRuntime)
    monkeypatch.setattr(sat, "_current_device", lambda: None)
    monkeypatch.setattr(sat, "_raw_stream", lambda index: 77)
    launcher = sat._Launcher(str(tmp_path))
    a, b = torch.zeros(4), torch.zeros(2)
    results = launcher([a, b])
    assert [tuple(t.shape) for t in results] == [(6,), (5,)]
    assert results[0].dtype == torch.bfloat16
    (pointers, stream), = FakeProgram.launched
    named = dict(zip(FakeProgram.names, pointers))
    assert stream == 77 and named["input:0"] == a.data_ptr()
    assert named["input:1"] == b.data_ptr()
    assert named["output:0"] == results[0].data_ptr()
    assert named["output:1"] == results[1].data_ptr()
    assert named["temp:0"] not in (a.data_ptr(), b.data_ptr(), results[0].data_ptr(),
                                   results[1].data_ptr())
    with pytest.raises(ValueError, match="argument input:1 is"):
        launcher([a, torch.zeros(3)])
