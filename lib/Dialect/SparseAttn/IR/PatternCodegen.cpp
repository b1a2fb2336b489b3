//===- PatternCodegen.cpp - the built-in patterns' predicates as IR -------===//
//
// The generator's helpers and, per built-in pattern, its
// SparsityPatternAttrInterface code-generation methods (`buildAllowed`,
// `supportsVectorCodegen`, `impliesSameSegment`, `withoutSegments`).
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Dialect/SparseAttn/IR/PatternCodegen.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/IR/SymbolTable.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::sparse_attn;

//===----------------------------------------------------------------------===//
// The generator
//===----------------------------------------------------------------------===//

FailureOr<Value> PatternCodegen::emit(Attribute pattern) {
  auto p = llvm::dyn_cast<SparsityPatternAttrInterface>(pattern);
  if (!p)
    return emitError(loc, "not a sparsity pattern: ") << pattern;
  if (isVector() && !p.supportsVectorCodegen())
    return emitError(loc, "pattern ")
           << pattern << " has no vector code generation";
  return p.buildAllowed(*this);
}

FailureOr<Value> PatternCodegen::unsupported(Attribute pattern) {
  return emitError(loc, "no code generation for pattern ")
         << pattern
         << " (it does not implement SparsityPatternAttrInterface::"
            "buildAllowed)";
}

Value PatternCodegen::index(int64_t v) {
  if (inputs.lanes == 0)
    return arith::ConstantIndexOp::create(builder, loc, v);
  auto type = VectorType::get({inputs.lanes}, builder.getIndexType());
  return arith::ConstantOp::create(
      builder, loc, type,
      DenseElementsAttr::get(type,
                             ArrayRef<Attribute>{builder.getIndexAttr(v)}));
}

Value PatternCodegen::boolean(bool v) {
  if (inputs.lanes == 0)
    return arith::ConstantIntOp::create(builder, loc, v, 1);
  auto type = VectorType::get({inputs.lanes}, builder.getI1Type());
  return arith::ConstantOp::create(builder, loc, type,
                                   DenseElementsAttr::get(type, v));
}

Value PatternCodegen::cmp(arith::CmpIPredicate p, Value x, Value y) {
  return arith::CmpIOp::create(builder, loc, p, x, y);
}
Value PatternCodegen::andi(Value x, Value y) {
  return arith::AndIOp::create(builder, loc, x, y);
}
Value PatternCodegen::ori(Value x, Value y) {
  return arith::OrIOp::create(builder, loc, x, y);
}
Value PatternCodegen::queryMinusKey() {
  return arith::SubIOp::create(builder, loc, inputs.q, inputs.k);
}

static Value readSegment(PatternCodegen &gen,
                         function_ref<Value(OpBuilder &, Location, Value,
                                            Value)>
                             callback,
                         Value ids, Value pos) {
  if (callback)
    return callback(gen.getBuilder(), gen.getLoc(), gen.batchIdx(), pos);
  return memref::LoadOp::create(gen.getBuilder(), gen.getLoc(), ids,
                                ValueRange{gen.batchIdx(), pos});
}
Value PatternCodegen::querySegment() {
  return readSegment(*this, inputs.querySegment, inputs.querySegmentIds,
                     inputs.q);
}
Value PatternCodegen::keySegment() {
  return readSegment(*this, inputs.keySegment, inputs.keySegmentIds,
                     inputs.k);
}

Value PatternCodegen::tableEntry(DenseIntElementsAttr t, int64_t bq,
                                 int64_t bk) {
  auto shape = llvm::cast<ShapedType>(t.getType()).getShape();
  Value i = arith::DivUIOp::create(builder, loc, inputs.q, index(bq));
  Value j = arith::DivUIOp::create(builder, loc, inputs.k, index(bk));
  Value inRange = andi(cmp(arith::CmpIPredicate::ult, i, index(shape[0])),
                       cmp(arith::CmpIPredicate::ult, j, index(shape[1])));
  Value ci = arith::MinUIOp::create(builder, loc, i, index(shape[0] - 1));
  Value cj = arith::MinUIOp::create(builder, loc, j, index(shape[1] - 1));
  return andi(inRange, inputs.loadTable(builder, loc, t, ci, cj));
}

