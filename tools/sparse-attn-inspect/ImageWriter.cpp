//===- ImageWriter.cpp - PNG and SVG pictures of a mask -------------------===//

#include "ImageWriter.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/CRC.h"
#include "llvm/Support/Compression.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"
#include <algorithm>
#include <cmath>

using namespace llvm;

namespace sparse_attn_image {

// Allowed pairs are dark blue, forbidden ones white.
static void color(float c, uint8_t rgb[3]) {
  static const uint8_t on[3] = {31, 78, 140}, off[3] = {255, 255, 255};
  for (int i = 0; i < 3; ++i)
    rgb[i] = static_cast<uint8_t>(std::lround(off[i] + (on[i] - off[i]) * c));
}

static void putBE32(SmallVectorImpl<uint8_t> &out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8)
    out.push_back((v >> s) & 0xff);
}

static void chunk(SmallVectorImpl<uint8_t> &png, const char *type,
                  ArrayRef<uint8_t> data) {
  putBE32(png, data.size());
  SmallVector<uint8_t> body(type, type + 4);
  body.append(data.begin(), data.end());
  png.append(body.begin(), body.end());
  putBE32(png, llvm::crc32(body));
}

/// zlib stream of `raw`: compressed when LLVM has zlib, stored otherwise.
static SmallVector<uint8_t> zlibStream(ArrayRef<uint8_t> raw) {
  SmallVector<uint8_t> out;
  if (compression::zlib::isAvailable()) {
    compression::zlib::compress(raw, out, 9);
    return out;
  }
  out = {0x78, 0x01};
  size_t pos = 0;
  do {
    size_t n = std::min<size_t>(65535, raw.size() - pos);
    bool last = pos + n == raw.size();
    out.push_back(last ? 1 : 0);
    out.push_back(n & 0xff);
    out.push_back(n >> 8);
    out.push_back(~n & 0xff);
    out.push_back((~n >> 8) & 0xff);
    out.append(raw.begin() + pos, raw.begin() + pos + n);
    pos += n;
  } while (pos < raw.size());
  uint32_t a = 1, b = 0; // Adler-32
  for (uint8_t byte : raw) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  putBE32(out, (b << 16) | a);
  return out;
}

static Error writeBytes(StringRef path, ArrayRef<uint8_t> bytes) {
  std::error_code ec;
  raw_fd_ostream os(path, ec, sys::fs::OF_None);
  if (ec)
    return createStringError(ec, "cannot write '%s': %s", path.str().c_str(),
                             ec.message().c_str());
  os.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
  return Error::success();
}

Error writePng(StringRef path, const MaskRaster &raster, int64_t scale) {
  int64_t w = raster.width * scale, h = raster.height * scale;
  if (w <= 0 || h <= 0)
    return createStringError(inconvertibleErrorCode(),
                             "cannot draw an empty %lldx%lld mask",
                             (long long)raster.height, (long long)raster.width);
  SmallVector<uint8_t> raw;
  raw.reserve(h * (1 + 3 * w));
  for (int64_t y = 0; y < h; ++y) {
    raw.push_back(0); // filter: none
    for (int64_t x = 0; x < w; ++x) {
      uint8_t rgb[3];
      color(raster.coverage[(y / scale) * raster.width + x / scale], rgb);
      raw.append(rgb, rgb + 3);
    }
  }
  SmallVector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  SmallVector<uint8_t> ihdr;
  putBE32(ihdr, w);
  putBE32(ihdr, h);
  ihdr.append({8, 2, 0, 0, 0}); // 8-bit RGB, deflate, no filter, no interlace
  chunk(png, "IHDR", ihdr);
  chunk(png, "IDAT", zlibStream(raw));
  chunk(png, "IEND", {});
  return writeBytes(path, png);
}

Error writeSvg(StringRef path, const MaskRaster &raster, int64_t scale,
               StringRef title) {
  if (raster.width <= 0 || raster.height <= 0)
    return createStringError(inconvertibleErrorCode(),
                             "cannot draw an empty %lldx%lld mask",
                             (long long)raster.height, (long long)raster.width);
  std::string text;
  raw_string_ostream os(text);
  int64_t w = raster.width * scale, h = raster.height * scale;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w
     << "\" height=\"" << h << "\" viewBox=\"0 0 " << raster.width << " "
     << raster.height << "\" shape-rendering=\"crispEdges\">\n";
  os << "<title>";
  for (char c : title) {
    if (c == '<')
      os << "&lt;";
    else if (c == '>')
      os << "&gt;";
    else if (c == '&')
      os << "&amp;";
    else
      os << c;
  }
  os << "</title>\n<rect width=\"" << raster.width << "\" height=\""
     << raster.height << "\" fill=\"#ffffff\"/>\n";
  for (int64_t y = 0; y < raster.height; ++y) {
    int64_t x = 0;
    while (x < raster.width) {
      float c = raster.coverage[y * raster.width + x];
      int64_t end = x + 1;
      while (end < raster.width && raster.coverage[y * raster.width + end] == c)
        ++end;
      if (c > 0) {
        uint8_t rgb[3];
        color(c, rgb);
        os << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << end - x
           << "\" height=\"1\" fill=\"#"
           << format_hex_no_prefix(rgb[0], 2) << format_hex_no_prefix(rgb[1], 2)
           << format_hex_no_prefix(rgb[2], 2) << "\"/>\n";
      }
      x = end;
    }
  }
  os << "</svg>\n";
  return writeBytes(path, ArrayRef<uint8_t>(
                              reinterpret_cast<const uint8_t *>(text.data()),
                              text.size()));
}

} // namespace sparse_attn_image
