"""sparse_attn.attention on NumPy arrays: compiled in process (the native
library), checked against a float64 NumPy attention with the same mask."""
import os

import numpy as np
import pytest

import sparse_attn
from sparse_attn import compile as C
from sparse_attn import patterns as P

try:
    C.native_library()
    NATIVE = None
except RuntimeError as e:  # not built, or a sanitizer build
    NATIVE = str(e)

pytestmark = pytest.mark.skipif(NATIVE is not None, reason=f"no compiler library: {NATIVE}")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSE_ATTN_CACHE", str(tmp_path / "cache"))


def reference(q, k, v, mask, scale):
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    g = q.shape[1] // k.shape[1]
    k, v = np.repeat(k, g, axis=1), np.repeat(v, g, axis=1)
    s = np.einsum("bhqd,bhkd->bhqk", q, k) * scale
    s = np.where(mask, s, -np.inf)
    m = s.max(-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    w = np.where(mask, np.exp(s - m), 0)
    l = w.sum(-1, keepdims=True)
    o = np.einsum("bhqk,bhkd->bhqd", w, v) / np.where(l > 0, l, 1)
    lse = np.where(l[..., 0] > 0, m[..., 0] + np.log(np.where(l[..., 0] > 0, l[..., 0], 1)),
                   -np.inf)
    return o, lse


def inputs(shape_q, shape_kv, dtype=np.float32, dv=None, seed=0):
    r = np.random.default_rng(seed)
    q = r.standard_normal(shape_q).astype(dtype)
    k = r.standard_normal(shape_kv).astype(dtype)
    v = r.standard_normal(shape_kv[:3] + ((dv or shape_kv[3]),)).astype(dtype)
    return q, k, v


def test_causal_gqa_with_lse():
    q, k, v = inputs((2, 4, 37, 16), (2, 2, 37, 16), dv=8)
    o, lse = sparse_attn.attention(q, k, v, pattern=P.causal(), return_lse=True)
    i = np.arange(37)
    ro, rl = reference(q, k, v, i[:, None] >= i[None, :], 1 / 4)
    assert o.shape == (2, 4, 37, 8) and o.dtype == np.float32
    assert np.abs(o - ro).max() < 1e-5 and np.abs(lse - rl).max() < 1e-5


def test_traced_mask_mod_and_scale():
    def banded(b, h, q_idx, kv_idx):
        return (q_idx - kv_idx <= 3) & (kv_idx - q_idx <= 1) | (kv_idx == 0)
    q, k, v = inputs((1, 2, 30, 8), (1, 2, 30, 8))
    o = sparse_attn.attention(q, k, v, pattern=P.from_mask_mod(banded), scale=0.3)
    i = np.arange(30)
    ro, _ = reference(q, k, v, banded(0, 0, i[:, None], i[None, :]), 0.3)
    assert np.abs(o - ro).max() < 1e-5


def test_documents_f16_non_contiguous():
    q, k, v = inputs((1, 2, 24, 16), (1, 2, 24, 16), dtype=np.float16)
    qt = np.ascontiguousarray(q.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)  # strided view
    assert not qt.flags["C_CONTIGUOUS"]
    ids = np.repeat(np.array([[0, 1, 2]]), 8, axis=1)
    o = sparse_attn.attention(qt, k, v, pattern=P.segments() & P.causal(), segment_ids=ids)
    i = np.arange(24)
    mask = (ids[0][:, None] == ids[0][None, :]) & (i[:, None] >= i[None, :])
    ro, _ = reference(q, k, v, mask, 1 / 4)
    assert o.dtype == np.float16 and np.abs(o.astype(np.float64) - ro).max() < 1e-2


def test_cache_reuses_the_library(tmp_path):
    q, k, v = inputs((1, 1, 8, 8), (1, 1, 8, 8))
    sparse_attn.attention(q, k, v)
    entries = os.listdir(C.cache_dir())
    sparse_attn.attention(q * 2, k, v)  # same shapes: same module, same key
    assert os.listdir(C.cache_dir()) == entries and len(entries) == 1


def test_cache_key_names_the_compiler(monkeypatch):
    # A changed compiler (another hash of its sources) never reads what an
    # earlier one put in the cache; the same compiler does.
    text = sparse_attn.api.forward_module(P.causal(), (1, 1, 8, 8), (1, 1, 8, 8),
                                          (1, 1, 8, 8), "f32")
    ids = C.compiler_id()
    assert len(ids) == 16 and ids != "unversioned"   # this checkout's sources
    first = C.compile_cpu(text)
    assert C.compile_cpu(text) == first
    monkeypatch.setattr(C, "_compiler_id", None)
    monkeypatch.setenv("SPARSE_ATTN_COMPILER_ID", "another-compiler")
    assert C.compiler_id() == "another-compiler"
    assert C.compile_cpu(text) != first


def test_same_mask_traced_twice_is_compiled_once():
    def near(b, h, q_idx, kv_idx):
        return q_idx - kv_idx <= 2
    q, k, v = inputs((1, 1, 8, 8), (1, 1, 8, 8))
    sparse_attn.attention(q, k, v, pattern=P.from_mask_mod(near))
    sparse_attn.attention(q, k, v, pattern=P.from_mask_mod(near))
    assert len(os.listdir(C.cache_dir())) == 1


def test_errors_are_clear():
    q, k, v = inputs((1, 3, 8, 8), (1, 2, 8, 8))
    with pytest.raises(ValueError, match=r"query heads \(3\) must be a multiple"):
        sparse_attn.attention(q, k, v)
    with pytest.raises(TypeError, match="share one dtype"):
        sparse_attn.attention(q[:, :2].astype(np.float64), k, v)
    with pytest.raises(ValueError, match="must be 4-D"):
        sparse_attn.attention(q[0], k, v)
    with pytest.raises(TypeError, match="must be a NumPy array"):
        sparse_attn.attention([1.0], k, v)
    q2, k2, v2 = inputs((1, 2, 8, 8), (1, 2, 8, 8))
    with pytest.raises(C.CompileError, match="needs segment ids"):
        sparse_attn.attention(q2, k2, v2, pattern=P.segments())