FailureOr<Value> PatternCodegen::problemSize(unsigned which, StringRef user) {
  Value v = which == 0 ? inputs.sqValue : inputs.skValue;
  if (v)
    return v;
  int64_t n = which == 0 ? inputs.sq : inputs.sk;
  if (!ShapedType::isDynamic(n) && n > 0)
    return arith::ConstantIndexOp::create(builder, loc, n).getResult();
  return emitError(loc)
         << user << " reads the " << (which == 0 ? "query" : "key")
         << " length, which this lowering does not know here";
}

FailureOr<Value> PatternCodegen::alignedQueryPos(bool bottomRight,
                                                 StringRef user) {
  if (!bottomRight)
    return queryPos();
  FailureOr<Value> sq = problemSize(0, user), sk = problemSize(1, user);
  if (failed(sq) || failed(sk))
    return failure();
  Value off = arith::SubIOp::create(builder, loc, *sk, *sq);
  if (isVector())
    off = vector::BroadcastOp::create(builder, loc, queryPos().getType(), off);
  return arith::AddIOp::create(builder, loc, queryPos(), off).getResult();
}

/// The arguments of a score_mod region: (s, b, h, q, k) and, for a region
/// that takes them, the lengths (sq, sk), which must then be known.
static FailureOr<SmallVector<Value>> scoreModArgs(Location loc,
                                                  ScoreModOp scoreMod, Value s,
                                                  Value b, Value h, Value q,
                                                  Value k, Value sq, Value sk) {
  SmallVector<Value> args{s, b, h, q, k};
  if (scoreMod.getBody().getNumArguments() == 7) {
    if (!sq || !sk)
      return emitError(loc, "score_mod @")
             << scoreMod.getSymName()
             << " reads the sequence lengths, which this lowering does not "
                "know here";
    args.append({sq, sk});
  }
  return args;
}

FailureOr<Value> mlir::sparse_attn::inlineScoreMod(
    OpBuilder &builder, Location loc, ScoreModOp scoreMod, Value s, Value b,
    Value h, Value q, Value k, Value sq, Value sk) {
  FailureOr<SmallVector<Value>> args =
      scoreModArgs(loc, scoreMod, s, b, h, q, k, sq, sk);
  if (failed(args))
    return failure();
  return inlineRegion(builder, scoreMod.getBody(), *args).front();
}

FailureOr<TileKindValues> PatternCodegen::classify(Attribute pattern,
                                                   const TileBounds &tile) {
  auto p = llvm::dyn_cast<SparsityPatternAttrInterface>(pattern);
  if (!p)
    return emitError(loc, "not a sparsity pattern: ") << pattern;
  return p.buildTileKind(*this, tile);
}

TileKindValues PatternCodegen::partialTile() {
  return {boolean(false), boolean(false)};
}

FailureOr<TileKindValues>
mlir::sparse_attn::buildTileKind(OpBuilder &builder, Location loc,
                                 Attribute pattern, const TileBounds &tile) {
  PatternCodegenInputs inputs; // scalar; the classifiers read only `tile`
  PatternCodegen gen(builder, loc, inputs);
  return gen.classify(pattern, tile);
}

FailureOr<Value> mlir::sparse_attn::buildAllowed(
    OpBuilder &builder, Location loc, Attribute pattern,
    const PatternCodegenInputs &inputs) {
  PatternCodegen gen(builder, loc, inputs);
  return gen.emit(pattern);
}

