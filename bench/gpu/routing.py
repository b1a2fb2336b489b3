"""Routing programs on the GPU (issue #15): configurations, module text,
the PyTorch gate (block selection with the op's semantics, also the exact
reference of the tables at benchmark sizes) and the run of one program
artifact (check or benchmark), used by make_artifacts.py and run_h200.py.

A program artifact holds every kernel of the function (pooling, selection,
attention, merges) and binds their arguments to the function's buffers
(manifest `bind` lines; python/sparse_attn/cuda.py Program)."""
import json
import math
import os
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")


def select_module(c, attention=True):
    """q, k, v -> O, tables: mean-pooled keys (BK), top-k blocks per query
    block and KV head (scores summed over the group), the diagonal block
    forced (local = 1), causal attention through the tables."""
    t, B, H, Hkv, S, D = c["dtype"], c["B"], c["H"], c["Hkv"], c["Sq"], c["D"]
    bq, bk = c["tables"]["block"]
    nk, mq, n = -(-S // bk), -(-S // bq), c["tables"]["n"]
    hp = Hkv if c["tables"]["hp"] == "kv" else H
    q = "tensor<%dx%dx%dx%dx%s>" % (B, H, S, D, t)
    kv = "tensor<%dx%dx%dx%dx%s>" % (B, Hkv, S, D, t)
    kp = "tensor<%dx%dx%dx%dx%s>" % (B, Hkv, nk, D, t)
    num = "tensor<%dx%dx%dxi32>" % (B, hp, mq)
    idx = "tensor<%dx%dx%dx%dxi32>" % (B, hp, mq, n)
    routing = f"""  %kp = sparse_attn.pool %k {{kind = "mean", block = {bk}}} : {kv} -> {kp}
  %n, %x, %fn, %fx = sparse_attn.select_blocks %q, %kp
      {{pattern = #sparse_attn.causal, top_k = {c["top_k"]}, sink = {c.get("sink", 0)},
       local = {c.get("local", 1)}, table_block = array<i64: {bq}, {bk}>}}
      : {q}, {kp} -> {num}, {idx}, {num}, {idx}
"""
    if not attention:  # the routing alone: the tables
        return f"""func.func @routing(%q: {q}, %k: {kv}) -> ({num}, {idx}, {num}, {idx}) {{
{routing}  return %n, %x, %fn, %fx : {num}, {idx}, {num}, {idx}
}}
"""
    return f"""func.func @select(%q: {q}, %k: {kv}, %v: {kv})
    -> ({q}, {num}, {idx}, {num}, {idx}) {{
{routing}  %init = tensor.empty() : {q}
  %o = sparse_attn.attention %q, %k, %v
      block_tables(%n, %x : {num}, {idx}) full_tables(%fn, %fx : {num}, {idx})
      outs(%init : {q}) {{pattern = #sparse_attn.causal, table_block = array<i64: {bq}, {bk}>}}
      : {q}, {kv}, {kv} -> {q}
  return %o, %n, %x, %fn, %fx : {q}, {num}, {idx}, {num}, {idx}
}}
"""


def example_module(c):
    text = open(os.path.join(ROOT, "examples", c["example"])).read()
    return re.sub(r"x(f16)>", "x" + c["dtype"] + ">", text)


def module_text(c):
    return example_module(c) if c.get("example") else select_module(c)


def base(name, S, B=1, H=16, Hkv=2, D=128, top_k=16, bq=128, bk=128):
    nk = -(-S // bk)
    return dict(name=name, program=True, case="select_top%d" % top_k, pattern=("causal",),
                B=B, H=H, Hkv=Hkv, Sq=S, Sk=S, D=D, dtype="bf16", lse=False, docs=0,
                top_k=top_k, local=1,
                tables=dict(block=[bq, bk], bp="B", hp="kv", n=min(top_k + 1, nk)))


def check_cases():
    out = []
    for ex in ("moba", "nsa", "dsa"):
        out.append(dict(name="check_program_%s_bf16" % ex, program=True, example=ex + ".mlir",
                        dtype="bf16", case=ex))
    out.append(base("check_program_select_S2048_D128", 2048, B=1, H=8, Hkv=2, top_k=4))
    return out


def bench_cases():
    return [base("program_select_S%d_D128" % S, S) for S in (32768, 65536)]


def write_check_data(c, d, run_tool):
    """Seeded inputs (.npy, f32) and the float64 reference of every result
    (sparse-attn-run --write-reference on this machine)."""
    import numpy as np
    src = os.path.join(d, "attention.mlir")
    text = open(src).read()
    m = re.search(r"func\.func @\w+\((.*?)\)\s*->", text, re.S)
    args = re.findall(r"%\w+: tensor<([^>]*)>", m.group(1))
    rng = np.random.default_rng(11)
    cmd = [run_tool, src]
    for i, a in enumerate(args):
        shape = tuple(int(x) for x in a.split("x")[:-1])
        f = os.path.join(d, "input%d.npy" % i)
        # f16 files (half the bytes to carry); both sides round them to the
        # argument's type the same way (to nearest even).
        np.save(f, rng.uniform(-1, 1, shape).astype(np.float16))
        cmd += ["--input", f]
    nres = len(re.findall(r"tensor<", text[m.end():text.index("{", m.end())]))
    for r in range(nres):
        cmd += ["--write-reference", os.path.join(d, "reference%d.npy" % r)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr)
    for r in range(nres):  # float32 suffices for the GPU's tolerance
        f = os.path.join(d, "reference%d.npy" % r)
        np.save(f, np.load(f).astype(np.float32))


# -- On the GPU machine ---------------------------------------------------

def torch_select(q, kp, bq, bk, top_k, local, sink=0):
    """The tables of sparse_attn.select_blocks (per KV head, causal, top-left,
    Sq = Sk, Sq % BQ == 0) computed with PyTorch: the peer's gate, and the
    exact reference of our tables."""
    import torch
    B, H, S, D = q.shape
    Hkv, nk = kp.shape[1], kp.shape[2]
    g, mq = H // Hkv, S // bq
    qbar = q.float().view(B, Hkv, g, mq, bq, D).mean(4).sum(2)      # [B, Hkv, Mq, D]
    s = torch.einsum("bhmd,bhnd->bhmn", qbar, kp.float())
    s = torch.nan_to_num(s, nan=float("-inf"))
    i = torch.arange(mq, device=q.device)[:, None]
    j = torch.arange(nk, device=q.device)[None, :]
    cand = j * bk <= (i + 1) * bq - 1                                # a causal key
    full = (j + 1) * bk - 1 <= i * bq
    # Forced: the `local` highest-indexed candidates, the first `sink`.
    rank_from_end = cand.flip(1).cumsum(1).flip(1)                   # candidates at or after j
    forced = cand & ((rank_from_end <= local) | (j < sink))
    free = (cand & ~forced).expand(B, Hkv, mq, nk)
    # Highest score first, ties to the lower index, free candidates only:
    # stable sorts by score, then by freedom.
    order = torch.sort(s.masked_fill(~free, float("-inf")), dim=-1, descending=True,
                       stable=True).indices
    order = order.gather(-1, torch.sort(free.gather(-1, order).int(), dim=-1,
                                        descending=True, stable=True).indices)
    take = free.sum(-1, keepdim=True).clamp(max=top_k)
    pos = torch.arange(nk, device=q.device)
    chosen = torch.zeros(B, Hkv, mq, nk, dtype=torch.bool, device=q.device)
    chosen.scatter_(-1, order, pos.expand_as(order) < take)
    chosen |= forced
    n = min(top_k + local + sink, nk)
    tabs = {}
    for pre, sel in (("kv", chosen & ~full), ("full", chosen & full)):
        cnt = sel.sum(-1)
        # Selected indices first, ascending; zeros after the count.
        key = torch.where(sel, pos, nk + pos)
        idx = torch.sort(key, dim=-1).values[..., :n]
        idx = torch.where(idx < nk, idx, 0)
        tabs[pre + "_num_blocks"] = cnt.int()
        tabs[pre + "_indices"] = idx.int().contiguous()
    return tabs


def near_tie_rows(q, kp, bq, bk, top_k, local):
    """[B, Hkv, Mq] bool: the top_k-th and the next free candidate's scores
    (float64) are within 1e-5 of the row's largest |score| term."""
    import torch
    B, H, S, D = q.shape
    Hkv, nk = kp.shape[1], kp.shape[2]
    g, mq = H // Hkv, S // bq
    qbar = q.double().view(B, Hkv, g, mq, bq, D).mean(4).sum(2)
    s = torch.einsum("bhmd,bhnd->bhmn", qbar, kp.double())
    mag = torch.einsum("bhmd,bhnd->bhmn", qbar.abs(), kp.double().abs()).amax(-1)
    i = torch.arange(mq, device=q.device)[:, None]
    j = torch.arange(nk, device=q.device)[None, :]
    cand = j * bk <= (i + 1) * bq - 1
    forced = cand & (cand.flip(1).cumsum(1).flip(1) <= local)
    free = cand & ~forced
    v = torch.sort(s.masked_fill(~free, float("-inf")), dim=-1, descending=True).values
    if nk <= top_k:
        return torch.zeros(B, Hkv, mq, dtype=torch.bool, device=q.device)
    gap = (v[..., top_k - 1] - v[..., top_k]).abs()
    ok = torch.isfinite(gap)
    return ok & (gap <= 1e-5 * mag)


def run_program(a, name, d, c, rt, emit, bench, dev):
    import numpy as np
    import torch
    DT = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32,
          "i32": torch.int32, "i64": torch.int64}
    prog = rt.load_program(d)
    bufs = {}
    torch.manual_seed(0)
    for nm, (dt, shape) in sorted(prog.buffers.items()):
        if nm.startswith("input:") and os.path.exists(os.path.join(d, "input%s.npy" % nm[6:])):
            bufs[nm] = torch.from_numpy(np.load(os.path.join(d, "input%s.npy" % nm[6:])).astype(
                np.float32)).to(dev).to(DT[dt])
        elif nm.startswith("input:"):
            bufs[nm] = torch.randn(shape, device=dev, dtype=DT[dt])
        elif DT[dt].is_floating_point:
            bufs[nm] = torch.full(shape, float("nan"), device=dev, dtype=DT[dt])
        else:
            bufs[nm] = torch.full(shape, -7, device=dev, dtype=DT[dt])
        assert tuple(bufs[nm].shape) == tuple(shape), (nm, bufs[nm].shape, shape)
    ptrs = {nm: t.data_ptr() for nm, t in bufs.items()}
    stream = torch.cuda.current_stream().cuda_stream
    prog.launch(ptrs, stream)
    torch.cuda.synchronize()
    rec = dict(case=name, kernels=len(prog.kernels), dtype=c["dtype"])
    outs = sorted((int(nm[7:]), t) for nm, t in bufs.items() if nm.startswith("output:"))
    if name.startswith("check"):
        ok = True
        errs = []
        for r, got in outs:
            want = torch.from_numpy(np.load(os.path.join(d, "reference%d.npy" % r))).to(dev)
            if got.dtype.is_floating_point:
                err = (got.double() - want).abs().max().item()
                scale = max(want.abs().max().item(), 1e-30)
                good = err / scale <= (2e-2 if c["dtype"] == "bf16" else 4e-3) \
                    and not bool(torch.isnan(got).any())
                errs.append("result %d: max_rel_err %.2e" % (r, err / scale))
            else:
                bad = int((got.long() != want.long()).sum().item())
                good = bad == 0
                errs.append("result %d: %d of %d integers differ" % (r, bad, got.numel()))
            ok &= good
        emit(**rec, ok=ok, detail="; ".join(errs))
        prog.close()
        return
    # Benchmark: the whole program, its attention kernel alone, and the peers.
    o, n, x, fn, fx = (t for _, t in outs)
    q, k, v = bufs["input:0"], bufs["input:1"], bufs["input:2"]
    B, H, S, D = q.shape
    bq, bk = c["tables"]["block"]
    ours = dict(kv_num_blocks=n, kv_indices=x, full_num_blocks=fn, full_indices=fx)
    kp = bufs["temp:0"]
    ref = torch_select(q, kp, bq, bk, c["top_k"], c.get("local", 1), c.get("sink", 0))
    mism = {r: int((ours[r] != ref[r]).sum().item()) for r in ref}
    # Rows whose selection differs, and rows decided by scores within
    # 1e-5 (relative) of each other, where f32 sums in another order may
    # choose either block.
    differ = torch.zeros(ours["kv_num_blocks"].shape, dtype=torch.bool, device=dev)
    for r in ref:
        x = ours[r] != ref[r]
        differ |= x if x.dim() == 3 else x.any(-1)
    near = near_tie_rows(q, kp, bq, bk, c["top_k"], c.get("local", 1))
    kp_ref = k.float().view(B, k.shape[1], S // bk, bk, D).mean(3)
    kp_err = (kp.float() - kp_ref).abs().max().item()
    sys_path = __import__("sys").path
    sys_path.insert(0, HERE)
    import tables as table_defs
    ki = torch.arange(S, device=dev)[None, :]
    dens = table_defs.density(c, ours, lambda q0, q1: torch.arange(q0, q1, device=dev)[:, None] >= ki,
                              torch, dev)
    flops = 4 * B * H * S * S * D * dens
    ms = bench(lambda: prog.launch(ptrs, stream))
    attn = prog.kernels[-1]
    aptrs = [ptrs[nm] for nm in prog.binds[-1]]
    ams = bench(lambda: attn.launch(aptrs, stream))
    emit(sys="sparse_attn", **rec, S=S, B=B, H=H, Hkv=k.shape[1], D=D, ms=round(ms, 4),
         attention_ms=round(ams, 4), routing_ms=round(ms - ams, 4), density=round(dens, 5),
         eff_tflops=round(flops / ms / 1e9, 1), attention_eff_tflops=round(flops / ams / 1e9, 1),
         table_mismatches_vs_torch=mism, rows_differing=int(differ.sum().item()),
         rows_differing_not_near_tie=int((differ & ~near).sum().item()),
         near_tie_rows=int(near.sum().item()), pooled_max_abs_err=kp_err)
    if a.no_peers:
        prog.close()
        return
    import torch.nn.functional as F
    from torch.nn.attention.flex_attention import flex_attention, BlockMask
    flex = torch.compile(flex_attention, dynamic=False)
    g = H // k.shape[1]

    def gate():
        kp_t = k.view(B, k.shape[1], S // bk, bk, D).mean(3)
        return torch_select(q, kp_t, bq, bk, c["top_k"], c.get("local", 1), c.get("sink", 0))

    def build(t):
        # BlockMask.from_kv_blocks transposes the lists into a dense
        # [.., Mq, width + 1] scratch indexed by block number, so the index
        # lists must be as wide as the number of key blocks (narrower ones
        # index out of bounds: the device-side assert of the first run).
        nk = S // bk

        def widen(x):
            return F.pad(x, (0, nk - x.shape[-1])) if x.dim() == 4 and x.shape[-1] < nk else x
        ex = {r: widen(x.repeat_interleave(g, dim=1)).contiguous() for r, x in t.items()}
        return BlockMask.from_kv_blocks(
            ex["kv_num_blocks"], ex["kv_indices"], ex["full_num_blocks"], ex["full_indices"],
            BLOCK_SIZE=(bq, bk), mask_mod=lambda b, h, qi, ki: qi >= ki, seq_lengths=(S, S))
    bm = build(ours)
    fo = flex(q, k, v, block_mask=bm, enable_gqa=True)
    torch.cuda.synchronize()
    diff = (fo.float() - o.float()).abs().max().item()
    gms = bench(gate)
    t = gate()
    bms = bench(lambda: build(t))
    fms = bench(lambda: flex(q, k, v, block_mask=bm, enable_gqa=True))
    total = gms + bms + fms
    emit(sys="flex", **rec, S=S, gate_ms=round(gms, 4), build_ms=round(bms, 4),
         forward_ms=round(fms, 4), total_ms=round(total, 4),
         forward_eff_tflops=round(flops / fms / 1e9, 1),
         max_abs_diff_vs_sparse_attn=diff, ratio_total_over_sparse_attn=round(total / ms, 3))
    import torch.nn.functional as F
    from torch.nn.attention import sdpa_kernel, SDPBackend
    try:
        kk = k.repeat_interleave(g, dim=1)
        vv = v.repeat_interleave(g, dim=1)
        with sdpa_kernel([SDPBackend.CUDNN_ATTENTION]):
            cms = bench(lambda: F.scaled_dot_product_attention(q, kk, vv, is_causal=True))
        emit(sys="sdpa_cudnn_causal", **rec, S=S, ms=round(cms, 4),
             eff_tflops_dense_causal=round(4 * B * H * S * S * D * 0.5 / cms / 1e9, 1),
             ratio_over_sparse_attn=round(cms / ms, 3))
    except Exception as e:
        emit(sys="sdpa_cudnn_causal", case=name, error=repr(e)[:300])
    prog.close()
