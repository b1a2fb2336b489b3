"""Every built-in pattern (and compositions) with dynamic B, Sq, Sk through
sparse-attn-run --check: the fused kernel classifies its tiles at run time
with the patterns' generated classifiers, and must match the float64
reference at sizes that are not multiples of the tile, Sq != Sk included."""
import os
import subprocess
import sys
import tempfile

import numpy as np

run = sys.argv[1]
PATTERNS = [
    "#sparse_attn.dense",
    "#sparse_attn.causal",
    "#sparse_attn.window<before = 20, after = 5>",
    "#sparse_attn.window<before = 0, after = 0>",
    "#sparse_attn.dilated<before = 40, after = 12, dilation = 3>",
    "#sparse_attn.dilated<before = 17, after = 0, dilation = 1>",
    "#sparse_attn.strided<stride = 9>",
    "#sparse_attn.strided<stride = 1>",
    "#sparse_attn.fixed<stride = 24, summary = 5>",
    "#sparse_attn.fixed<stride = 16, summary = 0>",
    "#sparse_attn.fixed<stride = 12, summary = 12>",
    "#sparse_attn.global<[0, 1, 2, 40, 41, 90]>",
    "#sparse_attn.prefix<length = 19>",
    "#sparse_attn.causal<align = bottom_right>",
    "#sparse_attn.window<before = 20, after = 3, align = bottom_right>",
    "#sparse_attn.intersect<[#sparse_attn.causal<align = bottom_right>, #sparse_attn.window<before = 40, after = 40>]>",
    "#sparse_attn.blocks<block = [16, 16], layout = dense<[[1, 0, 1], [0, 1, 0]]> : tensor<2x3xi1>>",
    "#sparse_attn.union<[#sparse_attn.window<before = 8, after = 8>, #sparse_attn.global<[0, 33]>]>",
    "#sparse_attn.intersect<[#sparse_attn.causal, #sparse_attn.window<before = 30, after = 30>, #sparse_attn.strided<stride = 4>]>",
    "#sparse_attn.union<[#sparse_attn.intersect<[#sparse_attn.causal, #sparse_attn.fixed<stride = 20, summary = 3>]>, #sparse_attn.prefix<length = 7>]>",
]
# (B, Hq, Hkv, Sq, Sk): odd sizes, Sq < Sk and Sq > Sk, one tile or many.
SHAPES = [(2, 2, 1, 77, 93), (1, 2, 2, 130, 61), (1, 1, 1, 5, 3)]
TEMPLATE = """func.func @attention(%q: tensor<?x{hq}x?x16xf32>, %k: tensor<?x{hkv}x?x16xf32>,
                     %v: tensor<?x{hkv}x?x8xf32>) -> (tensor<?x{hq}x?x8xf32>, tensor<?x{hq}x?xf32>) {{
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %q, %c0 : tensor<?x{hq}x?x16xf32>
  %sq = tensor.dim %q, %c2 : tensor<?x{hq}x?x16xf32>
  %o_init = tensor.empty(%b, %sq) : tensor<?x{hq}x?x8xf32>
  %lse_init = tensor.empty(%b, %sq) : tensor<?x{hq}x?xf32>
  %o, %lse = sparse_attn.attention %q, %k, %v
      outs(%o_init, %lse_init : tensor<?x{hq}x?x8xf32>, tensor<?x{hq}x?xf32>)
      {{pattern = {pattern}}}
      : tensor<?x{hq}x?x16xf32>, tensor<?x{hkv}x?x16xf32>, tensor<?x{hkv}x?x8xf32>
      -> tensor<?x{hq}x?x8xf32>, tensor<?x{hq}x?xf32>
  return %o, %lse : tensor<?x{hq}x?x8xf32>, tensor<?x{hq}x?xf32>
}}
"""
rng = np.random.default_rng(7)
failures = runs = 0
with tempfile.TemporaryDirectory() as tmp:
    for b, hq, hkv, sq, sk in SHAPES:
        files = []
        for name, shape in (("q", (b, hq, sq, 16)), ("k", (b, hkv, sk, 16)),
                            ("v", (b, hkv, sk, 8))):
            path = os.path.join(tmp, "%s.npy" % name)
            np.save(path, rng.standard_normal(shape).astype(np.float32))
            files += ["--input", path]
        for pattern in PATTERNS:
            mod = os.path.join(tmp, "m.mlir")
            with open(mod, "w") as f:
                f.write(TEMPLATE.format(hq=hq, hkv=hkv, pattern=pattern))
            res = subprocess.run([run, mod, "--check", "--block-q=16",
                                  "--block-k=16"] + files,
                                 capture_output=True, text=True)
            ok = (res.returncode == 0 and "FAILED" not in res.stdout and
                  res.stdout.count(" OK") == 2)
            runs += 1
            failures += not ok
            if not ok:
                print("FAIL %s %s: %s %s" % ((b, hq, hkv, sq, sk), pattern,
                                             res.stdout.strip(),
                                             res.stderr.strip()))
print("%d dynamic runs, %d failed" % (runs, failures))
sys.exit(1 if failures else 0)