LogicalResult mlir::sparse_attn::verifyPatternCodegen(Location loc,
                                                      Attribute pattern,
                                                      Operation *symbolScope,
                                                      int64_t sq, int64_t sk,
                                                      int64_t lanes) {
  // Scratch block: positions, segment ids and table entries are block
  // arguments of the types the lowerings pass.
  MLIRContext *ctx = loc.getContext();
  ctx->getOrLoadDialect<arith::ArithDialect>();
  ctx->getOrLoadDialect<memref::MemRefDialect>();
  // The block lives in a region (op creation asks its region for the
  // context): a throwaway module's, never verified, destroyed on return.
  OwningOpRef<ModuleOp> holder = ModuleOp::create(loc);
  Block *scratch = new Block();
  holder->getBodyRegion().push_back(scratch);
  Type index = IndexType::get(ctx);
  Type pos = lanes ? Type(VectorType::get({lanes}, index)) : index;
  Type i1 = IntegerType::get(ctx, 1);
  Type i64 = IntegerType::get(ctx, 64);
  SmallVector<Type> types = {index, index, pos, pos, i64, i64, i1, index, index};
  for (Type t : types)
    scratch->addArgument(t, loc);
  OpBuilder b = OpBuilder::atBlockBegin(scratch);
  PatternCodegenInputs in;
  in.b = scratch->getArgument(0);
  in.h = scratch->getArgument(1);
  in.q = scratch->getArgument(2);
  in.k = scratch->getArgument(3);
  in.lanes = lanes;
  in.sq = sq;
  in.sk = sk;
  // The lowerings pass the run-time lengths.
  in.sqValue = scratch->getArgument(7);
  in.skValue = scratch->getArgument(8);
  in.symbolScope = symbolScope;
  auto qId = [&](OpBuilder &, Location, Value, Value) {
    return scratch->getArgument(4);
  };
  auto kId = [&](OpBuilder &, Location, Value, Value) {
    return scratch->getArgument(5);
  };
  auto table = [&](OpBuilder &, Location, DenseIntElementsAttr, Value,
                   Value) { return scratch->getArgument(6); };
  in.querySegment = qId;
  in.keySegment = kId;
  in.loadTable = table;
  FailureOr<Value> allowed = buildAllowed(b, loc, pattern, in);
  if (failed(allowed))
    return failure();
  Type want = lanes ? Type(VectorType::get({lanes}, i1)) : i1;
  if (allowed->getType() != want)
    return emitError(loc, "pattern ")
           << pattern << " generated a predicate of type "
           << allowed->getType() << ", expected " << want;
  if (lanes)
    return success();
  // The run-time tile classifier (scalar bounds).
  TileBounds tile{in.b, in.h, in.b, in.h, in.sqValue, in.skValue};
  FailureOr<TileKindValues> kind = buildTileKind(b, loc, pattern, tile);
  if (failed(kind))
    return failure();
  if (!kind->empty || !kind->full || kind->empty.getType() != i1 ||
      kind->full.getType() != i1)
    return emitError(loc, "pattern ")
           << pattern << " generated a tile classification that is not two "
           << i1 << " values";
  return success();
}

bool mlir::sparse_attn::isVectorizablePattern(Attribute pattern) {
  auto p = llvm::dyn_cast<SparsityPatternAttrInterface>(pattern);
  return p && p.supportsVectorCodegen();
}
bool mlir::sparse_attn::impliesSameSegment(Attribute pattern) {
  auto p = llvm::dyn_cast<SparsityPatternAttrInterface>(pattern);
  return p && p.impliesSameSegment();
}
Attribute mlir::sparse_attn::withoutSegments(Attribute pattern) {
  auto p = llvm::dyn_cast<SparsityPatternAttrInterface>(pattern);
  return p ? p.withoutSegments() : pattern;
}

DenseIntElementsAttr mlir::sparse_attn::buildRandomTable(RandomAttr attr,
                                                         int64_t sq,
                                                         int64_t sk) {
  int64_t bs = attr.getBlock();
  int64_t nq = ceilDivPositive(sq, bs), nk = ceilDivPositive(sk, bs);
  std::vector<bool> bits(nq * nk, false);
  for (int64_t qb = 0; qb < nq; ++qb)
    for (int64_t kb : attr.chooseBlocks(qb, nk))
      bits[qb * nk + kb] = true;
  SmallVector<bool> values(bits.begin(), bits.end());
  auto type = RankedTensorType::get({nq, nk},
                                    IntegerType::get(attr.getContext(), 1));
  return llvm::cast<DenseIntElementsAttr>(DenseElementsAttr::get(type, values));
}

SmallVector<Value> mlir::sparse_attn::inlineRegion(OpBuilder &builder,
                                                   Region &region,
                                                   ValueRange args) {
  Block &block = region.front();
  IRMapping map;
  map.map(block.getArguments(), args);
  for (Operation &op : block.without_terminator())
    builder.clone(op, map);
  SmallVector<Value> results;
  for (Value v : block.getTerminator()->getOperands())
    results.push_back(map.lookupOrDefault(v));
  return results;
}

