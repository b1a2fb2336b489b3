"""The GPU path's compile side (runs without a GPU): sparse_attn.torch.precompile
writes the forward and backward artifacts into the cache under keys a GPU
machine without the compiler finds again; a missing compiler or a refused
module is a CompileError that says what to do."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
torch = pytest.importorskip("torch")

from sparse_attn import compile as C  # noqa: E402
from sparse_attn import patterns as P  # noqa: E402
from sparse_attn.torch import precompile  # noqa: E402

Q, KV = (1, 4, 128, 64), (1, 2, 128, 64)


def manifest(d):
    with open(os.path.join(d, "manifest.txt")) as f:
        return f.read()


def test_precompile_fills_the_cache_and_finds_it_again(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSE_ATTN_CACHE", str(tmp_path))
    fwd, bwd = precompile(Q, KV, KV, torch.bfloat16, P.causal(),
                          score_mod=lambda s, b, h, q, k: 2.0 * torch.tanh(s / 2.0))
    assert os.path.dirname(fwd) == os.path.dirname(bwd) == str(tmp_path)
    f, g = manifest(fwd), manifest(bwd)
    assert "function attention\n" in f and "kernel sparse_attention\n" in f
    assert "arg lse f32 3 1 4 128" in f
    assert "kernel sparse_attention_grad_query\n" in g
    assert "kernel sparse_attention_grad_key\n" in g
    assert "arg grad_key bf16 4 1 2 128 64" in g
    # The same call again is a cache hit: no compiler needed.
    monkeypatch.setattr(C, "_compiler_tool", lambda: None)
    assert precompile(Q, KV, KV, torch.bfloat16, P.causal(),
                      score_mod=lambda s, b, h, q, k: 2.0 * torch.tanh(s / 2.0)) == (fwd, bwd)
    # Another pattern is another key.
    with pytest.raises(C.CompileError, match="ahead of time"):
        precompile(Q, KV, KV, torch.bfloat16, P.window(8, 0))


def test_refused_module_is_a_compile_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSE_ATTN_CACHE", str(tmp_path))
    with pytest.raises(C.CompileError, match="f16 or bf16"):
        precompile(Q, KV, KV, torch.float32, P.causal())
    # Nothing partial is left under a key.
    assert not any(n.startswith("cuda-") for n in os.listdir(tmp_path))


def test_block_tables_and_segments_reach_the_artifact(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSE_ATTN_CACHE", str(tmp_path))
    fwd, bwd = precompile(Q, KV, KV, torch.float16, P.segments() & P.causal(),
                          seg_shapes=[(1, 128), (1, 128)],
                          table_spec=((1, 2, 2), (1, 2, 2, 2), (64, 64)))
    for d in (fwd, bwd):
        m = manifest(d)
        assert "arg kv_num_blocks i32 3 1 2 2" in m and "arg query_segment_ids" in m


def test_the_compiler_chooses_the_block(tmp_path, monkeypatch):
    """compile_cuda leaves the thread block to the compiler (--warps=auto,
    docs/gpu-lowering.md "Schedule selection"): a long causal forward at
    D = 128 gets two warpgroups (128-row query blocks); its backward, whose
    warpgroup kernels need one, and a short causal forward get one."""
    monkeypatch.setenv("SPARSE_ATTN_CACHE", str(tmp_path))
    long = (1, 1, 8192, 128)
    fwd, bwd = precompile(long, long, long, torch.bfloat16, P.causal())
    assert "warps 8 (chosen)" in manifest(fwd) and "tile 128 64" in manifest(fwd)
    assert "warps 4 (chosen)" in manifest(bwd)
    short = (1, 1, 1024, 128)
    fwd, _ = precompile(short, short, short, torch.bfloat16, P.causal())
    assert "warps 4 (chosen)" in manifest(fwd) and "tile 64 64" in manifest(fwd)
