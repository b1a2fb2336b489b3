#!/usr/bin/env python3
"""The GPU backward (issue #16): sparse_attn.attention_grad artifacts,
checked against float32 PyTorch autograd of the same definition and timed
against the peers' backward passes (FlexAttention, SDPA cuDNN / flash).

Here (with the build):
    bench/gpu/grad.py make [--only REGEX] [--out .artifacts/grad]
On the GPU machine (no MLIR):
    bench/gpu/grad.py run --runtime libsa.so [--only REGEX] [--no-peers] > out.jsonl

Each artifact is a program of two kernels (query-block: Delta, dQ; key-block:
dK, dV) whose inputs are q, k, v, O, LSE, dO (and segment ids). The harness
computes O and LSE with the float32 reference forward, rounds O to the
input type, and draws dO at random. One JSON object per line.
"""
import argparse, json, math, os, re, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

RANGE = lambda n: list(range(n))

SOFTCAP = """sparse_attn.score_mod @softcap(%%s: f32, %%b: index, %%h: index, %%q: index, %%k: index) {
  %%c = arith.constant %r : f32
  %%x = arith.divf %%s, %%c : f32
  %%t = math.tanh %%x : f32
  %%r = arith.mulf %%t, %%c : f32
  sparse_attn.yield %%r : f32
}
"""
# ALiBi: s - m_h |q - k|, m_h = 0.125 (h + 1) (a bias that depends on the
# head and the positions; derivative 1 with respect to the score).
ALIBI = """sparse_attn.score_mod @alibi(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  %d = arith.subi %q, %k : index
  %i = arith.index_cast %d : index to i64
  %f = arith.sitofp %i : i64 to f32
  %a = math.absf %f : f32
  %hi = arith.index_cast %h : index to i64
  %hf = arith.sitofp %hi : i64 to f32
  %one = arith.constant 1.0 : f32
  %h1 = arith.addf %hf, %one : f32
  %m0 = arith.constant 0.125 : f32
  %m = arith.mulf %m0, %h1 : f32
  %p = arith.mulf %a, %m : f32
  %r = arith.subf %s, %p : f32
  sparse_attn.yield %r : f32
}
"""


def check_cases():
    base = dict(B=2, H=4, Hkv=2, Sq=1000, Sk=1000, D=64, dtype="bf16", docs=0)
    pats = [("dense", ("dense",)), ("causal", ("causal",)),
            ("sliding", ("window", 255, 0)),
            ("window2", ("window", 100, 37)),
            ("bigbird", ("union", [("window", 96, 96), ("global", RANGE(40)),
                                   ("random", 128, 2, 3)])),
            ("strided", ("strided", 31)),
            ("dilated", ("dilated", 200, 200, 3)),
            ("fixed", ("fixed", 128, 16)),
            ("prefix", ("prefix", 300)),
            ("document", ("intersect", [("segments",), ("causal",)])),
            ("chunked_region", ("custom", "chunked", 192))]
    out = []
    for D in (64, 128):
        for name, p in pats:
            out.append(dict(base, name="gcheck_%s_D%d" % (name, D), case=name, pattern=p,
                            D=D, docs=5 if name == "document" else 0))
    out += [
        dict(base, name="gcheck_softcap_D128", case="causal", pattern=("causal",), D=128,
             score_mod="softcap", softcap=2.0),
        dict(base, name="gcheck_alibi_gqa", case="dense", pattern=("dense",), H=8, Hkv=2,
             score_mod="alibi"),
        dict(base, name="gcheck_gqa_4_to_1", case="causal", pattern=("causal",), H=4, Hkv=1),
        dict(base, name="gcheck_rect", case="window", pattern=("window", 50, 400), B=1,
             Sq=300, Sk=1100, D=128),
        dict(base, name="gcheck_causal_br_rect", case="causal_br",
             pattern=("causal", "bottom_right"), B=1, Sq=300, Sk=1100),
        dict(base, name="gcheck_odd", case="causal", pattern=("causal",), B=1, H=2, Hkv=1,
             Sq=37, Sk=53, D=16),
        dict(base, name="gcheck_f16_softcap", case="window", pattern=("window", 30, 0),
             dtype="f16", score_mod="softcap", softcap=1.5, Sq=777, Sk=777),
        # Rows 203 .. 399 see no key (LSE = -inf): they contribute nothing.
        dict(base, name="gcheck_empty_rows", case="intersect",
             pattern=("intersect", [("causal",), ("window", 3, 10)]), B=1, H=2, Hkv=2,
             Sq=400, Sk=200),
    ]
    # Runtime block tables (random lists with out-of-range counts and
    # indices, duplicates; per batch and KV head, per query head with full
    # tables, shared with a document mask, rectangular with soft-capping).
    T = lambda tb, bp, hp, n, full=False: dict(tb=tb, bp=bp, hp=hp, n=n, full=full)
    out += [
        dict(base, name="gcheck_tables_kvhead", case="causal", pattern=("causal",),
             tables=T([128, 128], 2, 2, 5)),
        dict(base, name="gcheck_tables_qhead_full", case="dense", pattern=("dense",), B=1,
             D=128, tables=T([128, 256], 1, 4, 3, full=True)),
        dict(base, name="gcheck_tables_documents", case="document",
             pattern=("intersect", [("segments",), ("causal",)]), docs=5,
             tables=T([64, 64], 1, 1, 12)),
        dict(base, name="gcheck_tables_softcap_rect", case="window",
             pattern=("window", 50, 400), B=1, Sq=300, Sk=1100, D=128, score_mod="softcap",
             softcap=2.0, tables=T([128, 128], 1, 2, 6, full=True)),
    ]
    return out


