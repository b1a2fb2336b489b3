#!/usr/bin/env python3
"""Fused (block-skipping) vs unfused reference CPU lowering, one thread.

For S in {1024, 4096, 16384}, D in {64, 128} and the patterns below, runs
`sparse-attn-run --bench` on a generated module (B = 1, H = 1, f32) with each
lowering and records the median time, the effective GFLOP/s (4 * D FLOPs per
allowed pair, i.e. 2D + 2Dv with Dv = D) and the peak resident memory of the
process (GNU time). The reference materialises several S x S f32 tensors, so
it is only run up to --max-reference-s (default 4096).

    bench/cpu_lowerings.py [--sizes 1024,4096,16384] [--dims 64,128] > table.md
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
run = os.path.join(root, "build", "bin", "sparse-attn-run")

ap = argparse.ArgumentParser()
ap.add_argument("--sizes", default="1024,4096,16384")
ap.add_argument("--dims", default="64,128")
ap.add_argument("--max-reference-s", type=int, default=4096)
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--threads", type=int, default=1,
                help="threads of the fused kernel (the recorded table used 1)")
args = ap.parse_args()


def patterns(s):
    return [
        ("dense", "#sparse_attn.dense"),
        ("causal", "#sparse_attn.causal"),
        ("window 256", "#sparse_attn.window<before = 256, after = 256>"),
        ("BigBird (3 blocks + 2 global + 3 random)",
         "#sparse_attn.union<[#sparse_attn.window<before = 96, after = 96>, "
         "#sparse_attn.global<[0, 1]>, "
         "#sparse_attn.random<block = 64, per_row = 3, seed = 0>]>"),
        ("~10 %% (causal window %d)" % (s // 10),
         "#sparse_attn.window<before = %d, after = 0>" % (s // 10 - 1)),
        ("~5 %% (causal window %d)" % (s // 20),
         "#sparse_attn.window<before = %d, after = 0>" % (s // 20 - 1)),
    ]


def module(s, d, pattern):
    t = "tensor<1x1x%dx%dxf32>" % (s, d)
    return ("func.func @attention(%%q: %s, %%k: %s, %%v: %s) -> %s {\n"
            "  %%init = tensor.empty() : %s\n"
            "  %%o = sparse_attn.attention %%q, %%k, %%v outs(%%init : %s) {pattern = %s} : %s, %s, %s -> %s\n"
            "  return %%o : %s\n}\n" % (t, t, t, t, t, t, pattern, t, t, t, t, t))


def bench(path, lowering, runs):
    cmd = ["/usr/bin/time", "-f", "MAXRSS %M", run, path, "--bench", str(runs),
           "--warmup", "1", "--lowering", lowering,
           "--num-threads", str(args.threads)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        return None
    line = [l for l in res.stdout.splitlines() if l.startswith("{")][0]
    data = json.loads(line)
    rss = [l for l in res.stderr.splitlines() if l.startswith("MAXRSS")]
    data["rss_mib"] = int(rss[-1].split()[1]) / 1024 if rss else float("nan")
    return data


print("| S | D | pattern | density | fused ms | fused GFLOP/s | fused RSS MiB | "
      "reference ms | reference GFLOP/s | reference RSS MiB | speed-up | "
      "fused time / dense fused time |")
print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
with tempfile.TemporaryDirectory() as tmp:
    for s in [int(x) for x in args.sizes.split(",")]:
        for d in [int(x) for x in args.dims.split(",")]:
            dense_ms = None
            for name, pattern in patterns(s):
                path = os.path.join(tmp, "m.mlir")
                with open(path, "w") as f:
                    f.write(module(s, d, pattern))
                fused = bench(path, "fused", args.runs)
                ref = (bench(path, "reference", args.runs)
                       if s <= args.max_reference_s else None)
                if fused is None:
                    print("| %d | %d | %s | failed |" % (s, d, name))
                    continue
                if name == "dense":
                    dense_ms = fused["median_ms"]
                refcols = ("%.2f | %.2f | %.0f | %.1fx" % (
                    ref["median_ms"], ref["gflops"], ref["rss_mib"],
                    ref["median_ms"] / fused["median_ms"])
                    if ref else "not run | | | ")
                print("| %d | %d | %s | %.4f | %.2f | %.2f | %.0f | %s | %.3f |" % (
                    s, d, name, fused["density"], fused["median_ms"],
                    fused["gflops"], fused["rss_mib"], refcols,
                    fused["median_ms"] / dense_ms))
                sys.stdout.flush()
