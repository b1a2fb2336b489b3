"""sparse_attn.patterns: pattern objects print their attributes, and a
FlexAttention mask_mod traced into a region means what the function means
on tensors (NumPy arrays standing in for torch's), through the compiler."""
import os
import subprocess
import tempfile

import numpy as np
import pytest

from sparse_attn import patterns as P


def test_attributes_and_composition():
    assert str(P.causal()) == "#sparse_attn.causal"
    assert str(P.window(3, 0, align="bottom_right")) == \
        "#sparse_attn.window<before = 3, after = 0, align = bottom_right>"
    p = P.window(8, 8) | P.global_tokens([0, 1]) | P.strided(4)
    assert str(p) == ("#sparse_attn.union<[#sparse_attn.window<before = 8, after = 8>, "
                      "#sparse_attn.global<[0, 1]>, #sparse_attn.strided<stride = 4>]>")
    q = P.segments() & P.causal()
    assert str(q) == "#sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>"
    m = (P.causal() & P.window(2, 0)).mask(5, 5)
    assert m.tolist() == [[k <= q and q - k <= 2 for k in range(5)] for q in range(5)]
    assert P.dense().density(4, 4) == 1.0


# FlexAttention-style mask_mods, written as a Flex user writes them.
def causal(b, h, q_idx, kv_idx):
    return q_idx >= kv_idx


def sliding(b, h, q_idx, kv_idx):
    return (q_idx >= kv_idx) & (q_idx - kv_idx <= 5)


def prefix_lm(b, h, q_idx, kv_idx):
    return (kv_idx <= 7) | (q_idx >= kv_idx)


def dilated(b, h, q_idx, kv_idx):
    return ((q_idx - kv_idx) % 3 == 0) & ~(kv_idx > q_idx)


