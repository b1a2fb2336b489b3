"""sparse_attn.deepspeed: DeepSpeed's configurations give DeepSpeed's
layouts. Expected layouts are worked out by hand from DeepSpeed's rules
(comments say how), not computed by another implementation."""
import os
import random
import subprocess
import tempfile

import numpy as np
import pytest

from sparse_attn import deepspeed as ds


def rows(*r):
    return np.array(r, dtype=np.int64)


def test_dense():
    lay = ds.DenseSparsityConfig(num_heads=2, block=16).make_layout(64)
    assert lay.shape == (2, 4, 4) and lay.dtype == np.int64 and lay.min() == 1


def test_seq_len_must_be_multiple_of_block():
    with pytest.raises(ValueError, match="needs to be dividable by Block size 16"):
        ds.DenseSparsityConfig(num_heads=1).make_layout(40)


def test_fixed_bidirectional_short_last_window():
    # 6 blocks, windows [0, 4) and [4, 6); representative = last block of a
    # window (index 3), and for the short last window min(4 + 3, 6 - 1) = 5;
    # bidirectional: their columns in every row.
    lay = ds.FixedSparsityConfig(num_heads=2, block=4).make_layout(24)
    want = rows([1, 1, 1, 1, 0, 1], [1, 1, 1, 1, 0, 1], [1, 1, 1, 1, 0, 1],
                [1, 1, 1, 1, 0, 1], [0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1])
    assert (lay[0] == want).all() and (lay[1] == want).all()


def test_fixed_unidirectional():
    # Lower triangles inside the windows; global columns from their own row
    # down.
    lay = ds.FixedSparsityConfig(num_heads=1, block=4, attention="unidirectional").make_layout(24)
    want = rows([1, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0],
                [1, 1, 1, 1, 0, 0], [0, 0, 0, 1, 1, 0], [0, 0, 0, 1, 1, 1])
    assert (lay[0] == want).all()


def test_fixed_rotating_representatives_per_head():
    # 8 blocks, windows of 4, 2 global blocks, 2 patterns: head h's
    # representatives start at 4 - (1 + h % 2) * 2: 2 (heads 0, 2) or 0
    # (head 1), in every window; horizontal: their rows are full too.
    cfg = ds.FixedSparsityConfig(num_heads=3, block=1, different_layout_per_head=True,
                                 num_local_blocks=4, num_global_blocks=2,
                                 horizontal_global_attention=True,
                                 num_different_global_patterns=2)
    lay = cfg.make_layout(8)
    assert (lay[0, 0] == [1, 1, 1, 1, 0, 0, 1, 1]).all()
    assert (lay[0, 4] == [0, 0, 1, 1, 1, 1, 1, 1]).all()
    assert lay[0, 2].min() == 1 and lay[0, 7].min() == 1
    assert (lay[1, 2] == [1, 1, 1, 1, 1, 1, 0, 0]).all()
    assert (lay[1, 6] == [1, 1, 0, 0, 1, 1, 1, 1]).all()
    assert (lay[2] == lay[0]).all()


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_local_blocks=4, num_global_blocks=3), "must be dividable by number of global blocks"),
    (dict(attention="unidirectional", horizontal_global_attention=True), "bi-directional"),
    (dict(num_different_global_patterns=2), "Set different_layout_per_head to True"),
    (dict(different_layout_per_head=True, num_different_global_patterns=5),
     "cannot be larger than number of local window blocks"),
])
def test_fixed_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ds.FixedSparsityConfig(num_heads=4, **kwargs)


def test_attention_kind_checked():
    with pytest.raises(NotImplementedError):
        ds.FixedSparsityConfig(num_heads=1, attention="sideways")


def test_variable_windows_repeat_last_size():
    # Windows of 1, then 2, then the last size (2) repeated: [0,1), [1,3),
    # [3,5), [5,6); global block 0 as a column of every row.
    cfg = ds.VariableSparsityConfig(num_heads=1, block=1, local_window_blocks=[1, 2])
    want = rows([1, 0, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0], [1, 1, 1, 0, 0, 0],
                [1, 0, 0, 1, 1, 0], [1, 0, 0, 1, 1, 0], [1, 0, 0, 0, 0, 1])
    assert (cfg.make_layout(6)[0] == want).all()


def test_variable_global_ranges_horizontal():
    # Global range [2, 4): rows 2, 3 and columns 2, 3 full; windows of 4.
    cfg = ds.VariableSparsityConfig(num_heads=1, block=1, global_block_indices=[2],
                                    global_block_end_indices=[4],
                                    horizontal_global_attention=True)
    lay = cfg.make_layout(6)[0]
    assert lay[2].min() == 1 and lay[3].min() == 1
    assert (lay[5] == [0, 0, 1, 1, 1, 1]).all()
    assert (lay[0] == [1, 1, 1, 1, 0, 0]).all()
    with pytest.raises(ValueError, match="must be same as global block end indices length"):
        ds.VariableSparsityConfig(num_heads=1, global_block_indices=[0, 2],
                                  global_block_end_indices=[1])
    with pytest.raises(ValueError, match="must be smaller than global block end index"):
        ds.VariableSparsityConfig(num_heads=1, global_block_indices=[3],
                                  global_block_end_indices=[3])


