"""Sparsity patterns as Python objects, and FlexAttention mask_mods traced
into `sparse_attn.mask` regions.

    from sparse_attn import patterns as P
    p = P.window(before=127, after=0) | P.global_tokens([0])
    str(p)          # '#sparse_attn.union<[#sparse_attn.window<...>, ...]>'
    p.mask(8, 8)    # the allowed pairs as a NumPy bool array (small sizes)

    def sliding(b, h, q_idx, kv_idx):          # FlexAttention's signature
        return (q_idx >= kv_idx) & (q_idx - kv_idx <= 128)
    m = P.from_mask_mod(sliding)               # traced, not called back
    print(m.to_mlir(B=1, H=8, S=1024, D=64))   # a module: region + attention

Every built-in pattern has a constructor; `|` is `#sparse_attn.union`, `&`
`#sparse_attn.intersect`. `from_mask_mod` runs the function once on
symbolic (b, h, q_idx, kv_idx) and records what it computes: integer
arithmetic (+, -, *, // (floored), % (floored, as Python and torch),
unary -, abs), comparisons, and & | ^ ~ on booleans, plus `where(c, x, y)`;
the region is compiled to native code by the lowerings (classified by
abstract interpretation, docs/patterns.md), never called back. What cannot
be traced (Python `if` / `and` / `or` / `min` / `max` on traced values,
indexing a tensor with them, floats) raises TypeError naming it. Integer
division and remainder need a non-zero constant divisor (the mask op's
rule).
"""
import hashlib
import itertools

import numpy as np

from . import reference as _ref

__all__ = ["Pattern", "dense", "causal", "window", "dilated", "strided", "fixed",
           "global_tokens", "random", "blocks", "prefix", "segments", "from_mask_mod",
           "from_score_mod", "ScoreMod", "where", "tanh", "exp", "log", "sqrt", "sigmoid",
           "maximum", "minimum", "clamp"]


