//===- SparseAttnAttrs.cpp - sparsity pattern attributes ------------------===//
//
// Verifiers, custom syntax and the exact analytical semantics of every
// built-in pattern: `isAllowed` is the definition from the ODS description,
// `classifyTile` answers for a whole rectangle without enumerating it.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnAttrs.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/TypeSwitch.h"
#include <algorithm>
#include <functional>
#include <tuple>
#include <utility>

using namespace mlir;
using namespace mlir::sparse_attn;

/// Patterns (unions, intersections, a blocks pattern's layout) nest at most
/// this deep (a recursive-descent parse of a deeper one would overflow the
/// stack; real patterns nest a few levels).
static constexpr unsigned kMaxPatternNesting = 256;

/// Nesting depth of the composite being parsed on this thread.
static thread_local unsigned compositeParseDepth = 0;

/// Enters one level of a nested parse (`--compositeParseDepth` on success
/// is the caller's, through a scope exit), or fails past the limit.
static ParseResult enterNestedParse(AsmParser &parser, StringRef name) {
  if (compositeParseDepth >= kMaxPatternNesting)
    return parser.emitError(parser.getCurrentLocation())
           << "#sparse_attn." << name << ": patterns nest at most "
           << kMaxPatternNesting << " levels deep";
  ++compositeParseDepth;
  return success();
}


#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnAttrInterfaces.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnAttrs.cpp.inc"

void SparseAttnDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnAttrs.cpp.inc"
      >();
}

CustomMaskEvaluator::~CustomMaskEvaluator() = default;

TileKind CustomMaskEvaluator::classifyTile(FlatSymbolRefAttr name,
                                           const PatternContext &ctx,
                                           int64_t q0, int64_t q1, int64_t k0,
                                           int64_t k1) const {
  bool anyAllowed = false, anyForbidden = false;
  for (int64_t q = q0; q < q1; ++q)
    for (int64_t k = k0; k < k1; ++k) {
      if (evaluate(name, ctx, q, k))
        anyAllowed = true;
      else
        anyForbidden = true;
      if (anyAllowed && anyForbidden)
        return TileKind::Partial;
    }
  return anyAllowed ? TileKind::Full : TileKind::Empty;
}

char mlir::sparse_attn::tileKindChar(TileKind kind) {
  switch (kind) {
  case TileKind::Empty:
    return '.';
  case TileKind::Partial:
    return 'P';
  case TileKind::Full:
    return 'F';
  }
  return '?';
}

//===----------------------------------------------------------------------===//
// Integer helpers
//===----------------------------------------------------------------------===//

static int64_t floorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/// Whether some multiple of r > 0 lies in [lo, hi].
static bool hasMultipleIn(int64_t lo, int64_t hi, int64_t r) {
  return lo <= hi && floorDiv(hi, r) * r >= lo;
}

/// Result of a tile whose allowed set is known to be non-empty or not, and
/// complete or not.
static TileKind kindOf(bool anyAllowed, bool anyForbidden) {
  if (!anyAllowed)
    return TileKind::Empty;
  return anyForbidden ? TileKind::Partial : TileKind::Full;
}

/// Classification of a tile for a pattern that depends only on d = q - k and
/// allows exactly d in [lo, hi] (every d in [dmin, dmax] occurs in a tile).
static TileKind classifyDiffInterval(int64_t dmin, int64_t dmax, int64_t lo,
                                     int64_t hi) {
  if (dmax < lo || dmin > hi)
    return TileKind::Empty;
  if (dmin >= lo && dmax <= hi)
    return TileKind::Full;
  return TileKind::Partial;
}

TileKind mlir::sparse_attn::classifyTileByScan(
    SparsityPatternAttrInterface pattern, const PatternContext &ctx, int64_t q0,
    int64_t q1, int64_t k0, int64_t k1) {
  bool anyAllowed = false, anyForbidden = false;
  for (int64_t q = q0; q < q1; ++q) {
    for (int64_t k = k0; k < k1; ++k) {
      if (pattern.isAllowed(ctx, q, k))
        anyAllowed = true;
      else
        anyForbidden = true;
      if (anyAllowed && anyForbidden)
        return TileKind::Partial;
    }
  }
  return kindOf(anyAllowed, anyForbidden);
}

static LogicalResult
nonNegative(function_ref<InFlightDiagnostic()> emitError, StringRef attr,
            StringRef key, int64_t value) {
  if (value < 0)
    return emitError() << "#sparse_attn." << attr << ": '" << key
                       << "' must be non-negative, got " << value;
  return success();
}

static LogicalResult positive(function_ref<InFlightDiagnostic()> emitError,
                              StringRef attr, StringRef key, int64_t value) {
  if (value <= 0)
    return emitError() << "#sparse_attn." << attr << ": '" << key
                       << "' must be positive, got " << value;
  return success();
}

//===----------------------------------------------------------------------===//
// dense, causal
//===----------------------------------------------------------------------===//

bool DensePatternAttr::isAllowed(const PatternContext &, int64_t, int64_t) const {
  return true;
}
TileKind DensePatternAttr::classifyTile(const PatternContext &, int64_t, int64_t,
                                        int64_t, int64_t) const {
  return TileKind::Full;
}

// Alignment shifts the differences: d = q + off - k (positions and lengths
// are below 2^62 after verification, so no sum overflows).
bool CausalAttr::isAllowed(const PatternContext &ctx, int64_t q,
                           int64_t k) const {
  return k <= q + offset(ctx);
}
TileKind CausalAttr::classifyTile(const PatternContext &ctx, int64_t q0,
                                  int64_t q1, int64_t k0, int64_t k1) const {
  int64_t off = offset(ctx);
  return classifyDiffInterval(q0 + off - (k1 - 1), (q1 - 1) + off - k0, 0,
                              INT64_MAX);
}

