"""sparse_attn.online_attention: attention over all keys as a chain of
online-softmax steps over key tiles (tile_of / at with the tiles' key
offsets), finalised by O = acc / l, LSE = m + log l, against the float64
reference of one sparse_attn.attention over all keys on the same inputs,
through both CPU pipelines (the steps decomposed into linalg). Cases:
causal and windows cut by the tile edge, documents (key ids sliced with
their keys), a per-head mask with a score modification, grouped-query
heads, f16, three uneven steps, the steps in reverse order (the state does
not depend on the order), and a step whose keys a row does not attend at
all (the state stays as it was)."""
import os
import subprocess
import sys
import tempfile

import numpy as np

run = sys.argv[1]
rng = np.random.default_rng(9)
failures = 0

MODS = """sparse_attn.mask @per_head(%b: index, %h: index, %q: index, %k: index) {
  %c0 = arith.constant 0 : index
  %c6 = arith.constant 6 : index
  %first = arith.cmpi eq, %h, %c0 : index
  %le = arith.cmpi sle, %k, %q : index
  %d = arith.subi %q, %k : index
  %ad = arith.maxsi %d, %c0 : index
  %nd = arith.subi %k, %q : index
  %bd = arith.maxsi %nd, %ad : index
  %near = arith.cmpi sle, %bd, %c6 : index
  %ok = arith.select %first, %le, %near : i1
  sparse_attn.yield %ok : i1
}
""" + open(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "alibi.mlir")).read()


def t(shape, elt):
    return "tensor<%sx%s>" % ("x".join(map(str, shape)), elt)