bool mlir::sparse_attn::isVectorizableRegion(Region &region) {
  for (Operation &op : region.front().without_terminator())
    if (!op.hasTrait<OpTrait::ConstantLike>() &&
        !(op.hasTrait<OpTrait::Elementwise>() &&
          op.hasTrait<OpTrait::Vectorizable>()))
      return false;
  return true;
}

FailureOr<SmallVector<Value>> mlir::sparse_attn::inlineRegionOnVectors(
    OpBuilder &builder, Location loc, Region &region, ValueRange args,
    int64_t lanes) {
  Block &block = region.front();
  IRMapping map;
  map.map(block.getArguments(), args);
  auto vectorOf = [&](Type t) { return VectorType::get({lanes}, t); };
  auto asVector = [&](Value v) -> Value {
    if (llvm::isa<VectorType>(v.getType()))
      return v;
    return vector::BroadcastOp::create(builder, loc, vectorOf(v.getType()), v);
  };
  for (Operation &op : block.without_terminator()) {
    bool onVectors = llvm::any_of(op.getOperands(), [&](Value v) {
      return llvm::isa<VectorType>(map.lookupOrDefault(v).getType());
    });
    if (!onVectors) {
      builder.clone(op, map);
      continue;
    }
    if (!op.hasTrait<OpTrait::Elementwise>() ||
        !op.hasTrait<OpTrait::Vectorizable>())
      return emitError(op.getLoc(), "cannot apply '")
             << op.getName() << "' to vectors";
    OperationState state(op.getLoc(), op.getName());
    for (Value v : op.getOperands())
      state.addOperands(asVector(map.lookupOrDefault(v)));
    for (Type t : op.getResultTypes())
      state.addTypes(vectorOf(t));
    for (NamedAttribute a : op.getDiscardableAttrs())
      state.addAttribute(a.getName(), a.getValue());
    state.propertiesAttr = op.getPropertiesAsAttribute();
    Operation *vec = builder.create(state);
    map.map(op.getResults(), vec->getResults());
  }
  SmallVector<Value> results;
  for (Value v : block.getTerminator()->getOperands())
    results.push_back(asVector(map.lookupOrDefault(v)));
  return results;
}

FailureOr<Value> mlir::sparse_attn::inlineScoreModOnVectors(
    OpBuilder &builder, Location loc, ScoreModOp scoreMod, Value s, Value b,
    Value h, Value q, Value k, Value sq, Value sk, int64_t lanes) {
  FailureOr<SmallVector<Value>> args =
      scoreModArgs(loc, scoreMod, s, b, h, q, k, sq, sk);
  if (failed(args))
    return failure();
  FailureOr<SmallVector<Value>> r =
      inlineRegionOnVectors(builder, loc, scoreMod.getBody(), *args, lanes);
  if (failed(r))
    return failure();
  return r->front();
}

//===----------------------------------------------------------------------===//
// Positional patterns (scalar and vector forms)
//===----------------------------------------------------------------------===//

/// -after <= d <= before.
static Value inWindow(PatternCodegen &g, Value d, int64_t before,
                      int64_t after) {
  return g.andi(g.cmp(arith::CmpIPredicate::sle, d, g.index(before)),
                g.cmp(arith::CmpIPredicate::sge, d, g.index(-after)));
}

/// d mod r == 0.
static Value divides(PatternCodegen &g, Value d, int64_t r) {
  if (r == 1)
    return g.boolean(true);
  Value rem =
      arith::RemSIOp::create(g.getBuilder(), g.getLoc(), d, g.index(r));
  return g.cmp(arith::CmpIPredicate::eq, rem, g.index(0));
}

FailureOr<Value> DensePatternAttr::buildAllowed(PatternCodegen &g) const {
  return g.boolean(true);
}
bool DensePatternAttr::supportsVectorCodegen() const { return true; }

FailureOr<Value> CausalAttr::buildAllowed(PatternCodegen &g) const {
  FailureOr<Value> q = g.alignedQueryPos(getBottomRight(), "causal");
  if (failed(q))
    return failure();
  return g.cmp(arith::CmpIPredicate::sle, g.keyPos(), *q);
}
bool CausalAttr::supportsVectorCodegen() const { return true; }

