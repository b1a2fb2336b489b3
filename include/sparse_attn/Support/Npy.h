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

/// Reads a .npy file of format version 1.0, 2.0 or 3.0 strictly: the
/// header is parsed as the Python dictionary literal it is (exactly the
/// keys 'descr', 'fortran_order', 'shape'; a later duplicate key wins, as
/// in NumPy), must end in space padding and a newline on a 16-byte
/// boundary, and the data must be exactly the bytes the shape and dtype
/// need. Byte orders '<', '=' and '|' are accepted (stored as '<'); '>' and
/// Fortran order are refused.
llvm::Expected<NpyArray> readNpy(llvm::StringRef path);
/// The same on bytes in memory; `name` appears in error messages.
llvm::Expected<NpyArray> parseNpy(llvm::StringRef bytes, llvm::StringRef name);
llvm::Error writeNpy(llvm::StringRef path, const NpyArray &array);

} // namespace sparse_attn
} // namespace mlir

#endif
