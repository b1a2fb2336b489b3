//===- Npy.cpp - NumPy .npy files -----------------------------------------===//

#include "sparse_attn/Support/Npy.h"
#include "sparse_attn_npy.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace mlir {
namespace sparse_attn {

int64_t NpyArray::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

int64_t NpyArray::elementSize(StringRef descr) {
  if (descr.size() < 3 || (descr[0] != '<' && descr[0] != '|' && descr[0] != '='))
    return 0;
  int64_t n = 0;
  if (descr.drop_front(2).getAsInteger(10, n))
    return 0;
  char kind = descr[1];
  if ((kind == 'f' && (n == 2 || n == 4 || n == 8)) ||
      ((kind == 'i' || kind == 'u') && (n == 1 || n == 2 || n == 4 || n == 8)) ||
      (kind == 'b' && n == 1))
    return n;
  return 0;
}

static Error bad(StringRef path, const Twine &why) {
  return createStringError(inconvertibleErrorCode(),
                           "'" + path + "' is not a usable .npy file: " + why);
}

Expected<NpyArray> parseNpy(StringRef bytes, StringRef path) {
  // The project's one header parser (runtime/npy/sparse_attn_npy.h), shared
  // with the runtime-only CUDA runner.
  SparseAttnNpyHeader h;
  char why[1024];
  if (!sparse_attn_npy_parse(bytes.bytes_begin(), bytes.size(), &h, why,
                             sizeof why))
    return bad(path, why);
  NpyArray array;
  array.descr = h.descr;
  array.shape.assign(h.dims, h.dims + h.rank);
  StringRef data = bytes.substr(h.dataOffset, h.dataBytes);
  array.data.assign(data.bytes_begin(), data.bytes_end());
  return array;
}

Expected<NpyArray> readNpy(StringRef path) {
  auto bufferOr = MemoryBuffer::getFile(path, /*IsText=*/false,
                                        /*RequiresNullTerminator=*/false);
  if (!bufferOr)
    return createStringError(bufferOr.getError(), "cannot read '%s': %s",
                             path.str().c_str(),
                             bufferOr.getError().message().c_str());
  return parseNpy((*bufferOr)->getBuffer(), path);
}

Error writeNpy(StringRef path, const NpyArray &array) {
  std::string dims;
  for (size_t i = 0; i < array.shape.size(); ++i)
    dims += (i ? ", " : "") + std::to_string(array.shape[i]);
  if (array.shape.size() == 1)
    dims += ","; // a 1-tuple
  std::string header = "{'descr': '" + array.descr +
                       "', 'fortran_order': False, 'shape': (" + dims + "), }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::error_code ec;
  raw_fd_ostream os(path, ec, sys::fs::OF_None);
  if (ec)
    return createStringError(ec, "cannot write '%s': %s", path.str().c_str(),
                             ec.message().c_str());
  os << "\x93NUMPY" << char(1) << char(0) << char(header.size() & 0xff)
     << char(header.size() >> 8) << header;
  os.write(reinterpret_cast<const char *>(array.data.data()), array.data.size());
  return Error::success();
}

} // namespace sparse_attn
} // namespace mlir
