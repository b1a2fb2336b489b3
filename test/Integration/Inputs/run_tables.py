"""Runtime block tables (FlexAttention's kv_num_blocks / kv_indices and
full_kv_*) through sparse-attn-run on the CPU: --check against the float64
reference, and the output against NumPy attention over the materialised
mask (allowed = pattern and listed), for GQA-shared tables (H' = Hkv),
B' = 1, H' = Hq, counts below the maximum, empty lists, tables with a static
pattern and full tables, malformed entries (out of range, negative,
repeated, counts past N or negative) and dynamic lengths."""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "python"))
from sparse_attn.mlir_text import attention_outs  # noqa: E402

run = sys.argv[1]
rng = np.random.default_rng(11)
failures = 0


def module(c):
    dyn = c.get("dynamic", False)
    sq = "?" if dyn else str(c["Sq"])
    sk = "?" if dyn else str(c["Sk"])
    b = "?" if dyn else str(c["B"])
    q = "tensor<%sx%dx%sx16xf32>" % (b, c["Hq"], sq)
    k = "tensor<%sx%dx%sx16xf32>" % (b, c["Hkv"], sk)
    v = "tensor<%sx%dx%sx8xf32>" % (b, c["Hkv"], sk)
    o = "tensor<%sx%dx%sx8xf32>" % (b, c["Hq"], sq)
    l = "tensor<%sx%dx%sxf32>" % (b, c["Hq"], sq)
    nums, idxs = [], []
    args = ["%%q: %s" % q, "%%k: %s" % k, "%%v: %s" % v]
    tables = ""
    for t, (num, idx) in enumerate(c["tables"]):
        nt = "tensor<%s>" % "x".join(str(x) for x in num.shape) + ""
        nt = "tensor<%sxi32>" % "x".join(str(x) for x in num.shape)
        it = "tensor<%sxi32>" % "x".join(str(x) for x in idx.shape)
        if dyn:
            nt = "tensor<%dx%dx?xi32>" % num.shape[:2]
            it = "tensor<%dx%dx?x%dxi32>" % (idx.shape[0], idx.shape[1], idx.shape[3])
        args += ["%%n%d: %s" % (t, nt), "%%i%d: %s" % (t, it)]
        tables += " %s(%%n%d, %%i%d : %s, %s)" % (
            "block_tables" if t == 0 else "full_tables", t, t, nt, it)
    inits, outs = attention_outs("q", q, "v", v, [o, l])
    return ("func.func @attention(%s) -> (%s, %s) {\n%s"
            "  %%o, %%l = sparse_attn.attention %%q, %%k, %%v%s %s {pattern = %s,"
            " table_block = array<i64: %d, %d>} : %s, %s, %s -> %s, %s\n"
            "  return %%o, %%l : %s, %s\n}\n") % (
        ", ".join(args), o, l, inits, tables, outs, c["pattern"], c["BQ"], c["BK"],
        q, k, v, o, l, o, l)


def allowed_pattern(name, sq, sk):
    qi, kj = np.meshgrid(np.arange(sq), np.arange(sk), indexing="ij")
    return {"#sparse_attn.dense": np.ones((sq, sk), bool),
            "#sparse_attn.causal": kj <= qi,
            "#sparse_attn.window<before = 20, after = 3>":
                (qi - kj <= 20) & (kj - qi <= 3)}[name]


