//===- Npy.cpp - NumPy .npy files -----------------------------------------===//

#include "sparse_attn/Support/Npy.h"

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

/// Value of `'key': value` in the header dictionary (raw text).
static std::optional<StringRef> field(StringRef header, StringRef key) {
  size_t pos = header.find(("'" + key + "'").str());
  if (pos == StringRef::npos)
    return std::nullopt;
  StringRef rest = header.drop_front(pos + key.size() + 2).ltrim();
  if (!rest.consume_front(":"))
    return std::nullopt;
  rest = rest.ltrim();
  size_t end = rest.front() == '(' ? rest.find(')') + 1
               : rest.front() == '\'' ? rest.find('\'', 1) + 1
                                      : rest.find_first_of(",}");
  return rest.take_front(end);
}

Expected<NpyArray> readNpy(StringRef path) {
  auto bufferOr = MemoryBuffer::getFile(path, /*IsText=*/false,
                                        /*RequiresNullTerminator=*/false);
  if (!bufferOr)
    return createStringError(bufferOr.getError(), "cannot read '%s': %s",
                             path.str().c_str(),
                             bufferOr.getError().message().c_str());
  StringRef bytes = (*bufferOr)->getBuffer();
  if (!bytes.starts_with("\x93NUMPY") || bytes.size() < 10)
    return bad(path, "missing the \\x93NUMPY magic");
  uint8_t major = bytes[6];
  size_t headerLen, start;
  if (major == 1) {
    headerLen = uint8_t(bytes[8]) | (uint8_t(bytes[9]) << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return bad(path, "truncated header");
    headerLen = uint32_t(uint8_t(bytes[8])) | (uint32_t(uint8_t(bytes[9])) << 8) |
                (uint32_t(uint8_t(bytes[10])) << 16) |
                (uint32_t(uint8_t(bytes[11])) << 24);
    start = 12;
  } else {
    return bad(path, "unsupported format version " + Twine(int(major)));
  }
  if (bytes.size() < start + headerLen)
    return bad(path, "truncated header");
  StringRef header = bytes.substr(start, headerLen);
  NpyArray array;
  auto descr = field(header, "descr");
  auto order = field(header, "fortran_order");
  auto shape = field(header, "shape");
  if (!descr || !order || !shape)
    return bad(path, "header lacks descr, fortran_order or shape");
  array.descr = descr->trim("'").str();
  if (NpyArray::elementSize(array.descr) == 0)
    return bad(path, "unsupported dtype '" + array.descr + "'");
  if (array.descr[0] == '>')
    return bad(path, "big-endian data is not supported");
  if (order->trim() != "False")
    return bad(path, "Fortran order is not supported (use np.ascontiguousarray)");
  SmallVector<StringRef> dims;
  shape->trim("()").split(dims, ',', -1, /*KeepEmpty=*/false);
  for (StringRef d : dims) {
    int64_t v;
    if (d.trim().getAsInteger(10, v) || v < 0)
      return bad(path, "bad shape " + *shape);
    array.shape.push_back(v);
  }
  int64_t need = NpyArray::elementSize(array.descr);
  for (int64_t d : array.shape)
    if (llvm::MulOverflow<int64_t>(need, d, need))
      return bad(path, "shape " + *shape + " is too large");
  StringRef data = bytes.drop_front(start + headerLen);
  if (data.size() < static_cast<uint64_t>(need))
    return bad(path, "holds " + Twine(data.size()) + " data bytes, shape " +
                         *shape + " needs " + Twine(need));
  array.data.assign(data.bytes_begin(), data.bytes_begin() + need);
  return array;
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
