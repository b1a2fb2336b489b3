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

Needs only the Python standard library (and a CUDA driver at run time).
"""
import ctypes


class Kernel:
    def __init__(self, rt, handle):
        self._rt, self._h = rt, handle
        lib = rt.lib
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
        if self._rt.lib.sa_cuda_launch(self._h, arr, n, ctypes.c_void_p(stream)):
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

    def synchronize(self):
        if self.lib.sa_cuda_synchronize():
            raise RuntimeError(self.error())
