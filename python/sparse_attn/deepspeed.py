"""DeepSpeed's block-sparse attention configurations, for its users.

DeepSpeed removed its sparse attention (``deepspeed.ops.sparse_attention``)
in 2026. This module keeps its configuration classes and parameters, with
``make_layout(seq_len)`` returning exactly the ``[num_heads, num_blocks,
num_blocks]`` 0 / 1 layout DeepSpeed built (an int64 NumPy array; DeepSpeed
returned a torch tensor of the same values), quirks included, and turns a
layout into what this compiler runs: FlexAttention-style runtime block
tables for ``sparse_attn.attention`` (``block_tables``) and a module that
uses them (``to_mlir``).

Written from DeepSpeed's documented behaviour (sparsity_config.py, read for
its semantics); no DeepSpeed code. The behaviours a user porting a config
should know, all reproduced:

- ``seq_len`` must be a multiple of ``block`` (ValueError otherwise).
- Without ``different_layout_per_head`` head 0's layout is copied to every
  head; with it, every head is built on its own (random blocks differ per
  head, Fixed's global representatives rotate).
- Random blocks are drawn with Python's ``random.sample``, row by row, in
  DeepSpeed's order. ``seed=None`` draws from the global ``random`` state
  as DeepSpeed did; an integer ``seed`` draws from ``random.Random(seed)``,
  which gives the layout DeepSpeed gave after ``random.seed(seed)``.
- ``VariableSparsityConfig`` draws its random blocks from the whole row
  even with ``attention='unidirectional'`` (future blocks included), and
  repeats the *last* entry of ``local_window_blocks`` for the rest of the
  sequence.
- ``BigBirdSparsityConfig`` and ``BSLongformerSparsityConfig`` build a
  symmetric sliding window and global rows / columns, then keep the lower
  triangle for ``attention='unidirectional'``. BigBird's unidirectional
  random draw samples from blocks ``0 .. row``, so more random blocks than
  ``row + 1`` is a ValueError at the first rows, as in DeepSpeed.
- ``FixedSparsityConfig`` picks global representatives from the end of each
  local window (head ``h`` uses the ``(1 + h % num_different_global_patterns)``-th
  group from the end); a short last window gets its representative clamped
  into the sequence.
- ``LocalSlidingWindowSparsityConfig`` (no ``different_layout_per_head``)
  covers ``row - w .. row`` unidirectionally and ``row - w .. row + w``
  bidirectionally, ``w = num_sliding_window_blocks // 2``.
"""
import random as _random

import numpy as np

__all__ = [
    "SparsityConfig", "DenseSparsityConfig", "FixedSparsityConfig",
    "VariableSparsityConfig", "BigBirdSparsityConfig",
    "BSLongformerSparsityConfig", "LocalSlidingWindowSparsityConfig",
    "layout_to_block_tables", "to_mlir",
]


def _check_attention(attention):
    if attention not in ("unidirectional", "bidirectional"):
        raise NotImplementedError('only "uni/bi-directional" attentions are supported for now!')


def _check_global_ranges(starts, ends):
    if ends is None:
        return
    if len(starts) != len(ends):
        raise ValueError(f"Global block start indices length, {len(starts)}, must be same as "
                         f"global block end indices length, {len(ends)}!")
    for s, e in zip(starts, ends):
        if s >= e:
            raise ValueError(f"Global block start index, {s}, must be smaller than global block "
                             f"end index, {e}!")


