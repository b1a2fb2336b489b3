#!/usr/bin/env python3
"""Static facts of GPU artifacts from NVIDIA's assembler (no GPU needed):
registers per thread, spill bytes, stack, barriers and ptxas's warnings
(e.g. C7508, setmaxnreg ignored) of each kernel, as a markdown table.

    /usr/bin/python3 bench/gpu/ptxas_report.py [--ptxas ptxas] [--arch sm_90a] FOLDER...

FOLDER: an artifact (holding kernels.ptx) or a folder of artifacts.
"""
import argparse
import os
import re
import subprocess
import tempfile

ap = argparse.ArgumentParser()
ap.add_argument("--ptxas", default="ptxas")
ap.add_argument("--arch", default="sm_90a")
ap.add_argument("folders", nargs="+")
a = ap.parse_args()

artifacts = []
for f in a.folders:
    if os.path.exists(os.path.join(f, "kernels.ptx")):
        artifacts.append(f)
    else:
        artifacts += sorted(os.path.join(f, d) for d in os.listdir(f)
                            if os.path.exists(os.path.join(f, d, "kernels.ptx")))

print("| artifact | kernel | threads | registers | spill stores / loads (bytes) | stack | barriers | warnings |")
print("|---|---|---:|---:|---:|---:|---:|---|")
for art in artifacts:
    ptx = os.path.join(art, "kernels.ptx")
    threads = ""
    with open(os.path.join(art, "manifest.txt")) as m:
        for line in m:
            if line.startswith("block "):
                threads = line.split()[1]
    with tempfile.NamedTemporaryFile(suffix=".cubin") as out:
        r = subprocess.run([a.ptxas, "-arch=" + a.arch, "-v", ptx, "-o", out.name],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    kernel, warnings = None, []
    rows = []
    for line in r.stdout.splitlines():
        k = re.search(r"Compiling entry function '(\w+)'", line)
        if k:
            kernel = k.group(1)
            continue
        if "warning" in line or "C7508" in line or "Performance Loss" in line:
            warnings.append(re.sub(r"^ptxas (info|warning) *: *", "", line.strip()))
        s = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if s:
            stack, st, ld = s.groups()
        u = re.search(r"Used (\d+) registers(?:, used (\d+) barriers)?", line)
        if u:
            rows.append((kernel, u.group(1), "%s / %s" % (st, ld), stack, u.group(2) or "0",
                         "; ".join(warnings) or "-"))
            warnings = []
    if r.returncode != 0:
        rows.append(("-", "-", "-", "-", "-", "ptxas failed: " + r.stdout.strip()[-200:]))
    for kernel, regs, spill, stack, bars, warn in rows:
        print("| %s | %s | %s | %s | %s | %s | %s | %s |"
              % (os.path.basename(art), kernel, threads, regs, spill, stack, bars, warn))
