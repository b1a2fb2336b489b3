//===- ImageWriter.h - PNG and SVG pictures of a mask -----------*- C++ -*-===//
#ifndef SPARSE_ATTN_TOOLS_INSPECT_IMAGEWRITER_H
#define SPARSE_ATTN_TOOLS_INSPECT_IMAGEWRITER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include <cstdint>
#include <vector>

namespace sparse_attn_image {

/// A picture of a mask: `coverage[y * width + x]` in [0, 1] is the fraction
/// of allowed pairs under pixel (x, y); rows are queries, columns keys.
struct MaskRaster {
  int64_t width = 0, height = 0;
  /// Matrix elements per pixel side (1 = exact picture).
  int64_t cell = 1;
  std::vector<float> coverage;
};

/// Writes an RGB PNG, each raster pixel drawn as `scale` x `scale` pixels.
llvm::Error writePng(llvm::StringRef path, const MaskRaster &raster,
                     int64_t scale);
/// Writes an SVG with one rectangle per run of equal pixels in a row.
llvm::Error writeSvg(llvm::StringRef path, const MaskRaster &raster,
                     int64_t scale, llvm::StringRef title);

} // namespace sparse_attn_image

#endif