//===----------------------------------------------------------------------===//
// window, dilated, strided
//===----------------------------------------------------------------------===//

LogicalResult WindowAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 int64_t before, int64_t after, bool) {
  return failure(failed(nonNegative(emitError, "window", "before", before)) ||
                 failed(nonNegative(emitError, "window", "after", after)));
}
bool WindowAttr::isAllowed(const PatternContext &ctx, int64_t q,
                           int64_t k) const {
  // q + after could overflow; d cannot for valid positions and lengths.
  int64_t d = q + offset(ctx) - k;
  return -getAfter() <= d && d <= getBefore();
}
TileKind WindowAttr::classifyTile(const PatternContext &ctx, int64_t q0,
                                  int64_t q1, int64_t k0, int64_t k1) const {
  int64_t off = offset(ctx);
  return classifyDiffInterval(q0 + off - (k1 - 1), (q1 - 1) + off - k0,
                              -getAfter(), getBefore());
}

LogicalResult DilatedAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                  int64_t before, int64_t after,
                                  int64_t dilation) {
  return failure(failed(nonNegative(emitError, "dilated", "before", before)) ||
                 failed(nonNegative(emitError, "dilated", "after", after)) ||
                 failed(positive(emitError, "dilated", "dilation", dilation)));
}
bool DilatedAttr::isAllowed(const PatternContext &, int64_t q, int64_t k) const {
  int64_t d = q - k;
  return -getAfter() <= d && d <= getBefore() && d % getDilation() == 0;
}
TileKind DilatedAttr::classifyTile(const PatternContext &, int64_t q0,
                                   int64_t q1, int64_t k0, int64_t k1) const {
  int64_t dmin = q0 - (k1 - 1), dmax = (q1 - 1) - k0;
  int64_t lo = std::max(dmin, -getAfter()), hi = std::min(dmax, getBefore());
  if (!hasMultipleIn(lo, hi, getDilation()))
    return TileKind::Empty;
  bool windowFull = lo == dmin && hi == dmax;
  // Every d of [dmin, dmax] occurs; all are multiples only if r == 1 or the
  // range is a single (allowed) value.
  bool allMultiples = getDilation() == 1 || dmin == dmax;
  return windowFull && allMultiples ? TileKind::Full : TileKind::Partial;
}

LogicalResult StridedAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                  int64_t stride) {
  return positive(emitError, "strided", "stride", stride);
}
bool StridedAttr::isAllowed(const PatternContext &, int64_t q, int64_t k) const {
  int64_t d = q - k, l = getStride();
  return d >= 0 && (d < l || d % l == 0);
}
TileKind StridedAttr::classifyTile(const PatternContext &, int64_t q0,
                                   int64_t q1, int64_t k0, int64_t k1) const {
  int64_t dmin = q0 - (k1 - 1), dmax = (q1 - 1) - k0, l = getStride();
  // Allowed differences: [0, l) and every positive multiple of l.
  if (dmax < 0)
    return TileKind::Empty;
  int64_t lo = std::max<int64_t>(dmin, 0);
  bool anyAllowed = lo < l || hasMultipleIn(lo, dmax, l);
  bool anyForbidden;
  if (dmin < 0) {
    anyForbidden = true;
  } else {
    // Differences >= l that are not multiples of l are forbidden.
    int64_t s = std::max(dmin, l);
    anyForbidden = s <= dmax && l != 1 && !(s == dmax && s % l == 0);
  }
  return kindOf(anyAllowed, anyForbidden);
}

//===----------------------------------------------------------------------===//
// fixed
//===----------------------------------------------------------------------===//

LogicalResult FixedAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                int64_t stride, int64_t summary) {
  if (failed(positive(emitError, "fixed", "stride", stride)) ||
      failed(nonNegative(emitError, "fixed", "summary", summary)))
    return failure();
  if (summary > stride)
    return emitError() << "#sparse_attn.fixed: 'summary' (" << summary
                       << ") must not exceed 'stride' (" << stride << ")";
  return success();
}
bool FixedAttr::isAllowed(const PatternContext &, int64_t q, int64_t k) const {
  int64_t l = getStride();
  return k / l == q / l || k % l >= l - getSummary();
}
TileKind FixedAttr::classifyTile(const PatternContext &, int64_t q0, int64_t q1,
                                 int64_t k0, int64_t k1) const {
  int64_t l = getStride(), c = getSummary();
  int64_t qb0 = q0 / l, qb1 = (q1 - 1) / l;
  bool anyAllowed = false, anyForbidden = false;
  // One step per stride-block of keys the tile touches: O(tile width / l + 2).
  for (int64_t kb = k0 / l; kb <= (k1 - 1) / l; ++kb) {
    int64_t ca = std::max(k0, kb * l), cb = std::min(k1, kb * l + l);
    int64_t split = kb * l + l - c; // first summary column of the block
    if (std::max(ca, split) < cb)   // summary columns: allowed for every q
      anyAllowed = true;
    if (ca < std::min(cb, split)) { // local columns: allowed iff same block
      if (qb0 <= kb && kb <= qb1)
        anyAllowed = true;
      if (qb0 != kb || qb1 != kb)
        anyForbidden = true;
    }
    if (anyAllowed && anyForbidden)
      break;
  }
  return kindOf(anyAllowed, anyForbidden);
}

//===----------------------------------------------------------------------===//
// global
//===----------------------------------------------------------------------===//

