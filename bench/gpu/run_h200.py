#!/usr/bin/env python3
"""Runs sparse-attn CUDA artifacts on the GPU machine: correctness against a
float32 PyTorch evaluation of the same pattern definition, and the peer
benchmark against torch.compile(flex_attention) with the same mask and
scaled_dot_product_attention (flash, cuDNN).

    python3 bench/gpu/run_h200.py --runtime libsparse_attn_cuda.so \
        --artifacts .artifacts/gpu [--only REGEX] [--no-peers] > results.jsonl

One JSON object per line. Needs torch (and triton for do_bench) on the GPU
machine; no MLIR.
"""
import argparse, json, math, os, re, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from sparse_attn.cuda import Runtime  # noqa: E402
sys.path.insert(0, os.path.join(HERE, ".."))
from torch_patterns import Ctx, allowed  # noqa: E402
sys.path.insert(0, HERE)
import tables as table_defs  # noqa: E402

dev = "cuda"
DT = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32,
      "i32": torch.int32, "i64": torch.int64}


flex = None  # torch.compile(flex_attention), made on first use


def emit(**kw):
    print(json.dumps(kw), flush=True)


def doc_ids(S, ndocs, seed=0):
    g = torch.Generator().manual_seed(seed)
    cuts = torch.sort(torch.randperm(S - 1, generator=g)[: ndocs - 1] + 1).values
    doc = torch.zeros(S, dtype=torch.int64)
    doc[cuts] = 1
    return doc.cumsum(0).to(torch.int32)


def density(p, ctx, sq, sk):
    tot = 0
    ki = torch.arange(sk, device=dev)[None, :]
    for r in range(0, sq, 1024):
        qi = torch.arange(r, min(sq, r + 1024), device=dev)[:, None]
        tot += allowed(p, qi, ki, ctx).sum().item()
    return tot / (sq * sk)


def load_tables(c, d):
    """The artifact's runtime block tables (role -> int32 tensor), if any."""
    if not c.get("tables"):
        return {}
    import numpy as np
    return {r: torch.from_numpy(np.load(os.path.join(d, r + ".npy"))).to(dev)
            for r in table_defs.ROLES if os.path.exists(os.path.join(d, r + ".npy"))}


def make_inputs(c, kernel, seed=0, tabs=None):
    torch.manual_seed(seed)
    dt = DT[c["dtype"]]
    B, H, Hkv, Sq, Sk, D = c["B"], c["H"], c["Hkv"], c["Sq"], c["Sk"], c["D"]
    t = dict(query=torch.randn(B, H, Sq, D, device=dev, dtype=dt),
             key=torch.randn(B, Hkv, Sk, D, device=dev, dtype=dt),
             value=torch.randn(B, Hkv, Sk, D, device=dev, dtype=dt))
    seg = None
    if c["docs"]:
        seg = doc_ids(Sq, c["docs"]).to(dev)
        ids = seg[None, :].expand(B, Sq).contiguous()
        t["query_segment_ids"] = ids
        t["key_segment_ids"] = ids
    t.update(tabs or {})
    bufs = []
    sizes = {"B": B, "Sq": Sq, "Sk": Sk}  # names of run-time sizes
    for role, dtype, shape in kernel.args:
        shape = tuple(sizes[d] if isinstance(d, str) else d for d in shape)
        if role not in t:
            t[role] = torch.full(shape, float("nan"), device=dev, dtype=DT[dtype]) \
                if DT[dtype].is_floating_point else torch.zeros(shape, device=dev, dtype=DT[dtype])
        assert tuple(t[role].shape) == tuple(shape), (role, t[role].shape, shape)
        assert t[role].dtype == DT[dtype], (role, t[role].dtype, dtype)
        bufs.append(t[role])
    return t, bufs, seg


def launch(kernel, bufs, stream):
    """Launches with the buffers' shapes bound (kernels with run-time sizes)."""
    kernel.launch([b.data_ptr() for b in bufs], stream,
                  shapes=[tuple(b.shape) for b in bufs] if kernel.dynamic else None)


