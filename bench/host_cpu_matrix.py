#!/usr/bin/env python3
"""Issue 4's CPU matrix on the GPU machine's CPU, side by side in one
process with the same threads: this project's ahead-of-time kernels (built
by bench/make_host_cpu_matrix.py, called through their C ABI with ctypes),
torch scaled_dot_product_attention (dense, causal) and
torch.compile(flex_attention) with the same block masks (every pattern but
dense).

    LD_LIBRARY_PATH=DIR python3 bench/host_cpu_matrix.py DIR [--only REGEX]
        [--runs 3] [--deadline SECONDS] [--warm-flex N] [--vec-sizes 8192]

One JSON object per line on stdout. Checks: at S <= 2048 every system
against a float32 masked-softmax reference built from the same pattern
(bench/torch_patterns.py); at larger S the project's output against flex
or SDPA. Phase 1 times this project's kernels and SDPA for every
configuration in this process. Phase 2 (alone with --flex-only) runs flex in
child processes, which are restarted after the next configuration when one
crashes (the crash is recorded with the Python stack): --warm-flex N first
compiles every flex configuration in N children at once so that the timed
child finds Inductor's caches warm (its first-call time is reported too),
then one child times them. Every child uses all threads: kernels that
Inductor compiled and cached under 2 threads crashed (SIGSEGV / SIGABRT)
when a 16-thread process loaded them from the cache on the GPU machine's
CPU (torch 2.11). --deadline stops starting new configurations after that
many seconds.
"""
import argparse
import ctypes
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torch_patterns import Ctx, allowed  # noqa: E402

DT = {"f32": torch.float32, "bf16": torch.bfloat16}
T0 = time.time()


def emit(**kw):
    print(json.dumps(kw), flush=True)


def memref_type(rank):
    class M(ctypes.Structure):
        _fields_ = [("allocated", ctypes.c_void_p), ("aligned", ctypes.c_void_p),
                    ("offset", ctypes.c_int64), ("sizes", ctypes.c_int64 * rank),
                    ("strides", ctypes.c_int64 * rank)]
    return M


M2, M4 = memref_type(2), memref_type(4)


def memref(t):
    assert t.is_contiguous()
    m = (M4 if t.dim() == 4 else M2)()
    m.allocated = m.aligned = t.data_ptr()
    m.offset = 0
    for i in range(t.dim()):
        m.sizes[i] = t.shape[i]
        m.strides[i] = t.stride(i)
    return m


class Kernel:
    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        self.fn = self.lib._mlir_ciface_attention
        self.fn.restype = None

    def __call__(self, tensors, out):
        args = [memref(t) for t in tensors] + [memref(out)]
        self.args = args  # keep alive
        self.fn(*[ctypes.byref(a) for a in args])


def timed(fn, runs):
    fn()
    t0 = time.perf_counter()
    for _ in range(runs):
        fn()
    return (time.perf_counter() - t0) / runs * 1e3


def inputs(c):
    torch.manual_seed(0)
    dt = DT[c["dtype"]]
    shape = (1, c["H"], c["S"], c["D"])
    q, k, v = (torch.randn(shape).to(dt) for _ in range(3))
    ids = None
    if c["docs"]:
        ids = (torch.arange(c["S"]) * c["docs"] // c["S"]).to(torch.int32)[None, :].contiguous()
    return q, k, v, ids


def mask_mod(c, ids):
    ctx = Ctx(c["S"], c["S"], None if ids is None else ids[0].long(), device="cpu")
    p = c["pattern"]
    return lambda b, h, qi, ki: allowed(p, qi, ki, ctx)


def reference(c, q, k, v, mm):
    idx = torch.arange(c["S"])
    mask = mm(0, 0, idx[:, None], idx[None, :])
    return F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=mask)


flex = None


def compiled_flex():
    global flex
    if flex is None:
        from torch._dynamo import config as dynamo_config
        from torch.nn.attention.flex_attention import flex_attention
        dynamo_config.recompile_limit = 1000
        dynamo_config.cache_size_limit = 1000
        flex = torch.compile(flex_attention, dynamic=False)
    return flex


def block_mask(c, mm):
    from torch.nn.attention.flex_attention import create_block_mask
    return create_block_mask(mm, B=None, H=None, Q_LEN=c["S"], KV_LEN=c["S"], device="cpu")


