//===- FuzzContext.h - the MLIR context of a fuzz target --------*- C++ -*-===//
//
// One context per fuzz target, renewed every 20,000 inputs: attributes and
// types are uniqued in a context for its lifetime, so a single one would
// grow without bound over a campaign (and hit libFuzzer's memory limit).
// Diagnostics are expected (most inputs are invalid) and dropped. Call it
// once per input: the previous context may be deleted.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_FUZZ_FUZZCONTEXT_H
#define SPARSE_ATTN_FUZZ_FUZZCONTEXT_H

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

namespace sparse_attn_fuzz {

template <typename... Dialects>
mlir::MLIRContext &renewedContext() {
  static mlir::MLIRContext *ctx = nullptr;
  static unsigned uses = 0;
  if (ctx && ++uses % 20000 == 0) {
    delete ctx;
    ctx = nullptr;
  }
  if (!ctx) {
    mlir::DialectRegistry registry;
    registry.insert<Dialects...>();
    ctx = new mlir::MLIRContext(registry, mlir::MLIRContext::Threading::DISABLED);
    ctx->loadAllAvailableDialects();
    ctx->getDiagEngine().registerHandler(
        [](mlir::Diagnostic &) { return mlir::success(); });
  }
  return *ctx;
}

} // namespace sparse_attn_fuzz

#endif
