//===- sparse-attn-inspect.cpp - look at a sparsity pattern ---------------===//
//
// For each sparse_attn.attention op with static sequence lengths, prints the
// pattern, Sq x Sk, the element density and the tile density; or the exact
// element mask (--format=bits), the tile classification (--format=blocks) or
// a picture (--format=png / svg).
//
//===----------------------------------------------------------------------===//

#include "ImageWriter.h"

#include "sparse_attn/Dialect/SparseAttn/Analysis/PatternAnalysis.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnDialect.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Index/IR/IndexDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "sparse_attn/Support/InputModule.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"
#include <chrono>

using namespace mlir;
using namespace mlir::sparse_attn;
namespace cl = llvm::cl;

namespace {
enum class Format { Summary, Bits, Blocks, Png, Svg };

cl::OptionCategory category("sparse-attn-inspect options");
cl::opt<std::string> inputFile(cl::Positional, cl::desc("<input .mlir>"),
                               cl::init("-"), cl::cat(category));
cl::opt<Format> format(
    "format", cl::desc("What to print"), cl::init(Format::Summary),
    cl::values(
        clEnumValN(Format::Summary, "summary",
                   "pattern, sizes, element and tile density (default)"),
        clEnumValN(Format::Bits, "bits",
                   "the element mask of batch 0, head 0: Sq lines of Sk 0/1"),
        clEnumValN(Format::Blocks, "blocks",
                   "one line per query block: F full, P partial, . empty"),
        clEnumValN(Format::Png, "png", "a PNG picture of the mask (-o FILE)"),
        clEnumValN(Format::Svg, "svg", "an SVG picture of the mask (-o FILE)")),
    cl::cat(category));
cl::opt<std::string> blockOpt("block", cl::desc("Tile size BQxBK"),
                              cl::init("128x128"), cl::cat(category));
cl::opt<std::string> outputFile("o", cl::desc("Output file (png / svg)"),
                                cl::value_desc("file"), cl::cat(category));
cl::opt<int> opIndex("op",
                     cl::desc("Only the N-th attention op (0-based, in "
                              "program order); default: all"),
                     cl::init(-1), cl::cat(category));
cl::opt<int64_t> batchOpt("batch",
                          cl::desc("Batch index for custom masks and segments"),
                          cl::init(0), cl::cat(category));
cl::opt<int64_t> headOpt("head", cl::desc("Head index for custom masks"),
                         cl::init(0), cl::cat(category));
cl::list<int64_t> segmentLengths(
    "segment-lengths",
    cl::desc("Document lengths that build the segment ids of the inspected "
             "batch (they must add up to Sq and to Sk)"),
    cl::CommaSeparated, cl::cat(category));
cl::opt<int64_t> scaleOpt("scale",
                          cl::desc("Picture pixels per mask cell (0 = auto)"),
                          cl::init(0), cl::cat(category));
cl::opt<int64_t> maxCells("max-cells",
                          cl::desc("Largest picture side in mask cells; larger "
                                   "masks are drawn at reduced resolution"),
                          cl::init(1024), cl::cat(category));
cl::opt<bool> timeOpt("time",
                      cl::desc("Print how long the tile classification took"),
                      cl::init(false), cl::cat(category));

int fail(const Twine &msg) {
  llvm::errs() << "sparse-attn-inspect: error: " << msg << "\n";
  return 1;
}

std::string locStr(Location loc) {
  if (auto flc = llvm::dyn_cast<FileLineColLoc>(loc))
    return (flc.getFilename().getValue() + ":" + Twine(flc.getLine()) + ":" +
            Twine(flc.getColumn()))
        .str();
  std::string s;
  llvm::raw_string_ostream os(s);
  loc.print(os);
  return s;
}

std::string attrStr(Attribute a) {
  std::string s;
  llvm::raw_string_ostream os(s);
  a.print(os);
  return s;
}

/// Everything needed to evaluate one op's pattern.
struct Subject {
  AttentionOp op;
  int index;
  int64_t sq, sk;
  std::vector<int64_t> segments;
  PatternContext ctx;
};

/// Draws the mask: exact per element when it fits in `maxCells`, otherwise
/// per cell of side `cell` using the tile classification.
sparse_attn_image::MaskRaster raster(const Subject &s) {
  sparse_attn_image::MaskRaster r;
  int64_t side = std::max(s.sq, s.sk);
  r.cell = std::max<int64_t>(1, (side + maxCells - 1) / maxCells);
  r.height = (s.sq + r.cell - 1) / r.cell;
  r.width = (s.sk + r.cell - 1) / r.cell;
  r.coverage.assign(r.width * r.height, 0.0f);
  SparsityPatternAttrInterface p = AttentionOp(s.op).getPattern();
  for (int64_t y = 0; y < r.height; ++y) {
    int64_t q0 = y * r.cell, q1 = std::min(s.sq, q0 + r.cell);
    for (int64_t x = 0; x < r.width; ++x) {
      int64_t k0 = x * r.cell, k1 = std::min(s.sk, k0 + r.cell);
      float &c = r.coverage[y * r.width + x];
      if (r.cell == 1) {
        c = p.isAllowed(s.ctx, q0, k0) ? 1.0f : 0.0f;
        continue;
      }
      TileKind kind = p.classifyTile(s.ctx, q0, q1, k0, k1);
      if (kind != TileKind::Partial) {
        c = kind == TileKind::Full ? 1.0f : 0.0f;
        continue;
      }
      int64_t allowed = 0;
      for (int64_t q = q0; q < q1; ++q)
        for (int64_t k = k0; k < k1; ++k)
          allowed += p.isAllowed(s.ctx, q, k);
      // Keep partial cells visible even when almost empty.
      c = std::max(0.15f, float(allowed) / float((q1 - q0) * (k1 - k0)));
    }
  }
  return r;
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "sparse-attn-inspect: show the sparsity pattern of sparse_attn.attention "
      "ops\n");