def reference(c, q, k, v):
    B, Hq, Hkv, Sq, Sk, BQ, BK = (c[x] for x in ("B", "Hq", "Hkv", "Sq", "Sk", "BQ", "BK"))
    nk = -(-Sk // BK)
    pat = allowed_pattern(c["pattern"], Sq, Sk)
    out = np.zeros((B, Hq, Sq, 8))
    lse = np.full((B, Hq, Sq), -np.inf)
    for b in range(B):
        for h in range(Hq):
            g = h // (Hq // Hkv)
            listed = np.zeros((-(-Sq // BQ), nk), bool)
            for num, idx in c["tables"]:
                bp = 0 if num.shape[0] == 1 else b
                hp = 0 if num.shape[1] == 1 else (h if num.shape[1] == Hq else g)
                for i in range(min(num.shape[2], listed.shape[0])):
                    n = min(max(int(num[bp, hp, i]), 0), idx.shape[3])
                    for kb in idx[bp, hp, i, :n]:
                        if 0 <= kb < nk:
                            listed[i, kb] = True
            mask = pat & np.repeat(np.repeat(listed, BQ, 0), BK, 1)[:Sq, :Sk]
            s = (q[b, h].astype(np.float64) @ k[b, g].T.astype(np.float64)) / 4.0
            s = np.where(mask, s, -np.inf)
            m = s.max(axis=1)
            ok = m > -np.inf
            p = np.where(mask, np.exp(s - np.where(ok, m, 0)[:, None]), 0)
            l = p.sum(axis=1)
            out[b, h][ok] = (p @ v[b, g].astype(np.float64))[ok] / l[ok, None]
            lse[b, h][ok] = m[ok] + np.log(l[ok])
    return out, lse


def lists(bp, hp, mq, n, nk, fill=None):
    num = rng.integers(0, n + 1, size=(bp, hp, mq)).astype(np.int32)
    idx = np.zeros((bp, hp, mq, n), np.int32)
    for r in np.ndindex(bp, hp, mq):
        idx[r] = rng.permutation(nk)[:n] if n <= nk else rng.integers(0, nk, n)
    return num, idx


cases = []
B, Hq, Hkv, Sq, Sk, BQ, BK = 2, 4, 2, 100, 130, 16, 32
mq, nk = -(-Sq // BQ), -(-Sk // BK)
base = dict(B=B, Hq=Hq, Hkv=Hkv, Sq=Sq, Sk=Sk, BQ=BQ, BK=BK, pattern="#sparse_attn.dense")
cases.append(("GQA-shared H'=Hkv", dict(base, tables=[lists(B, Hkv, mq, 4, nk)])))
cases.append(("B'=1 H'=1", dict(base, tables=[lists(1, 1, mq, 3, nk)])))
cases.append(("H'=Hq", dict(base, tables=[lists(B, Hq, mq, 5, nk)])))
empty = lists(B, Hkv, mq, 4, nk)
empty[0][:] = 0
cases.append(("empty lists", dict(base, tables=[empty])))
cases.append(("causal + full tables", dict(base, pattern="#sparse_attn.causal",
              tables=[lists(B, Hkv, mq, 2, nk), lists(B, Hkv, mq, 2, nk)])))
cases.append(("window + tables", dict(base, pattern="#sparse_attn.window<before = 20, after = 3>",
              tables=[lists(1, Hkv, mq, 4, nk)])))
bad_num, bad_idx = lists(B, Hkv, mq, 6, nk)
bad_idx[0, 0, 0] = [0, 0, 1, 1, -3, 99]      # repeated, negative, out of range
bad_num[0, 0, 0] = 6
bad_num[0, 1, 1] = 1000                       # past N: clamped to 6
bad_num[1, 0, 2] = -5                         # negative: nothing
cases.append(("malformed entries", dict(base, tables=[(bad_num, bad_idx)])))
cases.append(("dynamic lengths", dict(base, dynamic=True, tables=[lists(B, Hkv, mq, 4, nk)])))

with tempfile.TemporaryDirectory() as tmp:
    for name, c in cases:
        path = os.path.join(tmp, "m.mlir")
        with open(path, "w") as f:
            f.write(module(c))
        q = rng.standard_normal((c["B"], c["Hq"], c["Sq"], 16)).astype(np.float32)
        k = rng.standard_normal((c["B"], c["Hkv"], c["Sk"], 16)).astype(np.float32)
        v = rng.standard_normal((c["B"], c["Hkv"], c["Sk"], 8)).astype(np.float32)
        files = []
        for i, a in enumerate([q, k, v] + [x for t in c["tables"] for x in t]):
            p = os.path.join(tmp, "in%d.npy" % i)
            np.save(p, a)
            files += ["--input", p]
        outs = [os.path.join(tmp, "o.npy"), os.path.join(tmp, "l.npy")]
        res = subprocess.run([run, path, "--check", "--output", outs[0],
                              "--output", outs[1]] + files,
                             capture_output=True, text=True)
        checked = res.returncode == 0 and res.stdout.count(" OK") == 2
        want_o, want_l = reference(c, q, k, v) if checked else (None, None)
        if checked:
            got_o, got_l = np.load(outs[0]), np.load(outs[1])
            err = np.max(np.abs(got_o - want_o))
            same_inf = np.array_equal(np.isneginf(got_l), np.isneginf(want_l))
            fin = np.isfinite(want_l)
            err_l = np.max(np.abs(got_l[fin] - want_l[fin])) if fin.any() else 0.0
            ok = err < 1e-5 and err_l < 1e-5 and same_inf
        else:
            ok = False
        failures += not ok
        tables_line = [l for l in res.stdout.splitlines() if l.startswith("tables:")]
        # The runner's report of malformed entries, recounted here.
        oor = clamped = rep = 0
        for num, idx in c["tables"]:
            for r in np.ndindex(*num.shape):
                n = int(num[r])
                clamped += n < 0 or n > idx.shape[3]
                seen = set()
                for kb in idx[r][:min(max(n, 0), idx.shape[3])]:
                    if not 0 <= kb < nk:
                        oor += 1
                    elif kb in seen:
                        rep += 1
                    seen.add(int(kb))
        want_line = ("tables: %d listed indices out of range (ignored), %d counts "
                     "outside [0, N] (clamped), %d repeated blocks (counted once)"
                     % (oor, clamped, rep))
        if ok and (not tables_line or tables_line[0] != want_line):
            ok = False
            failures += 1
            res.stdout += " (expected '%s')" % want_line
        print("%s %s: %s%s" % ("PASS" if ok else "FAIL", name,
                               "numpy max |err| %.1e; " % err if checked else "",
                               (tables_line[0] if tables_line else "") if ok else
                               res.stdout.strip() + res.stderr.strip()))
print("%d failed" % failures)
sys.exit(1 if failures else 0)
