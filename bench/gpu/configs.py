"""The GPU configurations: correctness cases (`check`) and the peer benchmark
(`bench`, issue #5's matrix). Patterns are reference.py tuples; both the
artifacts (through reference.to_mlir) and the PyTorch masks (run_h200.py)
are built from the same tuple."""
import math

RANGE = lambda n: list(range(n))


def bigbird(S):
    # BigBird-style: a sliding window of about 3 blocks of 128, 2 global
    # blocks (tokens 0..255) and 3 random blocks of 128 per block row.
    return ("union", [("window", 192, 192), ("global", RANGE(256)),
                      ("random", 128, 3, 0)])


def bench_cases():
    out = []
    for S, B in ((8192, 4), (32768, 1)):
        for D in (64, 128):
            pats = [("dense", ("dense",)), ("causal", ("causal",)),
                    ("sliding1024", ("window", 1023, 0)),
                    ("bigbird", bigbird(S)),
                    ("strided", ("strided", int(math.isqrt(S)))),
                    ("document8", ("intersect", [("segments",), ("causal",)]))]
            for name, p in pats:
                out.append(dict(name="%s_S%d_D%d" % (name, S, D), case=name,
                                pattern=p, B=B, H=16, Hkv=16, Sq=S, Sk=S, D=D,
                                dtype="bf16", lse=False, docs=8 if name.startswith("document") else 0))
    # GQA causal, 32 query heads over 8 KV heads (issue #18's target: at
    # least cuDNN).
    out.append(dict(name="gqa_causal_S8192_D128", case="causal", pattern=("causal",), B=2,
                    H=32, Hkv=8, Sq=8192, Sk=8192, D=128, dtype="bf16", lse=False, docs=0))
    # D = 256 (issue #18's target: dense at least 600 TFLOP/s).
    for name, p in (("dense", ("dense",)), ("causal", ("causal",))):
        out.append(dict(name="%s_S8192_D256" % name, case=name, pattern=p, B=4, H=16,
                        Hkv=16, Sq=8192, Sk=8192, D=256, dtype="bf16", lse=False, docs=0))
    # Routing (NSA / MoBA style): each query block of 128 attends its
    # diagonal block (causal) and 15 earlier blocks chosen per (batch,
    # head) -- runtime block tables, the same tensors FlexAttention's
    # BlockMask holds.
    for S, B in ((8192, 4), (32768, 1)):
        for D in (64, 128):
            out.append(dict(name="topk16_S%d_D%d" % (S, D), case="topk16",
                            pattern=("causal",), B=B, H=16, Hkv=16, Sq=S, Sk=S, D=D,
                            dtype="bf16", lse=False, docs=0,
                            tables=dict(block=[128, 128], bp="B", hp="q", gen="topk",
                                        k=16, seed=1)))
    # Chunked causal written as a mask region (issue #14): classified at
    # compile time by abstract interpretation, against FlexAttention's
    # mask_mod of the same predicate.
    for S, B in ((8192, 4), (32768, 1)):
        out.append(dict(name="chunked_region_S%d_D128" % S, case="chunked_region",
                        pattern=("custom", "chunked", 2048), B=B, H=16, Hkv=16,
                        Sq=S, Sk=S, D=128, dtype="bf16", lse=False, docs=0))
    # Tanh soft-capping (Gemma 2, cap 30) on causal: FlexAttention gets the
    # same score_mod; the accurate-tanh artifact shows what tanh.approx buys.
    for S, B in ((8192, 4), (32768, 1)):
        for D in (64, 128):
            base = dict(case="causal_softcap", pattern=("causal",), B=B, H=16, Hkv=16,
                        Sq=S, Sk=S, D=D, dtype="bf16", lse=False, docs=0, softcap=30.0)
            out.append(dict(base, name="softcap_S%d_D%d" % (S, D)))
            if D == 128:
                out.append(dict(base, name="softcap_accurate_S%d_D%d" % (S, D),
                                approx_tanh=False))
    # Run-time lengths: the same patterns compiled with dynamic B, Sq, Sk
    # (one artifact, tiles classified on the device) against the static
    # kernels above, in the same run.
    for S, B in ((8192, 4), (32768, 1)):
        for name, p in (("causal", ("causal",)), ("sliding1024", ("window", 1023, 0))):
            out.append(dict(name="dyn_%s_S%d_D128" % (name, S), case=name, pattern=p,
                            B=B, H=16, Hkv=16, Sq=S, Sk=S, D=128, dtype="bf16", lse=False,
                            docs=0, dynamic=["B", "Sq", "Sk"]))
    # Learned routing as one program (issue #15): pooling, selection and
    # attention over the selected blocks, kernels of one artifact.
    import routing
    out += routing.bench_cases()
    return out