FailureOr<Value> WindowAttr::buildAllowed(PatternCodegen &g) const {
  FailureOr<Value> q = g.alignedQueryPos(getBottomRight(), "window");
  if (failed(q))
    return failure();
  Value d = arith::SubIOp::create(g.getBuilder(), g.getLoc(), *q, g.keyPos());
  return inWindow(g, d, getBefore(), getAfter());
}
bool WindowAttr::supportsVectorCodegen() const { return true; }

FailureOr<Value> DilatedAttr::buildAllowed(PatternCodegen &g) const {
  Value d = g.queryMinusKey();
  return g.andi(inWindow(g, d, getBefore(), getAfter()),
                divides(g, d, getDilation()));
}
bool DilatedAttr::supportsVectorCodegen() const { return true; }

FailureOr<Value> StridedAttr::buildAllowed(PatternCodegen &g) const {
  Value d = g.queryMinusKey();
  Value local = g.cmp(arith::CmpIPredicate::slt, d, g.index(getStride()));
  return g.andi(g.cmp(arith::CmpIPredicate::sge, d, g.index(0)),
                g.ori(local, divides(g, d, getStride())));
}
bool StridedAttr::supportsVectorCodegen() const { return true; }

FailureOr<Value> FixedAttr::buildAllowed(PatternCodegen &g) const {
  OpBuilder &b = g.getBuilder();
  Location loc = g.getLoc();
  Value l = g.index(getStride());
  Value qb = arith::DivUIOp::create(b, loc, g.queryPos(), l);
  Value kb = arith::DivUIOp::create(b, loc, g.keyPos(), l);
  Value kr = arith::RemUIOp::create(b, loc, g.keyPos(), l);
  return g.ori(g.cmp(arith::CmpIPredicate::eq, qb, kb),
               g.cmp(arith::CmpIPredicate::sge, kr,
                     g.index(getStride() - getSummary())));
}
bool FixedAttr::supportsVectorCodegen() const { return true; }

FailureOr<Value> GlobalAttr::buildAllowed(PatternCodegen &g) const {
  // Runs of consecutive tokens become one range test each, so
  // global<[0, ..., 255]> costs two comparisons per position.
  SmallVector<int64_t> tokens(getTokens().begin(), getTokens().end());
  llvm::sort(tokens);
  tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());
  Value any = g.boolean(false);
  auto inRun = [&](Value pos, int64_t lo, int64_t hi) -> Value {
    if (lo == hi)
      return g.cmp(arith::CmpIPredicate::eq, pos, g.index(lo));
    return g.andi(g.cmp(arith::CmpIPredicate::sge, pos, g.index(lo)),
                  g.cmp(arith::CmpIPredicate::sle, pos, g.index(hi)));
  };
  for (size_t i = 0; i < tokens.size();) {
    size_t j = i;
    while (j + 1 < tokens.size() && tokens[j + 1] == tokens[j] + 1)
      ++j;
    any = g.ori(any, g.ori(inRun(g.queryPos(), tokens[i], tokens[j]),
                           inRun(g.keyPos(), tokens[i], tokens[j])));
    i = j + 1;
  }
  return any;
}
bool GlobalAttr::supportsVectorCodegen() const { return true; }

FailureOr<Value> PrefixAttr::buildAllowed(PatternCodegen &g) const {
  return g.ori(
      g.cmp(arith::CmpIPredicate::slt, g.keyPos(), g.index(getLength())),
      g.cmp(arith::CmpIPredicate::sle, g.keyPos(), g.queryPos()));
}
bool PrefixAttr::supportsVectorCodegen() const { return true; }

//===----------------------------------------------------------------------===//
// Run-time tile classifiers of the positional patterns. With qL = q1 - 1 and
// kL = k1 - 1, the differences d = q - k of a tile are exactly the integers
// of [q0 - kL, qL - k0].
//===----------------------------------------------------------------------===//