LogicalResult GlobalAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 ArrayRef<int64_t> tokens) {
  if (tokens.empty())
    return emitError() << "#sparse_attn.global: needs at least one token";
  for (auto [i, t] : llvm::enumerate(tokens)) {
    if (t < 0)
      return emitError() << "#sparse_attn.global: token " << t
                         << " must be non-negative";
    if (i > 0 && tokens[i - 1] >= t)
      return emitError() << "#sparse_attn.global: tokens must be strictly "
                            "increasing, got "
                         << tokens[i - 1] << " before " << t;
  }
  return success();
}
LogicalResult
GlobalAttr::verifyForSizes(function_ref<InFlightDiagnostic()> emitError,
                           int64_t sq, int64_t sk) const {
  int64_t limit = std::max(sq, sk);
  if (!getTokens().empty() && getTokens().back() >= limit)
    return emitError() << "#sparse_attn.global: token " << getTokens().back()
                       << " is out of range for Sq = " << sq << ", Sk = " << sk
                       << " (must be below " << limit << ")";
  return success();
}
static int64_t countIn(ArrayRef<int64_t> sorted, int64_t lo, int64_t hi) {
  return std::lower_bound(sorted.begin(), sorted.end(), hi) -
         std::lower_bound(sorted.begin(), sorted.end(), lo);
}
static bool contains(ArrayRef<int64_t> sorted, int64_t x) {
  return std::binary_search(sorted.begin(), sorted.end(), x);
}
bool GlobalAttr::isAllowed(const PatternContext &, int64_t q, int64_t k) const {
  return contains(getTokens(), q) || contains(getTokens(), k);
}
TileKind GlobalAttr::classifyTile(const PatternContext &, int64_t q0, int64_t q1,
                                  int64_t k0, int64_t k1) const {
  int64_t qIn = countIn(getTokens(), q0, q1);
  int64_t kIn = countIn(getTokens(), k0, k1);
  if (qIn == q1 - q0 || kIn == k1 - k0)
    return TileKind::Full;
  return kindOf(qIn > 0 || kIn > 0, true);
}

//===----------------------------------------------------------------------===//
// random
//===----------------------------------------------------------------------===//

LogicalResult RandomAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 int64_t block, int64_t perRow, int64_t seed) {
  return failure(failed(positive(emitError, "random", "block", block)) ||
                 failed(nonNegative(emitError, "random", "per_row", perRow)) ||
                 failed(nonNegative(emitError, "random", "seed", seed)));
}

SmallVector<int64_t> RandomAttr::chooseBlocks(int64_t qb, int64_t nk) const {
  int64_t n = std::min(getPerRow(), nk);
  // Partial Fisher-Yates over [0, nk); a map holds the displaced entries so
  // the cost is O(per_row), not O(nk).
  llvm::DenseMap<int64_t, int64_t> moved;
  auto at = [&](int64_t i) {
    auto it = moved.find(i);
    return it == moved.end() ? i : it->second;
  };
  uint64_t state = static_cast<uint64_t>(getSeed()) ^
                   (static_cast<uint64_t>(qb) * 0xD1B54A32D192ED03ULL);
  SmallVector<int64_t> chosen;
  chosen.reserve(n);
  for (int64_t i = 0; i < n; ++i) {
    state += 0x9E3779B97F4A7C15ULL;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z = z ^ (z >> 31);
    int64_t j = i + static_cast<int64_t>(z % static_cast<uint64_t>(nk - i));
    int64_t ai = at(i), aj = at(j);
    moved[i] = aj;
    moved[j] = ai;
    chosen.push_back(aj);
  }
  llvm::sort(chosen);
  return chosen;
}
bool RandomAttr::isAllowed(const PatternContext &ctx, int64_t q,
                           int64_t k) const {
  int64_t bs = getBlock();
  SmallVector<int64_t> chosen = chooseBlocks(q / bs, ceilDivPositive(ctx.sk, bs));
  return contains(chosen, k / bs);
}
TileKind RandomAttr::classifyTile(const PatternContext &ctx, int64_t q0,
                                  int64_t q1, int64_t k0, int64_t k1) const {
  int64_t bs = getBlock(), nk = ceilDivPositive(ctx.sk, bs);
  int64_t kb0 = k0 / bs, kb1 = (k1 - 1) / bs;
  bool anyAllowed = false, anyForbidden = false;
  for (int64_t qb = q0 / bs; qb <= (q1 - 1) / bs; ++qb) {
    int64_t c = countIn(chooseBlocks(qb, nk), kb0, kb1 + 1);
    anyAllowed |= c > 0;
    anyForbidden |= c < kb1 - kb0 + 1;
    if (anyAllowed && anyForbidden)
      break;
  }
  return kindOf(anyAllowed, anyForbidden);
}

//===----------------------------------------------------------------------===//
// blocks
//===----------------------------------------------------------------------===//