def bench_cases():
    out = []
    pats = [("dense", ("dense",)), ("causal", ("causal",)),
            ("sliding1024", ("window", 1023, 0)),
            ("document8", ("intersect", [("segments",), ("causal",)]))]
    for name, p in pats:
        out.append(dict(name="gbench_%s_S8192_D128" % name, case=name, pattern=p, B=4, H=16,
                        Hkv=16, Sq=8192, Sk=8192, D=128, dtype="bf16",
                        docs=8 if name.startswith("document") else 0))
    return out


def module_text(c):
    from sparse_attn.reference import to_mlir
    t, B, H, Hkv, Sq, Sk, D = (c[n] for n in ("dtype", "B", "H", "Hkv", "Sq", "Sk", "D"))
    q = "tensor<%dx%dx%dx%dx%s>" % (B, H, Sq, D, t)
    kv = "tensor<%dx%dx%dx%dx%s>" % (B, Hkv, Sk, D, t)
    lse = "tensor<%dx%dx%dxf32>" % (B, H, Sq)
    args = "%%q: %s, %%k: %s, %%v: %s, %%o: %s, %%lse: %s, %%do: %s" % (q, kv, kv, q, lse, q)
    segs, pre = "", ""
    if c["docs"]:
        qi, ki = "tensor<%dx%dxi32>" % (B, Sq), "tensor<%dx%dxi32>" % (B, Sk)
        args += ", %%qids: %s, %%kids: %s" % (qi, ki)
        segs = " segments(%%qids, %%kids : %s, %s)" % (qi, ki)
    tabs = ""
    if c.get("tables"):
        tb = c["tables"]
        mq, mk = -(-Sq // tb["tb"][0]), -(-Sk // tb["tb"][1])
        nt = "tensor<%dx%dx%dxi32>" % (tb["bp"], tb["hp"], mq)
        xt = "tensor<%dx%dx%dx%dxi32>" % (tb["bp"], tb["hp"], mq, tb["n"])
        args += ", %%n: %s, %%x: %s" % (nt, xt)
        tabs = " block_tables(%%n, %%x : %s, %s)" % (nt, xt)
        if tb["full"]:
            args += ", %%fn: %s, %%fx: %s" % (nt, xt)
            tabs += " full_tables(%%fn, %%fx : %s, %s)" % (nt, xt)
    segs += tabs
    attrs = "pattern = %s" % to_mlir(c["pattern"])
    if c.get("tables"):
        attrs += ", table_block = array<i64: %d, %d>" % tuple(c["tables"]["tb"])
    if c.get("score_mod") == "softcap":
        pre += SOFTCAP % float(c["softcap"])
        attrs += ", score_mod = @softcap"
    elif c.get("score_mod") == "alibi":
        pre += ALIBI
        attrs += ", score_mod = @alibi"
    if c["pattern"][0] == "custom":
        from regions import region
        pre += region(c["pattern"])[0]
    res = "%s, %s, %s" % (q, kv, kv)
    return pre + ("func.func @grad(%s) -> (%s) {\n"
                  "  %%dq, %%dk, %%dv = sparse_attn.attention_grad %%q, %%k, %%v, %%o, %%lse, %%do%s\n"
                  "      {%s} : %s, %s, %s, %s, %s, %s -> %s\n"
                  "  return %%dq, %%dk, %%dv : %s\n}\n") % (
        args, res, segs, attrs, q, kv, kv, q, lse, q, res, res)


def make(a):
    cases = [dict(c, warps=a.warps, block_k=a.block_k) for c in check_cases() + bench_cases()]
    # Benchmark cases at other tile shapes too (warps x block-k), to choose
    # the default from measurements.
    for v in (a.bench_variants.split(",") if a.bench_variants else []):
        w, k = (int(x) for x in v.split("x"))
        if (w, k) != (a.warps, a.block_k):
            cases += [dict(c, name="%s_w%dk%d" % (c["name"], w, k), warps=w, block_k=k,
                           variant=True) for c in bench_cases()]
    # dQ by atomics (the key-block kernel sums dQ; no query-block kernel):
    # a subset of the checks and every benchmark case.
    atomic = ("causal_D128", "document_D64", "softcap_D128", "alibi_gqa", "gqa_4_to_1",
              "rect", "odd", "empty_rows", "tables_kvhead", "tables_qhead_full",
              "tables_documents")
    cases += [dict(c, name=c["name"] + "_atomic", grad_dq="atomic",
                   variant=c["name"].startswith("gbench"))
              for c in cases if not c.get("variant") and
              (c["name"].startswith("gbench") or c["name"][len("gcheck_"):] in atomic)]
    # The key-block kernel on warpgroup MMAs (mma=wgmma: D multiple of 64,
    # deterministic dQ): every such check and benchmark case.
    cases += [dict(c, name=c["name"] + "_wgmma", mma="wgmma",
                   variant=c["name"].startswith("gbench"))
              for c in cases if not c.get("variant") and c.get("grad_dq") is None and
              c["D"] % 64 == 0]
    # The same with overlap=true: each tile's P / dS made while its other
    # products run (opt-in until measured).
    cases += [dict(c, name=c["name"] + "_overlap", overlap=True)
              for c in cases if c.get("mma") == "wgmma"]
    cases = [c for c in cases if re.search(a.only, c["name"])]
    tool = os.path.join(a.build, "bin", "sparse-attn-compile")
    for c in cases:
        d = os.path.join(a.out, c["name"])
        os.makedirs(d, exist_ok=True)
        src = os.path.join(d, "grad.mlir")
        with open(src, "w") as f:
            f.write(module_text(c))
        r = subprocess.run([tool, src, "--target=cuda", "-o", d, "--warps=%d" % c["warps"],
                            "--block-k=%d" % c["block_k"], "--mma=" + c.get("mma", "sync"),
                            "--grad-dq=" + c.get("grad_dq", "deterministic")]
                           + (["--overlap"] if c.get("overlap") else []),
                           stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            print("failed %s: %s" % (c["name"], r.stderr.strip()), file=sys.stderr)
            sys.exit(1)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(c, f)
        print("wrote", d, flush=True)


# ---------------------------------------------------------------- GPU side

def emit(**kw):
    print(json.dumps(kw), flush=True)


def torch_score_mod(c):
    import torch
    if c.get("score_mod") == "softcap":
        cap = float(c["softcap"])
        return lambda s, b, h, qi, ki: cap * torch.tanh(s / cap)
    if c.get("score_mod") == "alibi":
        return lambda s, b, h, qi, ki: s - (qi - ki).abs() * (0.125 * (h + 1))
    return None


def reference_forward(c, q, k, v, mask, sm):
    """float32 attention (the op's definition): O, LSE; empty rows 0 / -inf."""
    import torch
    g = c["H"] // c["Hkv"]
    k = k.repeat_interleave(g, dim=1)
    v = v.repeat_interleave(g, dim=1)
    s = (q @ k.transpose(-1, -2)) / math.sqrt(c["D"])
    if sm is not None:
        h = torch.arange(c["H"], device=q.device)[None, :, None, None]
        qi = torch.arange(c["Sq"], device=q.device)[:, None]
        ki = torch.arange(c["Sk"], device=q.device)[None, :]
        s = sm(s, None, h, qi, ki)
    s = s.masked_fill(~mask, float("-inf"))
    lse = torch.logsumexp(s, dim=-1)
    p = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return p @ v, lse


def random_tables(c, dev):
    """Block tables as a producer might hand them over, garbage included:
    counts in [-1, N + 1], indices in [-1, Mk] with repeats. Returns the
    table tensors and the listed mask [B or 1, H, Sq, Sk] they define (the
    op's semantics: counts clamped to [0, N], indices outside [0, Mk)
    ignored, kv and full tables united)."""
    import torch
    tb = c["tables"]
    Sq, Sk, H, Hkv = c["Sq"], c["Sk"], c["H"], c["Hkv"]
    mq, mk = -(-Sq // tb["tb"][0]), -(-Sk // tb["tb"][1])
    g = torch.Generator().manual_seed(1)
    shape = (tb["bp"], tb["hp"], mq)
    tensors, listed = [], torch.zeros(tb["bp"], tb["hp"], mq, mk + 2, dtype=torch.bool)
    for _ in range(2 if tb["full"] else 1):
        num = torch.randint(-1, tb["n"] + 2, shape, generator=g, dtype=torch.int32)
        idx = torch.randint(-1, mk + 1, shape + (tb["n"],), generator=g, dtype=torch.int32)
        n = num.clamp(0, tb["n"])
        live = torch.arange(tb["n"])[None, None, None, :] < n[..., None].long()
        pos = (idx.long() + 1).clamp(0, mk + 1)  # -1 -> column 0, dropped below
        for e in range(tb["n"]):
            sel = live[..., e]
            col = pos[..., e]
            cur = listed.gather(3, col[..., None])[..., 0]
            listed.scatter_(3, col[..., None], (cur | sel)[..., None])
        tensors += [num.to(dev), idx.to(dev)]
    listed = listed[..., 1:mk + 1]  # indices 0 .. mk - 1
    # Per query head: h' = h, the KV head, or 0.
    hp = tb["hp"]
    heads = torch.arange(H)
    hsel = heads if hp == H else heads // (H // Hkv) if hp == Hkv else heads * 0
    listed = listed[:, hsel]
    m = listed.repeat_interleave(tb["tb"][0], dim=2)[:, :, :Sq]
    m = m.repeat_interleave(tb["tb"][1], dim=3)[..., :Sk]
    return tensors, m.to(dev)


def run(a):
    import numpy as np
    import torch
    from sparse_attn.cuda import Runtime
    from torch_patterns import Ctx, allowed
    import run_h200
    dev = "cuda"
    DT = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32,
          "i32": torch.int32}
    rt = Runtime(a.runtime)
    emit(torch=torch.__version__, gpu=torch.cuda.get_device_name(),
         date=time.strftime("%Y-%m-%d %H:%M:%S"))
    for name in sorted(os.listdir(a.artifacts)):
        if a.only and not re.search(a.only, name):
            continue
        d = os.path.join(a.artifacts, name)
        c = json.load(open(os.path.join(d, "config.json")))
        try:
            prog = rt.load_program(d)
        except Exception as e:
            emit(case=name, error=repr(e)[:400])
            continue
        dt = DT[c["dtype"]]
        B, H, Hkv, Sq, Sk, D = (c[n] for n in ("B", "H", "Hkv", "Sq", "Sk", "D"))
        torch.manual_seed(0)
        q = torch.randn(B, H, Sq, D, device=dev, dtype=dt)
        k = torch.randn(B, Hkv, Sk, D, device=dev, dtype=dt)
        v = torch.randn(B, Hkv, Sk, D, device=dev, dtype=dt)
        do = torch.randn(B, H, Sq, D, device=dev, dtype=dt)
        seg = None
        if c["docs"]:
            seg = run_h200.doc_ids(Sq, c["docs"]).to(dev)
        ctx = Ctx(Sq, Sk, seg, device=dev)
        qi = torch.arange(Sq, device=dev)[:, None]
        ki = torch.arange(Sk, device=dev)[None, :]
        check = name.startswith("gcheck")
        mask = allowed(c["pattern"], qi, ki, ctx) if check or c["case"] != "dense" else None
        tables = []
        if c.get("tables"):
            tables, listed = random_tables(c, dev)
            mask = mask & listed
        sm = torch_score_mod(c)
        if check:
            qf, kf, vf = (x.float().requires_grad_() for x in (q, k, v))
            o_ref, lse = reference_forward(c, qf, kf, vf, mask, sm)
            o_ref.backward(do.float())
            want = [qf.grad, kf.grad, vf.grad]
            o, lse = o_ref.detach().to(dt), lse.detach()
        else:
            with torch.no_grad():
                o, lse = torch.zeros_like(q), torch.empty(B, H, Sq, device=dev)
                for h in range(H):  # chunks of heads: the reference's S x S
                    oh, lh = reference_forward(dict(c, H=1, Hkv=1), q[:, h:h+1].float(),
                                               k[:, h * Hkv // H:h * Hkv // H + 1].float(),
                                               v[:, h * Hkv // H:h * Hkv // H + 1].float(),
                                               mask if mask is not None else
                                               torch.ones(1, 1, dtype=torch.bool, device=dev),
                                               None)
                    o[:, h:h+1], lse[:, h:h+1] = oh.to(dt), lh
        inputs = [q, k, v, o, lse.contiguous(), do]
        if seg is not None:
            ids = seg[None, :].expand(B, Sq).contiguous()
            inputs += [ids, ids]
        inputs += tables
        bufs = {}
        for nm, (dtn, shape) in prog.buffers.items():
            if nm.startswith("input:"):
                bufs[nm] = inputs[int(nm[6:])]
            else:
                bufs[nm] = torch.full(shape, float("nan"), device=dev, dtype=DT[dtn])
            assert tuple(bufs[nm].shape) == tuple(shape), (nm, bufs[nm].shape, shape)
            assert bufs[nm].dtype == DT[dtn], (nm, bufs[nm].dtype, dtn)
        ptrs = {nm: t.data_ptr() for nm, t in bufs.items()}
        stream = torch.cuda.current_stream().cuda_stream
        prog.launch(ptrs, stream)
        torch.cuda.synchronize()
        got = [bufs["output:%d" % i] for i in range(3)]
        rec = dict(case=name, pattern=c["case"], B=B, H=H, Hkv=Hkv, Sq=Sq, Sk=Sk, D=D,
                   dtype=c["dtype"], warps=c["warps"], block_k=c["block_k"],
                   grad_dq=c.get("grad_dq", "deterministic"), mma=c.get("mma", "sync"),
                   overlap=bool(c.get("overlap")))
        if check:
            tol = 2e-2 if c["dtype"] == "bf16" else 5e-3
            ok, errs = True, {}
            for nm, g_, w in zip(("dq", "dk", "dv"), got, want):
                err = (g_.float() - w).abs().max().item()
                scale = max(w.abs().max().item(), 1e-30)
                errs[nm] = round(err / scale, 6)
                ok &= err / scale <= tol and not bool(torch.isnan(g_).any())
            # Determinism: a second launch gives the same bits.
            again = [x.clone() for x in got]
            prog.launch(ptrs, stream)
            torch.cuda.synchronize()
            same = all(torch.equal(x, y) for x, y in zip(again, got))
            # Atomic dQ sums in a varying order: only the deterministic
            # mode must give the same bits.
            need_same = c.get("grad_dq", "deterministic") == "deterministic"
            emit(**rec, ok=bool(ok and (same or not need_same)), max_rel_err=errs, tol=tol,
                 deterministic=same)
            prog.close()
            continue
        # Benchmark: backward FLOPs = 2.5 x the forward's over allowed pairs.
        dens = run_h200.density(c["pattern"], ctx, Sq, Sk)
        flops = 2.5 * 4 * B * H * Sq * Sk * D * dens
        ms = run_h200.bench(lambda: prog.launch(ptrs, stream))
        emit(sys="sparse_attn", **rec, ms=round(ms, 4), density=round(dens, 5),
             eff_tflops=round(flops / ms / 1e9, 1))
        if not a.no_peers and not c.get("variant"):
            peers(c, rec, q, k, v, do, mask, ctx, flops, ms, got)
        prog.close()
        del bufs, inputs
        torch.cuda.empty_cache()


def peers(c, rec, q, k, v, do, mask, ctx, flops, ms, got):
    """Backward alone of each peer: forward once with requires_grad, then
    timed backward(retain_graph) of that output."""
    import torch
    import torch.nn.functional as F
    import run_h200
    from torch_patterns import allowed
    from torch.nn.attention.flex_attention import flex_attention, create_block_mask
    dev = "cuda"
    S = c["Sq"]
    qg, kg, vg = (x.detach().clone().requires_grad_() for x in (q, k, v))

    def backward_ms(out):
        def step():
            qg.grad = kg.grad = vg.grad = None
            out.backward(do, retain_graph=True)
        return run_h200.bench(step)

    try:
        mm = None if c["case"] == "dense" else (
            lambda b, h, qi, ki: allowed(c["pattern"], qi, ki, ctx))
        bm = create_block_mask(mm, B=None, H=None, Q_LEN=S, KV_LEN=S, device=dev) if mm else None
        flex = torch.compile(flex_attention, dynamic=False)
        out = flex(qg, kg, vg, block_mask=bm)
        out.backward(do, retain_graph=True)
        diff = max((g_.float() - x.grad.float()).abs().max().item()
                   for g_, x in zip(got, (qg, kg, vg)))
        fms = backward_ms(out)
        emit(sys="flex", **rec, ms=round(fms, 4), eff_tflops=round(flops / fms / 1e9, 1),
             max_abs_diff_vs_sparse_attn=diff, ratio_sparse_attn_over_flex=round(fms / ms, 3))
        del out, bm
    except Exception as e:
        emit(sys="flex", case=rec["case"], error=repr(e)[:400])
    if c["case"] in ("dense", "causal"):
        from torch.nn.attention import sdpa_kernel, SDPBackend
        for be, nm in ((SDPBackend.FLASH_ATTENTION, "sdpa_flash"),
                       (SDPBackend.CUDNN_ATTENTION, "sdpa_cudnn")):
            try:
                with sdpa_kernel([be]):
                    out = F.scaled_dot_product_attention(qg, kg, vg,
                                                         is_causal=(c["case"] == "causal"))
                    sms = backward_ms(out)
                emit(sys=nm, **rec, ms=round(sms, 4), eff_tflops=round(flops / sms / 1e9, 1),
                     ratio_sparse_attn_over_peer=round(sms / ms, 3))
                del out
            except Exception as e:
                emit(sys=nm, case=rec["case"], error=repr(e)[:400])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["make", "run"])
    ap.add_argument("--build", default="build")
    ap.add_argument("--out", default=".artifacts/grad")
    ap.add_argument("--artifacts", default=".artifacts/grad")
    ap.add_argument("--runtime")
    ap.add_argument("--warps", type=int, default=4)
    ap.add_argument("--block-k", type=int, default=64)
    ap.add_argument("--bench-variants", default="",
                    help="make: benchmark cases also at these WARPSxBLOCKK (e.g. 8x64,8x32)")
    ap.add_argument("--only", default="")
    ap.add_argument("--no-peers", action="store_true")
    a = ap.parse_args()
    make(a) if a.what == "make" else run(a)


if __name__ == "__main__":
    main()