def flex_worker(a, cases, timed_run):
    """Child: flex for each case; prints `start` before each so the parent
    knows which one crashed."""
    torch.set_num_threads(a.threads)
    for c in cases:
        print(json.dumps(dict(start=c["name"])), flush=True)
        q, k, v, ids = inputs(c)
        mm = mask_mod(c, ids)
        try:
            f = compiled_flex()
            bm = block_mask(c, mm)
            t0 = time.perf_counter()
            o = f(q, k, v, block_mask=bm)
            first = time.perf_counter() - t0
            if not timed_run:
                continue
            # This project's kernel timed in the same process, just before.
            lib = c["libs"]["amx" if a.amx and c["dtype"] == "bf16" else "vec"]
            kern = Kernel(os.path.join(a.dir, lib))
            out = torch.empty_like(q)
            kargs = [q, k, v] + ([ids] if ids is not None else [])
            ours_ms = timed(lambda: kern(kargs, out), a.runs)
            emit(sys="sparse_attn_amx" if "amx" in lib else "sparse_attn", **record(c),
                 ms=round(ours_ms, 3), eff_gflops=round(flops(c) / ours_ms / 1e6, 1),
                 with_flex=True)
            ms = timed(lambda: f(q, k, v, block_mask=bm), a.runs)
            rec = dict(sys="flex", **record(c), ms=round(ms, 3),
                       eff_gflops=round(flops(c) / ms / 1e6, 1), first_call_s=round(first, 2),
                       ratio=round(ms / ours_ms, 2))
            if c["S"] <= 2048:
                rec["max_abs_err"] = round(float((o.float() - reference(c, q, k, v, mm)).abs().max()), 5)
            rec["max_abs_diff_vs_sparse_attn"] = round(float((o.float() - out.float()).abs().max()), 5)
            emit(**rec)
        except Exception as e:
            emit(sys="flex", case=c["name"], error=repr(e)[:300])


def drive_flex(a, names, threads, timed_run, out_lines):
    """Runs flex children over `names`, restarting after a crash."""
    todo = list(names)
    while todo and time.time() - T0 < a.deadline:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(todo, f)
        cmd = [sys.executable, "-X", "faulthandler", __file__, a.dir, "--flex-child", f.name,
               "--threads", str(threads), "--runs", str(a.runs)] + \
              (["--flex-timed"] if timed_run else []) + (["--amx"] if a.amx else [])
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        err = []
        t = threading.Thread(target=lambda: err.extend(p.stderr.readlines()))
        t.start()
        current = None
        for line in p.stdout:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if "start" in rec:
                current = rec["start"]
                todo.remove(current)
                if time.time() - T0 > a.deadline:
                    p.kill()
                    break
                continue
            current = None
            out_lines.append(line.strip())
            if timed_run:
                print(line.strip(), flush=True)
        p.wait()
        t.join()
        os.unlink(f.name)
        if current is not None and p.returncode != 0:
            rec = dict(sys="flex", case=current, error="child died (exit %d)" % p.returncode,
                       stderr_tail="".join(err)[-1500:], phase="timed" if timed_run else "warm")
            out_lines.append(json.dumps(rec))
            print(json.dumps(rec), flush=True)
        elif p.returncode != 0:
            break


def record(c):
    return dict(case=c["name"], pattern=c["pattern_name"], S=c["S"], D=c["D"], H=c["H"],
                dtype=c["dtype"], density=round(c["density"], 5))