  int64_t bq = 0, bk = 0;
  {
    auto [a, b] = StringRef(blockOpt).split('x');
    if (a.getAsInteger(10, bq) || b.getAsInteger(10, bk) || bq <= 0 || bk <= 0)
      return fail("invalid --block='" + blockOpt +
                  "': expected BQxBK with positive integers, e.g. 128x128");
  }
  if ((format == Format::Png || format == Format::Svg) && outputFile.empty())
    return fail("--format=png and --format=svg need an output file: -o FILE");
  if (maxCells <= 0)
    return fail("--max-cells must be positive");
  if (scaleOpt < 0 || scaleOpt > 64)
    return fail("--scale must be between 0 (auto) and 64");

  DialectRegistry registry;
  registry.insert<SparseAttnDialect, func::FuncDialect, arith::ArithDialect,
                  math::MathDialect, index::IndexDialect,
                  tensor::TensorDialect>();
  MLIRContext context(registry);

  InputModule input(inputFile, context);
  if (!input.openError().empty())
    return fail(input.openError());
  ModuleOp module = input.module();
  if (!module)
    return 1; // the parser or verifier printed the error with its location

  SmallVector<AttentionOp> ops;
  module.walk([&](AttentionOp op) { ops.push_back(op); });
  // What is evaluated (and shown) is the canonical form of each pattern,
  // as in the lowerings: a pattern's cost does not depend on how it was
  // written (a union of 1000 copies of one window is one window).
  for (AttentionOp op : ops)
    op.setPatternAttr(llvm::cast<SparsityPatternAttrInterface>(
        simplifyPattern(op.getPattern())));
  if (ops.empty())
    return fail("no sparse_attn.attention op in '" + inputFile + "'");
  if (opIndex >= static_cast<int>(ops.size()))
    return fail("--op=" + Twine(opIndex.getValue()) + " is out of range: '" +
                inputFile + "' has " + Twine(ops.size()) + " attention op(s)");
  SmallVector<int> selected;
  for (int i = 0; i < static_cast<int>(ops.size()); ++i)
    if (opIndex < 0 || opIndex == i)
      selected.push_back(i);
  if ((format == Format::Png || format == Format::Svg) && selected.size() != 1)
    return fail("'" + inputFile + "' has " + Twine(ops.size()) +
                " attention ops; choose the one to draw with --op=N");

