//===- SparseAttnRunMain.h - the sparse-attn-run driver ---------*- C++ -*-===//
//
// sparse-attn-run as a library: a project that defines its own dialects
// (patterns outside sparse-attn, for instance) gets the same runner, with
// --check against the float64 reference, by registering them first:
//
//   int main(int argc, char **argv) {
//     llvm::InitLLVM init(argc, argv);
//     mlir::DialectRegistry registry;
//     registry.insert<my::MyDialect>();
//     return mlir::sparse_attn::sparseAttnRunMain(argc, argv, registry);
//   }
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_TOOLS_SPARSEATTNRUNMAIN_H
#define SPARSE_ATTN_TOOLS_SPARSEATTNRUNMAIN_H

#include "mlir/IR/DialectRegistry.h"

namespace mlir {
namespace sparse_attn {

/// Parses the command line (sparse-attn-run's options), lowers the module
/// with the CPU pipeline, runs it and returns the process exit code. Adds
/// the sparse_attn dialect and the LLVM translations to `registry`.
int sparseAttnRunMain(int argc, char **argv, DialectRegistry &registry);

} // namespace sparse_attn
} // namespace mlir

#endif
