"""Text of sparse_attn IR for scripts that write modules (tests, benchmarks).

`sparse_attn.attention` is in destination-passing style: it names one
destination per result (`outs(...)`), usually a `tensor.empty` of the
result's type. `attention_outs` writes those destinations and the clause,
with the dynamic sizes of the empties read from the query and value
operands (O = [B, Hq, Sq, Dv]: B, Hq, Sq from the query, Dv from the value;
LSE = [B, Hq, Sq])."""


def _dims(tensor_type):
    """'tensor<1x?x8xf32>' -> ['1', '?', '8']"""
    body = tensor_type.strip()[len("tensor<"):-1]
    return body.split("x")[:-1]


def attention_outs(q, q_type, v, v_type, result_types, indent="  ",
                   prefix="init"):
    """Returns (lines, clause): `lines` defines the destinations (each line
    starts with `indent` and ends with a newline), `clause` is the op's
    `outs(...)` text. q / v are SSA names without '%'; result_types holds
    O's type and, when the op returns it, LSE's. `prefix` keeps the names
    of several ops in one function apart."""
    consts, dims, empties, names = set(), [], [], []
    for r, rtype in enumerate(result_types):
        dyn = []
        for i, d in enumerate(_dims(rtype)):
            if d != "?":
                continue
            src, src_type, src_dim = (v, v_type, 3) if i == 3 else (q, q_type, i)
            name = "%%%s_%d_d%d" % (prefix, r, i)
            consts.add(src_dim)
            dims.append("%s%s = tensor.dim %%%s, %%%s_c%d : %s\n" % (
                indent, name, src, prefix, src_dim, src_type))
            dyn.append(name)
        name = "%%%s_%d" % (prefix, r)
        empties.append("%s%s = tensor.empty(%s) : %s\n" % (
            indent, name, ", ".join(dyn), rtype))
        names.append(name)
    lines = ["%s%%%s_c%d = arith.constant %d : index\n" % (indent, prefix, c, c)
             for c in sorted(consts)]
    clause = "outs(%s : %s)" % (", ".join(names), ", ".join(result_types))
    return "".join(lines + dims + empties), clause