def chunks(b, h, q_idx, kv_idx):
    return (q_idx // 8 == kv_idx // 8) ^ (kv_idx == 0)


def per_head(b, h, q_idx, kv_idx):
    return abs(q_idx - kv_idx) <= h * 2 + 1


MASKS = [causal, sliding, prefix_lm, dilated, chunks, per_head]


def numpy_mask(fn, b, h, sq, sk):
    q = np.arange(sq)[:, None]
    k = np.arange(sk)[None, :]
    return np.broadcast_to(np.asarray(fn(b, h, q, k)), (sq, sk))


@pytest.mark.parametrize("fn", MASKS, ids=lambda f: f.__name__)
def test_traced_mask_means_the_function(fn):
    p = P.from_mask_mod(fn)
    region = p.symbols()[0]
    assert region.startswith("sparse_attn.mask @%s_" % fn.__name__)
    assert P.from_mask_mod(fn).symbols() == [region]  # deterministic names
    if fn is not per_head:
        assert (p.mask(24, 30) == numpy_mask(fn, 0, 0, 24, 30)).all()


def test_untraceable_constructs_are_named():
    with pytest.raises(TypeError, match="Python control flow"):
        P.from_mask_mod(lambda b, h, q, k: q >= k and k >= 0)
    with pytest.raises(TypeError, match="Python control flow"):
        P.from_mask_mod(lambda b, h, q, k: min(q, k) >= 0)
    with pytest.raises(TypeError, match="cannot index"):
        ids = [0, 0, 1, 1]
        P.from_mask_mod(lambda b, h, q, k: ids[q] == ids[k])
    with pytest.raises(TypeError, match="must return a boolean"):
        P.from_mask_mod(lambda b, h, q, k: q - k)
    with pytest.raises(TypeError, match="cannot trace a value of type float"):
        P.from_mask_mod(lambda b, h, q, k: q * 0.5 >= k)


def test_traced_score_mod_regions():
    import math

    def softcap(score, b, h, q_idx, kv_idx):
        return 30.0 * P.tanh(score / 30.0)
    m = P.from_score_mod(softcap)
    assert m.text.startswith("sparse_attn.score_mod @softcap_")
    assert "math.tanh" in m.text and "sparse_attn.yield %v" in m.text
    assert P.from_score_mod(softcap).text == m.text  # deterministic names
    # Positions are promoted to float as torch promotes them; a constant
    # result is an f32 constant.
    rel = P.from_score_mod(lambda s, b, h, q, k: s + (q - k) / 4)
    assert "arith.sitofp" in rel.text and "arith.divf" in rel.text
    const = P.from_score_mod(lambda s, b, h, q, k: 0)
    assert "arith.constant 0.000000000e+00 : f32" in const.text
    inf = P.from_score_mod(lambda s, b, h, q, k: P.where(q >= k, s, -math.inf))
    assert "0xFF800000" in inf.text and "arith.select" in inf.text


def test_untraceable_score_mod_constructs_are_named():
    import math
    with pytest.raises(TypeError, match="Python's math module"):
        P.from_score_mod(lambda s, b, h, q, k: math.tanh(s))
    with pytest.raises(TypeError, match="Python control flow"):
        P.from_score_mod(lambda s, b, h, q, k: s if q >= k else -s)
    with pytest.raises(TypeError, match="cannot index"):
        slopes = [1.0, 0.5]
        P.from_score_mod(lambda s, b, h, q, k: s * slopes[h])
    with pytest.raises(TypeError, match="must return a number"):
        P.from_score_mod(lambda s, b, h, q, k: s > 0)
    # Masks stay integer arithmetic.
    with pytest.raises(TypeError, match="'/' is float division"):
        P.from_mask_mod(lambda b, h, q, k: q / 2 >= k)


def attention64(q, k, v, mask, scale):
    s = np.einsum("bhqd,bhkd->bhqk", q, k) * scale
    s = np.where(mask, s, -np.inf)
    m = s.max(-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    w = np.where(mask, np.exp(s - m), 0)
    l = w.sum(-1, keepdims=True)
    o = np.einsum("bhqk,bhkd->bhqd", w, v)
    return np.where(l > 0, o / np.where(l > 0, l, 1), 0)


@pytest.mark.skipif(not os.environ.get("SPARSE_ATTN_RUN"),
                    reason="SPARSE_ATTN_RUN (the sparse-attn-run tool) not set")
@pytest.mark.parametrize("fn", MASKS, ids=lambda f: f.__name__)
def test_ported_mask_mod_runs_as_flex_would(fn):
    # The compiled attention with the traced region equals attention with
    # the function's mask evaluated on arrays (float64), and passes the
    # tool's own check.
    B, H, S, D = 1, 3, 40, 8
    p = P.from_mask_mod(fn)
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((B, H, S, D)).astype(np.float32) for _ in range(3))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.mlir")
        with open(path, "w") as f:
            f.write(p.to_mlir(B, H, S, D))
        args = []
        for n, a in (("q", q), ("k", k), ("v", v)):
            np.save(os.path.join(tmp, n + ".npy"), a)
            args += ["--input", os.path.join(tmp, n + ".npy")]
        out = os.path.join(tmp, "o.npy")
        r = subprocess.run([os.environ["SPARSE_ATTN_RUN"], path, "--check", "--output", out]
                           + args, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        o = np.load(out)
    mask = np.stack([numpy_mask(fn, 0, h, S, S) for h in range(H)])[None]
    want = attention64(q.astype(np.float64), k.astype(np.float64), v.astype(np.float64),
                       mask, 1 / np.sqrt(D))
    assert np.abs(o - want).max() < 1e-5


def test_block_tables():
    # Causal, 10 x 10 positions in 4 x 4 blocks: query block 1 (rows 4-7)
    # sees block 0 fully and block 1 partly; block 2 (rows 8, 9) sees blocks
    # 0, 1 fully and block 2 partly.
    kv_num, kv_idx, full_num, full_idx = P.causal().block_tables(10, 10, (4, 4))
    assert kv_num.tolist() == [[[1, 1, 1]]] and full_num.tolist() == [[[0, 1, 2]]]
    assert kv_idx[0, 0, :, 0].tolist() == [0, 1, 2]
    assert full_idx[0, 0, 2, :2].tolist() == [0, 1]
    # A window leaves blocks out entirely.
    n, x, fn, fx = P.window(1, 0).block_tables(16, 16, (4, 4))
    assert (n + fn).max() == 2 and x[0, 0, 3, :2].tolist() == [2, 3]
