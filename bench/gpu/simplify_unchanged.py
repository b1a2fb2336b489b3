#!/usr/bin/env python3
"""Which bench/gpu modules (every check and bench configuration) does
sparse-attn-simplify change? A module it leaves unchanged gets the same
kernel from the GPU pipeline with or without that first step.

    /usr/bin/python3 bench/gpu/simplify_unchanged.py [--build build]
"""
import argparse, os, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
import configs  # noqa: E402
from make_artifacts import module_text  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--build", default="build")
a = ap.parse_args()
opt = os.path.join(a.build, "bin", "sparse-attn-opt")
cases = configs.bench_cases() + configs.check_cases()
changed = []
for c in cases:
    text = module_text(c)
    run = lambda *extra: subprocess.run([opt, *extra, "-"], input=text, capture_output=True,
                                        text=True, check=True).stdout
    if run("--sparse-attn-simplify") != run():
        changed.append(c["name"])
for n in changed:
    print("changed:", n)
print("%d modules, %d changed by sparse-attn-simplify" % (len(cases), len(changed)))