class SparsityConfig:
    """The parameters every configuration shares: ``num_heads``, ``block``
    (the layout's block size) and ``different_layout_per_head``."""

    def __init__(self, num_heads, block=16, different_layout_per_head=False, seed=None):
        self.num_heads = num_heads
        self.block = block
        self.different_layout_per_head = different_layout_per_head
        self.num_layout_heads = num_heads if different_layout_per_head else 1
        self.seed = seed

    def setup_layout(self, seq_len):
        if seq_len % self.block != 0:
            raise ValueError(f"Sequence Length, {seq_len}, needs to be dividable by Block size "
                             f"{self.block}!")
        n = seq_len // self.block
        return np.zeros((self.num_heads, n, n), dtype=np.int64)

    def check_and_propagate_first_head_layout(self, layout):
        if not self.different_layout_per_head:
            layout[1:self.num_heads] = layout[0]
        return layout

    def _rng(self):
        return _random if self.seed is None else _random.Random(self.seed)

    #: The methods that build one head's layout, in DeepSpeed's order.
    _steps = ()

    def make_layout(self, seq_len):
        """The [num_heads, num_blocks, num_blocks] int64 layout."""
        layout = self.setup_layout(seq_len)
        # Random steps draw from one generator for the whole layout (heads
        # and rows in DeepSpeed's order).
        self._draw = self._rng()
        for h in range(self.num_layout_heads):
            for step in self._steps:
                getattr(self, step)(h, layout)
        return self.check_and_propagate_first_head_layout(layout)


class DenseSparsityConfig(SparsityConfig):
    """Every block (kept for comparison)."""

    def make_layout(self, seq_len):
        layout = self.setup_layout(seq_len)
        layout[:] = 1
        return layout


def _local_windows(layout, h, windows, unidirectional):
    """Blocks [start, end) of each window attend within it (the lower
    triangle of it when unidirectional)."""
    for start, end in windows:
        for row in range(start, end):
            layout[h, row, start:(row + 1 if unidirectional else end)] = 1


class FixedSparsityConfig(SparsityConfig):
    """Sparse Transformers' fixed pattern: local windows of
    ``num_local_blocks`` and, per window, ``num_global_blocks``
    representatives every later (or, bidirectionally, every) row attends."""

    _steps = ("set_local_layout", "set_global_layout")

    def __init__(self, num_heads, block=16, different_layout_per_head=False, num_local_blocks=4,
                 num_global_blocks=1, attention="bidirectional",
                 horizontal_global_attention=False, num_different_global_patterns=1, seed=None):
        super().__init__(num_heads, block, different_layout_per_head, seed)
        self.num_local_blocks = num_local_blocks
        if num_local_blocks % num_global_blocks != 0:
            raise ValueError(f"Number of blocks in a local window, {num_local_blocks}, must be "
                             f"dividable by number of global blocks, {num_global_blocks}!")
        self.num_global_blocks = num_global_blocks
        _check_attention(attention)
        self.attention = attention
        if attention != "bidirectional" and horizontal_global_attention:
            raise ValueError('only "bi-directional" attentions can support horizontal global '
                             'attention!')
        self.horizontal_global_attention = horizontal_global_attention
        if num_different_global_patterns > 1 and not different_layout_per_head:
            raise ValueError("Number of different layouts cannot be more than one when you have "
                             "set a single layout for all heads! Set different_layout_per_head "
                             "to True.")
        if num_different_global_patterns > num_local_blocks // num_global_blocks:
            raise ValueError(
                f"Number of layout versions (num_different_global_patterns), "
                f"{num_different_global_patterns}, cannot be larger than number of local window "
                f"blocks divided by number of global blocks, {num_local_blocks} / "
                f"{num_global_blocks} = {num_local_blocks // num_global_blocks}!")
        self.num_different_global_patterns = num_different_global_patterns

    def set_local_layout(self, h, layout):
        n = layout.shape[1]
        windows = [(i, min(i + self.num_local_blocks, n)) for i in range(0, n, self.num_local_blocks)]
        _local_windows(layout, h, windows, self.attention == "unidirectional")
        return layout

    def _global(self, layout, h, start, end):
        first_row = 0 if self.attention == "bidirectional" else start
        layout[h, first_row:, start:end] = 1
        if self.horizontal_global_attention:
            layout[h, start:end, :] = 1

    def set_global_layout(self, h, layout):
        n = layout.shape[1]
        first = self.num_local_blocks - (1 + h % self.num_different_global_patterns) * \
            self.num_global_blocks
        # Every complete window's representatives.
        full_end = n - n % self.num_local_blocks
        for i in range(first, full_end, self.num_local_blocks):
            self._global(layout, h, i, i + self.num_global_blocks)
        # A short last window: its representative, clamped into the sequence.
        if full_end < n:
            start = min(full_end + first, n - self.num_global_blocks)
            self._global(layout, h, start, start + self.num_global_blocks)
        return layout



