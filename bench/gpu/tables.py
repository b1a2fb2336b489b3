"""Runtime block tables for the GPU configurations (FlexAttention's
BlockMask tensors: kv_num_blocks, kv_indices, full_num_blocks,
full_indices), generated here with numpy and written next to each artifact
as .npy files, and their meaning as a dense mask for the reference.

A configuration's "tables" entry:
  block  [BQ, BK]       table_block
  bp     1 or "B"       B'
  hp     1, "kv", "q"   H' = 1, Hkv, Hq
  n      N              list capacity (default: the number of key blocks)
  full   bool           also full tables
  gen    "adversarial"  counts in [-2, N + 2], indices in [-3, blocks + 2]
                        (out of range, duplicates), garbage past the count,
                        every fifth row empty, random full lists that the
                        pattern contradicts
         "empty"        every count 0
         "topk"         routing (NSA / MoBA style, with a causal pattern):
                        each query block row lists its diagonal block
                        (partial, kv) and up to k - 1 random earlier blocks
                        (full)
  k      blocks per row for "topk"
  seed
"""
import numpy as np

ROLES = ("kv_num_blocks", "kv_indices", "full_num_blocks", "full_indices")


def dims(c):
    t = c["tables"]
    bq, bk = t["block"]
    mq, nkb = -(-c["Sq"] // bq), -(-c["Sk"] // bk)
    bp = 1 if t["bp"] == 1 else c["B"]
    hp = {1: 1, "kv": c["Hkv"], "q": c["H"]}[t["hp"]]
    return bq, bk, bp, hp, mq, nkb, t.get("n", nkb)


def make(c):
    """role -> int32 array."""
    t = c["tables"]
    bq, bk, bp, hp, mq, nkb, n = dims(c)
    rng = np.random.default_rng(t.get("seed", 0))
    out = {}
    if t["gen"] == "adversarial":
        for pre in ("kv", "full") if t.get("full") else ("kv",):
            num = rng.integers(-2, n + 3, size=(bp, hp, mq))
            num[..., ::5] = 0
            idx = rng.integers(-3, nkb + 3, size=(bp, hp, mq, n))
            out[pre + "_num_blocks"], out[pre + "_indices"] = num, idx
    elif t["gen"] == "empty":
        out["kv_num_blocks"] = np.zeros((bp, hp, mq))
        out["kv_indices"] = rng.integers(0, nkb, size=(bp, hp, mq, n))
    elif t["gen"] == "topk":
        assert bq == bk and c["Sq"] == c["Sk"]
        k = t["k"]
        kvn = np.ones((bp, hp, mq))
        kvi = np.zeros((bp, hp, mq, n))
        fn = np.zeros((bp, hp, mq))
        fi = np.zeros((bp, hp, mq, n))
        for b in range(bp):
            for h in range(hp):
                for i in range(mq):
                    kvi[b, h, i, 0] = i
                    m = min(k - 1, i)
                    fn[b, h, i] = m
                    fi[b, h, i, :m] = np.sort(rng.choice(i, size=m, replace=False))
        out = dict(kv_num_blocks=kvn, kv_indices=kvi, full_num_blocks=fn, full_indices=fi)
    else:
        raise ValueError(t["gen"])
    return {r: np.ascontiguousarray(out[r], dtype=np.int32) for r in ROLES if r in out}


def types(c):
    """role -> MLIR tensor type."""
    bq, bk, bp, hp, mq, nkb, n = dims(c)
    num = "tensor<%dx%dx%dxi32>" % (bp, hp, mq)
    idx = "tensor<%dx%dx%dx%dxi32>" % (bp, hp, mq, n)
    full = c["tables"]["gen"] == "topk" or c["tables"].get("full")
    roles = ROLES if full else ROLES[:2]
    return {r: (num if "num" in r else idx) for r in roles}


def listed_blocks(c, tabs, torch, device):
    """[B, H, Mq, key blocks] bool: the blocks the tables list for (b, h,
    query block) -- the op's definition (counts clamped to [0, N], indices
    outside the key blocks ignored, duplicates count once)."""
    bq, bk, bp, hp, mq, nkb, n = dims(c)
    B, H, Hkv = c["B"], c["H"], c["Hkv"]
    # The tables' own Mq and N (compiled for other lengths than this run's
    # when the lengths are dynamic): query blocks past Mq list nothing.
    mq_t, n = tabs["kv_num_blocks"].shape[2], tabs["kv_indices"].shape[3]
    lst = torch.zeros(bp, hp, max(mq, mq_t), nkb + 1, dtype=torch.bool, device=device)
    for pre in ("kv", "full"):
        if pre + "_num_blocks" not in tabs:
            continue
        num = tabs[pre + "_num_blocks"].long().clamp(0, n)
        idx = tabs[pre + "_indices"].long()
        e = torch.arange(n, device=device)
        ok = (e < num[..., None]) & (idx >= 0) & (idx < nkb)
        lst[:, :, :mq_t].scatter_(3, torch.where(ok, idx, nkb), True)
    lst = lst[:, :, :mq, :nkb]
    bsel = torch.arange(B, device=device) if bp == B else torch.zeros(B, dtype=torch.long, device=device)
    if hp == H:
        hsel = torch.arange(H, device=device)
    elif hp == Hkv:
        hsel = torch.arange(H, device=device) // (H // Hkv)
    else:
        hsel = torch.zeros(H, dtype=torch.long, device=device)
    return lst[bsel][:, hsel]


def listed(c, tabs, torch, device):
    """[B, H, Sq, Sk] bool: key k lies in a block listed for (b, h, q)."""
    bq, bk = c["tables"]["block"]
    m = listed_blocks(c, tabs, torch, device)
    m = m.repeat_interleave(bq, dim=2).repeat_interleave(bk, dim=3)
    return m[:, :, : c["Sq"], : c["Sk"]]


def density(c, tabs, allowed_rows, torch, device):
    """Fraction of (b, h, q, k) allowed by the pattern and the tables;
    allowed_rows(q0, q1) is the pattern's [q1 - q0, Sk] mask."""
    bq, bk, bp, hp, mq, nkb, n = dims(c)
    per_block = torch.zeros(mq, nkb, device=device)
    for i in range(mq):
        a = allowed_rows(i * bq, min(c["Sq"], (i + 1) * bq)).float().sum(0)
        a = torch.nn.functional.pad(a, (0, nkb * bk - c["Sk"]))
        per_block[i] = a.view(nkb, bk).sum(1)
    lb = listed_blocks(c, tabs, torch, device).float()
    return (lb * per_block).sum().item() / (c["B"] * c["H"] * c["Sq"] * c["Sk"])
