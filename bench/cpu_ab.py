#!/usr/bin/env python3
"""A / B timing of the fused CPU kernel on one attention shape: each variant
is a sparse-attn-run binary plus options, run alternately for --rounds
rounds (the machine is shared and noisy: compare within one invocation).

    /usr/bin/python3 bench/cpu_ab.py --pattern 'window<before = 255, after = 0>' \\
        --seq 4096 --dim 64 --heads 4 --dtype f32 \\
        --variant old=/tmp/old/bin/sparse-attn-run --variant new=build/bin/sparse-attn-run

--variant NAME=BINARY[,OPTION...]: BINARY may be followed by comma-separated
sparse-attn-run options, e.g. 'q64k32=build/bin/sparse-attn-run,--block-q=64,--block-k=32'
or 'dot=build/bin/sparse-attn-run,--bf16-dot'. An older binary comes from a
second build of an earlier commit (`git worktree add /tmp/old COMMIT`, then
`cmake -S /tmp/old -B /tmp/old/build -G Ninja ... && ninja -C /tmp/old/build
sparse-attn-run`). The pattern is a #sparse_attn attribute body (`causal`,
`dense`, `window<...>`); B = 1, one thread unless --threads. Prints the
median milliseconds of every variant in every round.

The option @dynamic runs the same attention written with dynamic B, Sq and
Sk (`tensor<?x4x?x64xf32>`, sizes from .npy inputs: the kernel classifies
tiles at run time), e.g. `--variant static=build/bin/sparse-attn-run
--variant dynamic=build/bin/sparse-attn-run,@dynamic` (f32 and f16 only).
"""
import argparse
import json
import os
import subprocess
import tempfile

ap = argparse.ArgumentParser()
ap.add_argument("--pattern", required=True)
ap.add_argument("--seq", type=int, default=4096)
ap.add_argument("--dim", type=int, default=64)
ap.add_argument("--heads", type=int, default=4)
ap.add_argument("--dtype", default="f32", choices=["f32", "f16", "bf16"])
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--rounds", type=int, default=2)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--variant", action="append", required=True)
a = ap.parse_args()

t = "tensor<1x%dx%dx%dx%s>" % (a.heads, a.seq, a.dim, a.dtype)
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "m.mlir")
    with open(path, "w") as f:
        f.write("func.func @a(%%q: %s, %%k: %s, %%v: %s) -> %s {\n"
                "  %%init = tensor.empty() : %s\n"
                "  %%o = sparse_attn.attention %%q, %%k, %%v outs(%%init : %s)"
                " {pattern = #sparse_attn.%s}"
                " : %s, %s, %s -> %s\n  return %%o : %s\n}\n"
                % (t, t, t, t, t, t, a.pattern, t, t, t, t, t))
    dyn_t = "tensor<?x%dx?x%dx%s>" % (a.heads, a.dim, a.dtype)
    dyn_path = os.path.join(tmp, "dyn.mlir")
    with open(dyn_path, "w") as f:
        f.write("func.func @a(%%q: %s, %%k: %s, %%v: %s) -> %s {\n"
                "  %%c0 = arith.constant 0 : index\n"
                "  %%c2 = arith.constant 2 : index\n"
                "  %%b = tensor.dim %%q, %%c0 : %s\n"
                "  %%sq = tensor.dim %%q, %%c2 : %s\n"
                "  %%init = tensor.empty(%%b, %%sq) : %s\n"
                "  %%o = sparse_attn.attention %%q, %%k, %%v outs(%%init : %s)"
                " {pattern = #sparse_attn.%s}"
                " : %s, %s, %s -> %s\n  return %%o : %s\n}\n"
                % ((dyn_t,) * 8 + (a.pattern,) + (dyn_t,) * 5))
    dyn_inputs = []
    variants = []
    for v in a.variant:
        name, spec = v.split("=", 1)
        binary, *opts = spec.split(",")
        module = path
        if "@dynamic" in opts:
            opts = [o for o in opts if o != "@dynamic"]
            module = dyn_path
            if not dyn_inputs:
                import numpy as np
                rng = np.random.default_rng(0)
                for n in "qkv":
                    npy = os.path.join(tmp, n + ".npy")
                    np.save(npy, rng.standard_normal(
                        (1, a.heads, a.seq, a.dim)).astype(
                            {"f32": np.float32, "f16": np.float16}[a.dtype]))
                    dyn_inputs += ["--input", npy]
            opts = opts + dyn_inputs
        variants.append((name, binary, opts, module))
    print("pattern %s, 1 x %d x %d x %d %s, %d thread(s), median of %d runs"
          % (a.pattern, a.heads, a.seq, a.dim, a.dtype, a.threads, a.runs))
    for r in range(a.rounds):
        row = []
        for name, binary, opts, module in variants:
            out = subprocess.run([binary, module, "--bench", str(a.runs),
                                  "--num-threads", str(a.threads)] + opts,
                                 capture_output=True, text=True, check=True)
            ms = json.loads(out.stdout.strip().splitlines()[-1])["median_ms"]
            row.append("%s %.2f ms" % (name, ms))
        print("round %d: %s" % (r + 1, ", ".join(row)), flush=True)