  bool headers = selected.size() > 1 && format != Format::Summary;
  for (int index : selected) {
    Subject s{ops[index], index, 0, 0, {}, {}};
    // A tile's positions start at run-time offsets: classifying its own
    // index space would show a different pattern.
    if (s.op.isTile()) {
      s.op.emitError("sparse-attn-inspect shows whole problems; this op is a "
                     "tile of one (tile_of / at): inspect the untiled op");
      return 1;
    }
    auto qT = llvm::cast<RankedTensorType>(s.op.getQuery().getType());
    auto kT = llvm::cast<RankedTensorType>(s.op.getKey().getType());
    s.sq = qT.getDimSize(2);
    s.sk = kT.getDimSize(2);
    if (ShapedType::isDynamic(s.sq) || ShapedType::isDynamic(s.sk)) {
      s.op.emitError("sparse-attn-inspect needs static sequence lengths, got "
                     "Sq = ")
          << (ShapedType::isDynamic(s.sq) ? "?" : std::to_string(s.sq))
          << ", Sk = "
          << (ShapedType::isDynamic(s.sk) ? "?" : std::to_string(s.sk));
      return 1;
    }
    SparsityPatternAttrInterface pattern = s.op.getPattern();
    MaskInterpreter masks(s.op);
    if (!numTiles(s.sq, s.sk, bq, bk)) {
      s.op.emitError("--block=") << blockOpt << " splits the " << s.sq << "x"
                                 << s.sk << " matrix into more than "
                                 << kMaxTiles << " tiles; use larger tiles";
      return 1;
    }
    int64_t numB = qT.getDimSize(0), numH = qT.getDimSize(1);
    if (batchOpt < 0 || (!ShapedType::isDynamic(numB) && batchOpt >= numB))
      return fail("--batch=" + Twine(batchOpt.getValue()) +
                  " is out of range for B = " + Twine(numB));
    if (headOpt < 0 || (!ShapedType::isDynamic(numH) && headOpt >= numH))
      return fail("--head=" + Twine(headOpt.getValue()) +
                  " is out of range for Hq = " + Twine(numH));
    s.ctx = PatternContext(s.sq, s.sk);
    s.ctx.batch = batchOpt;
    s.ctx.head = headOpt;
    s.ctx.customMasks = &masks;
    if (pattern.needsSegmentIds()) {
      if (segmentLengths.empty()) {
        s.op.emitError("the pattern reads runtime segment ids: pass "
                       "--segment-lengths=L1,L2,... to inspect it");
        return 1;
      }
      int64_t id = 0, total = 0;
      for (int64_t len : segmentLengths) {
        if (len <= 0)
          return fail("--segment-lengths entries must be positive, got " +
                      Twine(len));
        if (llvm::AddOverflow(total, len, total) || total > std::max(s.sq, s.sk))
          break;
      }
      if (total != s.sq || total != s.sk)
        return fail("--segment-lengths add up to " +
                    (total > std::max(s.sq, s.sk) ? Twine("more than ") + Twine(std::max(s.sq, s.sk))
                                                  : Twine(total)) +
                    " but Sq = " + Twine(s.sq) + " and Sk = " + Twine(s.sk) +
                    " (segments can only be inspected with Sq == Sk)");
      for (int64_t len : segmentLengths)
        s.segments.insert(s.segments.end(), len, id++);
      s.ctx.hasSegments = true;
      s.ctx.qSegments = s.segments;
      s.ctx.kSegments = s.segments;
    }

    auto start = std::chrono::steady_clock::now();
    BlockClassification blocks = classifyBlocks(pattern, s.ctx, bq, bk);
    double classifyMs = std::chrono::duration<double, std::milli>(
                            std::chrono::steady_clock::now() - start)
                            .count();
    if (masks.hadError())
      return 1;

    llvm::raw_ostream &os = llvm::outs();
    if (headers)
      os << "# op " << index << " at " << locStr(s.op.getLoc()) << ": "
         << attrStr(pattern) << "\n";
    switch (format) {
    case Format::Summary: {
      int64_t allowed = countAllowedPairs(pattern, s.ctx, blocks);
      if (masks.hadError())
        return 1;
      int64_t pairs = s.sq * s.sk;
      os << "op " << index << " at " << locStr(s.op.getLoc()) << "\n";
      os << "  pattern: " << attrStr(pattern) << "\n";
      os << "  Sq x Sk: " << s.sq << " x " << s.sk << "\n";
      os << "  element density: "
         << llvm::format("%.6f", pairs ? double(allowed) / pairs : 0.0) << " ("
         << allowed << " of " << pairs << " pairs)\n";
      os << "  tiles " << bq << "x" << bk << ": " << blocks.numQ << " x "
         << blocks.numK << ", " << blocks.count(TileKind::Full) << " full, "
         << blocks.count(TileKind::Partial) << " partial, "
         << blocks.count(TileKind::Empty) << " empty\n";
      os << "  tile density: " << llvm::format("%.6f", blocks.tileDensity())
         << "\n";
      if (timeOpt)
        os << "  classification time: " << llvm::format("%.3f", classifyMs)
           << " ms\n";
      break;
    }
    case Format::Bits: {
      // One character per pair: refuse what no terminal or file should get.
      constexpr int64_t kMaxBits = int64_t(1) << 26;
      if (s.sq > kMaxBits / std::max<int64_t>(1, s.sk)) {
        s.op.emitError("--format=bits would print ")
            << s.sq << " x " << s.sk << " characters, more than " << kMaxBits
            << "; use --format=blocks, png or svg";
        return 1;
      }
      std::string line(s.sk, '0');
      for (int64_t q = 0; q < s.sq; ++q) {
        for (int64_t k = 0; k < s.sk; ++k)
          line[k] = pattern.isAllowed(s.ctx, q, k) ? '1' : '0';
        os << line << "\n";
      }
      if (masks.hadError())
        return 1;
      break;
    }
    case Format::Blocks: {
      for (int64_t i = 0; i < blocks.numQ; ++i) {
        for (int64_t j = 0; j < blocks.numK; ++j)
          os << tileKindChar(blocks.at(i, j));
        os << "\n";
      }
      if (timeOpt)
        llvm::errs() << "classification time: "
                     << llvm::format("%.3f", classifyMs) << " ms\n";
      break;
    }
    case Format::Png:
    case Format::Svg: {
      sparse_attn_image::MaskRaster r = raster(s);
      if (masks.hadError())
        return 1;
      int64_t scale = scaleOpt;
      if (scale == 0) // aim for a picture at least 256 pixels wide
        scale = std::clamp<int64_t>(256 / std::max<int64_t>(1, std::max(r.width, r.height)), 1, 16);
      llvm::Error err =
          format == Format::Png
              ? sparse_attn_image::writePng(outputFile, r, scale)
              : sparse_attn_image::writeSvg(outputFile, r, scale, attrStr(pattern));
      if (err)
        return fail(llvm::toString(std::move(err)));
      llvm::errs() << "wrote " << outputFile << ": " << r.height << " x "
                   << r.width << " cells of " << r.cell << "x" << r.cell
                   << " elements, " << scale << " px per cell\n";
      break;
    }
    }
  }
  return 0;
}
