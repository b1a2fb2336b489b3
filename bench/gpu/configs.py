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
    return out