def dynamic_check_cases():
    """Kernels compiled with run-time lengths (and batch), each checked at
    several sizes from one artifact: a single token, ragged tiles, Sq !=
    Sk, more than one chunk of key tiles (1024 tiles of 64 keys), the
    mma.sync path (D = 32), runtime block tables whose Mq is shorter or
    longer than the run's query blocks."""
    base = dict(H=4, Hkv=2, dtype="bf16", docs=0, lse=True)
    out = []
    sizes = [dict(B=1, Sq=1, Sk=1), dict(B=2, Sq=63, Sk=64), dict(B=3, Sq=1000, Sk=1000),
             dict(B=1, Sq=300, Sk=1100), dict(B=1, Sq=4097, Sk=4097)]
    for D in (64, 128):
        out.append(dict(base, name="check_dynamic_window_D%d" % D, case="window",
                        pattern=("window", 100, 37), D=D, B=2, Sq=1000, Sk=1000,
                        dynamic=["B", "Sq", "Sk"], runs=sizes))
    # Bottom-right alignment (decode, chunked prefill): the tiles are
    # classified on the device from the run-time Sk - Sq.
    out.append(dict(base, name="check_dynamic_causal_br", case="causal_br",
                    pattern=("causal", "bottom_right"), D=128, B=2, Sq=1000, Sk=1000,
                    dynamic=["B", "Sq", "Sk"],
                    runs=sizes + [dict(B=2, Sq=1, Sk=3000), dict(B=1, Sq=200, Sk=2500),
                                  dict(B=1, Sq=700, Sk=130)]))
    out.append(dict(base, name="check_dynamic_causal_sync", case="causal", pattern=("causal",),
                    D=32, B=2, Sq=1000, Sk=1000, dynamic=["Sq", "Sk"],
                    runs=[dict(Sq=1, Sk=1), dict(Sq=777, Sk=777), dict(Sq=100, Sk=1000),
                          dict(Sq=2048, Sk=2048)]))
    out.append(dict(base, name="check_dynamic_chunks", case="dense", pattern=("dense",),
                    D=64, B=1, H=2, Hkv=1, Sq=128, Sk=70000, dynamic=["Sq", "Sk"],
                    runs=[dict(Sq=128, Sk=70000), dict(Sq=64, Sk=131073)]))
    out.append(dict(base, name="check_dynamic_strided", case="strided", pattern=("strided", 31),
                    D=64, B=1, Sq=1000, Sk=1000, dynamic=["Sq", "Sk"],
                    runs=[dict(Sq=1000, Sk=1000), dict(Sq=5000, Sk=5000)]))
    out.append(dict(base, name="check_dynamic_tables", case="causal", pattern=("causal",),
                    D=64, B=2, Sq=1000, Sk=1000, dynamic=["Sq", "Sk"],
                    tables=dict(block=[128, 128], bp="B", hp="kv", gen="adversarial",
                                full=True, seed=7),
                    runs=[dict(Sq=1000, Sk=1000), dict(Sq=700, Sk=900), dict(Sq=1200, Sk=1000)]))
    return out


def table_check_cases():
    """Runtime block tables against a reference that materialises the mask:
    GQA-shared tables (H' = Hkv), B' = 1, H' = Hq, counts below the
    maximum (and negative, and past N), empty lists, out-of-range and
    duplicated indices, full lists the pattern contradicts, tables plus a
    static pattern, a ragged last block."""
    base = dict(B=2, H=4, Hkv=2, Sq=1000, Sk=1000, dtype="bf16", docs=0)
    out = []
    for D in (64, 128):
        out.append(dict(base, name="check_tables_gqa_D%d" % D, case="dense",
                        pattern=("dense",), D=D, lse=True,
                        tables=dict(block=[128, 128], bp="B", hp="kv",
                                    gen="adversarial", full=True, n=11, seed=2)))
        out.append(dict(base, name="check_tables_b1_causal_D%d" % D, case="causal",
                        pattern=("causal",), D=D, lse=True,
                        tables=dict(block=[128, 64], bp=1, hp=1,
                                    gen="adversarial", full=True, seed=3)))
        out.append(dict(base, name="check_tables_hq_window_D%d" % D, case="window",
                        pattern=("window", 100, 37), D=D, lse=False,
                        tables=dict(block=[64, 64], bp="B", hp="q",
                                    gen="adversarial", n=5, seed=4)))
    out.append(dict(base, name="check_tables_empty", case="dense", pattern=("dense",),
                    D=64, lse=True, tables=dict(block=[64, 64], bp=1, hp=1, gen="empty")))
    out.append(dict(base, name="check_tables_document", case="document",
                    pattern=("intersect", [("segments",), ("causal",)]), D=128,
                    lse=False, docs=5,
                    tables=dict(block=[128, 128], bp="B", hp="kv",
                                gen="adversarial", seed=5)))
    out.append(dict(base, name="check_tables_topk_f16", case="topk", pattern=("causal",),
                    D=64, dtype="f16", lse=True, Sq=1024, Sk=1024,
                    tables=dict(block=[128, 128], bp="B", hp="kv", gen="topk", k=3, seed=6)))
    # Token tables (table_block [1, 1], the kernel of TokenSource.cpp):
    # groups of 20 query heads (two blocks of head rows, the second 4 of
    # 16 used), per-query-head lists, one list for all heads; adversarial
    # counts and indices (out of range, duplicated, garbage past the
    # count), full lists the pattern contradicts.
    tok = dict(base, Sq=300, Sk=500)
    out.append(dict(tok, name="check_tokens_gqa_D64", case="causal", pattern=("causal",),
                    H=40, D=64, lse=True,
                    tables=dict(block=[1, 1], bp="B", hp="kv", gen="adversarial",
                                full=True, n=70, seed=7)))
    out.append(dict(tok, name="check_tokens_hq_window_D128", case="window",
                    pattern=("window", 100, 37), D=128, lse=True,
                    tables=dict(block=[1, 1], bp="B", hp="q", gen="adversarial", n=40, seed=8)))
    out.append(dict(tok, name="check_tokens_b1_dense_f16", case="dense", pattern=("dense",),
                    D=64, dtype="f16", lse=False,
                    tables=dict(block=[1, 1], bp=1, hp=1, gen="adversarial", n=600, seed=9)))
    return out


