"""Writes a module whose pattern nests N unions / intersections (alternating),
or with a third argument 'blocks', N blocks patterns as each other's layout."""
import sys

n, path = int(sys.argv[1]), sys.argv[2]
kinds = ["union", "intersect"]
if len(sys.argv) > 3 and sys.argv[3] == "blocks":
    pattern = "dense<true> : tensor<1x1xi1>"
    for i in range(n):
        pattern = "#sparse_attn.blocks<block = [8, 8], layout = %s>" % pattern
else:
    pattern = "#sparse_attn.causal"
    for i in range(n):
        pattern = "#sparse_attn.%s<[%s]>" % (kinds[i % 2], pattern)
t = "tensor<1x1x8x8xf32>"
with open(path, "w") as f:
    f.write("func.func @f(%%q: %s) -> %s {\n" % (t, t))
    f.write("  %%o = sparse_attn.attention %%q, %%q, %%q {pattern = %s} : %s, %s, %s -> %s\n" % (pattern, t, t, t, t))
    f.write("  return %%o : %s\n}\n" % t)