class Pattern:
    """A sparsity pattern: `str(p)` is its attribute, `p.symbols()` the
    regions it needs (custom masks), `p.mask(sq, sk)` its allowed pairs."""

    def __init__(self, spec, symbols=()):
        self._spec = spec          # the tuple form of sparse_attn.reference
        self._symbols = tuple(symbols)
        # Texts computed once, here: a pattern is immutable, and under
        # torch.compile the op's arguments are read from these attributes
        # (constants to the tracer) rather than computed while tracing.
        self._attr = _ref.to_mlir(spec)
        self._regions = "".join(dict.fromkeys(self._symbols))

    def __str__(self):
        return self._attr

    def key(self):
        """The regions and the attribute: what identifies the pattern in a
        module (the in-process compile cache's key)."""
        return self._regions + self._attr

    def __repr__(self):
        return "Pattern(%s)" % self

    def __or__(self, other):
        return _combine("union", self, other)

    def __and__(self, other):
        return _combine("intersect", self, other)

    def symbols(self):
        """The `sparse_attn.mask` regions the attribute names (texts)."""
        return list(dict.fromkeys(self._symbols))

    def mask(self, sq, sk, q_segments=None, k_segments=None):
        """The allowed pairs, [sq, sk] bool, by the reference semantics
        (one pair at a time: meant for small sizes and tests)."""
        customs = {name: (lambda b, h, q, k, fn=fn: fn(q, k, sq, sk, b, h))
                   for name, fn in _CUSTOM.items()}
        ctx = _ref.Context(sq, sk, q_segments, k_segments, custom=customs)
        return np.array([[bool(_ref.allowed(self._spec, q, k, ctx)) for k in range(sk)]
                         for q in range(sq)])

    def density(self, sq, sk):
        """The fraction of (query, key) pairs allowed (reference semantics)."""
        return float(self.mask(sq, sk).mean())

    def block_tables(self, sq, sk, block=(128, 128), q_segments=None, k_segments=None):
        """FlexAttention's BlockMask tensors for this pattern, as NumPy int32
        arrays: (kv_num_blocks [1, 1, Mq], kv_indices [1, 1, Mq, Nk],
        full_num_blocks, full_indices), per query block the key blocks with
        some allowed pair (partial ones in kv_*, fully allowed ones in
        full_*), ascending, padded with 0; Mq = ceil(sq / BQ), Nk =
        ceil(sk / BK). From the exact mask (reference semantics): meant for
        moderate sizes. These are what `sparse_attn.attention`'s
        `block_tables` / `full_tables` take, and `BlockMask.from_kv_blocks`."""
        bq, bk = block
        m = self.mask(sq, sk, q_segments, k_segments)
        mq, nk = -(-sq // bq), -(-sk // bk)
        kv_num = np.zeros((1, 1, mq), np.int32)
        full_num = np.zeros((1, 1, mq), np.int32)
        kv_idx = np.zeros((1, 1, mq, nk), np.int32)
        full_idx = np.zeros((1, 1, mq, nk), np.int32)
        for i in range(mq):
            for j in range(nk):
                tile = m[i * bq:(i + 1) * bq, j * bk:(j + 1) * bk]
                if tile.all():
                    full_idx[0, 0, i, full_num[0, 0, i]] = j
                    full_num[0, 0, i] += 1
                elif tile.any():
                    kv_idx[0, 0, i, kv_num[0, 0, i]] = j
                    kv_num[0, 0, i] += 1
        return kv_num, kv_idx, full_num, full_idx

    def to_mlir(self, B, H, S, D, dtype="f32", Hkv=None, Sk=None, name="attention"):
        """A module: the regions, then `@name(q, k, v) -> o` running
        `sparse_attn.attention` with this pattern."""
        hkv, sk = Hkv or H, Sk or S
        q = f"tensor<{B}x{H}x{S}x{D}x{dtype}>"
        kv = f"tensor<{B}x{hkv}x{sk}x{D}x{dtype}>"
        return ("".join(self.symbols()) +
                f"func.func @{name}(%q: {q}, %k: {kv}, %v: {kv}) -> {q} {{\n"
                f"  %init = tensor.empty() : {q}\n"
                f"  %o = sparse_attn.attention %q, %k, %v outs(%init : {q}) "
                f"{{pattern = {self}}} : {q}, {kv}, {kv} -> {q}\n"
                f"  return %o : {q}\n}}\n")


def _combine(kind, a, b):
    if not isinstance(b, Pattern):
        return NotImplemented
    parts = []
    for p in (a, b):
        parts += list(p._spec[1]) if p._spec[0] == kind else [p._spec]
    return Pattern((kind, parts), a._symbols + b._symbols)


def dense():
    return Pattern(("dense",))


def causal(align="top_left"):
    return Pattern(("causal", "bottom_right") if align == "bottom_right" else ("causal",))


def window(before, after, align="top_left"):
    spec = ("window", before, after) + (("bottom_right",) if align == "bottom_right" else ())
    return Pattern(spec)


def dilated(before, after, dilation):
    return Pattern(("dilated", before, after, dilation))


def strided(stride):
    return Pattern(("strided", stride))


def fixed(stride, summary):
    return Pattern(("fixed", stride, summary))


def global_tokens(tokens):
    return Pattern(("global", list(tokens)))


def random(block, per_row, seed=0):
    return Pattern(("random", block, per_row, seed))


def blocks(block_q, block_k, layout):
    return Pattern(("blocks", block_q, block_k, [[bool(x) for x in r] for r in layout]))


def prefix(length):
    return Pattern(("prefix", length))


def segments():
    return Pattern(("segments",))


# ---------------------------------------------------------------------------
# Tracing mask_mods.

_CUSTOM = {}  # name -> evaluator(q, k, sq, sk) of a traced region


class _Sym:
    """A traced value: an operation on other traced values or constants.
    kind: 'index' or 'i1'."""

    def __init__(self, op, args, kind, attr=None):
        self.op, self.args, self.kind, self.attr = op, args, kind, attr

    # Arithmetic: on integers (index), or on floats (f32, score_mod only;
    # an integer operand converted as torch promotes it).
    def _int(self, other, op, rev=False):
        o = _lift(other)
        if self.kind == "f32" or o.kind == "f32" or op == "divf":
            if _MODE[0] != "score_mod":
                raise TypeError("mask_mod: '/' is float division; masks are integer "
                                "arithmetic (use //)")
            fop = {"addi": "addf", "subi": "subf", "muli": "mulf", "divf": "divf",
                   "floordivsi": "floordivf", "mod": "modf"}[op]
            a, b = (_to_f32(o), _to_f32(self)) if rev else (_to_f32(self), _to_f32(o))
            if fop == "floordivf":
                return _unary("floor", _Sym("divf", (a, b), "f32"))
            if fop == "modf":  # a - floor(a / b) b, as torch's remainder
                return a - _unary("floor", _Sym("divf", (a, b), "f32")) * b
            return _Sym(fop, (a, b), "f32")
        if self.kind != "index" or o.kind != "index":
            raise TypeError(f"{_MODE[0]}: '{op}' needs numeric operands (got {self.kind} "
                            f"and {o.kind})")
        a, b = (o, self) if rev else (self, o)
        return _Sym(op, (a, b), "index")

    def __add__(self, o): return self._int(o, "addi")
    def __radd__(self, o): return self._int(o, "addi", True)
    def __sub__(self, o): return self._int(o, "subi")
    def __rsub__(self, o): return self._int(o, "subi", True)
    def __mul__(self, o): return self._int(o, "muli")
    def __rmul__(self, o): return self._int(o, "muli", True)
    def __truediv__(self, o): return self._int(o, "divf")
    def __rtruediv__(self, o): return self._int(o, "divf", True)
    def __floordiv__(self, o): return self._int(o, "floordivsi")
    def __rfloordiv__(self, o): return self._int(o, "floordivsi", True)
    def __mod__(self, o): return self._int(o, "mod")
    def __rmod__(self, o): return self._int(o, "mod", True)

    def __neg__(self):
        return _Sym("negf", (self,), "f32") if self.kind == "f32" else _lift(0) - self

    def __abs__(self):
        return _unary("absf", self) if self.kind == "f32" else where(self < 0, -self, self)

    def __pow__(self, o): return _binary("powf", self, o)
    def __rpow__(self, o): return _binary("powf", o, self)

    # Comparisons.
    def _cmp(self, other, pred):
        o = _lift(other)
        if self.kind == "f32" or o.kind == "f32":
            fpred = {"slt": "olt", "sle": "ole", "sgt": "ogt", "sge": "oge", "eq": "oeq",
                     "ne": "une"}[pred]
            return _Sym("cmpf", (_to_f32(self), _to_f32(o)), "i1", fpred)
        if self.kind != "index" or o.kind != "index":
            raise TypeError(f"{_MODE[0]}: comparisons need numeric operands")
        return _Sym("cmpi", (self, o), "i1", pred)

    def __lt__(self, o): return self._cmp(o, "slt")
    def __le__(self, o): return self._cmp(o, "sle")
    def __gt__(self, o): return self._cmp(o, "sgt")
    def __ge__(self, o): return self._cmp(o, "sge")
    def __eq__(self, o): return self._cmp(o, "eq")
    def __ne__(self, o): return self._cmp(o, "ne")
    __hash__ = object.__hash__

    # Logic (i1).
    def _bool(self, other, op, rev=False):
        o = _lift(other, boolean=True)
        if self.kind != "i1" or o.kind != "i1":
            raise TypeError(f"{_MODE[0]}: '&', '|', '^' combine booleans (comparisons); got "
                            f"{self.kind} and {o.kind}")
        a, b = (o, self) if rev else (self, o)
        return _Sym(op, (a, b), "i1")

    def __and__(self, o): return self._bool(o, "andi")
    def __rand__(self, o): return self._bool(o, "andi", True)
    def __or__(self, o): return self._bool(o, "ori")
    def __ror__(self, o): return self._bool(o, "ori", True)
    def __xor__(self, o): return self._bool(o, "xori")
    def __rxor__(self, o): return self._bool(o, "xori", True)

    def __invert__(self):
        if self.kind != "i1":
            raise TypeError(f"{_MODE[0]}: '~' negates a boolean (a comparison)")
        return self._bool(True, "xori")

    def __bool__(self):
        raise TypeError(f"{_MODE[0]}: a traced value cannot decide Python control flow "
                        "(if / and / or / not / min / max / chained comparisons); use "
                        "& | ~ and torch.where / sparse_attn.patterns.where(cond, x, y)")

    def __index__(self):
        raise TypeError(f"{_MODE[0]}: a traced position cannot index a tensor or a list "
                        "(document ids: use patterns.segments() with segment ids; per-head "
                        "constants: compute them from h)")

    def __float__(self):
        if _MODE[0] == "mask_mod":
            raise TypeError("mask_mod: masks are integer and boolean arithmetic; floats are "
                            "not traced")
        raise TypeError("score_mod: Python's math module cannot take a traced value; use "
                        "torch functions (torch.tanh, torch.exp, ...) or "
                        "sparse_attn.patterns.tanh / exp / log / sqrt / sigmoid")

    # Tensor methods and torch functions (score.tanh(), torch.tanh(score)).
    def tanh(self): return _unary("tanh", self)
    def exp(self): return _unary("exp", self)
    def log(self): return _unary("log", self)
    def sqrt(self): return _unary("sqrt", self)
    def abs(self): return abs(self)
    def sigmoid(self): return sigmoid(self)
    def clamp(self, min=None, max=None): return clamp(self, min, max)

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        fn = _TORCH_FUNCTIONS.get(name)
        if fn is None:
            raise TypeError(f"{_MODE[0]}: torch.{name} is not traced (supported: "
                            + ", ".join(sorted(_TORCH_FUNCTIONS)) + ")")
        return fn(*args, **(kwargs or {}))


# Which traced function is being traced ('mask_mod' or 'score_mod'): the
# prefix of errors, and whether floats are allowed.
_MODE = ["mask_mod"]


def _lift(x, boolean=False):
    if isinstance(x, _Sym):
        return x
    if isinstance(x, (bool, np.bool_)):
        return _Sym("const", (), "i1", bool(x))
    if isinstance(x, (int, np.integer)):
        if boolean:
            raise TypeError(f"{_MODE[0]}: '&', '|', '^' combine booleans, got an integer")
        return _Sym("const", (), "index", int(x))
    if isinstance(x, (float, np.floating)) and _MODE[0] == "score_mod":
        return _Sym("const", (), "f32", float(x))
    raise TypeError(f"{_MODE[0]}: cannot trace a value of type {type(x).__name__}")


def _to_f32(x):
    """An f32 value of a traced or constant number (index -> f32 as torch
    promotes integer positions in float arithmetic)."""
    x = _lift(x)
    if x.kind == "f32":
        return x
    if x.kind == "index":
        if x.op == "const":
            return _Sym("const", (), "f32", float(x.attr))
        return _Sym("sitofp", (x,), "f32")
    raise TypeError(f"{_MODE[0]}: a boolean is not a number (use where(cond, x, y))")


def _unary(op, x):
    if _MODE[0] != "score_mod":
        raise TypeError(f"mask_mod: '{op}' is float arithmetic; masks are integer and "
                        "boolean arithmetic")
    return _Sym(op, (_to_f32(x),), "f32")


def _binary(op, x, y):
    if _MODE[0] != "score_mod":
        raise TypeError(f"mask_mod: '{op}' is float arithmetic; masks are integer and "
                        "boolean arithmetic")
    return _Sym(op, (_to_f32(x), _to_f32(y)), "f32")


def where(cond, x, y):
    """cond ? x : y on traced values (torch.where's role in a mask_mod or
    score_mod)."""
    c, a, b = _lift(cond, boolean=True), _lift(x), _lift(y)
    if "f32" in (a.kind, b.kind) and "i1" not in (a.kind, b.kind):
        a, b = _to_f32(a), _to_f32(b)
    if c.kind != "i1" or a.kind != b.kind:
        raise TypeError(f"{_MODE[0]}: where(cond, x, y) needs a boolean condition and two "
                        "values of one kind")
    return _Sym("select", (c, a, b), a.kind)


def tanh(x): return _unary("tanh", x)
def exp(x): return _unary("exp", x)
def log(x): return _unary("log", x)
def sqrt(x): return _unary("sqrt", x)
def sigmoid(x): return 1.0 / (1.0 + exp(-_to_f32(x)))
def maximum(x, y): return _binary("maximumf", x, y)
def minimum(x, y): return _binary("minimumf", x, y)


def clamp(x, min=None, max=None):
    r = _to_f32(x)
    if min is not None:
        r = maximum(r, min)
    if max is not None:
        r = minimum(r, max)
    return r


_TORCH_FUNCTIONS = {
    "tanh": tanh, "exp": exp, "log": log, "sqrt": sqrt, "sigmoid": sigmoid,
    "abs": lambda x: abs(_lift(x)), "where": where, "maximum": maximum, "minimum": minimum,
    "clamp": clamp, "clip": clamp, "pow": lambda x, y: _binary("powf", x, y),
    "square": lambda x: _to_f32(x) * _to_f32(x), "neg": lambda x: -_lift(x),
    "negative": lambda x: -_lift(x),
    "__add__": lambda x, y: _lift(x) + y, "__radd__": lambda x, y: _lift(x) + y,
    "__sub__": lambda x, y: _lift(x) - y, "__rsub__": lambda x, y: y - _lift(x),
    "__mul__": lambda x, y: _lift(x) * y, "__rmul__": lambda x, y: _lift(x) * y,
    "__truediv__": lambda x, y: _lift(x) / y, "__rtruediv__": lambda x, y: y / _lift(x),
    "add": lambda x, y: _lift(x) + y, "sub": lambda x, y: _lift(x) - y,
    "mul": lambda x, y: _lift(x) * y, "div": lambda x, y: _lift(x) / y,
}


def _evaluate(node, env):
    """The traced expression on integers (the reference semantics of the
    region the tracer writes)."""
    memo = {}

    def ev(n):
        if id(n) in memo:
            return memo[id(n)]
        if n.op == "arg":
            r = env[n.attr]
        elif n.op == "const":
            r = n.attr
        else:
            a = [ev(x) for x in n.args]
            r = {
                "addi": lambda: a[0] + a[1], "subi": lambda: a[0] - a[1],
                "muli": lambda: a[0] * a[1], "floordivsi": lambda: a[0] // a[1],
                "mod": lambda: a[0] % a[1],
                "andi": lambda: a[0] and a[1], "ori": lambda: a[0] or a[1],
                "xori": lambda: a[0] != a[1], "select": lambda: a[1] if a[0] else a[2],
                "cmpi": lambda: {"slt": a[0] < a[1], "sle": a[0] <= a[1],
                                 "sgt": a[0] > a[1], "sge": a[0] >= a[1],
                                 "eq": a[0] == a[1], "ne": a[0] != a[1]}[n.attr],
            }[n.op]()
        memo[id(n)] = r
        return r
    return ev(node)


def _f32_literal(v):
    """An MLIR f32 constant (hexadecimal for infinities and NaN)."""
    v = float(np.float32(v))
    if np.isnan(v):
        return "0x7FC00000"
    if np.isinf(v):
        return "0x7F800000" if v > 0 else "0xFF800000"
    return "%.9e" % v


_FLOAT_OPS = {"addf": "arith.addf", "subf": "arith.subf", "mulf": "arith.mulf",
              "divf": "arith.divf", "maximumf": "arith.maximumf",
              "minimumf": "arith.minimumf", "powf": "math.powf"}
_FLOAT_UNARY = {"negf": "arith.negf", "absf": "math.absf", "tanh": "math.tanh",
                "exp": "math.exp", "log": "math.log", "sqrt": "math.sqrt",
                "floor": "math.floor"}


def _emit(name, root, score_mod=False):
    """The `sparse_attn.mask` region computing `root` (a `sparse_attn.score_mod`
    region of the score %s with `score_mod`)."""
    lines, names = [], {}
    count = itertools.count()

    def val(n):
        if id(n) in names:
            return names[id(n)]
        if n.op == "arg":
            return "%" + n.attr
        if n.op == "const":
            v = "%%c%d" % next(count)
            if n.kind == "i1":
                lines.append(f"  {v} = arith.constant {'true' if n.attr else 'false'}")
            elif n.kind == "f32":
                lines.append(f"  {v} = arith.constant {_f32_literal(n.attr)} : f32")
            else:
                lines.append(f"  {v} = arith.constant {n.attr} : index")
            names[id(n)] = v
            return v
        a = [val(x) for x in n.args]
        v = "%%v%d" % next(count)
        t = "index" if n.kind == "index" or n.op == "cmpi" else "i1"
        if n.op == "sitofp":
            i = "%%v%d" % next(count)
            lines.append(f"  {i} = arith.index_cast {a[0]} : index to i64")
            lines.append(f"  {v} = arith.sitofp {i} : i64 to f32")
        elif n.op in _FLOAT_OPS:
            lines.append(f"  {v} = {_FLOAT_OPS[n.op]} {a[0]}, {a[1]} : f32")
        elif n.op in _FLOAT_UNARY:
            lines.append(f"  {v} = {_FLOAT_UNARY[n.op]} {a[0]} : f32")
        elif n.op == "cmpf":
            lines.append(f"  {v} = arith.cmpf {n.attr}, {a[0]}, {a[1]} : f32")
        elif n.op == "cmpi":
            lines.append(f"  {v} = arith.cmpi {n.attr}, {a[0]}, {a[1]} : index")
        elif n.op == "select":
            lines.append(f"  {v} = arith.select {a[0]}, {a[1]}, {a[2]} : {n.kind}")
        elif n.op == "mod":
            # Floored remainder (Python's and torch's %): a - floor(a / b) b.
            d, m = "%%v%d" % next(count), "%%v%d" % next(count)
            lines.append(f"  {d} = arith.floordivsi {a[0]}, {a[1]} : index")
            lines.append(f"  {m} = arith.muli {d}, {a[1]} : index")
            lines.append(f"  {v} = arith.subi {a[0]}, {m} : index")
        else:
            lines.append(f"  {v} = arith.{n.op} {a[0]}, {a[1]} : {t}")
        names[id(n)] = v
        return v
    r = val(root)
    if score_mod:
        return (f"sparse_attn.score_mod @{name}(%s: f32, %b: index, %h: index, %q: index, "
                f"%k: index) {{\n" + "\n".join(lines) + ("\n" if lines else "") +
                f"  sparse_attn.yield {r} : f32\n}}\n")
    return (f"sparse_attn.mask @{name}(%b: index, %h: index, %q: index, %k: index) {{\n" +
            "\n".join(lines) + ("\n" if lines else "") +
            f"  sparse_attn.yield {r} : i1\n}}\n")


def from_mask_mod(mask_mod, name=None):
    """A pattern from a FlexAttention `mask_mod(b, h, q_idx, kv_idx) -> bool`,
    traced into a `sparse_attn.mask` region named `name` (default: the
    function's name and a hash of the traced computation)."""
    args = {n: _Sym("arg", (), "index", n) for n in ("b", "h", "q", "k")}
    root = mask_mod(args["b"], args["h"], args["q"], args["k"])
    if isinstance(root, (bool, np.bool_)):
        root = _lift(root)
    if not isinstance(root, _Sym) or root.kind != "i1":
        raise TypeError("mask_mod: must return a boolean (a comparison or a combination of "
                        "comparisons), got %r" % (root,))
    if name is None:
        # The function's name and a hash of what it computes: the same mask
        # traced twice (or in another process) gives the same module, so
        # the compile cache finds it.
        base = getattr(mask_mod, "__name__", "mask").strip("<>").replace("lambda", "mask")
        digest = hashlib.sha256(_emit("m", root).encode()).hexdigest()[:10]
        name = "%s_%s" % (base, digest)
    _CUSTOM[name] = lambda q, k, sq, sk, b=0, h=0: bool(
        _evaluate(root, {"b": b, "h": h, "q": q, "k": k}))
    return Pattern(("custom", name), [_emit(name, root)])


class ScoreMod:
    """A score modification traced from a FlexAttention `score_mod`:
    `name`, `text` (its `sparse_attn.score_mod` region), `key()`."""

    def __init__(self, name, text):
        self.name, self.text = name, text

    def key(self):
        return self.text

    def __repr__(self):
        return "ScoreMod(@%s)" % self.name


def from_score_mod(score_mod, name=None):
    """A score modification from a FlexAttention `score_mod(score, b, h,
    q_idx, kv_idx) -> score`, traced into a `sparse_attn.score_mod` region
    (compiled into the kernels, differentiated by the compiler for the
    backward): float arithmetic (+ - * / // % **, unary -, abs), comparisons,
    torch.where / where, torch.tanh / exp / log / sqrt / sigmoid / abs /
    maximum / minimum / clamp / pow / square (or the tensor methods, or this
    module's functions of the same names), with integer positions promoted
    to float as torch promotes them. What cannot be traced raises TypeError
    naming it."""
    args = {n: _Sym("arg", (), "index", n) for n in ("b", "h", "q", "k")}
    score = _Sym("arg", (), "f32", "s")
    _MODE[0] = "score_mod"
    try:
        root = score_mod(score, args["b"], args["h"], args["q"], args["k"])
        if isinstance(root, (int, float, np.integer, np.floating)) and \
                not isinstance(root, (bool, np.bool_)):
            root = _lift(float(root))
        if not isinstance(root, _Sym) or root.kind == "i1":
            raise TypeError("score_mod: must return a number (the modified score), got %r"
                            % (root,))
        root = _to_f32(root)
        if name is None:
            base = getattr(score_mod, "__name__", "score_mod").strip("<>").replace(
                "lambda", "score_mod")
            digest = hashlib.sha256(_emit("m", root, True).encode()).hexdigest()[:10]
            name = "%s_%s" % (base, digest)
        return ScoreMod(name, _emit(name, root, True))
    finally:
        _MODE[0] = "mask_mod"
