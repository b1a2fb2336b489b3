# -*- Python -*-
import os
import sys

import lit.formats
from lit.llvm import llvm_config

config.name = "SPARSE_ATTN"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "Inputs", "unit"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.sparse_attn_obj_root, "test")

llvm_config.with_system_environment(["HOME", "TMP", "TEMP", "ASAN_OPTIONS",
                                     "UBSAN_OPTIONS", "LSAN_OPTIONS"])
llvm_config.use_default_substitutions()

config.substitutions.append(("%python", sys.executable))
llvm_lib_dir = os.path.join(os.path.dirname(config.llvm_tools_dir), "lib")
config.substitutions.append(("%mlir_runner_utils", os.path.join(llvm_lib_dir, "libmlir_runner_utils.so")))
config.substitutions.append(("%mlir_c_runner_utils", os.path.join(llvm_lib_dir, "libmlir_c_runner_utils.so")))
config.substitutions.append(("%srcroot", config.sparse_attn_src_root))
config.substitutions.append(("%sparse_attn_obj_root", config.sparse_attn_obj_root))
config.substitutions.append(("%cxx_compiler", config.cxx_compiler))
config.substitutions.append(("%c_compiler", config.c_compiler))
config.substitutions.append(("%sparse_attn_plugin", os.path.join(config.sparse_attn_obj_root, "lib", "libSparseAttnPlugin.so")))
config.substitutions.append(("%PYTHONPATH", os.path.join(config.sparse_attn_src_root, "python")))

config.substitutions.append(("%sparse_attn_cuda_runtime", os.path.join(config.sparse_attn_obj_root, "lib", "libsparse_attn_cuda.so")))

# GPU execution tests need a CUDA driver and PyTorch (the H200 machine).
try:
    import ctypes
    ctypes.CDLL("libcuda.so.1")
    import importlib.util
    if importlib.util.find_spec("torch") is not None:
        config.available_features.add("cuda-gpu")
except OSError:
    pass

# NVIDIA's assembler (a CUDA toolkit, optional): static checks of the
# generated PTX (registers, spills, ignored setmaxnreg).
import shutil
if shutil.which("ptxas"):
    config.available_features.add("ptxas")

tool_dirs = [config.sparse_attn_tools_dir, config.llvm_tools_dir]
llvm_config.add_tool_substitutions(
    ["sparse-attn-opt", "sparse-attn-inspect", "sparse-attn-run", "sparse-attn-compile", "sparse-attn-cuda-run"], tool_dirs)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.sparse_attn_tools_dir, append_path=True)

# GoogleTest unit tests run as a sub-suite.
if config.sparse_attn_unittests.upper() in ("ON", "1", "TRUE", "YES"):
    config.available_features.add("unittests")

# CPU features the host-specific execution tests need.
try:
    with open("/proc/cpuinfo") as f:
        flags = next((l.split(":", 1)[1].split() for l in f if l.startswith("flags")), [])
    if "avx512_bf16" in flags:
        config.available_features.add("avx512bf16")
    if "amx_bf16" in flags and "amx_tile" in flags:
        config.available_features.add("amx")
except OSError:
    pass

# Sanitizer builds (scripts/sanitize.sh): tests that load this project's
# instrumented libraries into an uninstrumented host process (stock
# mlir-opt, python3 ctypes, a downstream build against the installed tree)
# cannot run there and say `UNSUPPORTED: asan`.
if "address" in getattr(config, "sparse_attn_sanitize", ""):
    config.available_features.add("asan")
if getattr(config, "sparse_attn_fuzzers", "").upper() in ("ON", "1", "TRUE", "YES"):
    config.available_features.add("fuzzers")
    llvm_config.add_tool_substitutions(
        ["sparse-attn-fuzz-parse", "sparse-attn-fuzz-pattern",
         "sparse-attn-fuzz-npy", "sparse-attn-fuzz-manifest"], tool_dirs)