namespace {
struct TileMath {
  PatternCodegen &g;
  const TileBounds &t;
  OpBuilder &b() { return g.getBuilder(); }
  Value c(int64_t v) { return g.index(v); }
  Value sub(Value x, Value y) {
    return arith::SubIOp::create(b(), g.getLoc(), x, y);
  }
  Value div(Value x, int64_t v) {
    return arith::DivUIOp::create(b(), g.getLoc(), x, c(v));
  }
  Value rem(Value x, int64_t v) {
    return arith::RemUIOp::create(b(), g.getLoc(), x, c(v));
  }
  Value lt(Value x, Value y) { return g.cmp(arith::CmpIPredicate::slt, x, y); }
  Value le(Value x, Value y) { return g.cmp(arith::CmpIPredicate::sle, x, y); }
  Value eq(Value x, Value y) { return g.cmp(arith::CmpIPredicate::eq, x, y); }
  Value no(Value x) {
    return arith::XOrIOp::create(b(), g.getLoc(), x, g.boolean(true));
  }
  Value qL() { return sub(t.q1, c(1)); }
  Value kL() { return sub(t.k1, c(1)); }
  Value dMin() { return sub(t.q0, kL()); }
  Value dMax() { return sub(qL(), t.k0); }
};

/// The window -after <= d <= before over the tile's differences.
TileKindValues windowKind(TileMath &m, int64_t before, int64_t after) {
  Value lo = m.dMin(), hi = m.dMax();
  Value full = m.g.andi(m.le(m.c(-after), lo), m.le(hi, m.c(before)));
  Value empty = m.g.ori(m.lt(hi, m.c(-after)), m.lt(m.c(before), lo));
  return {empty, full};
}
} // namespace

FailureOr<TileKindValues>
DensePatternAttr::buildTileKind(PatternCodegen &g, const TileBounds &) const {
  return TileKindValues{g.boolean(false), g.boolean(true)};
}

/// The tile with its query bounds moved by Sk - Sq (bottom-right
/// alignment); nullopt when the lengths are not known here.
static std::optional<TileBounds> alignedTile(PatternCodegen &g,
                                             const TileBounds &t,
                                             bool bottomRight) {
  if (!bottomRight)
    return t;
  if (!t.sq || !t.sk)
    return std::nullopt;
  OpBuilder &b = g.getBuilder();
  Value off = arith::SubIOp::create(b, g.getLoc(), t.sk, t.sq);
  TileBounds s = t;
  s.q0 = arith::AddIOp::create(b, g.getLoc(), t.q0, off);
  s.q1 = arith::AddIOp::create(b, g.getLoc(), t.q1, off);
  return s;
}

FailureOr<TileKindValues> CausalAttr::buildTileKind(PatternCodegen &g,
                                                    const TileBounds &t) const {
  std::optional<TileBounds> s = alignedTile(g, t, getBottomRight());
  if (!s)
    return g.partialTile();
  TileMath m{g, *s};
  return TileKindValues{m.lt(m.qL(), s->k0), m.le(m.kL(), s->q0)};
}

FailureOr<TileKindValues> WindowAttr::buildTileKind(PatternCodegen &g,
                                                    const TileBounds &t) const {
  std::optional<TileBounds> s = alignedTile(g, t, getBottomRight());
  if (!s)
    return g.partialTile();
  TileMath m{g, *s};
  return windowKind(m, getBefore(), getAfter());
}

FailureOr<TileKindValues>
DilatedAttr::buildTileKind(PatternCodegen &g, const TileBounds &t) const {
  TileMath m{g, t};
  TileKindValues w = windowKind(m, getBefore(), getAfter());
  // With dilation > 1, consecutive differences alternate: full only for 1.
  if (getDilation() != 1)
    w.full = g.boolean(false);
  return w;
}

FailureOr<TileKindValues>
StridedAttr::buildTileKind(PatternCodegen &g, const TileBounds &t) const {
  TileMath m{g, t};
  Value lo = m.dMin(), hi = m.dMax();
  // allowed iff d >= 0 and (d < stride or stride divides d).
  Value full = getStride() == 1
                   ? m.le(m.c(0), lo)
                   : g.andi(m.le(m.c(0), lo), m.lt(hi, m.c(getStride())));
  return TileKindValues{m.lt(hi, m.c(0)), full};
}

