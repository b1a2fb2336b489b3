//===- PatternSimplify.cpp - canonical form of sparsity patterns ----------===//
//
// `simplifyPattern` rewrites a pattern into an equivalent, smaller one. Every
// rule preserves the allowed set exactly, for every size and all runtime
// data; `isSubPattern` is the conservative containment test the rules use.
// unittests/PatternTest.cpp checks equivalence by evaluation.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnAttrs.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/TypeSwitch.h"
#include <algorithm>

using namespace mlir;
using namespace mlir::sparse_attn;

/// Whether `a` is aligned to the bottom-right corner (d = q + Sk - Sq - k);
/// every other pattern is a function of the absolute positions. Rules that
/// compare differences hold only between patterns of one alignment.
static bool isBottomRight(Attribute a) {
  if (auto c = llvm::dyn_cast<CausalAttr>(a))
    return c.getBottomRight();
  if (auto w = llvm::dyn_cast<WindowAttr>(a))
    return w.getBottomRight();
  return false;
}

/// The difference interval d = q - k in [-after, before] of a window-like
/// pattern aligned like `alignedWith`, or nullopt.
static std::optional<std::pair<int64_t, int64_t>>
windowBounds(Attribute a, Attribute alignedWith) {
  if (auto w = llvm::dyn_cast<WindowAttr>(a))
    if (isBottomRight(a) == isBottomRight(alignedWith))
      return std::make_pair(w.getBefore(), w.getAfter());
  return std::nullopt;
}

bool mlir::sparse_attn::isSubPattern(Attribute a, Attribute b) {
  if (a == b || llvm::isa<DensePatternAttr>(b))
    return true;
  if (auto u = llvm::dyn_cast<UnionAttr>(a))
    return llvm::all_of(u.getComponents(),
                        [&](Attribute c) { return isSubPattern(c, b); });
  if (auto i = llvm::dyn_cast<IntersectAttr>(b))
    return llvm::all_of(i.getComponents(),
                        [&](Attribute c) { return isSubPattern(a, c); });
  if (auto u = llvm::dyn_cast<UnionAttr>(b))
    if (llvm::any_of(u.getComponents(),
                     [&](Attribute c) { return isSubPattern(a, c); }))
      return true;
  if (auto i = llvm::dyn_cast<IntersectAttr>(a))
    return llvm::any_of(i.getComponents(),
                        [&](Attribute c) { return isSubPattern(c, b); });

  // b allows every d >= 0 of a's alignment (prefix: of top-left ones).
  bool bIsCausalLike =
      (llvm::isa<CausalAttr>(b) && isBottomRight(a) == isBottomRight(b)) ||
      (llvm::isa<PrefixAttr>(b) && !isBottomRight(a));
  if (auto w = llvm::dyn_cast<WindowAttr>(a)) {
    if (auto wb = windowBounds(b, a))
      return w.getBefore() <= wb->first && w.getAfter() <= wb->second;
    if (bIsCausalLike)
      return w.getAfter() == 0;
    if (w.getBottomRight())
      return false;
    if (auto s = llvm::dyn_cast<StridedAttr>(b))
      return w.getAfter() == 0 && w.getBefore() < s.getStride();
    if (auto d = llvm::dyn_cast<DilatedAttr>(b))
      return (d.getDilation() == 1 || (w.getBefore() == 0 && w.getAfter() == 0)) &&
             w.getBefore() <= d.getBefore() && w.getAfter() <= d.getAfter();
    return false;
  }
  if (auto c = llvm::dyn_cast<CausalAttr>(a))
    return llvm::isa<PrefixAttr>(b) && !c.getBottomRight();
  if (auto d = llvm::dyn_cast<DilatedAttr>(a)) {
    if (auto wb = windowBounds(b, a))
      return d.getBefore() <= wb->first && d.getAfter() <= wb->second;
    if (auto d2 = llvm::dyn_cast<DilatedAttr>(b))
      return d.getDilation() % d2.getDilation() == 0 &&
             d.getBefore() <= d2.getBefore() && d.getAfter() <= d2.getAfter();
    if (bIsCausalLike) // no allowed d < 0 when after < dilation
      return d.getAfter() < d.getDilation();
    return false;
  }
  if (llvm::isa<StridedAttr>(a))
    return bIsCausalLike;
  if (auto g = llvm::dyn_cast<GlobalAttr>(a)) {
    if (auto g2 = llvm::dyn_cast<GlobalAttr>(b))
      return std::includes(g2.getTokens().begin(), g2.getTokens().end(),
                           g.getTokens().begin(), g.getTokens().end());
    return false;
  }
  return false;
}

/// Simplified components of `pattern` with nested `AttrT` spliced in.
template <typename AttrT>
static SmallVector<Attribute> flatten(AttrT pattern) {
  SmallVector<Attribute> out;
  for (Attribute c : pattern.getComponents()) {
    Attribute s = simplifyPattern(c);
    if (auto nested = llvm::dyn_cast<AttrT>(s))
      llvm::append_range(out, nested.getComponents());
    else
      out.push_back(s);
  }
  return out;
}

