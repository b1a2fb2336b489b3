"""Brute-force reference semantics of the sparse_attn pattern attributes.

Written from the definitions in the dialect documentation, independently of
the C++ implementation: every function here evaluates one (q, k) pair at a
time. Patterns are tuples:

    ("dense",)                      ("causal",) ("causal", "bottom_right")
    ("window", before, after)       ("window", before, after, "bottom_right")
    ("dilated", before, after, dilation)
    ("strided", stride)             ("fixed", stride, summary)
    ("global", [tokens...])         ("random", block, per_row, seed)
    ("blocks", bq, bk, layout)      ("prefix", length)
    ("segments",)                   ("union", [patterns...])
    ("intersect", [patterns...])    ("custom", name)

`to_mlir` prints a tuple as the attribute syntax.
"""

M64 = (1 << 64) - 1


def random_blocks(seed, qb, nk, per_row):
    """Key blocks of query block qb: partial Fisher-Yates with SplitMix64."""
    n = min(per_row, nk)
    state = (seed ^ (qb * 0xD1B54A32D192ED03)) & M64
    a = list(range(nk))
    for i in range(n):
        state = (state + 0x9E3779B97F4A7C15) & M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        z = z ^ (z >> 31)
        j = i + z % (nk - i)
        a[i], a[j] = a[j], a[i]
    return set(a[:n])