class VariableSparsityConfig(SparsityConfig):
    """Fixed's extension: random blocks per row, local windows of the given
    sizes (the last size repeated), global blocks (or global ranges)."""

    _steps = ("set_random_layout", "set_local_layout", "set_global_layout")

    def __init__(self, num_heads, block=16, different_layout_per_head=False, num_random_blocks=0,
                 local_window_blocks=(4,), global_block_indices=(0,),
                 global_block_end_indices=None, attention="bidirectional",
                 horizontal_global_attention=False, seed=None):
        super().__init__(num_heads, block, different_layout_per_head, seed)
        self.num_random_blocks = num_random_blocks
        self.local_window_blocks = list(local_window_blocks)
        self.global_block_indices = list(global_block_indices)
        _check_global_ranges(self.global_block_indices, global_block_end_indices)
        self.global_block_end_indices = (None if global_block_end_indices is None
                                         else list(global_block_end_indices))
        _check_attention(attention)
        self.attention = attention
        if attention != "bidirectional" and horizontal_global_attention:
            raise ValueError('only "bi-directional" attentions can support horizontal global '
                             'attention!')
        self.horizontal_global_attention = horizontal_global_attention

    def set_random_layout(self, h, layout):
        rng = self._draw
        n = layout.shape[1]
        if n < self.num_random_blocks:
            raise ValueError(f"Number of random blocks, {self.num_random_blocks}, must be smaller "
                             f"than overall number of blocks in a row, {n}!")
        for row in range(n):
            layout[h, row, rng.sample(range(n), self.num_random_blocks)] = 1
        return layout

    def set_local_layout(self, h, layout):
        n = layout.shape[1]
        windows, start = [], 0
        for size in self.local_window_blocks:
            windows.append((start, min(start + size, n)))
            start += size
        last = self.local_window_blocks[-1]
        windows += [(i, min(i + last, n)) for i in range(start, n, last)]
        _local_windows(layout, h, windows, self.attention == "unidirectional")
        return layout

    def set_global_layout(self, h, layout):
        n = layout.shape[1]
        ends = self.global_block_end_indices or [i + 1 for i in self.global_block_indices]
        for start, end in zip(self.global_block_indices, ends):
            if start >= n:
                continue
            end = min(end, n)
            if self.horizontal_global_attention:
                layout[h, start:end, :] = 1
            first_row = 0 if self.attention == "bidirectional" else start
            layout[h, first_row:, start:end] = 1
        return layout



def _sliding(layout, h, num_sliding_window_blocks, upper=True):
    n = layout.shape[1]
    if n < num_sliding_window_blocks:
        raise ValueError(f"Number of sliding window blocks, {num_sliding_window_blocks}, must be "
                         f"smaller than overall number of blocks in a row, {n}!")
    w = num_sliding_window_blocks // 2
    for row in range(n):
        layout[h, row, max(0, row - w):(min(row + w + 1, n) if upper else row + 1)] = 1


