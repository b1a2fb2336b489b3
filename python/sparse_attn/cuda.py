"""ctypes binding of the sparse-attn CUDA runtime (runtime/cuda).

    from sparse_attn.cuda import Runtime
    rt = Runtime("build/lib/libsparse_attn_cuda.so")
    kernel = rt.load("artifact_dir")          # sparse-attn-compile --target=cuda
    kernel.args                               # [(role, dtype, shape), ...]
    kernel.launch([q.data_ptr(), k.data_ptr(), v.data_ptr(), out.data_ptr()],
                  stream=torch.cuda.current_stream().cuda_stream)

A kernel compiled with sizes known only at run time (dynamic B, Sq, Sk) names
them in its argument shapes (("B", 8, "Sq", 64)); pass the arguments' actual
shapes to launch (shapes=[q.shape, k.shape, ...]): they are bound first (and
must agree), then the kernel runs with them, no recompilation.

A program of several ops (pooling, block selection, attention over the
selected blocks, merges) is one artifact of several kernels whose manifest
binds every argument to a buffer of the function (`bind` lines):

    prog = rt.load_program("artifact_dir")
    prog.buffers      # {"input:0": (dtype, shape), ..., "temp:0": ..., "output:0": ...}
    prog.launch({name: device_pointer, ...}, stream)   # every kernel, in order

`default_runtime()` is the runtime the torch front end uses:
`$SPARSE_ATTN_CUDA_RUNTIME`, else the build tree's
`build/lib/libsparse_attn_cuda.so`, else runtime/cuda/sparse_attn_cuda.c
compiled with the system C compiler into the cache (it needs only libdl).

Needs only the Python standard library (and a CUDA driver at run time).
"""
import ctypes
import os

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_default = None


class Kernel:
    def __init__(self, rt, handle):
        self._rt, self._h = rt, handle
        lib = rt.lib
        self._launch = lib.sa_cuda_launch
        self.entry = lib.sa_cuda_entry(handle).decode()
        self.args = []
        for i in range(lib.sa_cuda_num_args(handle)):
            shape = tuple((lib.sa_cuda_arg_dim_name(handle, i, d) or b"").decode()
                          or lib.sa_cuda_arg_dim(handle, i, d)
                          for d in range(lib.sa_cuda_arg_rank(handle, i)))
            self.args.append((lib.sa_cuda_arg_role(handle, i).decode(),
                              lib.sa_cuda_arg_dtype(handle, i).decode(), shape))

    @property
    def dynamic(self):
        return any(isinstance(d, str) for _, _, shape in self.args for d in shape)

    def bind_sizes(self, shapes):
        dims = [int(d) for shape in shapes for d in shape]
        arr = (ctypes.c_longlong * len(dims))(*dims)
        if self._rt.lib.sa_cuda_bind_sizes(self._h, arr, len(dims)):
            raise RuntimeError(self._rt.error())

    def launch(self, pointers, stream=0, shapes=None):
        if shapes is not None:
            self.bind_sizes(shapes)
        n = len(pointers)
        arr = (ctypes.c_ulonglong * n)(*pointers)
        if self._launch(self._h, arr, n, stream):
            raise RuntimeError(self._rt.error())

    def close(self):
        if self._h:
            self._rt.lib.sa_cuda_unload(self._h)
            self._h = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class Program:
    """Every kernel of an artifact, launched in manifest order with the
    buffers the manifest's `bind` lines name."""

    def __init__(self, rt, directory):
        self.kernels, self.binds = [], []
        with open(directory + "/manifest.txt") as f:
            for line in f:
                words = line.split()
                if words and words[0] == "bind":
                    self.binds.append(words[1:])
        n = rt.lib.sa_cuda_num_kernels(directory.encode())
        if n < 0:
            raise RuntimeError(rt.error())
        if len(self.binds) != n:
            raise RuntimeError("%s: %d kernels but %d bind lines (an artifact "
                               "from before programs?)" % (directory, n, len(self.binds)))
        self.buffers = {}
        for i in range(n):
            k = rt.load(directory, i)
            if len(k.args) != len(self.binds[i]):
                raise RuntimeError("%s: kernel %d has %d arguments but binds %d"
                                   % (directory, i, len(k.args), len(self.binds[i])))
            for (role, dtype, shape), name in zip(k.args, self.binds[i]):
                if self.buffers.setdefault(name, (dtype, shape)) != (dtype, shape):
                    raise RuntimeError("%s: buffer %s is %r in one kernel and %r in "
                                       "another" % (directory, name,
                                                    self.buffers[name], (dtype, shape)))
            self.kernels.append(k)

        # The buffers in a fixed order (`names`) and, per kernel, the
        # positions of its arguments in it: launch_ordered's plan.
        self.names = list(self.buffers)
        position = {name: i for i, name in enumerate(self.names)}
        self._plan = [(k, [position[n] for n in names])
                      for k, names in zip(self.kernels, self.binds)]

    def launch(self, pointers, stream=0):
        """pointers: buffer name -> device pointer."""
        self.launch_ordered([pointers[n] for n in self.names], stream)

    def launch_ordered(self, pointers, stream=0):
        """pointers: the device pointers of the buffers in `names` order
        (the torch front end's per-call path: no dictionary)."""
        for k, slots in self._plan:
            k.launch([pointers[i] for i in slots], stream)

    def close(self):
        for k in self.kernels:
            k.close()


