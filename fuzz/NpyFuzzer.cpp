//===- NpyFuzzer.cpp - the strict .npy reader ------------------------------===//
//
// Input: the bytes of a .npy file. parseNpy (runtime/npy/sparse_attn_npy.h
// under it) must never read out of bounds, and what it accepts must be
// consistent: exactly numElements * elementSize data bytes and a descr the
// tools know, normalised to little-endian '<'.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Support/Npy.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include <cstdio>
#include <cstdlib>

using namespace mlir::sparse_attn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // The bytes are copied so that reading past them is an ASan report.
  std::vector<char> copy(data, data + size);
  auto array = parseNpy(llvm::StringRef(copy.data(), copy.size()), "input");
  if (!array) {
    llvm::consumeError(array.takeError());
    return 0;
  }
  int64_t elt = NpyArray::elementSize(array->descr);
  if (elt == 0 || array->descr[0] != '<' ||
      static_cast<int64_t>(array->data.size()) != array->numElements() * elt) {
    std::fprintf(stderr, "inconsistent array accepted: descr %s, %zu bytes\n",
                 array->descr.c_str(), array->data.size());
    std::abort();
  }
  return 0;
}
