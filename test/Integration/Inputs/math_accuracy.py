"""Accuracy of the math functions score modifications use, as the CPU
pipeline compiles them (sparse-attn-polynomial-math: polynomial and rational
approximations on vectors), against float64 (numpy / math) on a dense grid of
f32 inputs per function. Prints one line per function with the largest
error in f32 ulp and relative, and fails when a bound documented in
docs/cpu-lowering.md is exceeded.
usage: math_accuracy.py SPARSE_ATTN_RUN"""
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

run = sys.argv[1]
N = 1 << 16
erf = np.vectorize(math.erf)
# name: (float64 reference, input range, documented bound in f32 ulp)
FUNCS = {
    "exp": (np.exp, (-87.0, 88.0), 2),
    "expm1": (np.expm1, (-20.0, 20.0), 3),
    "tanh": (np.tanh, (-12.0, 12.0), 5),
    "log": (np.log, (1e-30, 1e30), 2),
    "log2": (np.log2, (1e-30, 1e30), 2),
    "log1p": (np.log1p, (-0.99, 1e6), 3),
    "erf": (erf, (-5.0, 5.0), 5),
}
TEMPLATE = """func.func @f(%x: tensor<{n}xf32>) -> tensor<{n}xf32> {{
  %init = tensor.empty() : tensor<{n}xf32>
  %r = linalg.generic {{indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>],
                       iterator_types = ["parallel"]}}
      ins(%x : tensor<{n}xf32>) outs(%init : tensor<{n}xf32>) {{
  ^bb0(%a: f32, %o: f32):
    %t = math.{fn} %a : f32
    linalg.yield %t : f32
  }} -> tensor<{n}xf32>
  return %r : tensor<{n}xf32>
}}
"""
failed = 0
with tempfile.TemporaryDirectory() as tmp:
    for fn, (ref, (lo, hi), bound) in FUNCS.items():
        if lo > 0 and hi / lo > 1e6:  # log-spaced over many decades
            x = np.geomspace(lo, hi, N)
        else:
            x = np.linspace(lo, hi, N)
        x = x.astype(np.float32)
        src, xin, yout = (os.path.join(tmp, n) for n in ("f.mlir", "x.npy", "y.npy"))
        with open(src, "w") as f:
            f.write(TEMPLATE.format(n=N, fn=fn))
        np.save(xin, x)
        subprocess.run([run, src, "--input", xin, "--output", yout], check=True,
                       stdout=subprocess.DEVNULL)
        y = np.load(yout).astype(np.float64)
        r = ref(x.astype(np.float64))
        err = np.abs(y - r)
        ulp = np.spacing(np.abs(r).astype(np.float32)).astype(np.float64)
        worst_ulp = float(np.max(err / ulp))
        worst_rel = float(np.max(err / np.maximum(np.abs(r), np.finfo(np.float32).tiny)))
        ok = worst_ulp <= bound
        failed += not ok
        print("%-6s [%g, %g]: max %.2f ulp (bound %d), max relative %.2e %s"
              % (fn, lo, hi, worst_ulp, bound, worst_rel, "OK" if ok else "FAIL"))
print("%d functions, %d failed" % (len(FUNCS), failed))
