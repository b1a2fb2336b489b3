"""Compiling modules in process, with a compile cache on disk.

`compile_cpu(module_text)` returns the path of a CPU shared library built
from the module by this project's compiler, loaded as
`libSparseAttnNative.so` through ctypes (python/native/Native.cpp; the
package needs no compiled extension to be imported). The library is found
at `$SPARSE_ATTN_NATIVE`, else in the build tree next to this checkout
(`build/lib/`), else on the loader's path.

The cache (`$SPARSE_ATTN_CACHE`, default `~/.cache/sparse_attn`) keys each
library by a hash of the module text, the options and the target CPU, so a
cache filled on one machine serves another machine of the same CPU (for
instance a GPU machine without LLVM, with `mcpu` naming its CPU).

`compile_cuda(module_text)` returns the directory of a GPU artifact
(`sparse-attn-compile --target=cuda`: PTX, tables, manifest) from the same
cache. The compiler tool is `$SPARSE_ATTN_COMPILE`, else the build tree's
`build/bin/sparse-attn-compile`, else `sparse-attn-compile` on the PATH. A
GPU machine without the compiler runs from a cache filled ahead of time on
one with it (the key depends only on the module text, the options and
the compiler's identity).

The compiler's identity (`compiler_id()`) is a hash of its sources
(`lib/`, `include/`, `tools/` and `python/native/` of this checkout), so a
changed compiler never serves kernels it no longer generates from the
cache, and a GPU machine holding the same checkout (without a build)
computes the same keys. It names the sources, not the build: rebuild
after editing them, or a stale build fills the new keys.
`$SPARSE_ATTN_COMPILER_ID` overrides it (a package installed without the
sources).
"""
import ctypes
import hashlib
import os
import tempfile

__all__ = ["CompileError", "compile_cpu", "compile_cuda", "native_library", "cache_dir"]

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_native = None


class CompileError(RuntimeError):
    """The compiler refused the module; the message holds its diagnostics
    (with locations in the generated module, printed with it)."""


def native_library():
    """The loaded libSparseAttnNative.so (RuntimeError if it is not built)."""
    global _native
    if _native is not None:
        return _native
    candidates = [os.environ.get("SPARSE_ATTN_NATIVE"),
                  os.path.join(_ROOT, "build", "lib", "libSparseAttnNative.so"),
                  "libSparseAttnNative.so"]
    errors = []
    for c in candidates:
        if not c:
            continue
        try:
            lib = ctypes.CDLL(c)
        except OSError as e:
            errors.append(f"{c}: {e}")
            continue
        lib.sparse_attn_compile_cpu.restype = ctypes.c_int
        lib.sparse_attn_compile_cpu.argtypes = [
            ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
            ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_char_p, ctypes.c_size_t]
        _native = lib
        return lib
    raise RuntimeError("sparse_attn: the compiler library libSparseAttnNative.so was not "
                       "found (build the project: scripts/build.sh; or set "
                       "SPARSE_ATTN_NATIVE): " + "; ".join(errors))


_compiler_id = None


def compiler_id():
    """The compiler's identity in the cache keys (see the module's doc)."""
    global _compiler_id
    if _compiler_id is None:
        _compiler_id = os.environ.get("SPARSE_ATTN_COMPILER_ID")
    if _compiler_id is None:
        h = hashlib.sha256()
        found = False
        for top in ("lib", "include", "tools", os.path.join("python", "native")):
            for d, dirs, files in os.walk(os.path.join(_ROOT, top)):
                dirs.sort()
                for name in sorted(files):
                    path = os.path.join(d, name)
                    h.update(os.path.relpath(path, _ROOT).encode() + b"\0")
                    with open(path, "rb") as f:
                        h.update(f.read())
                    found = True
        _compiler_id = h.hexdigest()[:16] if found else "unversioned"
    return _compiler_id


def cache_dir():
    return os.environ.get("SPARSE_ATTN_CACHE",
                          os.path.join(os.path.expanduser("~"), ".cache", "sparse_attn"))