class BigBirdSparsityConfig(SparsityConfig):
    """BigBird: random blocks, a sliding window, the first
    ``num_global_blocks`` as global rows and columns."""

    _steps = ("set_random_layout", "set_sliding_window_layout", "set_global_layout_itc")

    def __init__(self, num_heads, block=16, different_layout_per_head=False, num_random_blocks=1,
                 num_sliding_window_blocks=3, num_global_blocks=1, attention="bidirectional",
                 seed=None):
        super().__init__(num_heads, block, different_layout_per_head, seed)
        self.num_random_blocks = num_random_blocks
        self.num_sliding_window_blocks = num_sliding_window_blocks
        self.num_global_blocks = num_global_blocks
        _check_attention(attention)
        self.attention = attention

    def set_random_layout(self, h, layout):
        rng = self._draw
        n = layout.shape[1]
        if n < self.num_random_blocks:
            raise ValueError(f"Number of random blocks, {self.num_random_blocks}, must be smaller "
                             f"than overall number of blocks in a row, {n}!")
        for row in range(n):
            pool = range(n) if self.attention == "bidirectional" else range(row + 1)
            layout[h, row, rng.sample(pool, self.num_random_blocks)] = 1
        return layout

    def set_sliding_window_layout(self, h, layout):
        _sliding(layout, h, self.num_sliding_window_blocks)
        return layout

    def set_global_layout_itc(self, h, layout):
        n = layout.shape[1]
        if n < self.num_global_blocks:
            raise ValueError(f"Number of global blocks, {self.num_global_blocks}, must be smaller "
                             f"than overall number of blocks in a row, {n}!")
        layout[h, :self.num_global_blocks, :] = 1
        layout[h, :, :self.num_global_blocks] = 1
        if self.attention == "unidirectional":
            layout[:] = np.tril(layout)
        return layout



class BSLongformerSparsityConfig(SparsityConfig):
    """Block-sparse Longformer: a sliding window and global blocks (or
    ranges) as rows and columns."""

    _steps = ("set_sliding_window_layout", "set_global_layout")

    def __init__(self, num_heads, block=16, different_layout_per_head=False,
                 num_sliding_window_blocks=3, global_block_indices=(0,),
                 global_block_end_indices=None, attention="bidirectional", seed=None):
        super().__init__(num_heads, block, different_layout_per_head, seed)
        self.num_sliding_window_blocks = num_sliding_window_blocks
        self.global_block_indices = list(global_block_indices)
        self.attention = attention
        _check_global_ranges(self.global_block_indices, global_block_end_indices)
        self.global_block_end_indices = (None if global_block_end_indices is None
                                         else list(global_block_end_indices))

    def set_sliding_window_layout(self, h, layout):
        _sliding(layout, h, self.num_sliding_window_blocks)
        return layout

    def set_global_layout(self, h, layout):
        n = layout.shape[1]
        ends = self.global_block_end_indices or [i + 1 for i in self.global_block_indices]
        for start, end in zip(self.global_block_indices, ends):
            if start < n:
                layout[h, start:min(end, n), :] = 1
                layout[h, :, start:min(end, n)] = 1
        if self.attention == "unidirectional":
            layout[:] = np.tril(layout)
        return layout



class LocalSlidingWindowSparsityConfig(SparsityConfig):
    """A sliding window of blocks only."""

    _steps = ("set_sliding_window_layout",)

    def __init__(self, num_heads, block=16, num_sliding_window_blocks=3,
                 attention="unidirectional"):
        super().__init__(num_heads, block)
        self.num_sliding_window_blocks = num_sliding_window_blocks
        self.attention = attention

    def set_sliding_window_layout(self, h, layout):
        _sliding(layout, h, self.num_sliding_window_blocks,
                 upper=self.attention == "bidirectional")
        return layout



def layout_to_block_tables(layout):
    """A ``[H, nb, nb]`` layout as FlexAttention-style runtime block tables:
    ``kv_num_blocks`` ``[1, H, nb]`` and ``kv_indices`` ``[1, H, nb, nb]``
    (int32, the key blocks of each query block in ascending order, padded
    with 0), what ``sparse_attn.attention``'s ``block_tables`` take with
    ``table_block = [block, block]``."""
    layout = np.asarray(layout)
    if layout.ndim != 3 or layout.shape[1] != layout.shape[2]:
        raise ValueError(f"a layout is [num_heads, num_blocks, num_blocks], got {layout.shape}")
    h, n, _ = layout.shape
    num = (layout != 0).sum(-1).astype(np.int32)[None]
    idx = np.zeros((1, h, n, n), dtype=np.int32)
    for hh in range(h):
        for r in range(n):
            cols = np.nonzero(layout[hh, r])[0]
            idx[0, hh, r, :len(cols)] = cols
    return num, idx