def check_cases():
    out = []
    pats = [("dense", ("dense",)), ("causal", ("causal",)),
            ("sliding", ("window", 255, 0)),
            ("window2", ("window", 100, 37)),
            ("bigbird", ("union", [("window", 96, 96), ("global", RANGE(40)),
                                   ("random", 128, 2, 3)])),
            ("strided", ("strided", 31)),
            ("dilated", ("dilated", 200, 200, 3)),
            ("fixed", ("fixed", 128, 16)),
            ("prefix", ("prefix", 300)),
            ("document", ("intersect", [("segments",), ("causal",)]))]
    for D in (64, 128):
        for name, p in pats:
            out.append(dict(name="check_%s_D%d" % (name, D), case=name, pattern=p,
                            B=2, H=4, Hkv=2, Sq=1000, Sk=1000, D=D, dtype="bf16",
                            lse=(name == "causal"), docs=5 if name == "document" else 0))
    # D = 256 (the largest head dimension the warpgroup kernels take).
    for name, p in (("dense", ("dense",)), ("causal", ("causal",))):
        out.append(dict(name="check_%s_D256" % name, case=name, pattern=p,
                        B=1, H=2, Hkv=1, Sq=700, Sk=700, D=256, dtype="bf16",
                        lse=(name == "causal"), docs=0))
    # f16, Sq != Sk, a tiny sequence, LSE with rows that allow nothing.
    out.append(dict(name="check_causal_f16", case="causal", pattern=("causal",),
                    B=1, H=2, Hkv=1, Sq=777, Sk=777, D=64, dtype="f16", lse=True, docs=0))
    out.append(dict(name="check_rect", case="window", pattern=("window", 50, 400),
                    B=1, H=2, Hkv=2, Sq=300, Sk=1100, D=128, dtype="bf16", lse=True, docs=0))
    out.append(dict(name="check_tiny", case="dense", pattern=("dense",),
                    B=1, H=1, Hkv=1, Sq=5, Sk=9, D=16, dtype="bf16", lse=False, docs=0))
    out.append(dict(name="check_empty_rows", case="intersect",
                    pattern=("intersect", [("causal",), ("window", 0, 10)]),
                    B=1, H=2, Hkv=2, Sq=200, Sk=200, D=64, dtype="bf16", lse=True, docs=0))
    out.append(dict(name="check_causal_br_rect", case="causal_br",
                    pattern=("causal", "bottom_right"), B=1, H=2, Hkv=2, Sq=300, Sk=1100,
                    D=128, dtype="bf16", lse=True, docs=0))
    out.append(dict(name="check_window_br_rect", case="window_br",
                    pattern=("window", 255, 0, "bottom_right"), B=2, H=4, Hkv=2, Sq=500,
                    Sk=1300, D=64, dtype="bf16", lse=True, docs=0))
    out.append(dict(name="check_chunked_region", case="chunked_region",
                    pattern=("custom", "chunked", 192), B=2, H=4, Hkv=2, Sq=1000,
                    Sk=1000, D=128, dtype="bf16", lse=True, docs=0))
    # Tanh soft-capping with tanh.approx.f32 against the float32 reference
    # (its 2^-11 relative error is below bf16 / f16 resolution), with a
    # small cap so tanh is far from linear; Sq != Sk and f16 too.
    for D in (64, 128):
        out.append(dict(name="check_softcap_D%d" % D, case="causal_softcap",
                        pattern=("causal",), B=2, H=4, Hkv=2, Sq=1000, Sk=1000, D=D,
                        dtype="bf16", lse=True, docs=0, softcap=2.0))
    out.append(dict(name="check_softcap_rect_f16", case="window_softcap",
                    pattern=("window", 50, 400), B=1, H=2, Hkv=1, Sq=300, Sk=1100, D=64,
                    dtype="f16", lse=True, docs=0, softcap=1.5))
    import routing
    return out + table_check_cases() + dynamic_check_cases() + routing.check_cases()