/// Drops duplicates and, with `keepLarger`, every component contained in
/// another one (union), otherwise every component containing another one
/// (intersection). Components are compared with those kept so far only, so
/// the result is never empty; among equivalent components the first stays.
static void dropDominated(SmallVectorImpl<Attribute> &comps, bool keepLarger) {
  auto covers = [&](Attribute kept, Attribute c) {
    return keepLarger ? isSubPattern(c, kept) : isSubPattern(kept, c);
  };
  SmallVector<Attribute> kept;
  for (Attribute c : comps) {
    if (llvm::any_of(kept, [&](Attribute k) { return covers(k, c); }))
      continue;
    llvm::erase_if(kept, [&](Attribute k) { return covers(c, k); });
    kept.push_back(c);
  }
  comps.assign(kept.begin(), kept.end());
}

/// Repeatedly replaces a pair of components by `merge(a, b)` when it returns
/// a pattern.
static void mergePairs(SmallVectorImpl<Attribute> &comps,
                       function_ref<Attribute(Attribute, Attribute)> merge) {
  bool changed = true;
  while (changed) {
    changed = false;
    for (size_t i = 0; i < comps.size() && !changed; ++i)
      for (size_t j = i + 1; j < comps.size() && !changed; ++j) {
        Attribute m = merge(comps[i], comps[j]);
        if (!m)
          m = merge(comps[j], comps[i]);
        if (m) {
          comps[i] = m;
          comps.erase(comps.begin() + j);
          changed = true;
        }
      }
  }
}

static Attribute mergeUnionPair(Attribute a, Attribute b) {
  MLIRContext *ctx = a.getContext();
  // Both windows contain d = 0, so their union is one interval (when both
  // measure d from the same corner).
  if (auto w1 = llvm::dyn_cast<WindowAttr>(a))
    if (auto w2 = llvm::dyn_cast<WindowAttr>(b))
      if (w1.getBottomRight() == w2.getBottomRight())
        return WindowAttr::get(ctx, std::max(w1.getBefore(), w2.getBefore()),
                               std::max(w1.getAfter(), w2.getAfter()),
                               w1.getBottomRight());
  if (auto g1 = llvm::dyn_cast<GlobalAttr>(a))
    if (auto g2 = llvm::dyn_cast<GlobalAttr>(b)) {
      SmallVector<int64_t> tokens;
      std::set_union(g1.getTokens().begin(), g1.getTokens().end(),
                     g2.getTokens().begin(), g2.getTokens().end(),
                     std::back_inserter(tokens));
      return GlobalAttr::get(ctx, tokens);
    }
  return {};
}

static Attribute mergeIntersectPair(Attribute a, Attribute b) {
  MLIRContext *ctx = a.getContext();
  if (auto w1 = llvm::dyn_cast<WindowAttr>(a)) {
    bool sameAlign = isBottomRight(a) == isBottomRight(b);
    if (auto w2 = llvm::dyn_cast<WindowAttr>(b); w2 && sameAlign)
      return WindowAttr::get(ctx, std::min(w1.getBefore(), w2.getBefore()),
                             std::min(w1.getAfter(), w2.getAfter()),
                             w1.getBottomRight());
    if (llvm::isa<CausalAttr>(b) && sameAlign)
      return WindowAttr::get(ctx, w1.getBefore(), 0, w1.getBottomRight());
    if (w1.getBottomRight())
      return {};
    if (auto d = llvm::dyn_cast<DilatedAttr>(b))
      return DilatedAttr::get(ctx, std::min(w1.getBefore(), d.getBefore()),
                              std::min(w1.getAfter(), d.getAfter()),
                              d.getDilation());
  }
  if (auto d = llvm::dyn_cast<DilatedAttr>(a))
    if (llvm::isa<CausalAttr>(b) && !isBottomRight(b))
      return DilatedAttr::get(ctx, d.getBefore(), 0, d.getDilation());
  return {};
}

Attribute mlir::sparse_attn::simplifyPattern(Attribute pattern) {
  MLIRContext *ctx = pattern.getContext();
  if (auto u = llvm::dyn_cast<UnionAttr>(pattern)) {
    SmallVector<Attribute> comps = flatten(u);
    if (llvm::any_of(comps, llvm::IsaPred<DensePatternAttr>))
      return DensePatternAttr::get(ctx);
    mergePairs(comps, mergeUnionPair);
    dropDominated(comps, /*keepLarger=*/true);
    if (comps.size() == 1)
      return comps.front();
    return UnionAttr::get(ctx, comps);
  }
  if (auto i = llvm::dyn_cast<IntersectAttr>(pattern)) {
    SmallVector<Attribute> comps = flatten(i);
    llvm::erase_if(comps, llvm::IsaPred<DensePatternAttr>);
    if (comps.empty())
      return DensePatternAttr::get(ctx);
    mergePairs(comps, mergeIntersectPair);
    dropDominated(comps, /*keepLarger=*/false);
    if (comps.size() == 1)
      return comps.front();
    return IntersectAttr::get(ctx, comps);
  }
  return pattern;
}
