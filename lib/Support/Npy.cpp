//===- Npy.cpp - NumPy .npy files -----------------------------------------===//

#include "sparse_attn/Support/Npy.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringMap.h"
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

namespace {
/// A strict reader of the header dictionary, a Python literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`: string
/// keys, and string, boolean, integer or integer-tuple values. Python's
/// rules apply where NumPy relies on them (a later duplicate key wins;
/// `(3)` is an integer, not a tuple).
struct HeaderParser {
  StringRef text;
  size_t pos = 0;
  std::string error;

  struct Value {
    enum Kind { String, Bool, Int, Tuple } kind = Int;
    std::string str;
    bool flag = false;
    int64_t num = 0;
    std::vector<int64_t> tuple;
  };

  void skipSpace() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' ||
                                 text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }
  bool fail(const Twine &why) {
    if (error.empty())
      error = (why + " at header offset " + Twine(pos)).str();
    return false;
  }
  bool expect(char c) {
    skipSpace();
    if (pos >= text.size() || text[pos] != c)
      return fail(Twine("expected '") + Twine(c) + "'");
    ++pos;
    return true;
  }
  bool peek(char c) {
    skipSpace();
    return pos < text.size() && text[pos] == c;
  }
  bool parseString(std::string &out) {
    skipSpace();
    if (pos >= text.size() || (text[pos] != '\'' && text[pos] != '"'))
      return fail("expected a string");
    char quote = text[pos++];
    size_t end = text.find(quote, pos);
    if (end == StringRef::npos)
      return fail("unterminated string");
    StringRef body = text.slice(pos, end);
    if (body.contains('\\') || body.contains('\n'))
      return fail("escapes and newlines in strings are not supported");
    out = body.str();
    pos = end + 1;
    return true;
  }
  bool parseInt(int64_t &out) {
    skipSpace();
    size_t begin = pos;
    while (pos < text.size() && isDigit(text[pos]))
      ++pos;
    if (begin == pos)
      return fail("expected a non-negative integer");
    if (text.slice(begin, pos).getAsInteger(10, out) || out < 0)
      return fail("integer out of range");
    return true;
  }
  bool parseValue(Value &v) {
    skipSpace();
    if (pos >= text.size())
      return fail("expected a value");
    char c = text[pos];
    if (c == '\'' || c == '"') {
      v.kind = Value::String;
      return parseString(v.str);
    }
    if (c == '(') {
      ++pos;
      v.kind = Value::Tuple;
      bool sawComma = false;
      while (!peek(')')) {
        int64_t n;
        if (!parseInt(n))
          return false;
        v.tuple.push_back(n);
        if (peek(',')) {
          ++pos;
          sawComma = true;
          continue;
        }
        if (!peek(')'))
          return fail("unclosed '(' in a tuple");
      }
      ++pos;
      if (v.tuple.size() == 1 && !sawComma) {
        // `(3)` is the integer 3 in Python.
        v.kind = Value::Int;
        v.num = v.tuple.front();
      }
      return true;
    }
    if (text.substr(pos).starts_with("True") || text.substr(pos).starts_with("False")) {
      v.kind = Value::Bool;
      v.flag = text[pos] == 'T';
      pos += v.flag ? 4 : 5;
      return true;
    }
    if (isDigit(c)) {
      v.kind = Value::Int;
      return parseInt(v.num);
    }
    return fail("unsupported value");
  }
  /// The dictionary, then only spaces up to the final newline.
  bool parse(llvm::StringMap<Value> &dict) {
    if (!expect('{'))
      return false;
    while (!peek('}')) {
      std::string key;
      Value v;
      if (!parseString(key) || !expect(':') || !parseValue(v))
        return false;
      dict[key] = std::move(v); // a later duplicate wins, as in Python
      if (peek(',')) {
        ++pos;
        continue;
      }
      if (!peek('}'))
        return fail("expected ',' or '}'");
    }
    ++pos;
    while (pos < text.size() && text[pos] == ' ')
      ++pos;
    if (pos + 1 != text.size() || text[pos] != '\n')
      return fail("the dictionary must be followed by space padding and one "
                  "final newline");
    return true;
  }
};
} // namespace

static Error bad(StringRef path, const Twine &why) {
  return createStringError(inconvertibleErrorCode(),
                           "'" + path + "' is not a usable .npy file: " + why);
}

Expected<NpyArray> parseNpy(StringRef bytes, StringRef path) {
  if (!bytes.starts_with("\x93NUMPY") || bytes.size() < 10)
    return bad(path, "missing the \\x93NUMPY magic");
  uint8_t major = bytes[6], minor = bytes[7];
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
  if (minor != 0)
    return bad(path, "unsupported format version " + Twine(int(major)) + "." +
                         Twine(int(minor)));
  if (bytes.size() - start < headerLen)
    return bad(path, "truncated header");
  // Writers pad the header to a multiple of 64 bytes (16 before NumPy
  // 1.14); a header length that is not a multiple of 16 is a lie.
  if ((start + headerLen) % 16 != 0)
    return bad(path, "header length " + Twine(headerLen) +
                         " does not end the header on a 16-byte boundary");
  StringRef header = bytes.substr(start, headerLen);
  HeaderParser parser;
  parser.text = header;
  llvm::StringMap<HeaderParser::Value> dict;
  if (!parser.parse(dict))
    return bad(path, "bad header: " + parser.error);
  if (dict.size() != 3 || !dict.count("descr") || !dict.count("fortran_order") ||
      !dict.count("shape"))
    return bad(path, "the header must hold exactly the keys 'descr', "
                     "'fortran_order' and 'shape'");
  const HeaderParser::Value &descr = dict["descr"], &order = dict["fortran_order"],
                            &shape = dict["shape"];
  if (descr.kind != HeaderParser::Value::String)
    return bad(path, "'descr' must be a string (structured dtypes are not "
                     "supported)");
  if (order.kind != HeaderParser::Value::Bool)
    return bad(path, "'fortran_order' must be True or False");
  if (shape.kind != HeaderParser::Value::Tuple)
    return bad(path, "'shape' must be a tuple of integers");
  NpyArray array;
  array.descr = descr.str;
  if (!array.descr.empty() && array.descr[0] == '>')
    return bad(path, "big-endian data is not supported");
  // '=' (native) and '|' (not applicable) mean little-endian on the hosts
  // this project supports; normalise to '<'.
  if (!array.descr.empty() && (array.descr[0] == '=' || array.descr[0] == '|'))
    array.descr[0] = '<';
  if (NpyArray::elementSize(array.descr) == 0)
    return bad(path, "unsupported dtype '" + descr.str + "'");
  if (order.flag)
    return bad(path, "Fortran order is not supported (use np.ascontiguousarray)");
  array.shape = shape.tuple;
  std::string shapeText = "(";
  for (size_t i = 0; i < array.shape.size(); ++i)
    shapeText += (i ? ", " : "") + std::to_string(array.shape[i]);
  shapeText += ")";
  int64_t need = NpyArray::elementSize(array.descr);
  for (int64_t d : array.shape)
    if (llvm::MulOverflow<int64_t>(need, d, need))
      return bad(path, "shape " + shapeText + " is too large");
  StringRef data = bytes.drop_front(start + headerLen);
  if (data.size() != static_cast<uint64_t>(need))
    return bad(path, "holds " + Twine(data.size()) + " data bytes, but shape " +
                         shapeText + " of '" + descr.str + "' needs " +
                         Twine(need));
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