def test_variable_random_may_look_ahead_when_unidirectional():
    # DeepSpeed's Variable draws random blocks from the whole row even for
    # unidirectional attention: some layout must have a block above the
    # diagonal (with 8 random blocks of 8, every row is full).
    cfg = ds.VariableSparsityConfig(num_heads=1, block=1, num_random_blocks=8,
                                    attention="unidirectional", seed=0)
    assert cfg.make_layout(8).min() == 1


def test_bigbird_bidirectional():
    # Sliding window of 3 (one block each side), block 0 as global row and
    # column, no random blocks.
    cfg = ds.BigBirdSparsityConfig(num_heads=1, block=1, num_random_blocks=0)
    want = rows([1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0],
                [1, 0, 1, 1, 1], [1, 0, 0, 1, 1])
    assert (cfg.make_layout(5)[0] == want).all()


def test_bigbird_random_seeded_and_unidirectional():
    cfg = ds.BigBirdSparsityConfig(num_heads=2, block=1, num_random_blocks=1,
                                   attention="unidirectional", seed=5)
    a, b = cfg.make_layout(7), cfg.make_layout(7)
    assert (a == b).all()
    assert (np.triu(a, 1) == 0).all()  # nothing in the future
    assert (a[:, :, 0] == 1).all()  # the global column
    # A seed gives what DeepSpeed's global random state gave after seed().
    random.seed(5)
    glob = ds.BigBirdSparsityConfig(num_heads=2, block=1, num_random_blocks=1,
                                    attention="unidirectional").make_layout(7)
    assert (glob == a).all()
    # Per head: each head draws its own random blocks.
    per = ds.BigBirdSparsityConfig(num_heads=8, block=1, different_layout_per_head=True,
                                   num_random_blocks=2, seed=1).make_layout(32)
    assert any((per[h] != per[0]).any() for h in range(1, 8))
    # Unidirectional, more random blocks than the first row has: an error.
    with pytest.raises(ValueError):
        ds.BigBirdSparsityConfig(num_heads=1, block=1, num_random_blocks=2,
                                 attention="unidirectional", seed=0).make_layout(4)


def test_bslongformer():
    # Sliding window of 3 and global block 1 (row and column); the
    # unidirectional layout is its lower triangle.
    cfg = ds.BSLongformerSparsityConfig(num_heads=1, block=1, global_block_indices=[1])
    want = rows([1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [0, 1, 1, 1, 0],
                [0, 1, 1, 1, 1], [0, 1, 0, 1, 1])
    assert (cfg.make_layout(5)[0] == want).all()
    uni = ds.BSLongformerSparsityConfig(num_heads=1, block=1, global_block_indices=[1],
                                       attention="unidirectional").make_layout(5)[0]
    assert (uni == np.tril(want)).all()


def test_local_sliding_window():
    uni = ds.LocalSlidingWindowSparsityConfig(num_heads=1, block=1).make_layout(4)[0]
    assert (uni == rows([1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1])).all()
    bi = ds.LocalSlidingWindowSparsityConfig(num_heads=1, block=1,
                                             attention="bidirectional").make_layout(4)[0]
    assert (bi == rows([1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1])).all()
    with pytest.raises(ValueError, match="must be smaller than overall number of blocks"):
        ds.LocalSlidingWindowSparsityConfig(num_heads=1, block=1,
                                            num_sliding_window_blocks=5).make_layout(4)


def test_block_tables():
    lay = np.array([[[1, 0, 1], [0, 0, 0], [1, 1, 1]]])
    num, idx = ds.layout_to_block_tables(lay)
    assert num.dtype == np.int32 and num.tolist() == [[[2, 0, 3]]]
    assert idx.shape == (1, 1, 3, 3) and idx[0, 0].tolist() == [[0, 2, 0], [0, 0, 0], [0, 1, 2]]
    with pytest.raises(ValueError, match="num_heads, num_blocks, num_blocks"):
        ds.layout_to_block_tables(np.ones((2, 3)))


@pytest.mark.skipif(not os.environ.get("SPARSE_ATTN_RUN"),
                    reason="SPARSE_ATTN_RUN (the sparse-attn-run tool) not set")
def test_runs_through_the_compiler():
    # A BigBird layout per head, as runtime tables of a compiled attention,
    # against the float64 reference of sparse-attn-run --check.
    cfg = ds.BigBirdSparsityConfig(num_heads=2, block=16, different_layout_per_head=True,
                                   num_random_blocks=1, seed=3)
    num, idx = ds.layout_to_block_tables(cfg.make_layout(128))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.mlir")
        with open(path, "w") as f:
            f.write(ds.to_mlir(cfg, 128, 16))
        rng = np.random.default_rng(0)
        args = []
        for i, a in enumerate([rng.standard_normal((1, 2, 128, 16)).astype(np.float32)
                               for _ in range(3)] + [num, idx]):
            p = os.path.join(tmp, f"a{i}.npy")
            np.save(p, a)
            args += ["--input", p]
        r = subprocess.run([os.environ["SPARSE_ATTN_RUN"], path, "--check"] + args,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "OK" in r.stdout