LogicalResult BlocksAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 int64_t blockQ, int64_t blockK,
                                 DenseIntElementsAttr layout) {
  if (failed(positive(emitError, "blocks", "block[0]", blockQ)) ||
      failed(positive(emitError, "blocks", "block[1]", blockK)))
    return failure();
  auto type = llvm::cast<ShapedType>(layout.getType());
  if (type.getRank() != 2 || !type.getElementType().isInteger(1))
    return emitError() << "#sparse_attn.blocks: 'layout' must be a rank-2 i1 "
                          "tensor, got "
                       << type;
  return success();
}
int64_t BlocksAttr::getNumQBlocks() const {
  return llvm::cast<ShapedType>(getLayout().getType()).getDimSize(0);
}
int64_t BlocksAttr::getNumKBlocks() const {
  return llvm::cast<ShapedType>(getLayout().getType()).getDimSize(1);
}
bool BlocksAttr::isBlockAllowed(int64_t i, int64_t j) const {
  if (i < 0 || j < 0 || i >= getNumQBlocks() || j >= getNumKBlocks())
    return false;
  return getLayout().getValues<bool>()[i * getNumKBlocks() + j];
}
LogicalResult
BlocksAttr::verifyForSizes(function_ref<InFlightDiagnostic()> emitError,
                           int64_t sq, int64_t sk) const {
  int64_t nq = ceilDivPositive(sq, getBlockQ()), nk = ceilDivPositive(sk, getBlockK());
  if (getNumQBlocks() != nq || getNumKBlocks() != nk)
    return emitError() << "#sparse_attn.blocks: layout shape "
                       << getNumQBlocks() << "x" << getNumKBlocks()
                       << " does not match Sq = " << sq << ", Sk = " << sk
                       << " with blocks " << getBlockQ() << "x" << getBlockK()
                       << " (expected " << nq << "x" << nk << ")";
  return success();
}
bool BlocksAttr::isAllowed(const PatternContext &, int64_t q, int64_t k) const {
  return isBlockAllowed(q / getBlockQ(), k / getBlockK());
}
TileKind BlocksAttr::classifyTile(const PatternContext &, int64_t q0, int64_t q1,
                                  int64_t k0, int64_t k1) const {
  bool anyAllowed = false, anyForbidden = false;
  for (int64_t i = q0 / getBlockQ(); i <= (q1 - 1) / getBlockQ(); ++i)
    for (int64_t j = k0 / getBlockK(); j <= (k1 - 1) / getBlockK(); ++j) {
      if (isBlockAllowed(i, j))
        anyAllowed = true;
      else
        anyForbidden = true;
      if (anyAllowed && anyForbidden)
        return TileKind::Partial;
    }
  return kindOf(anyAllowed, anyForbidden);
}

Attribute BlocksAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  std::optional<std::pair<int64_t, int64_t>> block;
  DenseIntElementsAttr layout;
  if (parser.parseLess())
    return {};
  do {
    SMLoc keyLoc = parser.getCurrentLocation();
    StringRef key;
    if (parser.parseKeyword(&key) || parser.parseEqual())
      return {};
    if (key == "block") {
      if (block) {
        parser.emitError(keyLoc, "#sparse_attn.blocks: duplicate key 'block'");
        return {};
      }
      int64_t bq, bk;
      if (parser.parseLSquare() || parser.parseInteger(bq) ||
          parser.parseComma() || parser.parseInteger(bk) ||
          parser.parseRSquare())
        return {};
      block = {bq, bk};
    } else if (key == "layout") {
      if (layout) {
        parser.emitError(keyLoc, "#sparse_attn.blocks: duplicate key 'layout'");
        return {};
      }
      Attribute attr;
      SMLoc attrLoc = parser.getCurrentLocation();
      // The layout is any attribute to the parser, a pattern included: it
      // counts towards the nesting limit.
      if (failed(enterNestedParse(parser, "blocks")))
        return {};
      llvm::scope_exit restore([] { --compositeParseDepth; });
      if (parser.parseAttribute(attr))
        return {};
      layout = llvm::dyn_cast<DenseIntElementsAttr>(attr);
      if (!layout) {
        parser.emitError(attrLoc, "#sparse_attn.blocks: 'layout' must be a "
                                  "dense i1 tensor, got ")
            << attr;
        return {};
      }
    } else {
      parser.emitError(keyLoc, "#sparse_attn.blocks: unknown key '")
          << key << "' (expected 'block' or 'layout')";
      return {};
    }
  } while (succeeded(parser.parseOptionalComma()));
  if (parser.parseGreater())
    return {};
  if (!block || !layout) {
    parser.emitError(loc, "#sparse_attn.blocks: missing key '")
        << (block ? "layout" : "block") << "'";
    return {};
  }
  return getChecked([&] { return parser.emitError(loc); },
                    parser.getContext(), block->first, block->second, layout);
}
void BlocksAttr::print(AsmPrinter &printer) const {
  printer << "<block = [" << getBlockQ() << ", " << getBlockK()
          << "], layout = ";
  printer.printAttribute(getLayout());
  printer << ">";
}

//===----------------------------------------------------------------------===//
// prefix, segments
//===----------------------------------------------------------------------===//

LogicalResult PrefixAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 int64_t length) {
  return nonNegative(emitError, "prefix", "length", length);
}
bool PrefixAttr::isAllowed(const PatternContext &, int64_t q, int64_t k) const {
  return k < getLength() || k <= q;
}
TileKind PrefixAttr::classifyTile(const PatternContext &, int64_t q0, int64_t q1,
                                  int64_t k0, int64_t k1) const {
  if (k1 - 1 < getLength() || k1 - 1 <= q0)
    return TileKind::Full;
  return kindOf(k0 < getLength() || k0 <= q1 - 1, true);
}

bool SegmentsAttr::needsSegmentIds() const { return true; }
bool SegmentsAttr::isAllowed(const PatternContext &ctx, int64_t q,
                             int64_t k) const {
  if (!ctx.hasSegments)
    return true; // over-approximation without runtime data
  return ctx.qSegments[q] == ctx.kSegments[k];
}
TileKind SegmentsAttr::classifyTile(const PatternContext &ctx, int64_t q0,
                                    int64_t q1, int64_t k0, int64_t k1) const {
  if (!ctx.hasSegments)
    return TileKind::Partial;
  auto [qmin, qmax] = std::minmax_element(ctx.qSegments.begin() + q0,
                                          ctx.qSegments.begin() + q1);
  auto [kmin, kmax] = std::minmax_element(ctx.kSegments.begin() + k0,
                                          ctx.kSegments.begin() + k1);
  if (*qmax < *kmin || *kmax < *qmin)
    return TileKind::Empty;
  if (*qmin == *qmax && *kmin == *kmax)
    return *qmin == *kmin ? TileKind::Full : TileKind::Empty;
  // Unsorted or interleaved ids: resolve exactly by scanning.
  return classifyTileByScan(*this, ctx, q0, q1, k0, k1);
}

