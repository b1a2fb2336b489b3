#!/usr/bin/env python3
"""compute-sanitizer over every GPU check artifact (issue 13): memcheck,
racecheck, synccheck and initcheck, each on the runtime-only runner with
generated inputs (documents as the configuration says; an artifact with
runtime block tables runs on its own tables, generated q / k / v).

    # build machine
    /usr/bin/python3 bench/gpu/make_artifacts.py check --out .artifacts/gpu
    # GPU machine
    python3 bench/gpu/sanitize.py --artifacts .artifacts/gpu --runner ./sparse-attn-cuda-run \
        [--tools memcheck,racecheck] [--only REGEX] > sanitize.txt

Prints, per (artifact, tool), the sanitizer's summary line and the exit
status, then 'N passed, M failed'. A run passes when the sanitizer reports
0 errors (0 hazards for racecheck) and the runner exits 0.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--artifacts", default=".artifacts/gpu")
ap.add_argument("--runner", default="./sparse-attn-cuda-run")
ap.add_argument("--sanitizer", default="compute-sanitizer")
ap.add_argument("--tools", default="memcheck,racecheck,synccheck,initcheck")
ap.add_argument("--only", default="^check_")
a = ap.parse_args()

dirs = sorted(d for d in os.listdir(a.artifacts)
              if re.search(a.only, d) and os.path.isdir(os.path.join(a.artifacts, d)))
passed = failed = 0


def table_inputs(path, docs, sizes):
    """--input files for an artifact with runtime block tables: its own
    tables (adversarial ones included) and generated q / k / v / segment
    ids, in manifest order (the runner takes all inputs or none)."""
    import numpy as np
    rng = np.random.default_rng(0)
    files = []
    with open(os.path.join(path, "manifest.txt")) as f:
        args = [l.split() for l in f if l.startswith("arg ")]
    tmp = os.path.join("/tmp", "sanitize_inputs", os.path.basename(path))
    os.makedirs(tmp, exist_ok=True)
    for _, role, dtype, rank, *shape in args:
        shape = tuple(int(sizes.get(x, x)) for x in shape)
        if role in ("output", "lse"):
            continue
        f = os.path.join(path, role + ".npy")
        if not os.path.exists(f):
            f = os.path.join(tmp, role + ".npy")
            if role.endswith("segment_ids"):
                ids = (np.arange(shape[-1]) * max(docs, 1) // shape[-1]).astype(np.int32)
                np.save(f, np.ascontiguousarray(np.broadcast_to(ids, shape)))
            else:
                np.save(f, rng.uniform(-1, 1, size=shape).astype(np.float32))
        files += ["--input", f]
    return files


for d in dirs:
    path = os.path.join(a.artifacts, d)
    extra = []
    cfg = os.path.join(path, "config.json")
    if os.path.exists(cfg):
        with open(cfg) as f:
            c = json.load(f)
        if c.get("docs"):
            extra = ["--documents", str(c["docs"])]
        # Kernels with run-time sizes run at the configuration's sizes.
        sizes = {n: c[n] for n in c.get("dynamic", [])}
        if c.get("tables"):
            extra = table_inputs(path, c.get("docs", 0), sizes)
        else:
            for n, v in sizes.items():
                extra += ["--size", "%s=%d" % (n, v)]
    for tool in a.tools.split(","):
        start = time.time()
        r = subprocess.run([a.sanitizer, "--tool", tool, "--error-exitcode", "99",
                            a.runner, path, "--warmup", "0"] + extra,
                           capture_output=True, text=True)
        text = r.stdout + r.stderr
        summary = [l for l in text.splitlines() if "SUMMARY" in l]
        ok = r.returncode == 0 and summary and all(
            re.search(r"\b0 (errors|hazards)", l) for l in summary)
        passed += bool(ok)
        failed += not ok
        print("%s %-28s %-10s rc=%d %5.1fs %s" % ("ok  " if ok else "FAIL", d, tool, r.returncode,
                                                time.time() - start,
                                                summary[-1].strip("= ") if summary else "(no summary)"),
              flush=True)
        if not ok:
            print("\n".join(text.splitlines()[-30:]), flush=True)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