def modules(c):
    B, Hq, Hkv, S, D, Dv = c["shape"]
    elt = c.get("elt", "f32")
    cuts = [0] + c["cuts"] + [S]
    steps = list(range(len(cuts) - 1))
    if c.get("reverse"):
        steps.reverse()
    q, o, l = t((B, Hq, S, D), elt), t((B, Hq, S, Dv), elt), t((B, Hq, S), "f32")
    acc = t((B, Hq, S, Dv), "f32")
    attrs = "pattern = %s" % c["pattern"] + (", score_mod = @alibi" if c.get("mods") else "")
    docs = c.get("docs")
    # One attention over all keys (the reference).
    k, v = t((B, Hkv, S, D), elt), t((B, Hkv, S, Dv), elt)
    seg_t = t((B, S), "i32")
    full_args = "%%q: %s, %%k: %s, %%v: %s" % (q, k, v) + (", %%ids: %s" % seg_t if docs else "")
    full = ("func.func @full(%s) -> (%s, %s) {\n"
            "  %%oi = tensor.empty() : %s\n  %%li = tensor.empty() : %s\n"
            "  %%o, %%l = sparse_attn.attention %%q, %%k, %%v%s outs(%%oi, %%li : %s, %s) {%s}"
            " : %s, %s, %s -> %s, %s\n  return %%o, %%l : %s, %s\n}\n") % (
        full_args, o, l, o, l, " segments(%%ids : %s)" % seg_t if docs else "",
        o, l, attrs, q, k, v, o, l, o, l)
    # The steps.
    args = ["%%q: %s" % q] + (["%%qids: %s" % seg_t] if docs else [])
    body = ["  %c0 = arith.constant 0 : index",
            "  %%hq = arith.constant %d : index" % Hq,
            "  %%s = arith.constant %d : index" % S,
            "  %zero = arith.constant 0.0 : f32",
            "  %ninf = arith.constant 0xFF800000 : f32",
            "  %%e0 = tensor.empty() : %s" % acc, "  %%e1 = tensor.empty() : %s" % l,
            "  %%a = linalg.fill ins(%%zero : f32) outs(%%e0 : %s) -> %s" % (acc, acc),
            "  %%m = linalg.fill ins(%%ninf : f32) outs(%%e1 : %s) -> %s" % (l, l),
            "  %%l = linalg.fill ins(%%zero : f32) outs(%%e1 : %s) -> %s" % (l, l)]
    names = ("%a", "%m", "%l")
    for n in range(len(cuts) - 1):
        sk = cuts[n + 1] - cuts[n]
        args += ["%%k%d: %s" % (n, t((B, Hkv, sk, D), elt)), "%%v%d: %s" % (n, t((B, Hkv, sk, Dv), elt))]
        if docs:
            args.append("%%kids%d: %s" % (n, t((B, sk), "i32")))
    for n in steps:
        sk = cuts[n + 1] - cuts[n]
        kt, vt = t((B, Hkv, sk, D), elt), t((B, Hkv, sk, Dv), elt)
        seg = " segments(%%qids, %%kids%d : %s, %s)" % (n, seg_t, t((B, sk), "i32")) if docs else ""
        body.append("  %%k0_%d = arith.constant %d : index" % (n, cuts[n]))
        out = ("%%a%d" % n, "%%m%d" % n, "%%l%d" % n)
        body.append("  %s, %s, %s = sparse_attn.online_attention %%q, %%k%d, %%v%d%s"
                    " tile_of(%%hq, %%s, %%s) at(%%c0, %%c0, %%c0, %%k0_%d)"
                    " outs(%s, %s, %s : %s, %s, %s) {%s} : %s, %s, %s -> %s, %s, %s" % (
                        out + (n, n, seg, n) + names + (acc, l, l, attrs, q, kt, vt, acc, l, l)))
        names = out
    body += [
        "  %%oe = tensor.empty() : %s" % o,
        "  %%o = linalg.generic {indexing_maps = [affine_map<(b, h, i, e) -> (b, h, i, e)>,"
        " affine_map<(b, h, i, e) -> (b, h, i)>, affine_map<(b, h, i, e) -> (b, h, i, e)>],"
        " iterator_types = [\"parallel\", \"parallel\", \"parallel\", \"parallel\"]}"
        " ins(%s, %s : %s, %s) outs(%%oe : %s) {" % (names[0], names[2], acc, l, o),
        "  ^bb0(%x: f32, %n: f32, %y: " + elt + "):",
        "    %none = arith.cmpf oeq, %n, %zero : f32",
        "    %r = arith.divf %x, %n : f32",
        "    %s0 = arith.select %none, %zero, %r : f32",
        ("    %s1 = arith.truncf %s0 : f32 to " + elt) if elt != "f32" else "    %s1 = arith.addf %s0, %zero : f32",
        "    linalg.yield %s1 : " + elt,
        "  } -> %s" % o,
        "  %%le = tensor.empty() : %s" % l,
        "  %%lse = linalg.generic {indexing_maps = [affine_map<(b, h, i) -> (b, h, i)>,"
        " affine_map<(b, h, i) -> (b, h, i)>, affine_map<(b, h, i) -> (b, h, i)>],"
        " iterator_types = [\"parallel\", \"parallel\", \"parallel\"]}"
        " ins(%s, %s : %s, %s) outs(%%le : %s) {" % (names[1], names[2], l, l, l),
        "  ^bb0(%mx: f32, %n: f32, %y: f32):",
        "    %none = arith.cmpf oeq, %n, %zero : f32",
        "    %lg = math.log %n : f32",
        "    %r = arith.addf %mx, %lg : f32",
        "    %s0 = arith.select %none, %ninf, %r : f32",
        "    linalg.yield %s0 : f32",
        "  } -> %s" % l,
        "  return %%o, %%lse : %s, %s" % (o, l)]
    split = "func.func @split(%s) -> (%s, %s) {\n%s\n}\n" % (", ".join(args), o, l, "\n".join(body))
    return (MODS if c.get("mods") else "") + full + split


