//===- InputModule.h - read a module for a command-line tool ----*- C++ -*-===//
#ifndef SPARSE_ATTN_SUPPORT_INPUTMODULE_H
#define SPARSE_ATTN_SUPPORT_INPUTMODULE_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"
#include <memory>
#include <string>

namespace mlir {
namespace sparse_attn {

/// Reads and parses a file ("-" for standard input) into a module. While the
/// object lives, diagnostics are printed with their source locations. If the
/// file cannot be opened, `openError()` says why; if it does not parse or
/// verify, the diagnostics have been printed and `module()` is null.
class InputModule {
public:
  InputModule(llvm::StringRef path, MLIRContext &context);
  ModuleOp module() { return parsed ? *parsed : ModuleOp(); }
  const std::string &openError() const { return error; }

private:
  llvm::SourceMgr sourceMgr;
  std::unique_ptr<SourceMgrDiagnosticHandler> handler;
  OwningOpRef<ModuleOp> parsed;
  std::string error;
};

} // namespace sparse_attn
} // namespace mlir

#endif
