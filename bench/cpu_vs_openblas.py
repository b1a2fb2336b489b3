#!/usr/bin/env python3
"""This project's fused kernel vs dense masked attention written with OpenBLAS
(bench/openblas_attention.c), one thread each, same machine, same run; plus
the machine's sgemm ceiling (OpenBLAS, one thread).

    python3 bench/cpu_vs_openblas.py [--sizes 2048,8192] [--dims 64,128]

Needs libopenblas-dev (apt). f32; B = 1, H = 1.
"""
import argparse
import json
import os
import subprocess
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
run = os.path.join(root, "build", "bin", "sparse-attn-run")
ap = argparse.ArgumentParser()
ap.add_argument("--sizes", default="2048,8192")
ap.add_argument("--dims", default="64,128")
ap.add_argument("--runs", type=int, default=3)
args = ap.parse_args()

env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
env.pop("OPENBLAS_CORETYPE", None)
env.pop("OPENBLAS_L2_SIZE", None)

with tempfile.TemporaryDirectory() as tmp:
    exe = os.path.join(tmp, "openblas_attention")
    subprocess.run(["cc", "-O3", "-march=native",
                    os.path.join(root, "bench", "openblas_attention.c"),
                    "-lopenblas", "-lm", "-o", exe], check=True)
    ceiling = json.loads(subprocess.run([exe, "sgemm", "2048", "5"], env=env,
                                        capture_output=True, text=True,
                                        check=True).stdout)
    print("sgemm ceiling (OpenBLAS, 1 thread, 2048^3): %.1f GFLOP/s\n" % ceiling["gflops"])
    print("| S | D | pattern | density | sparse-attn ms | sparse-attn GFLOP/s | % of sgemm | "
          "OpenBLAS masked ms | OpenBLAS GFLOP/s | speed-up |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for s in [int(x) for x in args.sizes.split(",")]:
        for d in [int(x) for x in args.dims.split(",")]:
            for name, pattern, blas in [
                    ("dense", "#sparse_attn.dense", "dense"),
                    ("causal", "#sparse_attn.causal", "causal"),
                    ("window 256", "#sparse_attn.window<before = 256, after = 256>", "window:256"),
                    ("window 1024", "#sparse_attn.window<before = 1024, after = 1024>", "window:1024")]:
                t = "tensor<1x1x%dx%dxf32>" % (s, d)
                path = os.path.join(tmp, "m.mlir")
                with open(path, "w") as f:
                    f.write("func.func @a(%%q: %s, %%k: %s, %%v: %s) -> %s {\n"
                            "  %%init = tensor.empty() : %s\n"
                            "  %%o = sparse_attn.attention %%q, %%k, %%v outs(%%init : %s) {pattern = %s} : %s, %s, %s -> %s\n"
                            "  return %%o : %s\n}\n" % (t, t, t, t, t, t, pattern, t, t, t, t, t))
                ours = json.loads(subprocess.run(
                    [run, path, "--bench", str(args.runs), "--warmup", "1",
                     "--num-threads", "1"], capture_output=True, text=True,
                    check=True).stdout.strip().splitlines()[-1])
                base = json.loads(subprocess.run(
                    [exe, blas, str(s), str(d), str(args.runs)], env=env,
                    capture_output=True, text=True, check=True).stdout)
                print("| %d | %d | %s | %.4f | %.2f | %.1f | %.0f %% | %.2f | %.1f | %.1fx |" % (
                    s, d, name, ours["density"], ours["median_ms"], ours["gflops"],
                    100 * ours["gflops"] / ceiling["gflops"], base["median_ms"],
                    base["gflops"], base["median_ms"] / ours["median_ms"]), flush=True)
