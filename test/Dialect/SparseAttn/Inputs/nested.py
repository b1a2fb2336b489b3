"""Writes a module whose pattern nests N unions / intersections (alternating),
or with a third argument 'blocks', N blocks patterns as each other's layout.
The text is built from its opening and closing halves (linear in N)."""
import sys

n, path = int(sys.argv[1]), sys.argv[2]
kinds = ["union", "intersect"]
if len(sys.argv) > 3 and sys.argv[3] == "blocks":
    opens = ["#sparse_attn.blocks<block = [8, 8], layout = "] * n
    core, closes = "dense<true> : tensor<1x1xi1>", [">"] * n
else:
    # The innermost level is kinds[0], the outermost kinds[(n - 1) % 2].
    opens = ["#sparse_attn.%s<[" % kinds[i % 2] for i in reversed(range(n))]
    core, closes = "#sparse_attn.causal", ["]>"] * n
pattern = "".join(opens) + core + "".join(closes)
t = "tensor<1x1x8x8xf32>"
with open(path, "w") as f:
    f.write("func.func @f(%%q: %s) -> %s {\n" % (t, t))
    f.write("  %%init = tensor.empty() : %s\n" % t)
    f.write("  %%o = sparse_attn.attention %%q, %%q, %%q outs(%%init : %s) {pattern = %s} : %s, %s, %s -> %s\n" % (t, pattern, t, t, t, t))
    f.write("  return %%o : %s\n}\n" % t)