class Context:
    def __init__(self, sq, sk, qseg=None, kseg=None, custom=None):
        self.sq, self.sk = sq, sk
        self.qseg, self.kseg = qseg, kseg
        self.custom = custom or {}
        self._random = {}

    def random(self, block, per_row, seed, qb):
        key = (block, per_row, seed, qb)
        if key not in self._random:
            nk = -(-self.sk // block)
            self._random[key] = random_blocks(seed, qb, nk, per_row)
        return self._random[key]


def allowed(p, q, k, ctx):
    kind = p[0]
    if kind == "dense":
        return True
    if kind == "causal":  # bottom_right: the diagonal ends at (Sq-1, Sk-1)
        off = ctx.sk - ctx.sq if tuple(p[1:]) == ("bottom_right",) else 0
        return k <= q + off
    if kind == "window":
        off = ctx.sk - ctx.sq if tuple(p[3:]) == ("bottom_right",) else 0
        return q + off - p[1] <= k <= q + off + p[2]
    if kind == "dilated":
        return q - p[1] <= k <= q + p[2] and (q - k) % p[3] == 0
    if kind == "strided":
        return k <= q and ((q - k) < p[1] or (q - k) % p[1] == 0)
    if kind == "fixed":
        stride, summary = p[1], p[2]
        return k // stride == q // stride or k % stride >= stride - summary
    if kind == "global":
        return q in p[1] or k in p[1]
    if kind == "random":
        block, per_row, seed = p[1], p[2], p[3]
        return k // block in ctx.random(block, per_row, seed, q // block)
    if kind == "blocks":
        bq, bk, layout = p[1], p[2], p[3]
        return bool(layout[q // bq][k // bk])
    if kind == "prefix":
        return k < p[1] or k <= q
    if kind == "segments":
        return ctx.qseg[q] == ctx.kseg[k]
    if kind == "union":
        return any(allowed(c, q, k, ctx) for c in p[1])
    if kind == "intersect":
        return all(allowed(c, q, k, ctx) for c in p[1])
    if kind == "custom":
        return ctx.custom[p[1]](0, 0, q, k)
    raise ValueError("unknown pattern %r" % (p,))


def mask(p, ctx):
    """The Sq x Sk element mask as a list of strings of '0' / '1'."""
    return ["".join("1" if allowed(p, q, k, ctx) else "0"
                    for k in range(ctx.sk)) for q in range(ctx.sq)]


def blocks(bits, bq, bk):
    """Tile map from an element mask: F full, P partial, . empty."""
    sq, sk = len(bits), len(bits[0]) if bits else 0
    rows = []
    for i in range(0, sq, bq):
        row = ""
        for j in range(0, sk, bk):
            cells = [bits[q][k] for q in range(i, min(i + bq, sq))
                     for k in range(j, min(j + bk, sk))]
            ones = cells.count("1")
            row += "F" if ones == len(cells) else ("." if ones == 0 else "P")
        rows.append(row)
    return rows


def to_mlir(p):
    kind = p[0]
    if kind == "causal" and tuple(p[1:]) == ("bottom_right",):
        return "#sparse_attn.causal<align = bottom_right>"
    if kind in ("dense", "causal", "segments"):
        return "#sparse_attn." + kind
    if kind == "window":
        align = ", align = bottom_right" if tuple(p[3:]) == ("bottom_right",) else ""
        return "#sparse_attn.window<before = %d, after = %d%s>" % (p[1], p[2], align)
    if kind == "dilated":
        return "#sparse_attn.dilated<before = %d, after = %d, dilation = %d>" % p[1:]
    if kind == "strided":
        return "#sparse_attn.strided<stride = %d>" % p[1]
    if kind == "fixed":
        return "#sparse_attn.fixed<stride = %d, summary = %d>" % p[1:]
    if kind == "global":
        return "#sparse_attn.global<[%s]>" % ", ".join(str(t) for t in p[1])
    if kind == "random":
        return "#sparse_attn.random<block = %d, per_row = %d, seed = %d>" % p[1:]
    if kind == "blocks":
        layout = p[3]
        rows = ", ".join("[%s]" % ", ".join("true" if x else "false" for x in r)
                         for r in layout)
        return ("#sparse_attn.blocks<block = [%d, %d], layout = dense<[%s]> : "
                "tensor<%dx%dxi1>>" % (p[1], p[2], rows, len(layout), len(layout[0])))
    if kind == "prefix":
        return "#sparse_attn.prefix<length = %d>" % p[1]
    if kind in ("union", "intersect"):
        return "#sparse_attn.%s<[%s]>" % (kind, ", ".join(to_mlir(c) for c in p[1]))
    if kind == "custom":
        return "#sparse_attn.custom<@%s>" % p[1]
    raise ValueError("unknown pattern %r" % (p,))


# Routing (sparse_attn.pool, sparse_attn.select_blocks), from the definitions
# in the ops' documentation, with NumPy; block classes come from the element
# mask (`mask` / `blocks` above), not from any tile classifier.

def pool_blocks(s, block, stride=None):
    """The row ranges [r0, r1) pooled by sparse_attn.pool."""
    stride = stride or block
    if s <= 0:
        return []
    n = 1 if s <= block else -(-(s - block) // stride) + 1
    return [(i * stride, min(i * stride + block, s)) for i in range(n)]


def pool(x, kind, block, stride=None):
    """x: [B, H, S, D] float array -> [B, H, N, D] float64 (unrounded)."""
    import numpy as np
    x = np.asarray(x, dtype=np.float64)
    ranges = pool_blocks(x.shape[2], block, stride)
    out = np.zeros(x.shape[:2] + (len(ranges), x.shape[3]))
    for i, (r0, r1) in enumerate(ranges):
        part = x[:, :, r0:r1, :]
        out[:, :, i, :] = part.max(axis=2) if kind == "max" else part.mean(axis=2)
    return out


def select_blocks(q, kp, pattern, sk, bq, bk, top_k, sink=0, local=0,
                  per_kv_head=False, width=None, custom=None):
    """The four tables of sparse_attn.select_blocks as int arrays:
    (kv_num, kv_idx, full_num, full_idx), plus the number of rows whose
    choice is decided by scores within 1e-6 (relative) of each other."""
    import numpy as np
    q = np.asarray(q, dtype=np.float64)
    kp = np.asarray(kp, dtype=np.float64)
    b, hq, sq, d = q.shape
    hkv, nk = kp.shape[1], kp.shape[2]
    group = hq // hkv
    hp = hkv if per_kv_head else hq
    mq = -(-sq // bq)
    width = width if width is not None else min(top_k + sink + local, nk)
    tiles = blocks(mask(pattern, Context(sq, sk, custom=custom)), bq, bk) if sq and sk else []
    kv_num = np.zeros((b, hp, mq), np.int64)
    full_num = np.zeros((b, hp, mq), np.int64)
    kv_idx = np.zeros((b, hp, mq, width), np.int64)
    full_idx = np.zeros((b, hp, mq, width), np.int64)
    near_ties = 0
    for bi in range(b):
        for t in range(hp):
            heads = range(t * group, (t + 1) * group) if per_kv_head else [t]
            g = t if per_kv_head else t // group
            for i in range(mq):
                rows = q[bi, list(heads), i * bq:min(sq, (i + 1) * bq), :]
                qsum = rows.mean(axis=1).sum(axis=0)
                cls = tiles[i] if tiles else ""
                cand = [j for j in range(nk) if j < len(cls) and cls[j] != "."]
                score = {}
                for j in cand:
                    s = float(qsum @ kp[bi, g, j])
                    score[j] = -np.inf if np.isnan(s) else s
                forced = {j for j in cand if j < sink}
                forced |= set(cand[len(cand) - min(local, len(cand)):])
                others = sorted((j for j in cand if j not in forced),
                                key=lambda j: (-score[j], j))
                take = min(top_k, len(others))
                if 0 < take < len(others):
                    mag = max(float(np.abs(qsum * kp[bi, g, j]).sum())
                              for j in cand)
                    gap = abs(score[others[take - 1]] - score[others[take]])
                    if 0 < gap <= 1e-6 * mag:
                        near_ties += 1
                chosen = sorted(forced | set(others[:take]))
                part = [j for j in chosen if cls[j] != "F"]
                full = [j for j in chosen if cls[j] == "F"]
                kv_num[bi, t, i], full_num[bi, t, i] = len(part), len(full)
                kv_idx[bi, t, i, :len(part)] = part
                full_idx[bi, t, i, :len(full)] = full
    return kv_num, kv_idx, full_num, full_idx, near_ties


def select_tokens(iq, ik, w, pattern, top_k, width=None, custom=None):
    """The tables of sparse_attn.select_tokens: (num [B, 1, Sq], indices
    [B, 1, Sq, N]) as int arrays, from the lightning-indexer score
    sum_j w[t, j] relu(iq[t, j] . ik[s]) over the pattern's candidates."""
    import numpy as np
    iq = np.asarray(iq, dtype=np.float64)
    ik = np.asarray(ik, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    b, sq, hi, di = iq.shape
    sk = ik.shape[1]
    width = width if width is not None else min(top_k, sk)
    ctx = Context(sq, sk, custom=custom)
    num = np.zeros((b, 1, sq), np.int64)
    idx = np.zeros((b, 1, sq, width), np.int64)
    for bi in range(b):
        dots = np.einsum("tjd,sd->tjs", iq[bi], ik[bi])           # [Sq, HI, Sk]
        score = np.einsum("tj,tjs->ts", w[bi], np.maximum(dots, 0))
        score = np.where(np.isnan(score), -np.inf, score)
        for t in range(sq):
            cand = [s for s in range(sk) if allowed(pattern, t, s, ctx)]
            best = sorted(cand, key=lambda s: (-score[t, s], s))[:top_k]
            num[bi, 0, t] = len(best)
            idx[bi, 0, t, :len(best)] = sorted(best)
    return num, idx