def flops(c):
    return 4.0 * c["D"] * c["allowed"] * c["H"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--only", default="")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--deadline", type=float, default=1e9)
    ap.add_argument("--warm-flex", type=int, default=0)
    ap.add_argument("--flex-child", default="")
    ap.add_argument("--flex-timed", action="store_true")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--amx", action="store_true")
    ap.add_argument("--probe", action="store_true")
    ap.add_argument("--vec-sizes", default="8192")
    ap.add_argument("--flex-only", action="store_true")
    a = ap.parse_args()
    man = json.load(open(os.path.join(a.dir, "manifest.json")))
    order = {8192: 0, 2048: 1, 32768: 2}
    cases = sorted((c for c in man["cases"] if re.search(a.only, c["name"])),
                   key=lambda c: (order.get(c["S"], 3), c["D"], c["dtype"], c["name"]))
    if a.probe:
        k = Kernel(os.path.join(a.dir, man["probe"]))
        t = torch.randn(1, 1, 256, 64).to(torch.bfloat16)
        out = torch.empty_like(t)
        k([t, t, t], out)
        print("probe ok", float(out.float().abs().sum()))
        return
    if a.flex_child:
        names = json.load(open(a.flex_child))
        byname = {c["name"]: c for c in man["cases"]}
        flex_worker(a, [byname[n] for n in names], a.flex_timed)
        return

    threads = os.cpu_count()
    torch.set_num_threads(threads)
    flags = open("/proc/cpuinfo").read().split("\nflags")[1].split("\n")[0].split()
    cpu = open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": \t")
    probe = subprocess.run([sys.executable, __file__, a.dir, "--probe"],
                           capture_output=True, text=True)
    amx_ok = probe.returncode == 0
    emit(cpu=cpu, threads=threads, torch=torch.__version__,
         flags=[f for f in flags if f.startswith(("amx", "avx512_bf16", "avx512_fp16", "avx512f"))],
         amx_probe=amx_ok, amx_probe_output=(probe.stdout + probe.stderr)[-300:],
         date=time.strftime("%Y-%m-%d %H:%M:%S"), command=" ".join(sys.argv))
    # Practical ceilings: large f32 and bf16 matrix products (oneDNN / MKL).
    for dt, name in ((torch.float32, "f32"), (torch.bfloat16, "bf16")):
        x = torch.randn(4096, 4096).to(dt)
        ms = timed(lambda: x @ x, 5)
        emit(sys="matmul", dtype=name, n=4096, ms=round(ms, 3),
             gflops=round(2 * 4096 ** 3 / ms / 1e6, 1))
    vec_sizes = {int(x) for x in a.vec_sizes.split(",") if x}
    for c in ([] if a.flex_only else cases):
        if time.time() - T0 > a.deadline:
            emit(case=c["name"], skipped="deadline")
            continue
        rec = record(c)
        fl = flops(c)
        q, k, v, ids = inputs(c)
        args = [q, k, v] + ([ids] if ids is not None else [])
        mm = mask_mod(c, ids)
        ref = reference(c, q, k, v, mm) if c["S"] <= 2048 else None

        def err(o):
            return None if ref is None else round(float((o.float() - ref).abs().max()), 5)

        variants = []
        if c["dtype"] == "bf16":
            if amx_ok:
                variants.append(("sparse_attn_amx", c["libs"]["amx"]))
            if not amx_ok or c["S"] in vec_sizes:
                variants.append(("sparse_attn_vec", c["libs"]["vec"]))
        else:
            variants.append(("sparse_attn", c["libs"]["vec"]))
        ours_ms, ours_out = None, None
        for sysname, lib in variants:
            try:
                kern = Kernel(os.path.join(a.dir, lib))
                out = torch.empty_like(q)
                ms = timed(lambda: kern(args, out), a.runs)
                emit(sys=sysname, **rec, ms=round(ms, 3), eff_gflops=round(fl / ms / 1e6, 1),
                     max_abs_err=err(out))
                if ours_ms is None:
                    ours_ms, ours_out = ms, out
            except Exception as e:
                emit(sys=sysname, case=c["name"], error=repr(e)[:300])
        if c["pattern_name"] in ("dense", "causal"):
            try:
                causal = c["pattern_name"] == "causal"
                o = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
                ms = timed(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal), a.runs)
                emit(sys="sdpa", **rec, ms=round(ms, 3), eff_gflops=round(fl / ms / 1e6, 1),
                     max_abs_err=err(o), ratio=round(ms / ours_ms, 2) if ours_ms else None,
                     max_abs_diff_vs_sparse_attn=round(float((o.float() - ours_out.float()).abs().max()), 5)
                     if ours_out is not None else None)
            except Exception as e:
                emit(sys="sdpa", case=c["name"], error=repr(e)[:300])
    # Phase 2: flex, in children.
    a.amx = amx_ok
    names = [c["name"] for c in cases if c["pattern_name"] != "dense"]
    if a.warm_flex and names:
        t0 = time.time()
        logs = [[] for _ in range(a.warm_flex)]
        workers = [threading.Thread(target=drive_flex,
                                    args=(a, names[i::a.warm_flex], threads, False, logs[i]))
                   for i in range(a.warm_flex)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        emit(warm_flex_s=round(time.time() - t0, 1), workers=a.warm_flex)
        for log in logs:
            for line in log:
                print(line, flush=True)
    drive_flex(a, names, threads, True, [])
    emit(total_s=round(time.time() - T0, 1))


if __name__ == "__main__":
    main()