//===----------------------------------------------------------------------===//
// union, intersect
//===----------------------------------------------------------------------===//


static LogicalResult
verifyComponents(function_ref<InFlightDiagnostic()> emitError, StringRef name,
                 ArrayRef<Attribute> components) {
  if (components.empty())
    return emitError() << "#sparse_attn." << name
                       << ": needs at least one component";
  for (auto [i, c] : llvm::enumerate(components))
    if (!llvm::isa<SparsityPatternAttrInterface>(c))
      return emitError() << "#sparse_attn." << name << ": component #" << i
                         << " is not a sparsity pattern: " << c;
  // Composites built in C++ or through the C API are held to the parser's
  // nesting limit too (every recursive analysis relies on it). The
  // components were verified when built, so each is at most the limit deep.
  // Memoised: uniqued components may share sub-patterns (a DAG).
  llvm::DenseMap<Attribute, unsigned> memo;
  std::function<unsigned(Attribute)> depth = [&](Attribute a) -> unsigned {
    auto it = memo.find(a);
    if (it != memo.end())
      return it->second;
    ArrayRef<Attribute> inner;
    if (auto u = llvm::dyn_cast<UnionAttr>(a))
      inner = u.getComponents();
    else if (auto x = llvm::dyn_cast<IntersectAttr>(a))
      inner = x.getComponents();
    else
      return 0;
    unsigned d = 0;
    for (Attribute c : inner)
      d = std::max(d, depth(c));
    return memo[a] = d + 1;
  };
  unsigned d = 0;
  for (Attribute c : components)
    d = std::max(d, depth(c));
  if (d + 1 > kMaxPatternNesting)
    return emitError() << "#sparse_attn." << name << ": patterns nest at most "
                       << kMaxPatternNesting << " levels deep";
  return success();
}

template <typename Fn>
static bool anyComponent(ArrayRef<Attribute> components, Fn fn) {
  return llvm::any_of(components, [&](Attribute a) {
    return fn(llvm::cast<SparsityPatternAttrInterface>(a));
  });
}

static LogicalResult
verifyComponentsForSizes(ArrayRef<Attribute> components,
                         function_ref<InFlightDiagnostic()> emitError,
                         int64_t sq, int64_t sk) {
  for (Attribute c : components)
    if (failed(llvm::cast<SparsityPatternAttrInterface>(c).verifyForSizes(
            emitError, sq, sk)))
      return failure();
  return success();
}

static void collectComponentMasks(ArrayRef<Attribute> components,
                                  SmallVectorImpl<FlatSymbolRefAttr> &masks) {
  for (Attribute c : components)
    llvm::cast<SparsityPatternAttrInterface>(c).collectCustomMasks(masks);
}

/// Classification of a union (`absorbing` = Full, `neutral` = Empty) or an
/// intersection (`absorbing` = Empty, `neutral` = Full) from its components.
/// Exact: with at most one partial component the answer follows; with several,
/// they may together cover (or miss) the tile, which is resolved by scanning.
static TileKind classifyComposite(SparsityPatternAttrInterface self,
                                  ArrayRef<Attribute> components,
                                  TileKind absorbing, TileKind neutral,
                                  const PatternContext &ctx, int64_t q0,
                                  int64_t q1, int64_t k0, int64_t k1) {
  int partial = 0;
  for (Attribute c : components) {
    TileKind kind = llvm::cast<SparsityPatternAttrInterface>(c).classifyTile(
        ctx, q0, q1, k0, k1);
    if (kind == absorbing)
      return absorbing;
    partial += kind == TileKind::Partial;
  }
  if (partial <= 1)
    return partial ? TileKind::Partial : neutral;
  // Scanning needs the data every component reads; without it a component
  // over-approximates, which the scan would mistake for the real answer.
  SmallVector<FlatSymbolRefAttr> custom;
  self.collectCustomMasks(custom);
  if ((self.needsSegmentIds() && !ctx.hasSegments) ||
      (!custom.empty() && !ctx.customMasks))
    return TileKind::Partial;
  return classifyTileByScan(self, ctx, q0, q1, k0, k1);
}

LogicalResult UnionAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                ArrayRef<Attribute> components) {
  return verifyComponents(emitError, "union", components);
}
bool UnionAttr::needsSegmentIds() const {
  return anyComponent(getComponents(), [](auto p) { return p.needsSegmentIds(); });
}
LogicalResult
UnionAttr::verifyForSizes(function_ref<InFlightDiagnostic()> emitError,
                          int64_t sq, int64_t sk) const {
  return verifyComponentsForSizes(getComponents(), emitError, sq, sk);
}
void UnionAttr::collectCustomMasks(
    SmallVectorImpl<FlatSymbolRefAttr> &masks) const {
  collectComponentMasks(getComponents(), masks);
}
bool UnionAttr::isAllowed(const PatternContext &ctx, int64_t q, int64_t k) const {
  return anyComponent(getComponents(),
                      [&](auto p) { return p.isAllowed(ctx, q, k); });
}
TileKind UnionAttr::classifyTile(const PatternContext &ctx, int64_t q0,
                                 int64_t q1, int64_t k0, int64_t k1) const {
  return classifyComposite(*this, getComponents(), TileKind::Full,
                           TileKind::Empty, ctx, q0, q1, k0, k1);
}

