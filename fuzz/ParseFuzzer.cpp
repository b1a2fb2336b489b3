//===- ParseFuzzer.cpp - the dialect's parser, verifier and printer -------===//
//
// Input: MLIR text. It is parsed (and verified) with the dialects a
// sparse_attn module uses; a module that parses must print, and its printed
// form must parse again and print identically (the custom assembly formats
// of the ops and pattern attributes round-trip). Any crash, sanitizer
// report or round-trip mismatch is a finding.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Index/IR/IndexDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "FuzzContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"
#include <cstdio>
#include <cstdlib>

using namespace mlir;

static MLIRContext &context() {
  return sparse_attn_fuzz::renewedContext<
      sparse_attn::SparseAttnDialect, func::FuncDialect, arith::ArithDialect,
      math::MathDialect, scf::SCFDialect, tensor::TensorDialect,
      index::IndexDialect>();
}

static std::string print(ModuleOp m) {
  std::string s;
  llvm::raw_string_ostream os(s);
  m.print(os);
  return s;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1 << 16)
    return 0; // large inputs only slow the search down
  std::string text(reinterpret_cast<const char *>(data), size);
  ParserConfig config(&context());
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(text, config);
  if (!module)
    return 0;
  std::string first = print(*module);
  OwningOpRef<ModuleOp> again = parseSourceString<ModuleOp>(first, config);
  if (!again) {
    std::fprintf(stderr, "printed module does not parse:\n%s\n", first.c_str());
    std::abort();
  }
  std::string second = print(*again);
  if (first != second) {
    std::fprintf(stderr, "round trip changed the module:\n%s\n---\n%s\n",
                 first.c_str(), second.c_str());
    std::abort();
  }
  return 0;
}
