"""The CPU backward (sparse_attn.attention_grad) on many cases, each a
module that runs the forward and then the backward on its results, checked
by `sparse-attn-run --check`: dQ, dK and dV against the float64 gradient
oracle (Reference.cpp's computeGradReference, itself checked by finite
differences in unittests/GradReferenceTest.cpp). Prints one line per case
and a summary; a case FAILs when a check fails or the tool errs."""
import os
import subprocess
import sys
import tempfile

run = sys.argv[1]

SOFTCAP = """sparse_attn.score_mod @softcap(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  %c = arith.constant 5.0 : f32
  %x = arith.divf %s, %c : f32
  %t = math.tanh %x : f32
  %r = arith.mulf %t, %c : f32
  sparse_attn.yield %r : f32
}
"""
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
# A score modification with a scalar-only operation (an integer select on
# a position), so the element-wise path runs, and one differentiated
# through exp and a division.
RATIONAL = """sparse_attn.score_mod @rational(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  %one = arith.constant 1.0 : f32
  %e = math.exp %s : f32
  %d = arith.addf %e, %one : f32
  %r = arith.divf %e, %d : f32
  %four = arith.constant 4.0 : f32
  %z = arith.mulf %r, %four : f32
  sparse_attn.yield %z : f32
}
"""
EVEN = """sparse_attn.mask @even(%b: index, %h: index, %q: index, %k: index) {
  %d = arith.subi %q, %k : index
  %c2 = arith.constant 2 : index
  %r = arith.remsi %d, %c2 : index
  %c0 = arith.constant 0 : index
  %ok = arith.cmpi eq, %r, %c0 : index
  sparse_attn.yield %ok : i1
}
"""
PER_HEAD = """sparse_attn.mask @per_head(%b: index, %h: index, %q: index, %k: index) {
  %d = arith.subi %q, %k : index
  %w = arith.muli %h, %h : index
  %c4 = arith.constant 4 : index
  %wd = arith.addi %w, %c4 : index
  %ok = arith.cmpi ule, %d, %wd : index
  sparse_attn.yield %ok : i1
}
"""
BLOCKS = ("#sparse_attn.blocks<block = [16, 16], layout = dense<[[true, false, false, false], "
          "[false, true, false, true], [true, true, true, false], [false, false, true, true]]> : tensor<4x4xi1>>")


def case(name, pattern, **kw):
    c = dict(name=name, pattern=pattern, B=1, Hq=2, Hkv=1, Sq=64, Sk=64, D=16,
             Dv=16, elt="f32", pre="", score_mod=None, segments=False,
             tables=None, dynamic=False, bq=None, bk=None, threads=None)
    c.update(kw)
    return c


