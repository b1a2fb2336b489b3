#!/usr/bin/env python3
"""Markdown tables from bench/host_cpu_matrix.py's JSON lines (one or more
files, e.g. the run with this project + SDPA and the run with flex):

    /usr/bin/python3 bench/host_cpu_matrix_table.py RUN.jsonl [RUN2.jsonl ...]

One row per configuration: effective GFLOP/s (allowed pairs only, 4 D
FLOPs each) and milliseconds of this project's kernel (AMX build for bf16),
SDPA (dense, causal) and torch.compile(flex_attention) (all but dense),
the ratios peer ms / our ms, and the fraction of the matrix-product
ceiling of the run the kernel's numbers came from. Where a flex run also
timed this project's kernel in its own process (`with_flex`), the flex
ratio uses that time (shown in parentheses)."""
import json
import sys

rows, ceil = {}, {}
for path in sys.argv[1:]:
    run_ceil = {}
    for line in open(path):
        r = json.loads(line)
        if r.get("sys") == "matmul":
            run_ceil[r["dtype"]] = r["gflops"]
            continue
        if "ms" not in r or "case" not in r:
            continue
        if r.get("with_flex"):
            # Timed in the flex process, next to flex: that ratio uses it.
            rows.setdefault(r["case"], {})[r["sys"] + "@flex"] = r
            ceil.setdefault(r["case"], run_ceil.get(r["dtype"]))
            continue
        rows.setdefault(r["case"], {})[r["sys"]] = r
        if r["sys"].startswith("sparse_attn"):
            ceil[r["case"]] = run_ceil.get(r["dtype"])

order = {8192: 1, 2048: 0, 32768: 2}
print("| S | D | dtype | pattern | density | sparse-attn ms | GFLOP/s | % of matmul "
      "| SDPA ms | vs SDPA | flex ms | vs flex | AVX-512 path ms |")
print("|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for case in sorted(rows, key=lambda c: (order[rows[c][next(iter(rows[c]))]["S"]],
                                        rows[c][next(iter(rows[c]))]["D"],
                                        rows[c][next(iter(rows[c]))]["dtype"],
                                        ["dense", "causal", "sliding256", "sliding1024",
                                         "bigbird", "document"].index(
                                            rows[c][next(iter(rows[c]))]["pattern"]))):
    s = rows[case]
    ours = s.get("sparse_attn_amx") or s.get("sparse_attn") or \
        s.get("sparse_attn_amx@flex") or s.get("sparse_attn@flex")
    if ours is None:
        continue
    ref = ours
    line = "| %d | %d | %s | %s | %.4f | %.2f | %.0f | %s |" % (
        ref["S"], ref["D"], ref["dtype"], ref["pattern"], ref["density"], ours["ms"],
        ours["eff_gflops"],
        "%.0f %%" % (100 * ours["eff_gflops"] / ceil[case]) if ceil.get(case) else "-")
    for peer in ("sdpa", "flex"):
        p = s.get(peer)
        mine = ours
        if peer == "flex":
            mine = s.get("sparse_attn_amx@flex") or s.get("sparse_attn@flex") or ours
        line += " %.2f | %.2fx%s |" % (p["ms"], p["ms"] / mine["ms"],
                                       "" if mine is ours else " (%.2f)" % mine["ms"]) \
            if p else " - | - |"
    vec = s.get("sparse_attn_vec")
    line += " %s |" % ("%.2f" % vec["ms"] if vec else "-")
    print(line)