def to_mlir(config, seq_len, head_dim, dtype="f32", batch=1, name="attention"):
    """A module whose function ``@name(q, k, v, kv_num_blocks, kv_indices)``
    runs ``sparse_attn.attention`` restricted to ``config``'s layout at
    ``seq_len`` (the tables from ``layout_to_block_tables`` are its
    arguments: one compiled kernel serves every layout of that shape)."""
    n = seq_len // config.block
    h = config.num_heads
    t = f"tensor<{batch}x{h}x{seq_len}x{head_dim}x{dtype}>"
    nt = f"tensor<1x{h}x{n}xi32>"
    xt = f"tensor<1x{h}x{n}x{n}xi32>"
    config.setup_layout(seq_len)  # the divisibility check
    return (f"func.func @{name}(%q: {t}, %k: {t}, %v: {t}, %n: {nt}, %x: {xt}) -> {t} {{\n"
            f"  %init = tensor.empty() : {t}\n"
            f"  %o = sparse_attn.attention %q, %k, %v block_tables(%n, %x : {nt}, {xt})\n"
            f"      outs(%init : {t})\n"
            f"      {{pattern = #sparse_attn.dense, table_block = array<i64: {config.block}, "
            f"{config.block}>}}\n"
            f"      : {t}, {t}, {t} -> {t}\n"
            f"  return %o : {t}\n}}\n")


def SparseSelfAttention(sparsity_config, max_seq_length=None, threads=0):
    """DeepSpeed's `SparseSelfAttention` (the module its users built around
    a sparsity config), on this compiler: a torch module whose
    `forward(query, key, value)` ([B, H, S, D] tensors, H = the config's
    `num_heads`) runs attention restricted to `make_layout(S)` (computed
    once per length: the random blocks stay fixed, as DeepSpeed's did),
    differentiable. DeepSpeed's `rpe`, `key_padding_mask` and `attn_mask`
    arguments are refused with a message rather than ignored."""
    import torch
    from .torch import attention

    class _SparseSelfAttention(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.sparsity_config = sparsity_config
            self.max_seq_length = max_seq_length
            self._tables = {}

        def tables(self, seq_len):
            if seq_len not in self._tables:
                num, idx = layout_to_block_tables(self.sparsity_config.make_layout(seq_len))
                self._tables[seq_len] = (torch.from_numpy(num), torch.from_numpy(idx))
            return self._tables[seq_len]

        def forward(self, query, key, value, rpe=None, key_padding_mask=None,
                    attn_mask=None):
            for name, arg in (("rpe", rpe), ("key_padding_mask", key_padding_mask),
                              ("attn_mask", attn_mask)):
                if arg is not None:
                    raise NotImplementedError(
                        f"SparseSelfAttention: {name} is not supported here (express it as "
                        f"a pattern or a score modification of sparse_attn.attention)")
            s = query.shape[2]
            if self.max_seq_length is not None and s > self.max_seq_length:
                raise ValueError(f"SparseSelfAttention: sequence length {s} exceeds "
                                 f"max_seq_length {self.max_seq_length}")
            if query.shape[1] != self.sparsity_config.num_heads:
                raise ValueError(f"SparseSelfAttention: {query.shape[1]} heads, but the "
                                 f"config has num_heads = {self.sparsity_config.num_heads}")
            num, idx = self.tables(s)
            block = self.sparsity_config.block
            return attention(query, key, value, block_tables=(num, idx, (block, block)),
                             threads=threads)

    return _SparseSelfAttention()
