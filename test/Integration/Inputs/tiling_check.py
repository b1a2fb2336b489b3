"""sparse_attn.attention tiled through its TilingInterface by upstream
transforms (transform.structured.tile_using_forall over batch, query heads
and query rows), then compiled by the CPU pipeline and run by
sparse-attn-run: the tiled program must give the numbers of the untiled
op, checked against the untiled op's float64 reference (--write-reference)
on the same inputs. Cases: positional patterns at tile sizes that do not
divide the problem (remainder tiles), grouped-query heads with head tiles
that straddle a key/value group, a head-dependent custom mask with a score
modification (positions and heads seen as the problem's), document masks
(segment ids sliced with their rows), a tile of a tile (offsets composed),
random blocks (a length-dependent pattern), f16, and dynamic B / Sq."""
import os
import subprocess
import sys
import tempfile

import numpy as np

opt, run = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(5)
failures = 0

MODS = """sparse_attn.mask @per_head(%b: index, %h: index, %q: index, %k: index) {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %first = arith.cmpi eq, %h, %c0 : index
  %le = arith.cmpi sle, %k, %q : index
  %d = arith.subi %q, %k : index
  %ad = arith.maxsi %d, %c0 : index
  %nd = arith.subi %k, %q : index
  %bd = arith.maxsi %nd, %ad : index
  %near = arith.cmpi sle, %bd, %c4 : index
  %odd = arith.remui %b, %c4 : index
  %ok0 = arith.select %first, %le, %near : i1
  %one = arith.constant 1 : index
  %b1 = arith.cmpi eq, %odd, %one : index
  %ok = arith.ori %ok0, %b1 : i1
  sparse_attn.yield %ok : i1
}
""" + open(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "alibi.mlir")).read()


def tensor(shape, elt):
    return "tensor<%sx%s>" % ("x".join("?" if s is None else str(s) for s in shape), elt)


def module(c, dyn=False):
    """The op's module (static shapes, or dynamic B / Sq / Sk with results
    cast to the static shapes, which sparse-attn-run needs to allocate) and
    the same with the transform script appended."""
    B, Hq, Hkv, Sq, Sk, D, Dv = c["shape"]
    elt = c.get("elt", "f32")
    b, sq, sk = (None, None, None) if dyn else (B, Sq, Sk)
    q, k = tensor((b, Hq, sq, D), elt), tensor((b, Hkv, sk, D), elt)
    v, o = tensor((b, Hkv, sk, Dv), elt), tensor((b, Hq, sq, Dv), elt)
    l = tensor((b, Hq, sq), "f32")
    so, sl = tensor((B, Hq, Sq, Dv), elt), tensor((B, Hq, Sq), "f32")
    args = ["%%q: %s" % q, "%%k: %s" % k, "%%v: %s" % v]
    seg = ""
    if c.get("docs"):
        st = tensor((b, sq), "i32")
        args.append("%%ids: %s" % st)
        seg = " segments(%%ids : %s)" % st
    lines = []
    if dyn:
        lines += ["  %c0 = arith.constant 0 : index",
                  "  %c2 = arith.constant 2 : index",
                  "  %%b = tensor.dim %%q, %%c0 : %s" % q,
                  "  %%sq = tensor.dim %%q, %%c2 : %s" % q,
                  "  %%oi = tensor.empty(%%b, %%sq) : %s" % o,
                  "  %%li = tensor.empty(%%b, %%sq) : %s" % l]
    else:
        lines += ["  %%oi = tensor.empty() : %s" % o,
                  "  %%li = tensor.empty() : %s" % l]
    attrs = "pattern = %s" % c["pattern"]
    if c.get("mods"):
        attrs += ", score_mod = @alibi"
    lines.append("  %%o, %%l = sparse_attn.attention %%q, %%k, %%v%s outs(%%oi, %%li : %s, %s) {%s}"
                 " : %s, %s, %s -> %s, %s" % (seg, o, l, attrs, q, k, v, o, l))
    if dyn:
        lines.append("  %%so = tensor.cast %%o : %s to %s" % (o, so))
        lines.append("  %%sl = tensor.cast %%l : %s to %s" % (l, sl))
        lines.append("  return %%so, %%sl : %s, %s" % (so, sl))
    else:
        lines.append("  return %%o, %%l : %s, %s" % (o, l))
    text = (MODS if c.get("mods") else "") + \
        "func.func @attention(%s) -> (%s, %s) {\n%s\n}\n" % (
            ", ".join(args), so, sl, "\n".join(lines))
    # The transform script: one tiling, or a tiling of the tiled op.
    steps = []
    handle = "%op"
    for n, sizes in enumerate(c["tiles"]):
        steps.append("    %%t%d, %%f%d = transform.structured.tile_using_forall %s tile_sizes [%s]"
                     " : (!transform.any_op) -> (!transform.any_op, !transform.any_op)"
                     % (n, n, handle, ", ".join(map(str, sizes))))
        handle = "%%t%d" % n
    if c.get("key_tiles"):
        # Keys as a partial reduction: online_attention steps over key tiles
        # in an scf.for, the state merged into O and LSE.
        steps.append("    %%fill:3, %%split, %%merge, %%loop = transform.structured."
                     "tile_reduction_using_for %s by tile_sizes = [0, 0, 0, %d]"
                     " : (!transform.any_op) -> (!transform.any_op, !transform.any_op,"
                     " !transform.any_op, !transform.any_op, !transform.any_op,"
                     " !transform.any_op)" % (handle, c["key_tiles"]))
    script = """module attributes {transform.with_named_sequence} {
  transform.named_sequence @__transform_main(%%root: !transform.any_op {transform.readonly}) {
    %%op = transform.structured.match ops{["sparse_attn.attention"]} in %%root : (!transform.any_op) -> !transform.any_op
%s
    transform.yield
  }
}
""" % "\n".join(steps)
    return text, text + script


