//===- SparseAttnPlugin.cpp - dialect and pass plugin for mlir-opt --------===//
//
// One shared object with both plugin entry points, so that the stock
// `mlir-opt` from Debian's mlir-22-tools can load the sparse_attn dialect and
// the project's passes and pipelines:
//
//   mlir-opt --load-dialect-plugin=libSparseAttnPlugin.so \
//            --load-pass-plugin=libSparseAttnPlugin.so \
//            --pass-pipeline="builtin.module(sparse-attn-to-llvm-cpu)" in.mlir
//
// (Pass the same file to both flags: the dialect and the passes must share
// one copy of the library.)
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/InitAll.h"
#include "sparse_attn/Pipelines/Pipelines.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/Plugins/DialectPlugin.h"
#include "mlir/Tools/Plugins/PassPlugin.h"
#include "llvm/Config/llvm-config.h"

using namespace mlir;

extern "C" LLVM_ATTRIBUTE_WEAK DialectPluginLibraryInfo
mlirGetDialectPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "SparseAttn", LLVM_VERSION_STRING,
          [](DialectRegistry *registry) {
            sparse_attn::registerSparseAttnDialect(*registry);
          }};
}

extern "C" LLVM_ATTRIBUTE_WEAK PassPluginLibraryInfo mlirGetPassPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "SparseAttnPasses", LLVM_VERSION_STRING,
          []() {
            sparse_attn::registerSparseAttnPasses();
            sparse_attn::registerSparseAttnPipelines();
          }};
}
