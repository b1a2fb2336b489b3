//===- PatternFuzzer.cpp - canonicalisation and tile classification -------===//
//
// Input: 3 bytes (Sq, Sk in 1..64, a seed for segment ids), then the text of
// a pattern attribute. A pattern that parses, has no custom mask and passes
// verifyForSizes is checked against two oracles on every (q, k) pair:
//   1. its canonical form (simplifyPattern) allows exactly the same pairs;
//   2. classifyTile of every tile of a few tilings (sizes from the seed,
//      including sizes that do not divide Sq / Sk) is exact: Full only when
//      every pair is allowed, Empty only when none is; and classifyBlocks
//      agrees with the per-tile answers.
// A mismatch aborts with the pattern and the pair.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Dialect/SparseAttn/Analysis/PatternAnalysis.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnDialect.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "FuzzContext.h"
#include "llvm/Support/raw_ostream.h"
#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace mlir;
using namespace mlir::sparse_attn;

static MLIRContext &context() {
  return sparse_attn_fuzz::renewedContext<SparseAttnDialect>();
}

static std::string str(Attribute a) {
  std::string s;
  llvm::raw_string_ostream os(s);
  a.print(os);
  return s;
}

[[noreturn]] static void report(const char *what, Attribute p, int64_t sq,
                                int64_t sk, int64_t a, int64_t b) {
  std::fprintf(stderr, "%s: pattern %s, Sq = %lld, Sk = %lld, at (%lld, %lld)\n",
               what, str(p).c_str(), (long long)sq, (long long)sk, (long long)a,
               (long long)b);
  std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4 || size > 4096)
    return 0;
  int64_t sq = 1 + data[0] % 64, sk = 1 + data[1] % 64;
  unsigned seed = data[2];
  std::string text(reinterpret_cast<const char *>(data + 3), size - 3);
  size_t consumed = 0;
  MLIRContext &mctx = context(); // once per input: it may be renewed
  Attribute attr = parseAttribute(text, &mctx, Type(), &consumed);
  auto pattern = llvm::dyn_cast_if_present<SparsityPatternAttrInterface>(attr);
  if (!pattern)
    return 0;
  SmallVector<FlatSymbolRefAttr> custom;
  pattern.collectCustomMasks(custom);
  if (!custom.empty())
    return 0; // no module: custom masks over-approximate by design
  auto emit = [&] { return emitError(UnknownLoc::get(&mctx)); };
  if (failed(pattern.verifyForSizes(emit, sq, sk)))
    return 0;

  PatternContext ctx(sq, sk);
  std::vector<int64_t> qSeg, kSeg;
  if (pattern.needsSegmentIds()) {
    // Sorted document ids most of the time, arbitrary ids otherwise.
    unsigned s = seed;
    auto next = [&] { return s = s * 1103515245u + 12345u, (s >> 16) & 3; };
    bool sorted = seed % 4 != 0;
    int64_t id = 0;
    for (int64_t i = 0; i < std::max(sq, sk); ++i) {
      if (sorted)
        id += next() == 0;
      else
        id = next();
      if (i < sq)
        qSeg.push_back(id);
      if (i < sk)
        kSeg.push_back(id);
    }
    ctx.hasSegments = true;
    ctx.qSegments = qSeg;
    ctx.kSegments = kSeg;
  }

  // 1. The canonical form allows exactly the same pairs.
  auto canonical =
      llvm::cast<SparsityPatternAttrInterface>(simplifyPattern(pattern));
  std::vector<char> allowed(sq * sk);
  for (int64_t q = 0; q < sq; ++q)
    for (int64_t k = 0; k < sk; ++k) {
      allowed[q * sk + k] = pattern.isAllowed(ctx, q, k);
      if (canonical.isAllowed(ctx, q, k) != (bool)allowed[q * sk + k])
        report("canonical form differs", pattern, sq, sk, q, k);
    }

  // 2. Exact tile classification, for three tilings.
  int64_t tilings[3][2] = {{1 + seed % 7, 1 + (seed / 7) % 9},
                           {16, 16},
                           {1 + (seed / 3) % 13, 64}};
  for (auto &t : tilings) {
    int64_t bq = t[0], bk = t[1];
    BlockClassification blocks = classifyBlocks(pattern, ctx, bq, bk);
    for (int64_t i = 0; i * bq < sq; ++i)
      for (int64_t j = 0; j * bk < sk; ++j) {
        int64_t q0 = i * bq, q1 = std::min(sq, q0 + bq);
        int64_t k0 = j * bk, k1 = std::min(sk, k0 + bk);
        bool any = false, all = true;
        for (int64_t q = q0; q < q1; ++q)
          for (int64_t k = k0; k < k1; ++k) {
            any |= allowed[q * sk + k];
            all &= allowed[q * sk + k];
          }
        for (SparsityPatternAttrInterface p : {pattern, canonical}) {
          TileKind kind = p.classifyTile(ctx, q0, q1, k0, k1);
          if ((kind == TileKind::Full && !all) ||
              (kind == TileKind::Empty && any))
            report("tile misclassified", p, sq, sk, q0, k0);
        }
        TileKind listed = blocks.kinds[i * blocks.numK + j];
        if ((listed == TileKind::Full && !all) ||
            (listed == TileKind::Empty && any))
          report("classifyBlocks misclassified a tile", pattern, sq, sk, q0, k0);
      }
  }
  return 0;
}