LogicalResult IntersectAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                    ArrayRef<Attribute> components) {
  return verifyComponents(emitError, "intersect", components);
}
bool IntersectAttr::needsSegmentIds() const {
  return anyComponent(getComponents(), [](auto p) { return p.needsSegmentIds(); });
}
LogicalResult
IntersectAttr::verifyForSizes(function_ref<InFlightDiagnostic()> emitError,
                              int64_t sq, int64_t sk) const {
  return verifyComponentsForSizes(getComponents(), emitError, sq, sk);
}
void IntersectAttr::collectCustomMasks(
    SmallVectorImpl<FlatSymbolRefAttr> &masks) const {
  collectComponentMasks(getComponents(), masks);
}
bool IntersectAttr::isAllowed(const PatternContext &ctx, int64_t q,
                              int64_t k) const {
  return !anyComponent(getComponents(),
                       [&](auto p) { return !p.isAllowed(ctx, q, k); });
}
TileKind IntersectAttr::classifyTile(const PatternContext &ctx, int64_t q0,
                                     int64_t q1, int64_t k0, int64_t k1) const {
  return classifyComposite(*this, getComponents(), TileKind::Empty,
                           TileKind::Full, ctx, q0, q1, k0, k1);
}

//===----------------------------------------------------------------------===//
// custom
//===----------------------------------------------------------------------===//

void CustomAttr::collectCustomMasks(
    SmallVectorImpl<FlatSymbolRefAttr> &masks) const {
  masks.push_back(getMask());
}
bool CustomAttr::isAllowed(const PatternContext &ctx, int64_t q,
                           int64_t k) const {
  if (!ctx.customMasks)
    return true; // over-approximation without an evaluator
  return ctx.customMasks->evaluate(getMask(), ctx, q, k);
}
TileKind CustomAttr::classifyTile(const PatternContext &ctx, int64_t q0,
                                  int64_t q1, int64_t k0, int64_t k1) const {
  if (!ctx.customMasks)
    return TileKind::Partial;
  return ctx.customMasks->classifyTile(getMask(), ctx, q0, q1, k0, k1);
}

//===----------------------------------------------------------------------===//
// block_mask
//===----------------------------------------------------------------------===//

static LogicalResult verifyCsr(function_ref<InFlightDiagnostic()> emitError,
                               StringRef name, ArrayRef<int32_t> offsets,
                               ArrayRef<int32_t> indices, int64_t numK) {
  if (offsets.empty() || offsets.front() != 0)
    return emitError() << "#sparse_attn.block_mask: '" << name
                       << "_offsets' must start with 0";
  for (size_t i = 1; i < offsets.size(); ++i)
    if (offsets[i] < offsets[i - 1])
      return emitError() << "#sparse_attn.block_mask: '" << name
                         << "_offsets' must be non-decreasing";
  if (offsets.back() != static_cast<int64_t>(indices.size()))
    return emitError() << "#sparse_attn.block_mask: '" << name
                       << "_offsets' ends at " << offsets.back() << " but '"
                       << name << "_indices' has " << indices.size()
                       << " entries";
  for (size_t r = 0; r + 1 < offsets.size(); ++r)
    for (int32_t i = offsets[r]; i < offsets[r + 1]; ++i) {
      if (indices[i] < 0 || indices[i] >= numK)
        return emitError() << "#sparse_attn.block_mask: '" << name
                           << "_indices' entry " << indices[i]
                           << " is out of range [0, " << numK << ")";
      if (i > offsets[r] && indices[i] <= indices[i - 1])
        return emitError() << "#sparse_attn.block_mask: '" << name
                           << "_indices' must increase within query block "
                           << r;
    }
  return success();
}

LogicalResult BlockMaskAttr::verify(
    function_ref<InFlightDiagnostic()> emitError, int64_t blockQ,
    int64_t blockK, int64_t numKBlocks, ArrayRef<int32_t> partialOffsets,
    ArrayRef<int32_t> partialIndices, ArrayRef<int32_t> fullOffsets,
    ArrayRef<int32_t> fullIndices) {
  if (failed(positive(emitError, "block_mask", "block[0]", blockQ)) ||
      failed(positive(emitError, "block_mask", "block[1]", blockK)) ||
      failed(nonNegative(emitError, "block_mask", "num_k_blocks", numKBlocks)))
    return failure();
  if (partialOffsets.size() != fullOffsets.size())
    return emitError() << "#sparse_attn.block_mask: 'partial_offsets' and "
                          "'full_offsets' must have the same length";
  if (failed(verifyCsr(emitError, "partial", partialOffsets, partialIndices,
                       numKBlocks)) ||
      failed(verifyCsr(emitError, "full", fullOffsets, fullIndices, numKBlocks)))
    return failure();
  for (size_t r = 0; r + 1 < fullOffsets.size(); ++r) {
    ArrayRef<int32_t> p = partialIndices.slice(
        partialOffsets[r], partialOffsets[r + 1] - partialOffsets[r]);
    for (int32_t i = fullOffsets[r]; i < fullOffsets[r + 1]; ++i)
      if (std::binary_search(p.begin(), p.end(), fullIndices[i]))
        return emitError() << "#sparse_attn.block_mask: key block "
                           << fullIndices[i] << " of query block " << r
                           << " is listed as both partial and full";
  }
  return success();
}

static ParseResult parseIntList(AsmParser &parser, StringRef key,
                                SmallVectorImpl<int32_t> &out) {
  if (parser.parseKeyword(key) || parser.parseEqual())
    return failure();
  return parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, [&] {
    int32_t v;
    if (parser.parseInteger(v))
      return failure();
    out.push_back(v);
    return success();
  });
}

