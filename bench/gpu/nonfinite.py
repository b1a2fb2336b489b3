#!/usr/bin/env python3
"""Non-finite inputs on the GPU kernels (issue 13, defect 1), as documented in
docs/gpu-lowering.md ("Non-finite inputs"): rows with no allowed key are
exactly 0 with LSE -inf whatever K and V hold; a NaN in V of key k reaches
only rows of query blocks whose visited tiles hold k (the tensor-core P V
product multiplies 0 weights by it); tiles that are skipped never contribute.

    # build machine: modules, artifacts (each schedule) and .npy inputs
    /usr/bin/python3 bench/gpu/nonfinite.py make --out .artifacts/nonfinite
    # GPU machine (no MLIR, numpy only): run and check
    python3 bench/gpu/nonfinite.py run --dir .artifacts/nonfinite --runner ./sparse-attn-cuda-run

Prints one line per case and 'N passed, M failed'; exit status 1 on a failure.
"""
import argparse
import os
import subprocess
import sys

import numpy as np

S = 1000  # ragged: 1000 = 15 * 64 + 40
D = 64

MODULES = {
    "causal": ("#sparse_attn.causal", False),
    "empty": ("#sparse_attn.intersect<[#sparse_attn.causal, #sparse_attn.global<[50]>]>", True),
}
# Schedules the lowering has on sm_90a: wgmma + TMA (the default),
# wgmma + cp.async, mma.sync.
SCHEDULES = {"wgmma_tma": [], "wgmma_cpasync": ["--tma=false"], "sync": ["--mma=sync"]}

# (module, V row planted with NaN, rows expected non-finite, rows exactly 0)
# With 64 x 64 tiles: key 999 is in key block 15, visited only by query
# block 15 (rows 960..999; by the definition only row 999 reads it). Key 3
# is in key block 0, which every row >= 50 visits (all of them attend key
# 50); rows 0..49 attend nothing.
CASES = [
    ("causal", 999, set(range(960, 1000)), set()),
    ("causal", None, set(), set()),
    ("empty", 3, set(range(50, 1000)), set(range(0, 50))),
]


def module(pattern, lse):
    t = "tensor<1x1x%dx%dxbf16>" % (S, D)
    lt = "tensor<1x1x%dxf32>" % S
    res = "%s, %s" % (t, lt) if lse else t
    names = "%o, %l" if lse else "%o"
    inits = "  %%oi = tensor.empty() : %s\n" % t + (
        "  %%li = tensor.empty() : %s\n" % lt if lse else "")
    outs = "%%oi, %%li : %s, %s" % (t, lt) if lse else "%%oi : %s" % t
    return ("func.func @attention(%%q: %s, %%k: %s, %%v: %s) -> (%s) {\n%s"
            "  %s = sparse_attn.attention %%q, %%k, %%v outs(%s) {pattern = %s} : %s, %s, %s -> %s\n"
            "  return %s : %s\n}\n") % (t, t, t, res, inits, names, outs, pattern, t, t, t,
                                        res, names, res)


def make(a):
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(0)
    shape = (1, 1, S, D)
    for n in "qkv":
        np.save(os.path.join(a.out, n + ".npy"), rng.standard_normal(shape).astype(np.float32))
    v = np.load(os.path.join(a.out, "v.npy"))
    for row in {c[1] for c in CASES if c[1] is not None}:
        w = v.copy()
        w[0, 0, row, 5] = np.nan
        np.save(os.path.join(a.out, "vnan%d.npy" % row), w)
    for name, (pattern, lse) in MODULES.items():
        path = os.path.join(a.out, name + ".mlir")
        with open(path, "w") as f:
            f.write(module(pattern, lse))
        for sched, opts in SCHEDULES.items():
            subprocess.run([os.path.join(a.build, "bin", "sparse-attn-compile"), path,
                            "--target=cuda", "-o", os.path.join(a.out, name + "_" + sched)] + opts,
                           check=True)
    print("artifacts and inputs in", a.out)


def run(a):
    passed = failed = 0
    for name, row, nonfinite, zero in CASES:
        lse = MODULES[name][1]
        for sched in SCHEDULES:
            art = os.path.join(a.dir, name + "_" + sched)
            o = os.path.join(a.dir, "o.npy")
            l = os.path.join(a.dir, "l.npy")
            vfile = "v.npy" if row is None else "vnan%d.npy" % row
            cmd = [a.runner, art, "--input", os.path.join(a.dir, "q.npy"),
                   "--input", os.path.join(a.dir, "k.npy"),
                   "--input", os.path.join(a.dir, vfile), "--output", o]
            if lse:
                cmd += ["--output", l]
            r = subprocess.run(cmd, capture_output=True, text=True)
            problems = []
            if r.returncode != 0:
                problems.append("runner failed: " + r.stderr.strip())
            else:
                out = np.load(o)
                bad = set(int(i) for i in np.where(~np.isfinite(out).all(axis=(0, 1, 3)))[0])
                if bad != nonfinite:
                    problems.append("non-finite rows %d..%d (%d), expected %s" % (
                        min(bad) if bad else -1, max(bad) if bad else -1, len(bad),
                        ("%d..%d" % (min(nonfinite), max(nonfinite))) if nonfinite else "none"))
                if zero and not (out[0, 0, sorted(zero)] == 0).all():
                    problems.append("rows without keys are not exactly 0")
                if lse and zero and not np.isneginf(np.load(l)[0, 0, sorted(zero)]).all():
                    problems.append("rows without keys: LSE not -inf")
            label = "%s %s V-NaN-row=%s" % (name, sched, row)
            if problems:
                failed += 1
                print("FAIL", label, "; ".join(problems))
            else:
                passed += 1
                print("ok  ", label)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--out", default=".artifacts/nonfinite")
    m.add_argument("--build", default="build")
    r = sub.add_parser("run")
    r.add_argument("--dir", default=".artifacts/nonfinite")
    r.add_argument("--runner", default="./sparse-attn-cuda-run")
    a = ap.parse_args()
    if a.cmd == "make":
        make(a)
        return 0
    return run(a)


if __name__ == "__main__":
    sys.exit(main())