def reference(c, t, mask):
    """float32 attention with an explicit mask; empty rows give 0 / -inf."""
    q, k, v = (t[n].float() for n in ("query", "key", "value"))
    g = c["H"] // c["Hkv"]
    k = k.repeat_interleave(g, dim=1)
    v = v.repeat_interleave(g, dim=1)
    s = (q @ k.transpose(-1, -2)) / math.sqrt(c["D"])
    if c.get("softcap"):
        s = c["softcap"] * torch.tanh(s / c["softcap"])
    s = s.masked_fill(~mask, float("-inf"))
    lse = torch.logsumexp(s, dim=-1)
    p = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return p @ v, lse


def bench(fn):
    import triton.testing as tt
    fn()
    torch.cuda.synchronize()
    return tt.do_bench(fn, warmup=25, rep=100)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runtime", required=True)
    ap.add_argument("--artifacts", default=".artifacts/gpu")
    ap.add_argument("--only", default="")
    ap.add_argument("--no-peers", action="store_true")
    a = ap.parse_args()
    rt = Runtime(a.runtime)
    emit(torch=torch.__version__, gpu=torch.cuda.get_device_name(),
         date=time.strftime("%Y-%m-%d %H:%M:%S"))
    if not a.no_peers and not a.only.startswith("check"):
        n = 8192
        x = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
        ms = bench(lambda: x @ x)
        emit(sys="matmul_bf16", n=n, ms=round(ms, 4), tflops=round(2 * n ** 3 / ms / 1e9, 1))
        del x
    names = sorted(os.listdir(a.artifacts), key=lambda n: (not n.startswith("check"), n))
    for name in names:
        if a.only and not re.search(a.only, name):
            continue
        d = os.path.join(a.artifacts, name)
        c0 = json.load(open(os.path.join(d, "config.json")))
        if c0.get("program"):
            import routing
            try:
                routing.run_program(a, name, d, c0, rt, emit, bench, dev)
            except Exception as e:
                emit(case=name, error=repr(e)[:400])
            continue
        try:
            kernel = rt.load(d)
        except Exception as e:
            emit(case=name, error=repr(e)[:400])
            continue
        # A kernel compiled with run-time sizes runs at each of its "runs"
        # (sizes), from the one artifact.
        for run in c0.get("runs", [{}]):
            c = dict(c0, **run)
            run_case(a, name, d, c, kernel)
        kernel.close()


