#!/usr/bin/env python3
"""Builds the CPU backward (issue #16) as ahead-of-time kernels for the GPU
machine's 16-core CPU (PyTorch, no LLVM), run there by
bench/host_cpu_grad.py against PyTorch's CPU autograd of
scaled_dot_product_attention:

    /usr/bin/python3 bench/make_host_cpu_grad.py [--out .artifacts/host-cpu-grad]
        [--S 4096] [--H 8] [--D 64]

Per pattern (dense, causal, sliding 1024, 8 causal documents): lib<p>_fwd.so
(sparse_attn.attention with LSE) and lib<p>_bwd.so
(sparse_attn.attention_grad), f32, B = 1, OpenMP with one thread per core,
--mcpu=x86-64-v4; the OpenMP runtime copied next to them; manifest.json.
"""
import argparse
import json
import os
import shutil
import subprocess

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPILE = os.path.join(root, "build", "bin", "sparse-attn-compile")
PATTERNS = {
    "dense": ("#sparse_attn.dense", False),
    "causal": ("#sparse_attn.causal", False),
    "sliding1024": ("#sparse_attn.window<before = 1023, after = 0>", False),
    "document8": ("#sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>", True),
}

ap = argparse.ArgumentParser()
ap.add_argument("--out", default=os.path.join(root, ".artifacts", "host-cpu-grad"))
ap.add_argument("--S", type=int, default=4096)
ap.add_argument("--H", type=int, default=8)
ap.add_argument("--D", type=int, default=64)
a = ap.parse_args()
os.makedirs(a.out, exist_ok=True)
S, H, D = a.S, a.H, a.D
q = f"tensor<1x{H}x{S}x{D}xf32>"
l = f"tensor<1x{H}x{S}xf32>"
ids = f"tensor<1x{S}xi32>"
manifest = {"S": S, "H": H, "D": D, "B": 1, "dtype": "f32", "cases": []}
for name, (p, seg) in PATTERNS.items():
    sa = f", %ids: {ids}" if seg else ""
    so = f" segments(%ids : {ids})" if seg else ""
    mods = {
        "fwd": f"""func.func @fwd(%q: {q}, %k: {q}, %v: {q}{sa}) -> ({q}, {l}) {{
  %i0 = tensor.empty() : {q}
  %i1 = tensor.empty() : {l}
  %o, %lse = sparse_attn.attention %q, %k, %v{so} outs(%i0, %i1 : {q}, {l}) {{pattern = {p}}} : {q}, {q}, {q} -> {q}, {l}
  return %o, %lse : {q}, {l}
}}
""",
        "bwd": f"""func.func @bwd(%q: {q}, %k: {q}, %v: {q}, %o: {q}, %lse: {l}, %do: {q}{sa}) -> ({q}, {q}, {q}) {{
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do{so} {{pattern = {p}}} : {q}, {q}, {q}, {q}, {l}, {q} -> {q}, {q}, {q}
  return %dq, %dk, %dv : {q}, {q}, {q}
}}
""",
    }
    for kind, text in mods.items():
        src = os.path.join(a.out, f"{name}_{kind}.mlir")
        with open(src, "w") as f:
            f.write(text)
        subprocess.run([COMPILE, src, "-o", os.path.join(a.out, f"lib{name}_{kind}.so"),
                        "--num-threads", "0", "--mcpu=x86-64-v4"], check=True)
    manifest["cases"].append({"name": name, "pattern": p, "segments": seg})
shutil.copy("/usr/lib/llvm-22/lib/libomp.so.5", a.out)
with open(os.path.join(a.out, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)
print("wrote", a.out)
