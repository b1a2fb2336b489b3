//===- Npy.h - NumPy .npy files ---------------------------------*- C++ -*-===//
//
// Reading and writing NumPy's .npy format (versions 1-3, C order, little
// endian), the exchange format of sparse-attn-run.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_SUPPORT_NPY_H
#define SPARSE_ATTN_SUPPORT_NPY_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include <cstdint>
#include <string>
#include <vector>

namespace mlir {
namespace sparse_attn {

/// An array as stored in a .npy file: `descr` is NumPy's dtype string
/// ("<f4", "<f2", "<f8", "<i4", "<i8", ...), data in C order.
struct NpyArray {
  std::string descr;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;

  int64_t numElements() const;
  /// Bytes per element of `descr`, or 0 if unknown.
  static int64_t elementSize(llvm::StringRef descr);
};

llvm::Expected<NpyArray> readNpy(llvm::StringRef path);
llvm::Error writeNpy(llvm::StringRef path, const NpyArray &array);

} // namespace sparse_attn
} // namespace mlir

#endif
