"""Compares sparse-attn-inspect with the brute-force Python reference.

For every sequence-length pair and every pattern below, the element mask
printed by `sparse-attn-inspect --format=bits` must equal the reference
definitions (python/sparse_attn/reference.py), and the tile map printed by
`--format=blocks` must equal the classification derived from the reference
mask, for several tile sizes, including sizes that do not divide Sq or Sk.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile

parser = argparse.ArgumentParser()
parser.add_argument("--inspect", required=True)
parser.add_argument("--pythonpath", required=True)
args = parser.parse_args()
sys.path.insert(0, args.pythonpath)
from sparse_attn import reference as ref  # noqa: E402

CUSTOM_MASK = """
sparse_attn.mask @m(%b: index, %h: index, %q: index, %k: index) {
  %c2 = arith.constant 2 : index
  %k2 = arith.muli %k, %c2 : index
  %s = arith.addi %q, %k2 : index
  %c5 = arith.constant 5 : index
  %r = arith.remsi %s, %c5 : index
  %c1 = arith.constant 1 : index
  %ok = arith.cmpi ne, %r, %c1 : index
  sparse_attn.yield %ok : i1
}
"""
CUSTOM = {"m": lambda b, h, q, k: (q + 2 * k) % 5 != 1}

SIZES = [(1, 1), (7, 7), (13, 13), (16, 16), (33, 33), (50, 50), (13, 29),
         (29, 13), (64, 40)]
TILES = [(1, 1), (4, 4), (3, 5), (8, 8), (16, 7), (32, 32), (64, 64)]


def patterns(sq, sk, rng):
    n = max(sq, sk)
    glob = sorted({0, min(sq, sk) // 2, n - 1})
    bq, bk = 4, 5
    layout = [[rng.random() < 0.4 for _ in range(-(-sk // bk))]
              for _ in range(-(-sq // bq))]
    ps = [
        ("dense",), ("causal",),
        ("window", 3, 0), ("window", 2, 5), ("window", 0, 0),
        ("dilated", 6, 4, 2), ("dilated", 9, 0, 3), ("dilated", 3, 3, 1),
        ("strided", 1), ("strided", 4), ("strided", 5),
        ("fixed", 4, 1), ("fixed", 5, 2), ("fixed", 3, 0), ("fixed", 4, 4),
        ("fixed", 1, 1),
        ("global", glob), ("global", [n - 1]),
        ("random", 4, 2, 7), ("random", 3, 1, 0), ("random", 5, 100, 1),
        ("random", 8, 0, 3),
        ("blocks", bq, bk, layout),
        ("prefix", 3), ("prefix", 0),
        ("custom", "m"),
        # BigBird, Longformer, causal sliding window, nested compositions.
        ("union", [("window", 2, 2), ("global", glob), ("random", 4, 2, 11)]),
        ("union", [("window", 3, 3), ("global", glob)]),
        ("intersect", [("causal",), ("window", 4, 4)]),
        ("intersect", [("union", [("strided", 3), ("fixed", 4, 1)]), ("causal",)]),
        ("union", [("causal",), ("window", 0, 3)]),
        ("union", [("causal",), ("intersect", [("window", 0, 6), ("dilated", 0, 6, 2)])]),
        ("intersect", [("window", 5, 5), ("dilated", 9, 9, 2)]),
        ("intersect", [("causal",), ("window", 1, 1), ("prefix", 2)]),
        ("union", [("custom", "m"), ("causal",)]),
        # Bottom-right alignment (Sk - Sq moves the diagonal), alone, mixed
        # with top-left components and merged by simplification.
        ("causal", "bottom_right"), ("window", 3, 1, "bottom_right"),
        ("union", [("causal",), ("causal", "bottom_right")]),
        ("intersect", [("causal", "bottom_right"), ("window", 4, 4, "bottom_right")]),
        ("intersect", [("causal", "bottom_right"), ("window", 2, 2)]),
        ("union", [("window", 1, 0, "bottom_right"), ("window", 0, 2, "bottom_right"),
                   ("prefix", 3)]),
        ("intersect", [("custom", "m"), ("window", 3, 3)]),
    ]
    if sq == sk:
        ps += [("segments",), ("intersect", [("segments",), ("causal",)]),
               ("union", [("segments",), ("global", glob)])]
    return ps


def segment_lengths(s, rng):
    lengths, left = [], s
    while left > 0:
        n = min(left, rng.randint(1, max(1, s // 3)))
        lengths.append(n)
        left -= n
    return lengths


def module_text(sq, sk, ps):
    lines = [CUSTOM_MASK,
             "func.func @f(%q: tensor<1x2x{sq}x8xf32>, %k: tensor<1x1x{sk}x8xf32>, "
             "%v: tensor<1x1x{sk}x8xf32>, %s: tensor<1x{sq}xi32>) {{".format(sq=sq, sk=sk)]
    for i, p in enumerate(ps):
        needs_seg = "segments" in repr(p)
        seg = " segments(%s : tensor<1x{}xi32>)".format(sq) if needs_seg else ""
        lines.append("  %init{i} = tensor.empty() : tensor<1x2x{sq}x8xf32>".format(
            i=i, sq=sq))
        lines.append(
            "  %o{i} = sparse_attn.attention %q, %k, %v{seg} outs(%init{i} : "
            "tensor<1x2x{sq}x8xf32>) {{pattern = {p}}} : "
            "tensor<1x2x{sq}x8xf32>, tensor<1x1x{sk}x8xf32>, tensor<1x1x{sk}x8xf32> "
            "-> tensor<1x2x{sq}x8xf32>".format(i=i, seg=seg, p=ref.to_mlir(p), sq=sq, sk=sk))
    lines += ["  return", "}"]
    return "\n".join(lines) + "\n"


def split_ops(text):
    ops, cur = [], None
    for line in text.splitlines():
        if line.startswith("# op "):
            cur = []
            ops.append(cur)
        else:
            cur.append(line)
    return ops


def run(cmd):
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit("command failed: %s\n%s" % (" ".join(cmd), res.stderr))
    return res.stdout


rng = random.Random(1234)
configs = comparisons = mismatches = 0
with tempfile.TemporaryDirectory() as tmp:
    for sq, sk in SIZES:
        ps = patterns(sq, sk, rng)
        lengths = segment_lengths(sq, rng) if sq == sk else []
        qseg = [i for i, n in enumerate(lengths) for _ in range(n)]
        ctx = ref.Context(sq, sk, qseg, qseg, CUSTOM)
        path = os.path.join(tmp, "m_%d_%d.mlir" % (sq, sk))
        with open(path, "w") as f:
            f.write(module_text(sq, sk, ps))
        extra = ["--segment-lengths=" + ",".join(map(str, lengths))] if lengths else []
        bits = split_ops(run([args.inspect, path, "--format=bits"] + extra))
        expected_bits = [ref.mask(p, ctx) for p in ps]
        assert len(bits) == len(ps), (len(bits), len(ps))
        for p, got, want in zip(ps, bits, expected_bits):
            configs += 1
            comparisons += 1
            if got != want:
                mismatches += 1
                print("MISMATCH bits Sq=%d Sk=%d %s\n got:\n%s\n want:\n%s" % (
                    sq, sk, ref.to_mlir(p), "\n".join(got), "\n".join(want)))
        for bq, bk in TILES:
            tiles = split_ops(run([args.inspect, path, "--format=blocks",
                                   "--block=%dx%d" % (bq, bk)] + extra))
            for p, got, want_bits in zip(ps, tiles, expected_bits):
                comparisons += 1
                want = ref.blocks(want_bits, bq, bk)
                if got != want:
                    mismatches += 1
                    print("MISMATCH blocks Sq=%d Sk=%d tile %dx%d %s\n got:  %s\n want: %s" % (
                        sq, sk, bq, bk, ref.to_mlir(p), got, want))

print("%d pattern instances, %d comparisons, %d mismatches" % (configs, comparisons, mismatches))
sys.exit(1 if mismatches else 0)
