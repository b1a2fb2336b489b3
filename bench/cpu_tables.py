#!/usr/bin/env python3
"""Runtime block tables against the static kernel on the CPU: a sliding
window written as the pattern alone (compile-time tables), and as the same
pattern with runtime block tables listing exactly its non-empty key blocks
(what a FlexAttention BlockMask of the window holds). Same mask, same tiles:
the difference is the cost of reading the lists.

    /usr/bin/python3 bench/cpu_tables.py [--seq 8192] [--window 256] [--runs 3] [--rounds 2]
"""
import argparse
import json
import os
import subprocess
import tempfile

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--seq", type=int, default=8192)
ap.add_argument("--window", type=int, default=256)
ap.add_argument("--dim", type=int, default=64)
ap.add_argument("--heads", type=int, default=4)
ap.add_argument("--block", type=int, default=64)
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--rounds", type=int, default=2)
ap.add_argument("--run", default="build/bin/sparse-attn-run")
a = ap.parse_args()

S, H, D, BQ = a.seq, a.heads, a.dim, a.block
pattern = "#sparse_attn.window<before = %d, after = 0>" % (a.window - 1)
t = "tensor<1x%dx%dx%dxf32>" % (H, S, D)
mq = -(-S // BQ)
# Key blocks of query block i: those holding a key in [i*BQ - W + 1, (i+1)*BQ - 1].
lists = [list(range(max(0, (i * BQ - a.window + 1) // BQ), i + 1)) for i in range(mq)]
n = max(len(l) for l in lists)
num = np.array([[[len(l) for l in lists]]], np.int32)
idx = np.zeros((1, 1, mq, n), np.int32)
for i, l in enumerate(lists):
    idx[0, 0, i, :len(l)] = l
nt, it = "tensor<1x1x%dxi32>" % mq, "tensor<1x1x%dx%dxi32>" % (mq, n)
with tempfile.TemporaryDirectory() as tmp:
    static = os.path.join(tmp, "static.mlir")
    tables = os.path.join(tmp, "tables.mlir")
    with open(static, "w") as f:
        f.write("func.func @a(%%q: %s, %%k: %s, %%v: %s) -> %s {\n"
                "  %%init = tensor.empty() : %s\n"
                "  %%o = sparse_attn.attention %%q, %%k, %%v outs(%%init : %s) {pattern = %s} : %s, %s, %s -> %s\n"
                "  return %%o : %s\n}\n" % (t, t, t, t, t, t, pattern, t, t, t, t, t))
    with open(tables, "w") as f:
        f.write("func.func @a(%%q: %s, %%k: %s, %%v: %s, %%n: %s, %%i: %s) -> %s {\n"
                "  %%init = tensor.empty() : %s\n"
                "  %%o = sparse_attn.attention %%q, %%k, %%v block_tables(%%n, %%i : %s, %s)"
                " outs(%%init : %s)"
                " {pattern = %s, table_block = array<i64: %d, %d>} : %s, %s, %s -> %s\n"
                "  return %%o : %s\n}\n" % (t, t, t, nt, it, t, t, nt, it, t, pattern, BQ, BQ,
                                            t, t, t, t, t))
    rng = np.random.default_rng(0)
    inputs = []
    for name in "qkv":
        p = os.path.join(tmp, name + ".npy")
        np.save(p, rng.standard_normal((1, H, S, D)).astype(np.float32))
        inputs += ["--input", p]
    for name, arr in (("n", num), ("i", idx)):
        p = os.path.join(tmp, name + ".npy")
        np.save(p, arr)
    table_inputs = inputs + ["--input", os.path.join(tmp, "n.npy"),
                             "--input", os.path.join(tmp, "i.npy")]
    print("window %d, 1 x %d x %d x %d f32, %d x %d tiles, one thread, median of %d runs"
          % (a.window, H, S, D, BQ, BQ, a.runs))
    for r in range(a.rounds):
        row = []
        for name, mod, ins in (("static", static, inputs), ("tables", tables, table_inputs)):
            out = subprocess.run([a.run, mod, "--bench", str(a.runs), "--num-threads", "1",
                                  "--block-q", str(BQ), "--block-k", str(BQ)] + ins,
                                 capture_output=True, text=True, check=True)
            ms = json.loads(out.stdout.strip().splitlines()[-1])["median_ms"]
            row.append("%s %.2f ms" % (name, ms))
        print("round %d: %s" % (r + 1, ", ".join(row)), flush=True)
