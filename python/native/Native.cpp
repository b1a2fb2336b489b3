//===- Native.cpp - the compiler behind the Python package ----------------===//
//
// A small C interface for `sparse_attn` (python/sparse_attn/compile.py,
// through ctypes): compile MLIR text to a CPU shared library in process,
// with the diagnostics returned as text (file:line:col: error: ...). The
// package loads libSparseAttnNative.so; nothing here is Python-specific.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/InitAll.h"
#include "sparse_attn/Pipelines/Pipelines.h"
#include "sparse_attn/Target/SharedLibrary.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>

using namespace mlir;

static void copyOut(const std::string &text, char *out, size_t len) {
  if (!out || len == 0)
    return;
  size_t n = std::min(len - 1, text.size());
  std::memcpy(out, text.data(), n);
  out[n] = '\0';
}

extern "C" {

/// The interface version (bumped when a signature changes).
int sparse_attn_native_version(void) { return 1; }

/// Compiles the MLIR module `text` (named `name` in diagnostics) into the
/// CPU shared library `outPath` (sparse-attn-to-llvm-cpu, then LLVM for
/// `mcpu`, "native" for this host), with `threads` OpenMP threads (1: none,
/// 0: one per core) and tiles block_q x block_k. Returns 0 on success,
/// else 1 with the diagnostics in `error` (NUL-terminated, truncated to
/// `errorLen`). Thread-safe: each call has its own context.
int sparse_attn_compile_cpu(const char *text, const char *name,
                            const char *outPath, const char *mcpu,
                            int64_t threads, int64_t blockQ, int64_t blockK,
                            char *error, size_t errorLen) {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    sparse_attn::registerSparseAttnPasses();
    sparse_attn::registerSparseAttnPipelines();
    sparse_attn::registerUpstreamPassesForPipelines();
  });
  if (!text || !outPath || !mcpu) {
    copyOut("sparse_attn_compile_cpu: null argument", error, errorLen);
    return 1;
  }
  if (threads < 0 || blockQ <= 0 || blockK <= 0) {
    copyOut("sparse_attn_compile_cpu: threads must be >= 0 and the tile sizes "
            "positive",
            error, errorLen);
    return 1;
  }
  DialectRegistry registry;
  sparse_attn::registerSparseAttnDialect(registry);
  MLIRContext context(registry);
  std::string messages;
  llvm::raw_string_ostream os(messages);
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    os << diag.getLocation() << ": "
       << (diag.getSeverity() == DiagnosticSeverity::Error ? "error: "
                                                            : "note: ")
       << diag << "\n";
    for (Diagnostic &note : diag.getNotes())
      os << "  " << note.getLocation() << ": note: " << note << "\n";
    return success();
  });
  ParserConfig config(&context);
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(
      llvm::StringRef(text), config, name ? name : "<python>");
  if (!module) {
    copyOut(messages.empty() ? std::string("cannot parse the module")
                             : messages,
            error, errorLen);
    return 1;
  }
  sparse_attn::SharedLibraryOptions options;
  options.outputPath = outPath;
  options.mcpu = mcpu;
  options.threads = threads;
  options.blockQ = blockQ;
  options.blockK = blockK;
  std::string message;
  if (failed(sparse_attn::compileToSharedLibrary(*module, options, message))) {
    copyOut(messages + message, error, errorLen);
    return 1;
  }
  return 0;
}

} // extern "C"
