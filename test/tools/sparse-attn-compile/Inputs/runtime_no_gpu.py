"""Exercises the CUDA runtime where there may be no GPU: sa_cuda_num_kernels
(the runtime's manifest parser) and the error of sa_cuda_load for a missing
artifact; then prints the block tables the artifact holds (the files the
runtime uploads)."""
import os, struct, sys

lib_path, art, pydir = sys.argv[1:4]
sys.path.insert(0, pydir)
from sparse_attn.cuda import Runtime  # noqa: E402

rt = Runtime(lib_path)
print("num_kernels", rt.lib.sa_cuda_num_kernels(art.encode()))
try:
    rt.load(os.path.join(art, "..", "nonexistent"))
except RuntimeError as e:
    print("missing:", e)
for name in ("full_offsets", "partial_offsets"):
    data = open(os.path.join(art, "__sparse_attn_%s.i32" % name), "rb").read()
    print(name, list(struct.unpack("<%di" % (len(data) // 4), data)))
