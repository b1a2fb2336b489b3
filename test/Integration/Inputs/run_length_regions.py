"""length-regions.mlir's mask and score modification with dynamic B, Sq and
Sk: one compiled module checked against the float64 reference at several
sizes (decode: Sq = 1; chunked prefill: Sq < Sk; Sq = Sk; Sq > Sk, where
the first rows see no key)."""
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

run, src = sys.argv[1], sys.argv[2]
text = open(src).read()
text = text.replace("tensor<1x2x40x16xf32>", "tensor<?x2x?x16xf32>")
text = text.replace("tensor<1x2x100x16xf32>", "tensor<?x2x?x16xf32>")
text = text.replace("tensor<1x2x100x8xf32>", "tensor<?x2x?x8xf32>")
text = text.replace("tensor<1x2x40x8xf32>", "tensor<?x2x?x8xf32>")
text = text.replace(
    "  %init = tensor.empty() : tensor<?x2x?x8xf32>",
    "  %c0 = arith.constant 0 : index\n  %c2 = arith.constant 2 : index\n"
    "  %bb = tensor.dim %q, %c0 : tensor<?x2x?x16xf32>\n"
    "  %sqd = tensor.dim %q, %c2 : tensor<?x2x?x16xf32>\n"
    "  %init = tensor.empty(%bb, %sqd) : tensor<?x2x?x8xf32>")
rng = np.random.default_rng(3)
failed = runs = 0
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "dyn.mlir")
    open(path, "w").write(text)
    for b, sq, sk in ((1, 1, 300), (2, 37, 300), (1, 64, 64), (1, 90, 33)):
        args = []
        for name, shape in (("q", (b, 2, sq, 16)), ("k", (b, 2, sk, 16)), ("v", (b, 2, sk, 8))):
            f = os.path.join(tmp, name + ".npy")
            np.save(f, rng.standard_normal(shape).astype(np.float32))
            args += ["--input", f]
        out = subprocess.run([run, path, "--check"] + args, capture_output=True, text=True)
        ok = out.returncode == 0 and " OK" in out.stdout
        runs += 1
        failed += not ok
        print("B=%d Sq=%d Sk=%d: %s" % (b, sq, sk, "OK" if ok else "FAIL\n" + out.stdout + out.stderr))
print("%d runs, %d failed" % (runs, failed))