def run_case(a, name, d, c, kernel):
        global flex
        p = c["pattern"]
        if c.get("runs"):
            name = "%s[B=%d,Sq=%d,Sk=%d]" % (name, c["B"], c["Sq"], c["Sk"])
        try:
            tabs = load_tables(c, d)
            t, bufs, seg = make_inputs(c, kernel, tabs=tabs)
            ptrs = [b.data_ptr() for b in bufs]
            stream = torch.cuda.current_stream().cuda_stream
            launch(kernel, bufs, stream)
            torch.cuda.synchronize()
        except Exception as e:
            emit(case=name, error=repr(e)[:400])
            return
        ctx = Ctx(c["Sq"], c["Sk"], seg, device=dev)
        out = t["output"].float()
        rec = dict(case=name, pattern=c["case"], B=c["B"], H=c["H"], Hkv=c["Hkv"],
                   Sq=c["Sq"], Sk=c["Sk"], D=c["D"], dtype=c["dtype"])
        if name.startswith("check"):
            qi = torch.arange(c["Sq"], device=dev)[:, None]
            ki = torch.arange(c["Sk"], device=dev)[None, :]
            mask = allowed(p, qi, ki, ctx)
            if tabs:
                mask = mask & table_defs.listed(c, tabs, torch, dev)
            ref, lse = reference(c, t, mask)
            err = (out - ref).abs().max().item()
            tol = 2e-2 if c["dtype"] == "bf16" else 4e-3
            rec.update(max_abs_err=err, tol=tol, nan=bool(torch.isnan(out).any().item()))
            ok = err <= tol and not rec["nan"]
            if "lse" in t:
                ours = t["lse"]
                both_inf = torch.isinf(lse) & torch.isinf(ours) & (ours < 0)
                lerr = (ours - lse).abs().masked_fill(both_inf, 0).max().item()
                rec.update(lse_max_abs_err=lerr)
                ok = ok and lerr <= 1e-2
            rec["ok"] = ok
            emit(**rec)
            return
        # Benchmark.
        S, B, H, D = c["Sq"], c["B"], c["H"], c["D"]
        if tabs:
            ki = torch.arange(S, device=dev)[None, :]
            dens = table_defs.density(
                c, tabs, lambda q0, q1: allowed(p, torch.arange(q0, q1, device=dev)[:, None], ki, ctx),
                torch, dev)
        else:
            dens = density(p, ctx, S, S)
        flops = 4 * B * H * S * S * D * dens
        ms = bench(lambda: kernel.launch(ptrs, stream))
        emit(sys="sparse_attn", **rec, ms=round(ms, 4), density=round(dens, 5),
             eff_tflops=round(flops / ms / 1e9, 1))
        if a.no_peers:
            return
        from torch.nn.attention.flex_attention import flex_attention, create_block_mask
        if flex is None:
            from torch._dynamo import config as dynamo_config
            dynamo_config.recompile_limit = 1000
            dynamo_config.cache_size_limit = 1000
            flex = torch.compile(flex_attention, dynamic=False)
        q, k, v = t["query"], t["key"], t["value"]
        try:
            mm = None if c["case"] == "dense" else (lambda b, h, qi, ki: allowed(p, qi, ki, ctx))
            if tabs:
                # The same tensors as a BlockMask (expanded to Hq heads).
                from torch.nn.attention.flex_attention import BlockMask
                g = H // tabs["kv_num_blocks"].shape[1]
                ex = {r: x.repeat_interleave(g, dim=1).expand(B, H, *x.shape[2:]).contiguous()
                      for r, x in tabs.items()}
                bm = BlockMask.from_kv_blocks(
                    ex["kv_num_blocks"], ex["kv_indices"], ex.get("full_num_blocks"),
                    ex.get("full_indices"), BLOCK_SIZE=tuple(c["tables"]["block"]),
                    mask_mod=mm, seq_lengths=(S, S))
            else:
                bm = create_block_mask(mm, B=None, H=None, Q_LEN=S, KV_LEN=S, device=dev) if mm else None
            sm = None
            if c.get("softcap"):
                cap = float(c["softcap"])
                sm = lambda score, b, h, qi, ki: cap * torch.tanh(score / cap)
            gqa = dict(enable_gqa=True) if c["Hkv"] != H else {}
            t0 = time.time()
            fo = flex(q, k, v, block_mask=bm, score_mod=sm, **gqa)
            torch.cuda.synchronize()
            first = time.time() - t0
            diff = (fo.float() - out).abs().max().item()
            fms = bench(lambda: flex(q, k, v, block_mask=bm, score_mod=sm, **gqa))
            emit(sys="flex", **rec, ms=round(fms, 4), density=round(dens, 5),
                 eff_tflops=round(flops / fms / 1e9, 1), first_call_s=round(first, 1),
                 max_abs_diff_vs_sparse_attn=diff, ratio_sparse_attn_over_flex=round(fms / ms, 3))
            del bm, fo
        except Exception as e:
            emit(sys="flex", case=name, error=repr(e)[:400])
        if c["case"] in ("dense", "causal"):
            from torch.nn.attention import sdpa_kernel, SDPBackend
            for be, nm in ((SDPBackend.FLASH_ATTENTION, "sdpa_flash"),
                           (SDPBackend.CUDNN_ATTENTION, "sdpa_cudnn")):
                try:
                    with sdpa_kernel([be]):
                        sms = bench(lambda: F.scaled_dot_product_attention(
                            q, k, v, is_causal=(c["case"] == "causal"),
                            enable_gqa=c["Hkv"] != H))
                    emit(sys=nm, **rec, ms=round(sms, 4), density=round(dens, 5),
                         eff_tflops=round(flops / sms / 1e9, 1),
                         ratio_sparse_attn_over_peer=round(sms / ms, 3))
                except Exception as e:
                    emit(sys=nm, case=name, error=repr(e)[:400])
        del t, bufs
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
