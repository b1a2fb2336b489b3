"""sparse_attn.merge through sparse-attn-run (fused and reference CPU
pipelines):
1. the merge alone on random partial results, rows empty on one side and on
   both (LSE -inf), against the formula in float64 (NumPy);
2. split-KV: attention over two disjoint key ranges, merged, against one
   attention over all keys (the merge is exact up to rounding)."""
import os
import subprocess
import sys
import tempfile

import numpy as np

run = sys.argv[1]
lowerings = [[], ["--lowering=reference"]]
rng = np.random.default_rng(3)
failures = 0


def call(module, entry, inputs, nresults, tmp, extra):
    args = [run, module, "--entry", entry]
    for i, x in enumerate(inputs):
        p = os.path.join(tmp, "in%d.npy" % i)
        np.save(p, x)
        args += ["--input", p]
    outs = [os.path.join(tmp, "out%d.npy" % i) for i in range(nresults)]
    for p in outs:
        args += ["--output", p]
    subprocess.run(args + extra, check=True, capture_output=True, text=True)
    return [np.load(p) for p in outs]


def report(name, ok, detail):
    global failures
    failures += not ok
    print("%s %s: %s" % ("PASS" if ok else "FAIL", name, detail))


MERGE = """func.func @merge(%o1: !o, %l1: !l, %o2: !o, %l2: !l) -> (!o, !l) {
  %o, %l = sparse_attn.merge %o1, %l1, %o2, %l2 : !o, !l
  return %o, %l : !o, !l
}
func.func @full(%q: !q, %k: !k, %v: !v) -> (!o, !l) {
  %oi = tensor.empty() : !o
  %li = tensor.empty() : !l
  %o, %l = sparse_attn.attention %q, %k, %v outs(%oi, %li : !o, !l) {pattern = #sparse_attn.dense} : !q, !k, !v -> !o, !l
  return %o, %l : !o, !l
}
func.func @split(%q: !q, %k1: !k1, %v1: !v1, %k2: !k2, %v2: !v2) -> (!o, !l) {
  %oi = tensor.empty() : !o
  %li = tensor.empty() : !l
  %o1, %l1 = sparse_attn.attention %q, %k1, %v1 outs(%oi, %li : !o, !l) {pattern = #sparse_attn.dense} : !q, !k1, !v1 -> !o, !l
  %o2, %l2 = sparse_attn.attention %q, %k2, %v2 outs(%oi, %li : !o, !l) {pattern = #sparse_attn.dense} : !q, !k2, !v2 -> !o, !l
  %o, %l = sparse_attn.merge %o1, %l1, %o2, %l2 : !o, !l
  return %o, %l : !o, !l
}
"""
B, H, S, D, DV, SK, SPLIT = 2, 3, 17, 16, 8, 40, 23
ALIASES = {"o": (B, H, S, DV), "l": (B, H, S), "q": (B, H, S, D),
           "k": (B, H, SK, D), "v": (B, H, SK, DV), "k1": (B, H, SPLIT, D),
           "v1": (B, H, SPLIT, DV), "k2": (B, H, SK - SPLIT, D),
           "v2": (B, H, SK - SPLIT, DV)}


def merge_reference(o1, l1, o2, l2):
    o1, l1, o2, l2 = (x.astype(np.float64) for x in (o1, l1, o2, l2))
    m = np.maximum(l1, l2)
    both = m == -np.inf
    ms = np.where(both, 0.0, m)
    wa, wb = np.exp(l1 - ms), np.exp(l2 - ms)
    s = wa + wb
    lse = np.where(both, -np.inf, m + np.log(np.where(both, 1.0, s)))
    inv = 1.0 / np.where(both, 1.0, s)
    # A side of weight 0 contributes exactly 0 (even a NaN output).
    with np.errstate(invalid="ignore"):
        ta = np.where((wa == 0)[..., None], 0.0, (wa * inv)[..., None] * o1)
        tb = np.where((wb == 0)[..., None], 0.0, (wb * inv)[..., None] * o2)
    return ta + tb, lse


with tempfile.TemporaryDirectory() as tmp:
    for elt, npt, tol in (("f32", np.float32, 1e-6), ("f16", np.float16, 2e-3)):
        header = "".join("!%s = tensor<%sx%s>\n" % (
            a, "x".join(map(str, shape)), elt if a != "l" else "f32")
            for a, shape in ALIASES.items())
        module = os.path.join(tmp, "m_%s.mlir" % elt)
        with open(module, "w") as f:
            f.write(header + MERGE)
        o1 = rng.standard_normal(ALIASES["o"]).astype(npt)
        o2 = rng.standard_normal(ALIASES["o"]).astype(npt)
        l1 = (3 * rng.standard_normal(ALIASES["l"])).astype(np.float32)
        l2 = (3 * rng.standard_normal(ALIASES["l"])).astype(np.float32)
        l1[0, 0, :4] = -np.inf          # empty on side a
        l2[0, 1, 2:6] = -np.inf         # empty on side b
        l1[1, 2, 5:9] = l2[1, 2, 5:9] = -np.inf   # empty on both sides
        o1[0, 0, :4] = np.nan           # what an empty side may hold
        o2[1, 2, 5:9] = np.nan
        want_o, want_l = merge_reference(o1, l1, o2, l2)
        for extra in lowerings:
            tag = "%s %s" % (elt, extra[0] if extra else "fused")
            got_o, got_l = call(module, "merge", [o1, l1, o2, l2], 2, tmp, extra)
            err_o = np.max(np.abs(got_o.astype(np.float64) - want_o))
            same_inf = np.array_equal(np.isneginf(got_l), np.isneginf(want_l))
            fin = np.isfinite(want_l)
            err_l = np.max(np.abs(got_l[fin] - want_l[fin]))
            zero = (np.all(got_o[1, 2, 5:9] == 0) and
                    np.array_equal(got_o[0, 0, :4], o2[0, 0, :4]))
            report("merge " + tag,
                   err_o <= tol * 4 and err_l <= 1e-5 and same_inf and zero,
                   "max |O err| %.2e, max |LSE err| %.2e, -inf rows %s, empty rows 0 / one-sided rows exact: %s"
                   % (err_o, err_l, "match" if same_inf else "DIFFER", zero))
            q = rng.standard_normal(ALIASES["q"]).astype(npt)
            k = rng.standard_normal(ALIASES["k"]).astype(npt)
            v = rng.standard_normal(ALIASES["v"]).astype(npt)
            fo, fl = call(module, "full", [q, k, v], 2, tmp, extra)
            so, sl = call(module, "split", [q, k[:, :, :SPLIT], v[:, :, :SPLIT],
                                            k[:, :, SPLIT:], v[:, :, SPLIT:]],
                          2, tmp, extra)
            eo = np.max(np.abs(so.astype(np.float64) - fo.astype(np.float64)))
            el = np.max(np.abs(sl.astype(np.float64) - fl.astype(np.float64)))
            report("split-KV " + tag, eo <= tol * 4 and el <= 1e-5,
                   "max |O split - O full| %.2e, max |LSE diff| %.2e" % (eo, el))
print("%d failed" % failures)
sys.exit(1 if failures else 0)
