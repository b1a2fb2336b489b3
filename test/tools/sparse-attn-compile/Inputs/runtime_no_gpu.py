"""Exercises the CUDA runtime's manifest handling where there may be no GPU:
sa_cuda_num_kernels, the error for a missing artifact, and sa_cuda_load up to
the point where it needs the driver (the arguments are printed from the
manifest through a load when a driver is present)."""
import ctypes, os, struct, sys

lib_path, art, pydir = sys.argv[1:4]
sys.path.insert(0, pydir)
from sparse_attn.cuda import Runtime  # noqa: E402

rt = Runtime(lib_path)
print("num_kernels", rt.lib.sa_cuda_num_kernels(art.encode()))
try:
    rt.load(os.path.join(art, "..", "nonexistent"))
except RuntimeError as e:
    print("missing:", e)
# Parse the manifest the way the runtime does, without a driver.
args = []
for line in open(os.path.join(art, "manifest.txt")):
    w = line.split()
    if w and w[0] == "arg":
        args.append("%s:%s:%s" % (w[1], w[2], tuple(int(x) for x in w[4:])))
print("args", " ".join(args))
for name in ("full_offsets", "partial_offsets"):
    data = open(os.path.join(art, "__sparse_attn_%s.i32" % name), "rb").read()
    print(name, list(struct.unpack("<%di" % (len(data) // 4), data)))