def compile_cpu(module_text, mcpu="native", threads=0, block_q=64, block_k=64):
    """The path of the shared library of `module_text` (compiled once per
    key, then taken from the cache). `mcpu`: "native" or an LLVM CPU name;
    `threads`: 1 no OpenMP, 0 one per core, N exactly N."""
    if mcpu == "native":
        # The key must name the CPU, not "native": a cache may be shared.
        import platform
        cpu = platform.processor() or platform.machine()
        flags = ""
        try:
            with open("/proc/cpuinfo") as f:
                flags = next((l for l in f if l.startswith("flags")), "")
        except OSError:
            pass
        target = "native:" + cpu + ":" + hashlib.sha256(flags.encode()).hexdigest()[:16]
    else:
        target = mcpu
    key = hashlib.sha256("\0".join([module_text, target, str(threads), str(block_q),
                                    str(block_k), "v2", compiler_id()]).encode()
                         ).hexdigest()[:32]
    directory = os.path.join(cache_dir(), key)
    path = os.path.join(directory, "lib.so")
    if os.path.exists(path):
        return path
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "module.mlir"), "w") as f:
        f.write(module_text)
    lib = native_library()
    err = ctypes.create_string_buffer(1 << 16)
    # Written under a temporary name and renamed: a concurrent or
    # interrupted compile never leaves a partial library under the key.
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".so")
    os.close(fd)
    try:
        rc = lib.sparse_attn_compile_cpu(module_text.encode(), b"<sparse_attn module>",
                                         tmp.encode(), mcpu.encode(), threads, block_q,
                                         block_k, err, len(err))
        if rc != 0:
            raise CompileError(err.value.decode(errors="replace") +
                               "\nin the module:\n" + module_text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _compiler_tool():
    import shutil
    for c in (os.environ.get("SPARSE_ATTN_COMPILE"),
              os.path.join(_ROOT, "build", "bin", "sparse-attn-compile")):
        if c and os.access(c, os.X_OK):
            return c
    return shutil.which("sparse-attn-compile")


def compile_cuda(module_text, warps="auto", block_k=64, mma="auto", chip="sm_90a"):
    """The directory of the GPU artifact of `module_text` (compiled once per
    key, then taken from the cache; CompileError when the module is refused
    or when it is not in the cache and no compiler is at hand). `warps`:
    warps per thread block, or "auto" (the compiler's schedule selection:
    two warpgroups where they are measured to win)."""
    import shutil
    import subprocess
    key = hashlib.sha256("\0".join([module_text, "cuda", chip, str(warps), str(block_k),
                                    mma, "v2", compiler_id()]).encode()).hexdigest()[:32]
    directory = os.path.join(cache_dir(), "cuda-" + key)
    if os.path.exists(os.path.join(directory, "manifest.txt")):
        return directory
    tool = _compiler_tool()
    if tool is None:
        raise CompileError(
            "sparse_attn: the GPU artifact of this call is not in the cache (%s) and no "
            "sparse-attn-compile was found to build it; compile ahead of time on a machine "
            "with the compiler (the same call, or sparse_attn.compile.compile_cuda on the "
            "module) and copy the cache, or set SPARSE_ATTN_COMPILE. The module:\n%s"
            % (directory, module_text))
    os.makedirs(cache_dir(), exist_ok=True)
    tmp = tempfile.mkdtemp(dir=cache_dir(), prefix=".cuda-")
    try:
        src = os.path.join(tmp, "module.mlir")
        with open(src, "w") as f:
            f.write(module_text)
        out = os.path.join(tmp, "artifact")
        r = subprocess.run([tool, src, "--target=cuda", "-o", out, "--chip=" + chip,
                            "--warps=%s" % warps, "--block-k=%d" % block_k, "--mma=" + mma],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise CompileError(r.stderr + "\nin the module:\n" + module_text)
        shutil.copy(src, os.path.join(out, "module.mlir"))
        try:
            os.rename(out, directory)  # atomic: never a partial artifact under the key
        except OSError:
            if not os.path.exists(os.path.join(directory, "manifest.txt")):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return directory