def inputs(c, tmp):
    B, Hq, Hkv, Sq, Sk, D, Dv = c["shape"]
    npt = np.float16 if c.get("elt") == "f16" else np.float32
    arrays = [rng.standard_normal((B, Hq, Sq, D)).astype(npt),
              rng.standard_normal((B, Hkv, Sk, D)).astype(npt),
              rng.standard_normal((B, Hkv, Sk, Dv)).astype(npt)]
    if c.get("docs"):
        lengths = [5, 17, 1, 30, Sq - 53]
        ids = np.repeat(np.arange(len(lengths)), lengths).astype(np.int32)
        arrays.append(np.tile(ids, (B, 1)))
    args = []
    for i, a in enumerate(arrays):
        p = os.path.join(tmp, "in%d.npy" % i)
        np.save(p, a)
        args += ["--input", p]
    return args


def call(cmd):
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), res.stderr.strip()[-800:]))
    return res.stdout


CASES = [
    {"name": "window, remainder tiles", "shape": (2, 4, 2, 100, 90, 16, 8),
     "pattern": "#sparse_attn.window<before = 20, after = 5>", "tiles": [[1, 2, 32]]},
    {"name": "causal, head tiles across GQA groups", "shape": (1, 6, 2, 77, 77, 16, 16),
     "pattern": "#sparse_attn.causal", "tiles": [[1, 2, 16]]},
    {"name": "causal, head tile 1, batch 0 (untiled)", "shape": (2, 4, 1, 50, 64, 8, 8),
     "pattern": "#sparse_attn.causal", "tiles": [[0, 1, 24]]},
    {"name": "per-head / per-batch mask + ALiBi", "shape": (2, 3, 3, 33, 33, 16, 16),
     "pattern": "#sparse_attn.union<[#sparse_attn.custom<@per_head>, #sparse_attn.global<[0]>]>",
     "mods": True, "tiles": [[1, 2, 7]]},
    {"name": "causal documents", "shape": (2, 2, 1, 96, 96, 16, 8), "docs": True,
     "pattern": "#sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>",
     "tiles": [[1, 1, 40]]},
    {"name": "tile of a tile (offsets composed)", "shape": (2, 4, 2, 130, 130, 16, 16),
     "pattern": "#sparse_attn.union<[#sparse_attn.window<before = 9, after = 9>, #sparse_attn.strided<stride = 7>]>",
     "tiles": [[1, 4, 64], [1, 3, 20]]},
    {"name": "random blocks", "shape": (1, 2, 2, 128, 128, 16, 16),
     "pattern": "#sparse_attn.random<block = 16, per_row = 2, seed = 3>", "tiles": [[1, 1, 48]]},
    {"name": "f16 dilated", "shape": (1, 2, 1, 70, 70, 16, 16), "elt": "f16",
     "pattern": "#sparse_attn.dilated<before = 30, after = 0, dilation = 3>", "tiles": [[1, 2, 16]]},
    {"name": "dynamic B / Sq, prefix", "shape": (3, 2, 1, 45, 45, 16, 16), "dynamic": True,
     "pattern": "#sparse_attn.prefix<length = 11>", "tiles": [[2, 1, 16]]},
    {"name": "rows tiled, fused and reference lowerings", "shape": (2, 4, 2, 100, 90, 16, 8),
     "pattern": "#sparse_attn.union<[#sparse_attn.window<before = 7, after = 7>, #sparse_attn.global<[0, 50]>]>",
     "tiles": [[1, 0, 24]], "reference": True},
    {"name": "keys as a partial reduction, causal GQA", "shape": (2, 4, 2, 100, 90, 16, 8),
     "pattern": "#sparse_attn.causal", "tiles": [], "key_tiles": 32},
    {"name": "rows in parallel, then keys, documents", "shape": (2, 2, 1, 96, 96, 16, 8), "docs": True,
     "pattern": "#sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>",
     "tiles": [[1, 0, 40]], "key_tiles": 24},
    {"name": "keys as a partial reduction, per-head mask + ALiBi", "shape": (2, 3, 3, 33, 33, 16, 16),
     "pattern": "#sparse_attn.union<[#sparse_attn.custom<@per_head>, #sparse_attn.global<[0]>]>",
     "mods": True, "tiles": [], "key_tiles": 10},
]