def call(module, entry, arrays, tmp, extra):
    args = [run, module, "--entry", entry]
    for n, a in enumerate(arrays):
        p = os.path.join(tmp, "%s_in%d.npy" % (entry, n))
        np.save(p, a)
        args += ["--input", p]
    res = subprocess.run(args + extra, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(res.stderr.strip()[-600:])


CASES = [
    {"name": "causal, 2 steps", "shape": (1, 2, 2, 70, 16, 8), "pattern": "#sparse_attn.causal", "cuts": [33]},
    {"name": "window, 3 uneven steps, GQA", "shape": (2, 4, 2, 90, 16, 16),
     "pattern": "#sparse_attn.window<before = 12, after = 7>", "cuts": [10, 61]},
    {"name": "steps in reverse order", "shape": (1, 2, 1, 64, 16, 16),
     "pattern": "#sparse_attn.union<[#sparse_attn.window<before = 5, after = 5>, #sparse_attn.global<[0, 40]>]>",
     "cuts": [20, 41], "reverse": True},
    {"name": "causal documents", "shape": (2, 2, 1, 80, 16, 8), "docs": True,
     "pattern": "#sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>", "cuts": [37]},
    {"name": "per-head mask + ALiBi", "shape": (1, 3, 3, 48, 16, 16), "mods": True,
     "pattern": "#sparse_attn.custom<@per_head>", "cuts": [16, 30]},
    {"name": "f16 causal", "shape": (1, 2, 2, 64, 16, 16), "elt": "f16",
     "pattern": "#sparse_attn.causal", "cuts": [32]},
    {"name": "a step no row attends (prefix window)", "shape": (1, 1, 1, 40, 16, 16),
     "pattern": "#sparse_attn.window<before = 3, after = 0>", "cuts": [8]},
]

with tempfile.TemporaryDirectory() as tmp:
    for c in CASES:
        B, Hq, Hkv, S, D, Dv = c["shape"]
        npt = np.float16 if c.get("elt") == "f16" else np.float32
        path = os.path.join(tmp, "m.mlir")
        with open(path, "w") as f:
            f.write(modules(c))
        q = rng.standard_normal((B, Hq, S, D)).astype(npt)
        k = rng.standard_normal((B, Hkv, S, D)).astype(npt)
        v = rng.standard_normal((B, Hkv, S, Dv)).astype(npt)
        ids = None
        if c.get("docs"):
            ids = np.tile(np.repeat(np.arange(4), [9, 30, 2, S - 41]).astype(np.int32), (B, 1))
        full_in = [q, k, v] + ([ids] if ids is not None else [])
        cuts = [0] + c["cuts"] + [S]
        split_in = [q] + ([ids] if ids is not None else [])
        for n in range(len(cuts) - 1):
            a, b = cuts[n], cuts[n + 1]
            split_in += [k[:, :, a:b], v[:, :, a:b]]
            if ids is not None:
                split_in.append(np.ascontiguousarray(ids[:, a:b]))
        refs = [os.path.join(tmp, "ref%d.npy" % i) for i in range(2)]
        outs = [os.path.join(tmp, "out%d.npy" % i) for i in range(2)]
        try:
            call(path, "full", full_in, tmp, sum((["--write-reference", r] for r in refs), []))
            for lowering in ([], ["--lowering=reference"]):
                call(path, "split", split_in, tmp, sum((["--output", o] for o in outs), []) + lowering)
                o, l = (np.load(p).astype(np.float64) for p in outs)
                ro, rl = (np.load(p) for p in refs)
                tol = 2e-3 if npt == np.float16 else 2e-5
                err_o = np.max(np.abs(o - ro)) / max(np.max(np.abs(ro)), 1e-30)
                fin = np.isfinite(rl)
                err_l = np.max(np.abs(l[fin] - rl[fin])) if fin.any() else 0.0
                same_inf = np.array_equal(np.isneginf(l), np.isneginf(rl))
                ok = err_o <= tol and err_l <= 1e-4 and same_inf
                failures += not ok
                print("%s %s (%s): rel |O - ref| %.1e, |LSE - ref| %.1e, -inf rows %s" % (
                    "PASS" if ok else "FAIL", c["name"], "reference" if lowering else "fused",
                    err_o, err_l, "match" if same_inf else "DIFFER"))
        except RuntimeError as e:
            failures += 1
            print("FAIL %s: %s" % (c["name"], e))
print("%d failed" % failures)
sys.exit(1 if failures else 0)