Attribute BlockMaskAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  int64_t bq, bk, nk;
  SmallVector<int32_t> po, pi, fo, fi;
  if (parser.parseLess() || parser.parseKeyword("block") ||
      parser.parseEqual() || parser.parseLSquare() || parser.parseInteger(bq) ||
      parser.parseComma() || parser.parseInteger(bk) || parser.parseRSquare() ||
      parser.parseComma() || parser.parseKeyword("num_k_blocks") ||
      parser.parseEqual() || parser.parseInteger(nk) || parser.parseComma() ||
      parseIntList(parser, "partial_offsets", po) || parser.parseComma() ||
      parseIntList(parser, "partial_indices", pi) || parser.parseComma() ||
      parseIntList(parser, "full_offsets", fo) || parser.parseComma() ||
      parseIntList(parser, "full_indices", fi) || parser.parseGreater())
    return {};
  return getChecked([&] { return parser.emitError(loc); }, parser.getContext(),
                    bq, bk, nk, po, pi, fo, fi);
}

void BlockMaskAttr::print(AsmPrinter &printer) const {
  auto list = [&](StringRef key, ArrayRef<int32_t> values) {
    printer << ", " << key << " = [";
    llvm::interleaveComma(values, printer);
    printer << "]";
  };
  printer << "<block = [" << getBlockQ() << ", " << getBlockK()
          << "], num_k_blocks = " << getNumKBlocks();
  list("partial_offsets", getPartialOffsets());
  list("partial_indices", getPartialIndices());
  list("full_offsets", getFullOffsets());
  list("full_indices", getFullIndices());
  printer << ">";
}

//===----------------------------------------------------------------------===//
// Keyword syntax shared by the pattern attributes: `<key = value, ...>`
//===----------------------------------------------------------------------===//

static std::string keyList(ArrayRef<StringRef> keys) {
  std::string s;
  for (auto [i, k] : llvm::enumerate(keys))
    s += (i ? ", '" : "'") + k.str() + "'";
  return s;
}

/// Parses `<k1 = int, k2 = int, ...>` with every key of `keys` exactly once,
/// in any order; unknown, duplicate and missing keys are diagnosed.
/// With `bottomRight`, also the optional key `align = top_left |
/// bottom_right` (causal and window).
static ParseResult parseKeyValues(AsmParser &parser, StringRef attr,
                                  ArrayRef<StringRef> keys,
                                  MutableArrayRef<int64_t> values,
                                  bool *bottomRight = nullptr) {
  SMLoc start = parser.getCurrentLocation();
  SmallVector<bool> seen(keys.size(), false);
  bool seenAlign = false;
  if (parser.parseLess())
    return failure();
  do {
    SMLoc keyLoc = parser.getCurrentLocation();
    StringRef key;
    if (failed(parser.parseOptionalKeyword(&key)))
      return parser.emitError(keyLoc, "#sparse_attn.")
             << attr << ": expected a key ("
             << (keys.empty() ? std::string("'align'") : keyList(keys)) << ")";
    if (bottomRight && key == "align") {
      if (seenAlign)
        return parser.emitError(keyLoc, "#sparse_attn.")
               << attr << ": duplicate key 'align'";
      seenAlign = true;
      SMLoc valueLoc;
      StringRef value;
      if (parser.parseEqual())
        return failure();
      valueLoc = parser.getCurrentLocation();
      if (failed(parser.parseOptionalKeyword(&value)) ||
          (value != "top_left" && value != "bottom_right"))
        return parser.emitError(valueLoc, "#sparse_attn.")
               << attr << ": 'align' must be top_left or bottom_right";
      *bottomRight = value == "bottom_right";
      continue;
    }
    auto it = llvm::find(keys, key);
    if (it == keys.end())
      return parser.emitError(keyLoc, "#sparse_attn.")
             << attr << ": unknown key '" << key << "' (expected "
             << keyList(keys) << ")";
    size_t idx = it - keys.begin();
    if (seen[idx])
      return parser.emitError(keyLoc, "#sparse_attn.")
             << attr << ": duplicate key '" << key << "'";
    seen[idx] = true;
    if (parser.parseEqual() || parser.parseInteger(values[idx]))
      return failure();
  } while (succeeded(parser.parseOptionalComma()));
  if (parser.parseGreater())
    return failure();
  for (auto [i, k] : llvm::enumerate(keys))
    if (!seen[i])
      return parser.emitError(start, "#sparse_attn.")
             << attr << ": missing key '" << k << "'";
  return success();
}

static void printKeyValues(AsmPrinter &printer, ArrayRef<StringRef> keys,
                           ArrayRef<int64_t> values) {
  printer << "<";
  for (auto [i, k] : llvm::enumerate(keys))
    printer << (i ? ", " : "") << k << " = " << values[i];
  printer << ">";
}

#define SPARSE_ATTN_KEYWORD_ATTR(CLASS, NAME, N, KEYS, GETTERS)                \
  Attribute CLASS::parse(AsmParser &parser, Type) {                            \
    SMLoc loc = parser.getCurrentLocation();                                   \
    static const StringRef keys[N] = KEYS;                                     \
    int64_t v[N] = {};                                                         \
    if (failed(parseKeyValues(parser, NAME, keys, v)))                         \
      return {};                                                               \
    return std::apply(                                                         \
        [&](auto... xs) {                                                      \
          return getChecked([&] { return parser.emitError(loc); },             \
                            parser.getContext(), xs...);                       \
        },                                                                     \
        toTuple<N>(v));                                                        \
  }                                                                            \
  void CLASS::print(AsmPrinter &printer) const {                               \
    static const StringRef keys[N] = KEYS;                                     \
    printKeyValues(printer, keys, GETTERS);                                    \
  }

