//===- InputModule.cpp - read a module for a command-line tool ------------===//

#include "sparse_attn/Support/InputModule.h"

#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"

using namespace mlir;
using namespace mlir::sparse_attn;

InputModule::InputModule(llvm::StringRef path, MLIRContext &context) {
  auto file = openInputFile(path, &error);
  if (!file)
    return;
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  handler = std::make_unique<SourceMgrDiagnosticHandler>(sourceMgr, &context);
  parsed = parseSourceFile<ModuleOp>(sourceMgr, &context);
}
