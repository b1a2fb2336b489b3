"""Inputs and checks of test/Integration/nonfinite.test (issue 13, defect 1).

make DIR: writes f32 / bf16 inputs of shape 1x1x256x16 with one non-finite
  element planted (names: q.npy, k.npy, v.npy, vnan255.npy, vnan3.npy,
  vinf100.npy, knan7.npy, allnan.npy, big-*.npy for the scale-aware tolerance).
rows FILE SPEC: asserts which query rows of the output hold a NaN or Inf
  (SPEC: 'none', 'A', 'A-B' inclusive, comma-separated); the others are finite.
zero FILE LSE N: rows 0..N-1 of the output are exactly 0 and their LSE -inf.
"""
import os
import sys

import numpy as np


def rows_of(spec):
    out = set()
    if spec == "none":
        return out
    for part in spec.split(","):
        a, _, b = part.partition("-")
        out.update(range(int(a), int(b or a) + 1))
    return out


kind = sys.argv[1]
if kind == "make":
    d = sys.argv[2]
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(1)
    shape = (1, 1, 256, 16)
    q, k, v = (rng.standard_normal(shape).astype(np.float32) for _ in range(3))
    for name, a in (("q", q), ("k", k), ("v", v)):
        np.save(os.path.join(d, name + ".npy"), a)
    def planted(a, row, val):
        a = a.copy()
        a[0, 0, row, 5] = val
        return a
    np.save(os.path.join(d, "vnan255.npy"), planted(v, 255, np.nan))
    np.save(os.path.join(d, "vnan3.npy"), planted(v, 3, np.nan))
    np.save(os.path.join(d, "vinf100.npy"), planted(v, 100, np.inf))
    np.save(os.path.join(d, "knan7.npy"), planted(k, 7, np.nan))
    np.save(os.path.join(d, "allnan.npy"), np.full(shape, np.nan, np.float32))
    # Row 10's weight on key 5 underflows in f32 (score about -400 below the
    # row maximum) but not in f64: key 5 is still attended, so with V[5]
    # NaN row 10 is NaN in the kernels and in the float64 reference alike.
    qu, ku = q.copy(), k.copy()
    qu[0, 0, 10] = 0
    qu[0, 0, 10, 0] = 40
    ku[0, 0, 5] = 0
    ku[0, 0, 5, 0] = -40
    np.save(os.path.join(d, "qunder.npy"), qu)
    np.save(os.path.join(d, "kunder.npy"), ku)
    np.save(os.path.join(d, "vnan5.npy"), planted(v, 5, np.nan))
    # Logits of several hundred to a few thousand (correct results whose
    # f32 rounding error is far above 1e-5 relative).
    # Scores of about 800 that differ by a few units: the f32 rounding of
    # each score (~800 * 2^-24) is a relative error of ~4e-5 in its weight.
    np.save(os.path.join(d, "big-q.npy"), (200 + rng.uniform(-1, 1, shape)).astype(np.float32))
    np.save(os.path.join(d, "big-k.npy"), (1 + 0.01 * rng.uniform(-1, 1, shape)).astype(np.float32))
    # D = 32 for the bf16 / AMX runs (converted to bf16 by sparse-attn-run).
    shape32 = (1, 1, 256, 32)
    for name in "qkv":
        np.save(os.path.join(d, "b-" + name + ".npy"), rng.standard_normal(shape32).astype(np.float32))
    bv = np.load(os.path.join(d, "b-v.npy"))
    bv[0, 0, 255, 5] = np.nan
    np.save(os.path.join(d, "b-vnan255.npy"), bv)
    bv = np.load(os.path.join(d, "b-v.npy"))
    bv[0, 0, 3, 5] = np.nan
    np.save(os.path.join(d, "b-vnan3.npy"), bv)
    print("inputs written")
elif kind == "rows":
    o = np.load(sys.argv[2]).astype(np.float32)
    want = rows_of(sys.argv[3])
    got = set(int(r) for r in np.where(~np.isfinite(o).all(axis=(0, 1, 3)))[0])
    assert got == want, "non-finite rows %s, expected %s" % (sorted(got), sorted(want))
    print("non-finite rows as expected: %d" % len(want))
elif kind == "zero":
    o, lse, n = np.load(sys.argv[2]), np.load(sys.argv[3]), int(sys.argv[4])
    assert (o[:, :, :n] == 0).all(), "rows without keys are not exactly 0"
    assert np.isneginf(lse[:, :, :n]).all(), "rows without keys: LSE not -inf"
    print("empty rows exactly 0")
else:
    sys.exit("unknown mode " + kind)
