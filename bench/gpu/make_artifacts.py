#!/usr/bin/env python3
"""Writes one MLIR module and one CUDA artifact per GPU configuration.

    bench/gpu/make_artifacts.py [--build build] [--out .artifacts/gpu] [--only REGEX] [check|bench|all]

Each artifact directory also gets config.json (the configuration, with the
pattern tuple) for run_h200.py.
"""
import argparse, json, os, re, shutil, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))  # bench/regions.py
from sparse_attn.reference import to_mlir  # noqa: E402
import configs  # noqa: E402
import tables  # noqa: E402
import routing  # noqa: E402


def module_text(c):
    t = c["dtype"]
    # Sizes the configuration leaves to run time ("dynamic": ["B", "Sq",
    # "Sk"]) are '?' in the types; the results' sizes come from the query.
    dyn = set(c.get("dynamic", []))
    B, Sq, Sk = ("?" if n in dyn else str(c[n]) for n in ("B", "Sq", "Sk"))
    q = "tensor<%sx%dx%sx%dx%s>" % (B, c["H"], Sq, c["D"], t)
    kv = "tensor<%sx%dx%sx%dx%s>" % (B, c["Hkv"], Sk, c["D"], t)
    lse = "tensor<%sx%dx%sxf32>" % (B, c["H"], Sq)
    sizes, pre = [], ""
    for n, dim in (("B", 0), ("Sq", 2)):
        if n in dyn:
            pre += ("  %%c%d = arith.constant %d : index\n"
                    "  %%%s = tensor.dim %%q, %%c%d : %s\n") % (dim, dim, n, dim, q)
            sizes.append("%" + n)
    sizes = ", ".join(sizes)
    args = "%%q: %s, %%k: %s, %%v: %s" % (q, kv, kv)
    segs = ""
    if c["docs"]:
        ids = "tensor<%sx%sxi32>" % (B, Sq)
        args += ", %%ids: %s" % ids
        segs = " segments(%%ids : %s)" % ids
    tabs = ""
    attrs = "pattern = %s" % to_mlir(c["pattern"])
    if c.get("tables"):
        ty = tables.types(c)
        names = dict(kv_num_blocks="%kvn", kv_indices="%kvi",
                     full_num_blocks="%fn", full_indices="%fi")
        for r, t in ty.items():
            args += ", %s: %s" % (names[r], t)
        tabs = " block_tables(%%kvn, %%kvi : %s, %s)" % (ty["kv_num_blocks"], ty["kv_indices"])
        if "full_indices" in ty:
            tabs += " full_tables(%%fn, %%fi : %s, %s)" % (ty["full_num_blocks"], ty["full_indices"])
        attrs += ", table_block = array<i64: %d, %d>" % tuple(c["tables"]["block"])
    mods = ""
    if c.get("softcap"):
        # Gemma-2 soft-capping: cap * tanh(s / cap), the same function the
        # harness gives FlexAttention as score_mod.
        mods = ("sparse_attn.score_mod @softcap(%%s: f32, %%b: index, %%h: index, "
                "%%q: index, %%k: index) {\n"
                "  %%inv = arith.constant %r : f32\n  %%cap = arith.constant %r : f32\n"
                "  %%x = arith.mulf %%s, %%inv : f32\n  %%t = math.tanh %%x : f32\n"
                "  %%r = arith.mulf %%t, %%cap : f32\n  sparse_attn.yield %%r : f32\n}\n"
                ) % (1.0 / c["softcap"], float(c["softcap"]))
        attrs += ", score_mod = @softcap"
    if c["pattern"][0] == "custom":
        from regions import region
        mods += region(c["pattern"])[0]
    res = q + (", " + lse if c["lse"] else "")
    results = "%o, %lse" if c["lse"] else "%o"
    inits = pre + "  %%o_init = tensor.empty(%s) : %s\n" % (sizes, q)
    outs = "%o_init"
    if c["lse"]:
        inits += "  %%lse_init = tensor.empty(%s) : %s\n" % (sizes, lse)
        outs += ", %lse_init"
    return mods + ("func.func @attention(%s) -> (%s) {\n%s"
            "  %s = sparse_attn.attention %%q, %%k, %%v%s%s outs(%s : %s) {%s}\n"
            "      : %s, %s, %s -> %s\n"
            "  return %s : %s\n}\n") % (args, res, inits, results, segs, tabs, outs, res,
                                        attrs, q, kv, kv, res, results, res)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("which", nargs="?", default="all", choices=["check", "bench", "all"])
    ap.add_argument("--build", default="build")
    ap.add_argument("--out", default=".artifacts/gpu")
    ap.add_argument("--warps", default="auto",
                    help="warps per thread block, or auto (the compiler's schedule selection)")
    ap.add_argument("--block-k", type=int, default=64)
    ap.add_argument("--mma", default="auto", choices=["sync", "wgmma", "auto"])
    ap.add_argument("--no-tma", action="store_true", help="K / V by cp.async on the wgmma path")
    ap.add_argument("--overlap", action="store_true", help="next Q K^T during this softmax")
    ap.add_argument("--warp-specialize", action="store_true",
                    help="a producer warpgroup; consumer warpgroups in ping-pong")
    ap.add_argument("--only", default="", help="only configurations whose name matches REGEX")
    a = ap.parse_args()
    cases = []
    if a.which in ("check", "all"):
        cases += configs.check_cases()
    if a.which in ("bench", "all"):
        cases += configs.bench_cases()
    tool = os.path.join(a.build, "bin", "sparse-attn-compile")
    cases = [c for c in cases if re.search(a.only, c["name"])]
    for c in cases:
        d = os.path.join(a.out, c["name"])
        os.makedirs(d, exist_ok=True)
        src = os.path.join(d, "attention.mlir")
        with open(src, "w") as f:
            f.write(routing.module_text(c) if c.get("program") else module_text(c))
        r = subprocess.run([tool, src, "--target=cuda", "-o", d, "--warps=" + str(a.warps),
                            "--block-k=%d" % a.block_k, "--mma=" + a.mma]
                           + (["--tma=false"] if a.no_tma else [])
                           + (["--overlap"] if a.overlap else [])
                           + (["--warp-specialize"] if a.warp_specialize else [])
                           + (["--approx-tanh=false"] if c.get("approx_tanh") is False else []),
                           stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            # e.g. mma=wgmma needs D % 64 == 0: report and go on.
            print("skipped %s: %s" % (c["name"], r.stderr.strip().splitlines()[0]),
                  file=sys.stderr)
            shutil.rmtree(d)
            continue
        if c.get("program") and c["name"].startswith("check"):
            routing.write_check_data(c, d, os.path.join(a.build, "bin", "sparse-attn-run"))
        elif c.get("tables") and not c.get("program"):
            import numpy as np
            for role, arr in tables.make(c).items():
                np.save(os.path.join(d, role + ".npy"), arr)
        # The warps the compiler used (its choice under --warps=auto).
        chosen = re.search(r"warps (\d+)", open(os.path.join(d, "manifest.txt")).read())
        c = dict(c, warps=int(chosen.group(1)) if chosen else a.warps, block_k=a.block_k)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(c, f)
        print("wrote", d, flush=True)


if __name__ == "__main__":
    main()