template <size_t N, size_t... I>
static auto toTupleImpl(const int64_t (&v)[N], std::index_sequence<I...>) {
  return std::make_tuple(v[I]...);
}
template <size_t N> static auto toTuple(const int64_t (&v)[N]) {
  return toTupleImpl<N>(v, std::make_index_sequence<N>());
}

#define KEYS(...) {__VA_ARGS__}
#define VALUES(...) ArrayRef<int64_t>({__VA_ARGS__})
SPARSE_ATTN_KEYWORD_ATTR(DilatedAttr, "dilated", 3,
                         KEYS("before", "after", "dilation"),
                         VALUES(getBefore(), getAfter(), getDilation()))
SPARSE_ATTN_KEYWORD_ATTR(StridedAttr, "strided", 1, KEYS("stride"),
                         VALUES(getStride()))
SPARSE_ATTN_KEYWORD_ATTR(FixedAttr, "fixed", 2, KEYS("stride", "summary"),
                         VALUES(getStride(), getSummary()))
SPARSE_ATTN_KEYWORD_ATTR(RandomAttr, "random", 3,
                         KEYS("block", "per_row", "seed"),
                         VALUES(getBlock(), getPerRow(), getSeed()))
SPARSE_ATTN_KEYWORD_ATTR(PrefixAttr, "prefix", 1, KEYS("length"),
                         VALUES(getLength()))
#undef KEYS
#undef VALUES
#undef SPARSE_ATTN_KEYWORD_ATTR

Attribute WindowAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  static const StringRef keys[] = {"before", "after"};
  int64_t v[2] = {};
  bool bottomRight = false;
  if (failed(parseKeyValues(parser, "window", keys, v, &bottomRight)))
    return {};
  return getChecked([&] { return parser.emitError(loc); }, parser.getContext(),
                    v[0], v[1], bottomRight);
}
void WindowAttr::print(AsmPrinter &printer) const {
  printer << "<before = " << getBefore() << ", after = " << getAfter();
  if (getBottomRight())
    printer << ", align = bottom_right";
  printer << ">";
}

/// `#sparse_attn.causal` or `#sparse_attn.causal<align = ...>`.
Attribute CausalAttr::parse(AsmParser &parser, Type) {
  if (failed(parser.parseOptionalLess()))
    return get(parser.getContext(), false);
  // parseKeyValues expects the '<' itself: re-enter through a one-key list.
  bool bottomRight = false;
  SMLoc keyLoc = parser.getCurrentLocation();
  StringRef key, value;
  if (failed(parser.parseOptionalKeyword(&key)) || key != "align") {
    parser.emitError(keyLoc, "#sparse_attn.causal: expected a key ('align')");
    return {};
  }
  if (parser.parseEqual())
    return {};
  SMLoc valueLoc = parser.getCurrentLocation();
  if (failed(parser.parseOptionalKeyword(&value)) ||
      (value != "top_left" && value != "bottom_right")) {
    parser.emitError(valueLoc,
                     "#sparse_attn.causal: 'align' must be top_left or "
                     "bottom_right");
    return {};
  }
  bottomRight = value == "bottom_right";
  if (parser.parseGreater())
    return {};
  return get(parser.getContext(), bottomRight);
}
void CausalAttr::print(AsmPrinter &printer) const {
  if (getBottomRight())
    printer << "<align = bottom_right>";
}

Attribute GlobalAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  SmallVector<int64_t> tokens;
  if (parser.parseLess() ||
      parser.parseCommaSeparatedList(AsmParser::Delimiter::Square,
                                     [&] {
                                       return parser.parseInteger(
                                           tokens.emplace_back());
                                     }) ||
      parser.parseGreater())
    return {};
  return getChecked([&] { return parser.emitError(loc); }, parser.getContext(),
                    tokens);
}
void GlobalAttr::print(AsmPrinter &printer) const {
  printer << "<[";
  llvm::interleaveComma(getTokens(), printer);
  printer << "]>";
}

static ParseResult parseComponents(AsmParser &parser, StringRef name,
                                   SmallVectorImpl<Attribute> &components) {
  if (failed(enterNestedParse(parser, name)))
    return failure();
  llvm::scope_exit restore([] { --compositeParseDepth; });
  return failure(
      parser.parseLess() ||
      parser.parseCommaSeparatedList(
          AsmParser::Delimiter::Square,
          [&] { return parser.parseAttribute(components.emplace_back()); }) ||
      parser.parseGreater());
}
static void printComponents(AsmPrinter &printer,
                            ArrayRef<Attribute> components) {
  printer << "<[";
  llvm::interleaveComma(components, printer,
                        [&](Attribute a) { printer.printAttribute(a); });
  printer << "]>";
}

template <typename AttrT>
static Attribute parseComposite(AsmParser &parser, StringRef name) {
  SMLoc loc = parser.getCurrentLocation();
  SmallVector<Attribute> components;
  if (failed(parseComponents(parser, name, components)))
    return {};
  return AttrT::getChecked([&] { return parser.emitError(loc); },
                           parser.getContext(), components);
}

Attribute UnionAttr::parse(AsmParser &parser, Type) {
  return parseComposite<UnionAttr>(parser, "union");
}
void UnionAttr::print(AsmPrinter &printer) const {
  printComponents(printer, getComponents());
}
Attribute IntersectAttr::parse(AsmParser &parser, Type) {
  return parseComposite<IntersectAttr>(parser, "intersect");
}
void IntersectAttr::print(AsmPrinter &printer) const {
  printComponents(printer, getComponents());
}