FailureOr<TileKindValues> FixedAttr::buildTileKind(PatternCodegen &g,
                                                   const TileBounds &t) const {
  TileMath m{g, t};
  int64_t l = getStride(), s = getSummary();
  Value qb0 = m.div(t.q0, l), qb1 = m.div(m.qL(), l);
  Value kb0 = m.div(t.k0, l), kb1 = m.div(m.kL(), l);
  Value oneKeyBlock = m.eq(kb0, kb1);
  // A summary column (k mod l >= l - s) inside [k0, kL]: the first one at
  // or after k0.
  Value summaryInTile = g.boolean(false);
  Value allSummary = g.boolean(false);
  if (s > 0) {
    Value r0 = m.rem(t.k0, l);
    Value atK0 = m.le(m.c(l - s), r0);
    Value next = arith::AddIOp::create(g.getBuilder(), g.getLoc(),
                                       m.sub(t.k0, r0), m.c(l - s));
    Value first = arith::SelectOp::create(g.getBuilder(), g.getLoc(), atK0,
                                          t.k0, next);
    summaryInTile = m.le(first, m.kL());
    allSummary = g.andi(oneKeyBlock, atK0);
  }
  Value sameBlock =
      g.andi(g.andi(m.eq(qb0, qb1), oneKeyBlock), m.eq(qb0, kb0));
  Value full = g.ori(sameBlock, allSummary);
  Value disjoint = g.ori(m.lt(kb1, qb0), m.lt(qb1, kb0));
  return TileKindValues{g.andi(disjoint, m.no(summaryInTile)), full};
}

FailureOr<TileKindValues> GlobalAttr::buildTileKind(PatternCodegen &g,
                                                    const TileBounds &t) const {
  TileMath m{g, t};
  SmallVector<int64_t> tokens(getTokens().begin(), getTokens().end());
  llvm::sort(tokens);
  tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());
  Value hit = g.boolean(false), cover = g.boolean(false);
  Value qL = m.qL(), kL = m.kL();
  for (size_t i = 0; i < tokens.size();) {
    size_t j = i;
    while (j + 1 < tokens.size() && tokens[j + 1] == tokens[j] + 1)
      ++j;
    Value lo = m.c(tokens[i]), hi = m.c(tokens[j]);
    // The run [lo, hi] meets / covers the query range or the key range.
    for (auto [first, last] : {std::pair(t.q0, qL), std::pair(t.k0, kL)}) {
      hit = g.ori(hit, g.andi(m.le(first, hi), m.le(lo, last)));
      cover = g.ori(cover, g.andi(m.le(lo, first), m.le(last, hi)));
    }
    i = j + 1;
  }
  return TileKindValues{m.no(hit), cover};
}

FailureOr<TileKindValues> PrefixAttr::buildTileKind(PatternCodegen &g,
                                                    const TileBounds &t) const {
  TileMath m{g, t};
  Value len = m.c(getLength());
  Value kL = m.kL();
  Value full = g.ori(m.lt(kL, len), m.le(kL, t.q0));
  Value empty = g.andi(m.le(len, t.k0), m.lt(m.qL(), t.k0));
  return TileKindValues{empty, full};
}

//===----------------------------------------------------------------------===//
// Table patterns (scalar form: one constant-table load per position)
//===----------------------------------------------------------------------===//

FailureOr<Value> RandomAttr::buildAllowed(PatternCodegen &g) const {
  const PatternCodegenInputs &in = g.getInputs();
  if (ShapedType::isDynamic(in.sq) || ShapedType::isDynamic(in.sk))
    return emitError(g.getLoc(), "#sparse_attn.random needs static sequence "
                                 "lengths to build its block table");
  return g.tableEntry(buildRandomTable(*this, in.sq, in.sk), getBlock(),
                      getBlock());
}

FailureOr<Value> BlocksAttr::buildAllowed(PatternCodegen &g) const {
  return g.tableEntry(getLayout(), getBlockQ(), getBlockK());
}

//===----------------------------------------------------------------------===//
// segments
//===----------------------------------------------------------------------===//

FailureOr<Value> SegmentsAttr::buildAllowed(PatternCodegen &g) const {
  Value qs = g.querySegment();
  Value ks = g.keySegment();
  return g.cmp(arith::CmpIPredicate::eq, qs, ks);
}
bool SegmentsAttr::impliesSameSegment() const { return true; }
Attribute SegmentsAttr::withoutSegments() const {
  return DensePatternAttr::get(getContext());
}

