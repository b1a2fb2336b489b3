#!/usr/bin/env python3
"""Builds issue 4's CPU matrix as ahead-of-time kernels for the GPU
machine's CPU (which has PyTorch but no LLVM), with a manifest that
bench/host_cpu_matrix.py runs there against SDPA and
torch.compile(flex_attention):

    /usr/bin/python3 bench/make_host_cpu_matrix.py [--sizes 2048,8192,32768]
        [--dims 64,128] [--dtypes f32,bf16] [--out .artifacts/host-cpu-matrix]

Patterns as bench/cpu_matrix.py (dense, causal, sliding 256 / 1024,
BigBird-style, 8 equal documents within causal); B = 1, H = 32768 / S
(16, 4, 1), Hkv = H. Every kernel uses OpenMP with one thread per core
(--num-threads 0). f32: --mcpu=x86-64-v4. bf16: two builds, `amx`
(--mcpu=sapphirerapids --amx=on) and `vec` (--mcpu=x86-64-v4 --amx=off,
the AVX-512 path). The element density of every configuration comes from
sparse-attn-inspect (exact allowed-pair counts). The OpenMP runtime is
copied next to the kernels.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(root, "bench"))
sys.path.insert(0, os.path.join(root, "bench", "gpu"))
from cpu_matrix import PATTERNS, module  # noqa: E402
import configs  # noqa: E402

COMPILE = os.path.join(root, "build", "bin", "sparse-attn-compile")
INSPECT = os.path.join(root, "build", "bin", "sparse-attn-inspect")


def heads(s):
    return max(1, 32768 // s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="2048,8192,32768")
    ap.add_argument("--dims", default="64,128")
    ap.add_argument("--dtypes", default="f32,bf16")
    ap.add_argument("--patterns", default=",".join(PATTERNS))
    ap.add_argument("--out", default=os.path.join(root, ".artifacts", "host-cpu-matrix"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    cases = []

    def build(name, text, variants):
        src = os.path.join(a.out, name + ".mlir")
        with open(src, "w") as f:
            f.write(text)
        libs = {}
        for variant, opts in variants:
            lib = "lib%s_%s.so" % (name, variant)
            subprocess.run([COMPILE, src, "-o", os.path.join(a.out, lib),
                            "--num-threads", "0"] + opts, check=True,
                           stderr=subprocess.DEVNULL)
            libs[variant] = lib
        return src, libs

    amx = ("amx", ["--mcpu=sapphirerapids", "--amx=on"])
    vec = ("vec", ["--mcpu=x86-64-v4", "--amx=off"])
    # A small AMX kernel the runner calls in a child process first: a CPU or
    # kernel without the AMX state would kill the benchmark itself.
    _, probe = build("probe", module(("causal",), 256, 64, "bf16", False,
                                     name="attention"), [amx])
    for s in [int(x) for x in a.sizes.split(",")]:
        for d in [int(x) for x in a.dims.split(",")]:
            for dtype in a.dtypes.split(","):
                for pname in a.patterns.split(","):
                    pat = configs.bigbird(s) if pname == "bigbird" else PATTERNS[pname]
                    docs = 8 if pname == "document" else 0
                    h = heads(s)
                    text = module(pat, s, d, dtype, docs, heads=h, name="attention")
                    name = "%s_S%d_D%d_%s" % (pname, s, d, dtype)
                    src, libs = build(name, text, [amx, vec] if dtype == "bf16"
                                      else [("vec", ["--mcpu=x86-64-v4"])])
                    icmd = [INSPECT, src]
                    if docs:
                        icmd.append("--segment-lengths=" + ",".join([str(s // docs)] * docs))
                    summary = subprocess.run(icmd, capture_output=True, text=True,
                                             check=True).stdout
                    m = re.search(r"element density: [0-9.]+ \(([0-9]+) of ([0-9]+) pairs\)", summary)
                    cases.append(dict(name=name, pattern_name=pname, pattern=pat, S=s, D=d,
                                      H=h, dtype=dtype, docs=docs, libs=libs,
                                      allowed=int(m.group(1)), density=int(m.group(1)) / int(m.group(2))))
                    print(name, libs, "density %.5f" % cases[-1]["density"], flush=True)
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(dict(probe=probe["amx"], cases=cases), f, indent=1)
    shutil.copy("/usr/lib/llvm-22/lib/libomp.so.5", a.out)


if __name__ == "__main__":
    main()