class Runtime:
    def __init__(self, path):
        lib = ctypes.CDLL(path)
        lib.sa_cuda_load.argtypes = [ctypes.c_char_p, ctypes.c_int,
                                     ctypes.POINTER(ctypes.c_void_p)]
        lib.sa_cuda_num_kernels.argtypes = [ctypes.c_char_p]
        for name in ("sa_cuda_num_args",):
            getattr(lib, name).argtypes = [ctypes.c_void_p]
        for name in ("sa_cuda_arg_role", "sa_cuda_arg_dtype"):
            getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_int]
            getattr(lib, name).restype = ctypes.c_char_p
        lib.sa_cuda_arg_rank.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.sa_cuda_arg_dim.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        lib.sa_cuda_arg_dim.restype = ctypes.c_longlong
        lib.sa_cuda_arg_dim_name.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        lib.sa_cuda_arg_dim_name.restype = ctypes.c_char_p
        lib.sa_cuda_bind_sizes.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_longlong),
                                           ctypes.c_int]
        lib.sa_cuda_entry.argtypes = [ctypes.c_void_p]
        lib.sa_cuda_entry.restype = ctypes.c_char_p
        lib.sa_cuda_launch.argtypes = [ctypes.c_void_p,
                                       ctypes.POINTER(ctypes.c_ulonglong),
                                       ctypes.c_int, ctypes.c_void_p]
        lib.sa_cuda_unload.argtypes = [ctypes.c_void_p]
        lib.sa_cuda_last_error.restype = ctypes.c_char_p
        self.lib = lib

    def error(self):
        return self.lib.sa_cuda_last_error().decode()

    def load(self, directory, index=0):
        h = ctypes.c_void_p()
        if self.lib.sa_cuda_load(directory.encode(), index, ctypes.byref(h)):
            raise RuntimeError(self.error())
        return Kernel(self, h)

    def load_program(self, directory):
        return Program(self, directory)

    def synchronize(self):
        if self.lib.sa_cuda_synchronize():
            raise RuntimeError(self.error())


def default_runtime():
    """The process's Runtime (found or built once; see the module's doc)."""
    global _default
    if _default is not None:
        return _default
    path = os.environ.get("SPARSE_ATTN_CUDA_RUNTIME")
    if not path:
        built = os.path.join(_ROOT, "build", "lib", "libsparse_attn_cuda.so")
        if os.path.exists(built):
            path = built
    if not path:
        import subprocess
        from .compile import cache_dir
        src = os.path.join(_ROOT, "runtime", "cuda", "sparse_attn_cuda.c")
        path = os.path.join(cache_dir(), "libsparse_attn_cuda.so")
        if not os.path.exists(path):
            os.makedirs(cache_dir(), exist_ok=True)
            tmp = path + ".%d.tmp" % os.getpid()
            r = subprocess.run(["cc", "-O2", "-std=c99", "-shared", "-fPIC", src, "-o", tmp,
                                "-ldl"], stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                raise RuntimeError("sparse_attn: building the CUDA runtime failed (set "
                                   "SPARSE_ATTN_CUDA_RUNTIME): " + r.stderr)
            os.replace(tmp, path)
    _default = Runtime(path)
    return _default