with tempfile.TemporaryDirectory() as tmp:
    for c in CASES:
        plain, _ = module(c)
        _, scripted = module(c, c.get("dynamic", False))
        src, tiled = os.path.join(tmp, "plain.mlir"), os.path.join(tmp, "tiled.mlir")
        with open(src, "w") as f:
            f.write(plain)
        with open(os.path.join(tmp, "scripted.mlir"), "w") as f:
            f.write(scripted)
        try:
            text = call([opt, os.path.join(tmp, "scripted.mlir"), "--transform-interpreter",
                         "--canonicalize"])
            # Drop the transform script (the interpreter leaves it in place).
            text = text[:text.rindex("  module attributes {transform.with_named_sequence}")] + "}\n"
            ntiles = text.count("tile_of(")
            with open(tiled, "w") as f:
                f.write(text)
            args = inputs(c, tmp)
            refs = [os.path.join(tmp, "ref%d.npy" % i) for i in range(2)]
            base = [os.path.join(tmp, "base%d.npy" % i) for i in range(2)]
            outs = [os.path.join(tmp, "out%d.npy" % i) for i in range(2)]
            call([run, src] + args + sum((["--write-reference", r] for r in refs), []) +
                 sum((["--output", b] for b in base), []))
            call([run, tiled] + args + sum((["--output", o] for o in outs), []))
            if c.get("reference"):
                # The reference lowering runs the same tiles (their head
                # offset is the constant 0); both must agree with the oracle.
                routs = [os.path.join(tmp, "rout%d.npy" % i) for i in range(2)]
                call([run, tiled, "--lowering=reference"] + args +
                     sum((["--output", o] for o in routs), []))
                ro2 = np.load(routs[0]).astype(np.float64)
                if np.max(np.abs(ro2 - np.load(refs[0]))) > 2e-5 * max(
                        np.max(np.abs(np.load(refs[0]))), 1e-30):
                    raise RuntimeError("the reference lowering of the tiles differs")
            o, l = (np.load(p).astype(np.float64) for p in outs)
            ro, rl = (np.load(p) for p in refs)
            bo, bl = (np.load(p).astype(np.float64) for p in base)
            tol = 2e-3 if c.get("elt") == "f16" else 2e-5
            err_o = np.max(np.abs(o - ro)) / max(np.max(np.abs(ro)), 1e-30)
            fin = np.isfinite(rl)
            err_l = np.max(np.abs(l[fin] - rl[fin])) if fin.any() else 0.0
            same_inf = np.array_equal(np.isneginf(l), np.isneginf(rl))
            ok = ntiles >= 1 and err_o <= tol and err_l <= 1e-4 and same_inf
            failures += not ok
            print("%s %s: %d tile op(s), rel |O - ref| %.1e, |LSE - ref| %.1e, "
                  "-inf rows %s; |O - untiled| %.1e" % (
                      "PASS" if ok else "FAIL", c["name"], ntiles, err_o, err_l,
                      "match" if same_inf else "DIFFER", np.max(np.abs(o - bo))))
        except RuntimeError as e:
            failures += 1
            print("FAIL %s: %s" % (c["name"], e))
print("%d failed" % failures)
sys.exit(1 if failures else 0)
