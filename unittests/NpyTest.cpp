//===- NpyTest.cpp - the strict .npy reader -------------------------------===//
//
// Files NumPy writes are read back exactly; every lie a header can tell is
// refused with a message (issue 13, defect 7: header lengths off by 1 or 16,
// a dtype too small for the data, duplicate keys, a 'shape' inside a
// string, an unclosed tuple, '=' and '|' byte orders).
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Support/Npy.h"

#include "llvm/Support/Error.h"
#include <gtest/gtest.h>
#include <string>

using namespace mlir::sparse_attn;

namespace {

/// A version-1 file: `header` (the dictionary) padded as NumPy pads it
/// (spaces and a newline to a multiple of `align` bytes), then `data`.
/// `lengthDelta` is added to the stored header length (a lying header).
std::string npy(const std::string &dict, const std::string &data,
                int lengthDelta = 0, int align = 64, int major = 1) {
  size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  size_t total = prefix + header.size() + 1;
  header.append((align - total % align) % align, ' ');
  header += '\n';
  size_t len = header.size() + lengthDelta;
  std::string out = "\x93NUMPY";
  out += char(major);
  out += char(0);
  out += char(len & 0xff);
  out += char((len >> 8) & 0xff);
  if (major != 1) {
    out += char((len >> 16) & 0xff);
    out += char((len >> 24) & 0xff);
  }
  return out + header + data;
}

std::string f32Data(int n) { return std::string(4 * n, '\x01'); }

/// The error text of a failing parse ("" if it succeeded).
std::string errorOf(const std::string &bytes) {
  auto r = parseNpy(bytes, "t.npy");
  if (r)
    return "";
  return llvm::toString(r.takeError());
}

const char *kDict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

TEST(NpyTest, ReadsWhatNumPyWrites) {
  for (int major : {1, 2, 3}) {
    auto r = parseNpy(npy(kDict, f32Data(6), 0, 64, major), "t.npy");
    ASSERT_TRUE(!!r) << llvm::toString(r.takeError());
    EXPECT_EQ(r->descr, "<f4");
    EXPECT_EQ(r->shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(r->data.size(), 24u);
  }
  // Old NumPy aligned to 16 bytes; double quotes; no trailing comma; scalars
  // and 1-tuples.
  EXPECT_EQ(errorOf(npy(kDict, f32Data(6), 0, 16)), "");
  EXPECT_EQ(errorOf(npy("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3)}",
                        f32Data(6))),
            "");
  auto scalar = parseNpy(
      npy("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", std::string(8, 0)),
      "t.npy");
  ASSERT_TRUE(!!scalar);
  EXPECT_TRUE(scalar->shape.empty());
  auto one = parseNpy(
      npy("{'descr': '<i4', 'fortran_order': False, 'shape': (5,), }", std::string(20, 0)),
      "t.npy");
  ASSERT_TRUE(!!one);
  EXPECT_EQ(one->shape, (std::vector<int64_t>{5}));
}

TEST(NpyTest, NativeAndNotApplicableByteOrdersAreLittleEndian) {
  for (const char *order : {"=", "|"}) {
    std::string dict = std::string("{'descr': '") + order +
                       "f4', 'fortran_order': False, 'shape': (2, 3), }";
    auto r = parseNpy(npy(dict, f32Data(6)), "t.npy");
    ASSERT_TRUE(!!r) << order << ": " << llvm::toString(r.takeError());
    EXPECT_EQ(r->descr, "<f4");
  }
  EXPECT_NE(errorOf(npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }",
                        f32Data(6)))
                .find("big-endian"),
            std::string::npos);
}

TEST(NpyTest, HeaderLengthThatLiesIsRefused) {
  for (int delta : {-16, -1, 1, 16}) {
    std::string e = errorOf(npy(kDict, f32Data(6) + std::string(16, ' '), delta));
    EXPECT_NE(e, "") << "delta " << delta;
  }
  // Past the end of the file.
  EXPECT_NE(errorOf(npy(kDict, "", 4096)).find("truncated header"), std::string::npos);
}

TEST(NpyTest, DataMustBeExactlyWhatTheShapeNeeds) {
  // '<f2' claimed on f4 data: twice the bytes.
  std::string e = errorOf(
      npy("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }", f32Data(6)));
  EXPECT_NE(e.find("holds 24 data bytes, but shape (2, 3) of '<f2' needs 12"),
            std::string::npos)
      << e;
  EXPECT_NE(errorOf(npy(kDict, f32Data(5))).find("needs 24"), std::string::npos);
  EXPECT_NE(errorOf(npy(kDict, f32Data(7))).find("needs 24"), std::string::npos);
}

TEST(NpyTest, DictionaryFollowsPython) {
  // A later duplicate key wins, as in NumPy (Python dict literals).
  auto dup = parseNpy(
      npy("{'descr': '<f4', 'fortran_order': False, 'shape': (9,), 'shape': (2, 3), }",
          f32Data(6)),
      "t.npy");
  ASSERT_TRUE(!!dup) << llvm::toString(dup.takeError());
  EXPECT_EQ(dup->shape, (std::vector<int64_t>{2, 3}));
  // 'shape' inside a string value is not the key.
  std::string e = errorOf(npy(
      "{'descr': '<f4', 'fortran_order': False, 'note': \"'shape': (1,)\", 'shape': (2, 3)}",
      f32Data(6)));
  EXPECT_NE(e.find("exactly the keys"), std::string::npos) << e;
  EXPECT_NE(errorOf(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3}",
                        f32Data(6)))
                .find("unclosed '('"),
            std::string::npos);
  // (3) is an integer, not a tuple.
  EXPECT_NE(errorOf(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6)}",
                        f32Data(6)))
                .find("'shape' must be a tuple"),
            std::string::npos);
  EXPECT_NE(errorOf(npy("{'descr': '<f4', 'shape': (2, 3)}", f32Data(6)))
                .find("exactly the keys"),
            std::string::npos);
  EXPECT_NE(errorOf(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3)}",
                        f32Data(6)))
                .find("Fortran order"),
            std::string::npos);
  EXPECT_NE(errorOf(npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}",
                        f32Data(6)))
                .find("'fortran_order' must be True or False"),
            std::string::npos);
  EXPECT_NE(errorOf(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3)}",
                        f32Data(6))),
            "");
  EXPECT_NE(errorOf(npy("{'descr': '<c8', 'fortran_order': False, 'shape': (2, 3)}",
                        f32Data(12)))
                .find("unsupported dtype"),
            std::string::npos);
}

TEST(NpyTest, VersionsAndMagic) {
  EXPECT_NE(errorOf("not a numpy file").find("magic"), std::string::npos);
  std::string v = npy(kDict, f32Data(6));
  v[6] = 4;
  EXPECT_NE(errorOf(v).find("unsupported format version 4"), std::string::npos);
  v = npy(kDict, f32Data(6));
  v[7] = 1;
  EXPECT_NE(errorOf(v).find("unsupported format version 1.1"), std::string::npos);
  EXPECT_NE(errorOf(std::string("\x93NUMPY\x02\x00\x01\x00\x00", 11)).find("truncated"),
            std::string::npos);
}

TEST(NpyTest, OverflowingShapesAreRefused) {
  std::string e = errorOf(npy(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4)}", ""));
  EXPECT_NE(e.find("too large"), std::string::npos) << e;
  e = errorOf(npy(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", ""));
  EXPECT_NE(e.find("integer out of range"), std::string::npos) << e;
}

} // namespace