//===----------------------------------------------------------------------===//
// union, intersect
//===----------------------------------------------------------------------===//

static FailureOr<Value> foldComponents(PatternCodegen &g,
                                       ArrayRef<Attribute> components,
                                       bool isUnion) {
  Value acc;
  for (Attribute c : components) {
    FailureOr<Value> v = g.emit(c);
    if (failed(v))
      return failure();
    acc = acc ? (isUnion ? g.ori(acc, *v) : g.andi(acc, *v)) : *v;
  }
  return acc;
}

/// Union: empty if every component is, full if one is. Intersection: empty
/// if one is, full if every component is.
static FailureOr<TileKindValues>
foldComponentKinds(PatternCodegen &g, ArrayRef<Attribute> components,
                   const TileBounds &tile, bool isUnion) {
  TileKindValues acc;
  for (Attribute c : components) {
    FailureOr<TileKindValues> v = g.classify(c, tile);
    if (failed(v))
      return failure();
    if (!acc.empty) {
      acc = *v;
      continue;
    }
    acc.empty = isUnion ? g.andi(acc.empty, v->empty) : g.ori(acc.empty, v->empty);
    acc.full = isUnion ? g.ori(acc.full, v->full) : g.andi(acc.full, v->full);
  }
  return acc;
}

static SmallVector<Attribute> stripSegments(ArrayRef<Attribute> parts) {
  SmallVector<Attribute> out;
  for (Attribute p : parts)
    out.push_back(withoutSegments(p));
  return out;
}

FailureOr<Value> UnionAttr::buildAllowed(PatternCodegen &g) const {
  return foldComponents(g, getComponents(), /*isUnion=*/true);
}
FailureOr<TileKindValues> UnionAttr::buildTileKind(PatternCodegen &g,
                                                   const TileBounds &t) const {
  return foldComponentKinds(g, getComponents(), t, /*isUnion=*/true);
}
bool UnionAttr::supportsVectorCodegen() const {
  return llvm::all_of(getComponents(), isVectorizablePattern);
}
bool UnionAttr::impliesSameSegment() const {
  return !getComponents().empty() &&
         llvm::all_of(getComponents(), ::mlir::sparse_attn::impliesSameSegment);
}
Attribute UnionAttr::withoutSegments() const {
  return UnionAttr::get(getContext(), stripSegments(getComponents()));
}

FailureOr<Value> IntersectAttr::buildAllowed(PatternCodegen &g) const {
  return foldComponents(g, getComponents(), /*isUnion=*/false);
}
FailureOr<TileKindValues>
IntersectAttr::buildTileKind(PatternCodegen &g, const TileBounds &t) const {
  return foldComponentKinds(g, getComponents(), t, /*isUnion=*/false);
}
bool IntersectAttr::supportsVectorCodegen() const {
  return llvm::all_of(getComponents(), isVectorizablePattern);
}
bool IntersectAttr::impliesSameSegment() const {
  return llvm::any_of(getComponents(), ::mlir::sparse_attn::impliesSameSegment);
}
Attribute IntersectAttr::withoutSegments() const {
  return IntersectAttr::get(getContext(), stripSegments(getComponents()));
}

//===----------------------------------------------------------------------===//
// custom
//===----------------------------------------------------------------------===//

FailureOr<Value> CustomAttr::buildAllowed(PatternCodegen &g) const {
  Operation *scope = g.getInputs().symbolScope;
  auto mask = llvm::dyn_cast_or_null<MaskOp>(
      scope ? SymbolTable::lookupNearestSymbolFrom(scope, getMask())
            : nullptr);
  if (!mask)
    return emitError(g.getLoc(), "custom mask ") << getMask() << " not found";
  SmallVector<Value> args{g.batchIdx(), g.headIdx(), g.queryPos(),
                          g.keyPos()};
  if (mask.getBody().getNumArguments() == 6) {
    std::string user = ("custom mask @" + getMask().getValue()).str();
    FailureOr<Value> sq = g.problemSize(0, user), sk = g.problemSize(1, user);
    if (failed(sq) || failed(sk))
      return failure();
    args.append({*sq, *sk});
  }
  return inlineRegion(g.getBuilder(), mask.getBody(), args).front();
}
