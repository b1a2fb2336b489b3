#!/usr/bin/env python3
"""Issue 4's CPU matrix in one command: this project's fused kernel
(sparse-attn-run, JIT for the host) against dense masked attention written
the obvious way with OpenBLAS (bench/openblas_attention.c), same machine,
same run, same thread count; plus the machine's sgemm ceiling.

    /usr/bin/python3 bench/cpu_matrix.py [--sizes 2048,8192] [--dims 64,128]
        [--dtypes f32,bf16] [--patterns dense,causal,sliding256,sliding1024,bigbird,document]
        [--threads 1] [--runs 3] [--blas-max-s 8192] [--out FILE.md]

Patterns (B = 1, H = 1): dense; causal; sliding W = window<before = W - 1,
after = 0>; BigBird-style = a window of 192 each side, 2 global blocks of
128 and 3 random blocks of 128 per block row (bench/gpu/configs.py);
document = 8 equal documents within causal. The OpenBLAS baseline is f32
(the obvious way has no bf16 GEMM; bf16 rows compare with the f32
baseline) and builds an S x S score matrix, so it runs up to --blas-max-s;
BigBird and document masks reach it as `sparse-attn-inspect --format=bits`
files. Effective GFLOP/s count 4 D FLOPs per allowed pair for both sides.
Needs the build (scripts/build.sh), numpy and libopenblas-dev. The
PyTorch peers (SDPA, torch.compile(flex_attention)) run on the GPU
machine's CPU with bench/host_cpu_peers.py.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(root, "python"))
sys.path.insert(0, os.path.join(root, "bench", "gpu"))
from sparse_attn.reference import to_mlir  # noqa: E402
import configs  # noqa: E402

RUN = os.path.join(root, "build", "bin", "sparse-attn-run")
INSPECT = os.path.join(root, "build", "bin", "sparse-attn-inspect")

PATTERNS = {
    "dense": ("dense",),
    "causal": ("causal",),
    "sliding256": ("window", 255, 0),
    "sliding1024": ("window", 1023, 0),
    "bigbird": None,  # depends on S
    "document": ("intersect", [("segments",), ("causal",)]),
}


def module(pattern, s, d, dtype, docs, heads=1, name="a"):
    t = "tensor<1x%dx%dx%dx%s>" % (heads, s, d, dtype)
    args = "%%q: %s, %%k: %s, %%v: %s" % (t, t, t)
    segs = ""
    if docs:
        ids = "tensor<1x%dxi32>" % s
        args += ", %%ids: %s" % ids
        segs = " segments(%%ids : %s)" % ids
    return ("func.func @%s(%s) -> %s {\n"
            "  %%init = tensor.empty() : %s\n"
            "  %%o = sparse_attn.attention %%q, %%k, %%v%s outs(%%init : %s) {pattern = %s}"
            " : %s, %s, %s -> %s\n  return %%o : %s\n}\n") % (
                name, args, t, t, segs, t, to_mlir(pattern), t, t, t, t, t)


def run_json(cmd, env=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(cmd), out.stderr.strip()[-400:]))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="2048,8192")
    ap.add_argument("--dims", default="64,128")
    ap.add_argument("--dtypes", default="f32,bf16")
    ap.add_argument("--patterns", default=",".join(PATTERNS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--blas-max-s", type=int, default=8192)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    for p in a.patterns.split(","):
        if p not in PATTERNS:
            sys.exit("cpu_matrix.py: unknown pattern '%s' (known: %s)" % (p, ", ".join(PATTERNS)))
    lines = []

    def emit(line=""):
        print(line, flush=True)
        lines.append(line)

    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(max(a.threads, 1)))
    with tempfile.TemporaryDirectory() as tmp:
        blas = os.path.join(tmp, "openblas_attention")
        subprocess.run(["cc", "-O3", "-march=native",
                        os.path.join(root, "bench", "openblas_attention.c"),
                        "-lopenblas", "-lm", "-o", blas], check=True)
        ceiling = run_json([blas, "sgemm", "2048", "5"], env)
        cpu = open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": \t")
        emit("machine: %s, %d cores; threads %d (both sides); sgemm ceiling (OpenBLAS, "
             "2048^3): %.1f GFLOP/s" % (cpu, os.cpu_count(), a.threads, ceiling["gflops"]))
        emit("command: %s" % " ".join(["bench/cpu_matrix.py"] + sys.argv[1:]))
        emit()
        emit("| S | D | dtype | pattern | density | sparse-attn ms | sparse-attn GFLOP/s "
             "| % of sgemm | OpenBLAS f32 ms | OpenBLAS GFLOP/s | speed-up |")
        emit("|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
        blas_cache = {}
        for s in [int(x) for x in a.sizes.split(",")]:
            for d in [int(x) for x in a.dims.split(",")]:
                rng = np.random.default_rng(0)
                base = [rng.uniform(-1, 1, (1, 1, s, d)).astype(np.float32) for _ in range(3)]
                ids = (np.arange(s) * 8 // s).astype(np.int32)[None, :]
                files = []
                for i, x in enumerate(base):
                    f = os.path.join(tmp, "in%d.npy" % i)
                    np.save(f, x)
                    files.append(f)
                idf = os.path.join(tmp, "ids.npy")
                np.save(idf, ids)
                for dtype in a.dtypes.split(","):
                    for name in a.patterns.split(","):
                        pat = configs.bigbird(s) if name == "bigbird" else PATTERNS[name]
                        docs = name == "document"
                        src = os.path.join(tmp, "m.mlir")
                        with open(src, "w") as f:
                            f.write(module(pat, s, d, dtype, docs))
                        cmd = [RUN, src, "--bench", str(a.runs), "--warmup", "1",
                               "--num-threads", str(a.threads)]
                        for f in files + ([idf] if docs else []):
                            cmd += ["--input", f]
                        ours = run_json(cmd)
                        row = "| %d | %d | %s | %s | %.4f | %.2f | %.1f | %.0f %% |" % (
                            s, d, dtype, name, ours["density"], ours["median_ms"],
                            ours["gflops"], 100 * ours["gflops"] / ceiling["gflops"])
                        key = (s, d, name)
                        if s <= a.blas_max_s and key not in blas_cache:
                            # dense / causal built in; the others as the
                            # element mask the project's inspector prints
                            spec = name if name in ("dense", "causal") else None
                            if spec is None:
                                bits = os.path.join(tmp, "bits.txt")
                                icmd = [INSPECT, src, "--format=bits"]
                                if docs:
                                    icmd += ["--segment-lengths=%s" % ",".join(
                                        [str(s // 8)] * 8)]
                                with open(bits, "w") as f:
                                    subprocess.run(icmd, stdout=f, check=True)
                                spec = "bits:" + bits
                            blas_cache[key] = run_json([blas, spec, str(s), str(d),
                                                        str(a.runs)], env)
                        if key in blas_cache:
                            b = blas_cache[key]
                            row += " %.2f | %.1f | %.1fx |" % (
                                b["median_ms"], b["gflops"], b["median_ms"] / ours["median_ms"])
                        else:
                            row += " - | - | - |"
                        emit(row)
    if a.out:
        with open(a.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
