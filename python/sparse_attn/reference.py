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
