"""Routing programs (sparse_attn.pool -> sparse_attn.select_blocks ->
sparse_attn.attention over the selected blocks) on edge cases, each checked
twice: by `sparse-attn-run --check` (tables exactly equal to the C++ float64
reference, the output against the attention's float64 definition) and by
the NumPy reference of python/sparse_attn/reference.py (tables and pooled
keys), which shares no code with either."""
import os
import subprocess
import sys
import tempfile

import numpy as np

run = sys.argv[1]
sys.path.insert(0, sys.argv[2])
from sparse_attn import reference as ref  # noqa: E402


def program(c):
    b, hq, hkv, sq, sk, d = c["B"], c["Hq"], c["Hkv"], c["Sq"], c["Sk"], c["D"]
    bq, bk, elt = c["BQ"], c["BK"], c.get("elt", "f32")
    nk = -(-sk // bk)
    hp = hkv if c.get("per_kv") else hq
    mq = -(-sq // bq)
    width = min(c["top_k"] + c.get("sink", 0) + c.get("local", 0), nk)
    bs = "?" if c.get("dynamic_batch") else str(b)
    qT = "tensor<%sx%dx%dx%dx%s>" % (bs, hq, sq, d, elt)
    kT = "tensor<%sx%dx%dx%dx%s>" % (bs, hkv, sk, d, elt)
    pT = "tensor<%sx%dx%dx%dx%s>" % (bs, hkv, nk, d, elt)
    lT = "tensor<%sx%dx%dxf32>" % (bs, hq, sq)
    nT = "tensor<%sx%dx%dxi32>" % (bs, hp, mq)
    xT = "tensor<%sx%dx%dx%dxi32>" % (bs, hp, mq, width)
    pattern = ref.to_mlir(c["pattern"])
    init = ("%%bb = tensor.dim %%q, %%c0 : %s\n" % qT +
            "  %%o0 = tensor.empty(%%bb) : %s\n  %%l0 = tensor.empty(%%bb) : %s" % (qT, lT)
            if c.get("dynamic_batch") else
            "%%o0 = tensor.empty() : %s\n  %%l0 = tensor.empty() : %s" % (qT, lT))
    pre = c.get("region", "")
    return pre + f"""func.func @routing(%q: {qT}, %k: {kT}, %v: {kT})
    -> ({qT}, {lT}, {pT}, {nT}, {xT}, {nT}, {xT}) {{
  %c0 = arith.constant 0 : index
  %sk = arith.constant {sk} : index
  %kp = sparse_attn.pool %k {{kind = "mean", block = {bk}}} : {kT} -> {pT}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp key_length(%sk)
      {{pattern = {pattern}, top_k = {c["top_k"]}, sink = {c.get("sink", 0)},
       local = {c.get("local", 0)}, table_block = array<i64: {bq}, {bk}>}}
      : {qT}, {pT} -> {nT}, {xT}, {nT}, {xT}
  {init}
  %o, %l = sparse_attn.attention %q, %k, %v
      block_tables(%n, %x : {nT}, {xT}) full_tables(%fn, %fx : {nT}, {xT})
      outs(%o0, %l0 : {qT}, {lT})
      {{pattern = {pattern}, table_block = array<i64: {bq}, {bk}>}}
      : {qT}, {kT}, {kT} -> {qT}, {lT}
  return %o, %l, %kp, %n, %x, %fn, %fx : {qT}, {lT}, {pT}, {nT}, {xT}, {nT}, {xT}
}}
"""


def tokens_program(c):
    b, hq, s, d, hi, di, k = c["B"], c["Hq"], c["S"], c["D"], c["HI"], c["DI"], c["top_k"]
    width = min(k, s)
    qT = "tensor<%dx%dx%dx%dxf32>" % (b, hq, s, d)
    kT = "tensor<%dx1x%dx%dxf32>" % (b, s, d)
    iqT = "tensor<%dx%dx%dx%dxf32>" % (b, s, hi, di)
    ikT = "tensor<%dx%dx%dxf32>" % (b, s, di)
    wT = "tensor<%dx%dx%dxf32>" % (b, s, hi)
    nT = "tensor<%dx1x%dxi32>" % (b, s)
    xT = "tensor<%dx1x%dx%dxi32>" % (b, s, width)
    p = ref.to_mlir(c["pattern"])
    return f"""func.func @dsa(%q: {qT}, %k: {kT}, %v: {kT}, %iq: {iqT}, %ik: {ikT}, %w: {wT})
    -> ({qT}, {nT}, {xT}) {{
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w {{pattern = {p}, top_k = {k}}}
      : {iqT}, {ikT}, {wT} -> {nT}, {xT}
  %init = tensor.empty() : {qT}
  %o = sparse_attn.attention %q, %k, %v block_tables(%n, %x : {nT}, {xT})
      outs(%init : {qT}) {{pattern = {p}, table_block = array<i64: 1, 1>}}
      : {qT}, {kT}, {kT} -> {qT}
  return %o, %n, %x : {qT}, {nT}, {xT}
}}
"""


TOKENS = [
    ("tokens: causal top-8, two batches",
     dict(B=2, Hq=2, S=64, D=16, HI=2, DI=16, top_k=8, pattern=("causal",))),
    ("tokens: equal scores (relu of negative dots) choose the lower keys",
     dict(B=1, Hq=2, S=48, D=8, HI=1, DI=8, top_k=4, pattern=("causal",), ik="negative")),
    ("tokens: window, top_k beyond the candidates",
     dict(B=1, Hq=1, S=40, D=8, HI=3, DI=8, top_k=32, pattern=("window", 16, 0))),
    ("tokens: a NaN key is never chosen over a number",
     dict(B=1, Hq=1, S=40, D=8, HI=2, DI=8, top_k=6, pattern=("causal",), ik="nan-key-5")),
    # top_k >= 34: the radix select (emitTopKRadix) must choose exactly what
    # arg-max rounds (the NumPy reference's stable sort) choose.
    ("tokens: radix select, causal top-100 of 400",
     dict(B=1, Hq=2, S=400, D=8, HI=2, DI=16, top_k=100, pattern=("causal",))),
    ("tokens: radix select, all scores equal (the lowest keys)",
     dict(B=1, Hq=1, S=120, D=8, HI=1, DI=8, top_k=40, pattern=("causal",), ik="negative")),
    ("tokens: radix select, negative weights (negative scores and zeros)",
     dict(B=1, Hq=1, S=160, D=8, HI=2, DI=8, top_k=50, pattern=("causal",), w="signed")),
    ("tokens: radix select, few distinct scores (many ties), NaN keys",
     dict(B=2, Hq=1, S=200, D=8, HI=1, DI=4, top_k=64, pattern=("window", 150, 0),
          ik="coarse-nan")),
]


def pool_program(c):
    b, h, s, d, elt = c["B"], c["H"], c["S"], c["D"], c.get("elt", "f32")
    n = len(ref.pool_blocks(s, c["block"], c.get("stride")))
    stride = ", stride = %d" % c["stride"] if c.get("stride") else ""
    inT = "tensor<%dx%dx%dx%dx%s>" % (b, h, s, d, elt)
    outT = "tensor<%dx%dx%dx%dx%s>" % (b, h, n, d, c.get("out", elt))
    return f"""func.func @pool(%x: {inT}) -> {outT} {{
  %p = sparse_attn.pool %x {{kind = "{c['kind']}", block = {c['block']}{stride}}} : {inT} -> {outT}
  return %p : {outT}
}}
"""


CASES = [
    ("per KV head, Sk % BK != 0, sink + local + top-1, causal",
     dict(B=2, Hq=4, Hkv=2, Sq=100, Sk=100, D=16, BQ=32, BK=32, top_k=1,
          sink=1, local=1, per_kv=True, pattern=("causal",))),
    ("per query token (BQ = 1), window: the sink is no candidate far away",
     dict(B=1, Hq=2, Hkv=1, Sq=100, Sk=100, D=16, BQ=1, BK=16, top_k=2,
          sink=1, local=1, pattern=("window", 40, 0))),
    ("ties: equal scores choose the lower block",
     dict(B=1, Hq=2, Hkv=2, Sq=128, Sk=128, D=8, BQ=32, BK=32, top_k=2,
          local=1, pattern=("causal",), keys="zero")),
    ("NaN in a key block: its score counts as -inf",
     dict(B=1, Hq=2, Hkv=1, Sq=128, Sk=128, D=8, BQ=32, BK=32, top_k=1,
          pattern=("causal",), keys="nan-block-1")),
    ("decode-like Sq < Sk, bottom-right causal: local is the last block",
     dict(B=1, Hq=4, Hkv=2, Sq=16, Sk=100, D=16, BQ=16, BK=32, top_k=1,
          local=1, per_kv=True, pattern=("causal", "bottom_right"))),
    ("top_k beyond the candidates, bf16, dense, dynamic batch",
     dict(B=3, Hq=2, Hkv=1, Sq=64, Sk=64, D=32, BQ=32, BK=32, top_k=3,
          elt="bf16", pattern=("dense",), dynamic_batch=True)),
    ("a custom mask as the static pattern (causal on even 32-key blocks)",
     dict(B=1, Hq=2, Hkv=1, Sq=128, Sk=128, D=16, BQ=32, BK=32, top_k=1,
          local=1, pattern=("custom", "even"),
          custom={"even": lambda b, h, q, k: (k // 32) % 2 == 0 and k <= q},
          region="""sparse_attn.mask @even(%b: index, %h: index, %q: index, %k: index) {
  %c32 = arith.constant 32 : index
  %c2 = arith.constant 2 : index
  %c0 = arith.constant 0 : index
  %blk = arith.divui %k, %c32 : index
  %par = arith.remui %blk, %c2 : index
  %even = arith.cmpi eq, %par, %c0 : index
  %past = arith.cmpi ule, %k, %q : index
  %ok = arith.andi %even, %past : i1
  sparse_attn.yield %ok : i1
}
""")),
    ("nothing selected: empty rows give O = 0, LSE = -inf",
     dict(B=1, Hq=2, Hkv=1, Sq=64, Sk=64, D=16, BQ=32, BK=32, top_k=0,
          pattern=("causal",))),
]
POOLS = [
    ("max, stride < block, partial last block",
     dict(B=1, H=2, S=100, D=8, kind="max", block=32, stride=16)),
    ("mean of bf16 into f32",
     dict(B=2, H=1, S=70, D=16, kind="mean", block=32, elt="bf16", out="f32")),
    ("fewer rows than a block",
     dict(B=1, H=1, S=10, D=8, kind="mean", block=32)),
]

rng = np.random.default_rng(7)
failed = 0
with tempfile.TemporaryDirectory() as tmp:
    def run_case(name, text, inputs, nout):
        path = os.path.join(tmp, "p.mlir")
        open(path, "w").write(text)
        args = []
        for i, a in enumerate(inputs):
            f = os.path.join(tmp, "in%d.npy" % i)
            np.save(f, a)
            args += ["--input", f]
        outs = [os.path.join(tmp, "out%d.npy" % i) for i in range(nout)]
        for f in outs:
            args += ["--output", f]
        res = subprocess.run([run, path, "--check"] + args, capture_output=True, text=True)
        ok = res.returncode == 0 and "FAILED" not in res.stdout
        return ok, res, [np.load(f) for f in outs] if ok else None

    for name, c in CASES:
        b, hq, hkv, sq, sk, d = c["B"], c["Hq"], c["Hkv"], c["Sq"], c["Sk"], c["D"]
        q = rng.uniform(-1, 1, (b, hq, sq, d)).astype(np.float32)
        k = rng.uniform(-1, 1, (b, hkv, sk, d)).astype(np.float32)
        v = rng.uniform(-1, 1, (b, hkv, sk, d)).astype(np.float32)
        if c.get("keys") == "zero":
            k[:] = 0
        if c.get("keys") == "nan-block-1":
            k[:, :, c["BK"] + 3, 1] = np.nan
        ok, res, outs = run_case(name, program(c), [q, k, v], 7)
        detail = ""
        if ok:
            o, lse, kp, n, x, fn, fx = outs
            want_kp = ref.pool(k, "mean", c["BK"])
            ok &= np.allclose(kp, want_kp, rtol=0, atol=1e-2 if c.get("elt") == "bf16" else 1e-6,
                              equal_nan=True)
            got_q = q
            if c.get("elt") == "bf16":  # the kernel saw bf16-rounded queries
                got_q = (q.view(np.uint32) + 0x7fff + ((q.view(np.uint32) >> 16) & 1)) & 0xffff0000
                got_q = got_q.view(np.float32)
            w = ref.select_blocks(got_q, kp, c["pattern"], sk, c["BQ"], c["BK"], c["top_k"],
                                  c.get("sink", 0), c.get("local", 0), c.get("per_kv", False),
                                  x.shape[3], c.get("custom"))
            same = all(np.array_equal(g, e) for g, e in zip((n, x, fn, fx), w[:4]))
            ok &= same
            detail = "%d selected blocks, NumPy tables %s, near ties %d" % (
                int(n.sum() + fn.sum()), "equal" if same else "DIFFER", w[4])
            if c["top_k"] == 0:
                ok &= bool(np.all(o == 0) and np.all(np.isneginf(lse)))
        failed += not ok
        print("%s %s: %s" % ("PASS" if ok else "FAIL", name,
                             detail if ok else res.stdout + res.stderr + detail))
    for name, c in TOKENS:
        b, hq, sl, d, hi, di = c["B"], c["Hq"], c["S"], c["D"], c["HI"], c["DI"]
        q = rng.uniform(-1, 1, (b, hq, sl, d)).astype(np.float32)
        k = rng.uniform(-1, 1, (b, 1, sl, d)).astype(np.float32)
        v = rng.uniform(-1, 1, (b, 1, sl, d)).astype(np.float32)
        iq = rng.uniform(-1, 1, (b, sl, hi, di)).astype(np.float32)
        ik = rng.uniform(-1, 1, (b, sl, di)).astype(np.float32)
        w = rng.uniform(0, 1, (b, sl, hi)).astype(np.float32)
        if c.get("ik") == "negative":  # every dot < 0: every score is 0
            iq = np.abs(iq)
            ik = -np.abs(ik) - 0.1
        if c.get("ik") == "nan-key-5":
            ik[:, 5, 0] = np.nan
        if c.get("ik") == "coarse-nan":  # scores on a grid of 1/4: ties
            iq = np.round(iq * 2) / 2
            ik = np.round(ik * 2) / 2
            w = np.ones_like(w)
            ik[:, 7::13, 1] = np.nan
        if c.get("w") == "signed":
            w = rng.uniform(-1, 1, w.shape).astype(np.float32)
        ok, res, outs = run_case(name, tokens_program(c), [q, k, v, iq, ik, w], 3)
        detail = ""
        if ok:
            o, n, x = outs
            wn, wx = ref.select_tokens(iq, ik, w, c["pattern"], c["top_k"], x.shape[3])
            same = np.array_equal(n, wn) and np.array_equal(x, wx)
            ok &= same
            if c.get("ik") == "nan-key-5":
                ok &= not bool(np.any(x[:, 0, 6:, :] == 5) & True)
            detail = "%d selected keys, NumPy tables %s" % (int(n.sum()), "equal" if same else "DIFFER")
        failed += not ok
        print("%s %s: %s" % ("PASS" if ok else "FAIL", name,
                             detail if ok else res.stdout + res.stderr + detail))
    for name, c in POOLS:
        x = rng.uniform(-1, 1, (c["B"], c["H"], c["S"], c["D"])).astype(np.float32)
        ok, res, outs = run_case(name, pool_program(c), [x], 1)
        if ok:
            want = ref.pool(x, c["kind"], c["block"], c.get("stride"))
            tol = 1e-2 if c.get("elt") == "bf16" else 1e-6
            ok &= outs[0].shape == want.shape and np.allclose(outs[0], want, rtol=0, atol=tol)
        failed += not ok
        print("%s pool, %s%s" % ("PASS" if ok else "FAIL", name,
                                 "" if ok else ": " + res.stdout + res.stderr))
print("%d routing cases, %d failed" % (len(CASES) + len(TOKENS) + len(POOLS), failed))
sys.exit(1 if failed else 0)