CASES = [
    case("dense", "#sparse_attn.dense"),
    case("causal", "#sparse_attn.causal"),
    case("causal_bottom_right_rect", "#sparse_attn.causal<align = bottom_right>", Sq=40, Sk=72),
    case("window", "#sparse_attn.window<before = 9, after = 3>"),
    case("dilated", "#sparse_attn.dilated<before = 12, after = 12, dilation = 3>"),
    case("strided", "#sparse_attn.strided<stride = 7>"),
    case("fixed", "#sparse_attn.fixed<stride = 16, summary = 4>"),
    case("global", "#sparse_attn.union<[#sparse_attn.window<before = 4, after = 4>, #sparse_attn.global<[0, 33]>]>"),
    case("random", "#sparse_attn.random<block = 16, per_row = 2, seed = 3>"),
    case("blocks", BLOCKS),
    case("prefix", "#sparse_attn.prefix<length = 21>"),
    case("documents", "#sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>", segments=True),
    case("custom_mask", "#sparse_attn.union<[#sparse_attn.custom<@even>, #sparse_attn.causal]>", pre=EVEN),
    case("custom_per_head", "#sparse_attn.custom<@per_head>", pre=PER_HEAD, Hq=4, Hkv=2),
    case("softcap", "#sparse_attn.causal", pre=SOFTCAP, score_mod="softcap"),
    case("alibi_gqa", "#sparse_attn.dense", pre=ALIBI, score_mod="alibi", Hq=4, Hkv=2),
    case("rational_window", "#sparse_attn.window<before = 20, after = 0>", pre=RATIONAL, score_mod="rational"),
    case("gqa_4_to_1", "#sparse_attn.causal", Hq=4, Hkv=1, B=2),
    case("odd_sizes", "#sparse_attn.causal<align = bottom_right>", Sq=37, Sk=53, D=12, Dv=20, bq=16, bk=16),
    case("odd_tiles", "#sparse_attn.window<before = 5, after = 5>", Sq=50, Sk=50, D=8, Dv=8, bq=24, bk=10),
    case("dynamic_lengths", "#sparse_attn.window<before = 9, after = 0>", dynamic=True, Sq=45, Sk=45),
    case("dynamic_softcap", "#sparse_attn.causal", dynamic=True, pre=SOFTCAP, score_mod="softcap", Sq=33, Sk=33),
    case("tables_per_head", "#sparse_attn.causal", tables=("Hq", 16, 16)),
    case("tables_per_kv_head_full", "#sparse_attn.dense", tables=("Hkv", 16, 32), Hq=4, Hkv=2, full=True),
    case("tables_shared", "#sparse_attn.window<before = 20, after = 0>", tables=("1", 32, 16), B=2),
    case("bf16", "#sparse_attn.causal", elt="bf16", D=32, Dv=32),
    case("f16_softcap_gqa", "#sparse_attn.window<before = 30, after = 0>", elt="f16", pre=SOFTCAP, score_mod="softcap", Hq=4, Hkv=2),
    # Rows 18 .. 47 see no key (O = 0, LSE = -inf): they contribute nothing.
    case("empty_rows", "#sparse_attn.window<before = 2, after = 0>", Sq=48, Sk=16),
    case("one_thread", "#sparse_attn.causal", threads=1, Hq=2, Sq=70, Sk=70),
    # A NaN in key 40 under a window of 5: rows 40 .. 44 see it (their
    # gradients and those of the keys they attend are NaN, as the
    # definition propagates it); every other row and key stays finite (the
    # check compares NaN positions too).
    case("non_finite", "#sparse_attn.window<before = 4, after = 0>", nonfinite=True),
]


