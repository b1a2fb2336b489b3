//===- SharedLibrary.h - ahead-of-time compilation to a .so -----*- C++ -*-===//
#ifndef SPARSE_ATTN_TARGET_SHAREDLIBRARY_H
#define SPARSE_ATTN_TARGET_SHAREDLIBRARY_H

#include "mlir/IR/BuiltinOps.h"
#include <string>

namespace mlir {
namespace sparse_attn {

struct SharedLibraryOptions {
  std::string outputPath;
  /// "native" (host CPU and features) or an LLVM CPU name for the host triple.
  std::string mcpu = "native";
  int64_t blockQ = 64, blockK = 64;
  /// 1: no OpenMP (the library needs only libc and libm); otherwise the
  /// kernel runs on OpenMP threads (0 = one per core) and the library links
  /// the LLVM installation's libomp.
  int64_t threads = 1;
  /// bf16 AMX tile products: "auto" (when the target CPU has amx-bf16),
  /// "on" (an error if it has not) or "off".
  std::string amx = "auto";
  /// C compiler driver used to link; empty: cc, then clang-22, then gcc.
  std::string linker;
};

/// Lowers a clone of `module` with sparse-attn-to-llvm-cpu, compiles it for
/// the chosen CPU and links a shared library that needs only libc and libm.
/// On failure returns failure() with a message in `error`; on success sets
/// `*cpuName` (if given) to the CPU compiled for.
LogicalResult compileToSharedLibrary(ModuleOp module,
                                     const SharedLibraryOptions &options,
                                     std::string &error,
                                     std::string *cpuName = nullptr);

/// The C header describing the ABI of the public functions of `module`.
std::string cHeaderFor(ModuleOp module, StringRef sourceName);

} // namespace sparse_attn
} // namespace mlir

#endif