def tables_for(c):
    """Deterministic tables: query block i lists key blocks i, i - 2 (when
    >= 0), a repeated entry and an out-of-range one (ignored)."""
    hp_kind, bq, bk = c["tables"]
    hp = {"Hq": c["Hq"], "Hkv": c["Hkv"], "1": 1}[hp_kind]
    mq = -(-c["Sq"] // bq)
    nk = -(-c["Sk"] // bk)
    n = 4
    num, idx = [], []
    for b in range(c["B"] if hp_kind != "1" else 1):
        for h in range(hp):
            for i in range(mq):
                lst = [min(i, nk - 1), max(i - 2 - h, 0), min(i, nk - 1), nk + 3]
                num.append(4 if (i + h) % 3 else 2)
                idx += lst
    bp = c["B"] if hp_kind != "1" else 1
    return bp, hp, mq, n, num, idx


def module(c):
    b, hq, hkv, sq, sk, d, dv, e = (c[k] for k in ("B", "Hq", "Hkv", "Sq", "Sk", "D", "Dv", "elt"))
    s_q = "?" if c["dynamic"] else str(sq)
    s_k = "?" if c["dynamic"] else str(sk)
    qT = f"tensor<{b}x{hq}x{s_q}x{d}x{e}>"
    kT = f"tensor<{b}x{hkv}x{s_k}x{d}x{e}>"
    vT = f"tensor<{b}x{hkv}x{s_k}x{dv}x{e}>"
    oT = f"tensor<{b}x{hq}x{s_q}x{dv}x{e}>"
    lT = f"tensor<{b}x{hq}x{s_q}xf32>"
    pattern = c.get("extra_pattern", c["pattern"])
    attrs = f"pattern = {pattern}"
    if c["score_mod"]:
        attrs += f", score_mod = @{c['score_mod']}"
    args = [f"%q: {qT}", f"%k: {kT}", f"%v: {vT}", f"%do: {oT}"]
    extra = ""
    if c["segments"]:
        args.append(f"%ids: tensor<{b}x{sq}xi32>")
        extra += f" segments(%ids : tensor<{b}x{sq}xi32>)"
    if c["tables"]:
        bp, hp, mq, n, num, idx = tables_for(c)
        nT = f"tensor<{bp}x{hp}x{mq}xi32>"
        xT = f"tensor<{bp}x{hp}x{mq}x{n}xi32>"
        args += [f"%nt: {nT}", f"%xt: {xT}"]
        extra += f" block_tables(%nt, %xt : {nT}, {xT})"
        if c.get("full"):
            extra += f" full_tables(%nt, %xt : {nT}, {xT})"
        attrs += f", table_block = array<i64: {c['tables'][1]}, {c['tables'][2]}>"
    if c["dynamic"]:
        init = (f"  %c2 = arith.constant 2 : index\n  %sq = tensor.dim %q, %c2 : {qT}\n"
                f"  %i0 = tensor.empty(%sq) : {oT}\n  %i1 = tensor.empty(%sq) : {lT}\n")
    else:
        init = f"  %i0 = tensor.empty() : {oT}\n  %i1 = tensor.empty() : {lT}\n"
    return c["pre"] + f"""func.func @grad({", ".join(args)}) -> ({qT}, {kT}, {vT}) {{
{init}  %o, %lse = sparse_attn.attention %q, %k, %v{extra} outs(%i0, %i1 : {oT}, {lT}) {{{attrs}}} : {qT}, {kT}, {vT} -> {oT}, {lT}
  %dq, %dk, %dv = sparse_attn.attention_grad %q, %k, %v, %o, %lse, %do{extra} {{{attrs}}} : {qT}, {kT}, {vT}, {oT}, {lT}, {oT} -> {qT}, {kT}, {vT}
  return %dq, %dk, %dv : {qT}, {kT}, {vT}
}}
"""


def inputs(c, tmp):
    """Segment ids (documents of 5, 20, ... positions) and, for dynamic
    lengths, every operand as a .npy file of the case's sizes."""
    import numpy as np
    rng = np.random.default_rng(5)
    np_elt = {"f32": np.float32, "f16": np.float16, "bf16": np.float32}[c["elt"]]
    if not c["dynamic"] and not c["segments"] and not c["tables"] and not c.get("nonfinite"):
        return []
    b, hq, hkv, sq, sk, d, dv = (c[k] for k in ("B", "Hq", "Hkv", "Sq", "Sk", "D", "Dv"))
    arrays = [rng.standard_normal((b, hq, sq, d)), rng.standard_normal((b, hkv, sk, d)),
              rng.standard_normal((b, hkv, sk, dv)), rng.standard_normal((b, hq, sq, dv))]
    if c.get("nonfinite"):
        arrays[1][:, :, 40, 3] = np.nan
    files = []
    for i, a in enumerate(arrays):
        path = os.path.join(tmp, f"a{i}.npy")
        np.save(path, a.astype(np_elt))
        files.append(path)
    if c["segments"]:
        ids = np.zeros((b, sq), dtype=np.int32)
        bounds = [5, 25, 26, 50]
        for j in range(sq):
            ids[:, j] = sum(j >= x for x in bounds)
        path = os.path.join(tmp, "ids.npy")
        np.save(path, ids)
        files.append(path)
    if c["tables"]:
        bp, hp, mq, n, num, idx = tables_for(c)
        for name, a in (("num", np.array(num, np.int32).reshape(bp, hp, mq)),
                        ("idx", np.array(idx, np.int32).reshape(bp, hp, mq, n))):
            path = os.path.join(tmp, name + ".npy")
            np.save(path, a)
            files.append(path)
    return files


failed = 0
with tempfile.TemporaryDirectory() as tmp:
    for c in CASES:
        path = os.path.join(tmp, c["name"] + ".mlir")
        with open(path, "w") as f:
            f.write(module(c))
        cmd = [run, path, "--check"]
        for a in inputs(c, tmp):
            cmd += ["--input", a]
        if c["bq"]:
            cmd += [f"--block-q={c['bq']}", f"--block-k={c['bk']}"]
        if c["threads"]:
            cmd += [f"--num-threads={c['threads']}"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        out = r.stdout + r.stderr
        checks = [l for l in out.splitlines() if l.startswith("check ")]
        ok = r.returncode == 0 and len(checks) == 3 and all(l.endswith(" OK") for l in checks)
        worst = max((float(l.split("max_rel_err=")[1].split()[0]) for l in checks
                     if "max_rel_err=" in l), default=float("nan"))
        print(f"{c['name']}: {'OK' if ok else 'FAIL'} (worst relative error {worst:.2e})")
        if not ok:
            failed += 1
            print(out)
print(f"{len(CASES)} backward cases, {failed} failed")
