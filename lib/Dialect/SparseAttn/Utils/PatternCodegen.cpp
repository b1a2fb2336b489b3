//===- PatternCodegen.cpp - emit pattern predicates as IR -----------------===//

#include "sparse_attn/Dialect/SparseAttn/Utils/PatternCodegen.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::sparse_attn;

bool mlir::sparse_attn::impliesSameSegment(Attribute pattern) {
  if (llvm::isa<SegmentsAttr>(pattern))
    return true;
  if (auto i = llvm::dyn_cast<IntersectAttr>(pattern))
    return llvm::any_of(i.getComponents(), impliesSameSegment);
  if (auto u = llvm::dyn_cast<UnionAttr>(pattern))
    return !u.getComponents().empty() &&
           llvm::all_of(u.getComponents(), impliesSameSegment);
  return false;
}

Attribute mlir::sparse_attn::withoutSegments(Attribute pattern) {
  MLIRContext *ctx = pattern.getContext();
  if (llvm::isa<SegmentsAttr>(pattern))
    return DensePatternAttr::get(ctx);
  auto strip = [](ArrayRef<Attribute> parts) {
    SmallVector<Attribute> out;
    for (Attribute p : parts)
      out.push_back(withoutSegments(p));
    return out;
  };
  if (auto i = llvm::dyn_cast<IntersectAttr>(pattern))
    return IntersectAttr::get(ctx, strip(i.getComponents()));
  if (auto u = llvm::dyn_cast<UnionAttr>(pattern))
    return UnionAttr::get(ctx, strip(u.getComponents()));
  return pattern;
}

bool mlir::sparse_attn::isVectorizablePattern(Attribute pattern) {
  if (auto u = llvm::dyn_cast<UnionAttr>(pattern))
    return llvm::all_of(u.getComponents(), isVectorizablePattern);
  if (auto i = llvm::dyn_cast<IntersectAttr>(pattern))
    return llvm::all_of(i.getComponents(), isVectorizablePattern);
  return llvm::isa<DensePatternAttr, CausalAttr, WindowAttr, DilatedAttr,
                   StridedAttr, FixedAttr, PrefixAttr, GlobalAttr>(pattern);
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

namespace {
struct Emitter {
  OpBuilder &b;
  Location loc;
  const PatternCodegenInputs &in;

  Value idx(int64_t v) {
    if (in.lanes == 0)
      return arith::ConstantIndexOp::create(b, loc, v);
    auto type = VectorType::get({in.lanes}, b.getIndexType());
    return arith::ConstantOp::create(
        b, loc, type,
        DenseElementsAttr::get(type, ArrayRef<Attribute>{b.getIndexAttr(v)}));
  }
  Value boolean(bool v) {
    if (in.lanes == 0)
      return arith::ConstantIntOp::create(b, loc, v, 1);
    auto type = VectorType::get({in.lanes}, b.getI1Type());
    return arith::ConstantOp::create(b, loc, type,
                                     DenseElementsAttr::get(type, v));
  }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  Value andi(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  Value ori(Value x, Value y) { return arith::OrIOp::create(b, loc, x, y); }
  Value diff() { return arith::SubIOp::create(b, loc, in.q, in.k); }
  /// -after <= d <= before.
  Value inWindow(Value d, int64_t before, int64_t after) {
    return andi(cmp(arith::CmpIPredicate::sle, d, idx(before)),
                cmp(arith::CmpIPredicate::sge, d, idx(-after)));
  }
  Value divides(Value d, int64_t r) {
    if (r == 1)
      return boolean(true);
    Value rem = arith::RemSIOp::create(b, loc, d, idx(r));
    return cmp(arith::CmpIPredicate::eq, rem, idx(0));
  }
  /// Entry (q / bq, k / bk) of a constant layout; positions past the layout
  /// (possible with dynamic sequence lengths) are not allowed.
  Value table(DenseIntElementsAttr t, int64_t bq, int64_t bk) {
    auto shape = llvm::cast<ShapedType>(t.getType()).getShape();
    Value i = arith::DivUIOp::create(b, loc, in.q, idx(bq));
    Value j = arith::DivUIOp::create(b, loc, in.k, idx(bk));
    Value inRange = andi(cmp(arith::CmpIPredicate::ult, i, idx(shape[0])),
                         cmp(arith::CmpIPredicate::ult, j, idx(shape[1])));
    Value ci = arith::MinUIOp::create(b, loc, i, idx(shape[0] - 1));
    Value cj = arith::MinUIOp::create(b, loc, j, idx(shape[1] - 1));
    return andi(inRange, in.loadTable(b, loc, t, ci, cj));
  }

  FailureOr<Value> emit(Attribute pattern) {
    return llvm::TypeSwitch<Attribute, FailureOr<Value>>(pattern)
        .Case([&](DensePatternAttr) { return boolean(true); })
        .Case([&](CausalAttr) {
          return cmp(arith::CmpIPredicate::sle, in.k, in.q);
        })
        .Case([&](WindowAttr w) {
          return inWindow(diff(), w.getBefore(), w.getAfter());
        })
        .Case([&](DilatedAttr w) {
          Value d = diff();
          return andi(inWindow(d, w.getBefore(), w.getAfter()),
                      divides(d, w.getDilation()));
        })
        .Case([&](StridedAttr s) {
          Value d = diff();
          Value local = cmp(arith::CmpIPredicate::slt, d, idx(s.getStride()));
          return andi(cmp(arith::CmpIPredicate::sge, d, idx(0)),
                      ori(local, divides(d, s.getStride())));
        })
        .Case([&](FixedAttr f) {
          Value l = idx(f.getStride());
          Value qb = arith::DivUIOp::create(b, loc, in.q, l);
          Value kb = arith::DivUIOp::create(b, loc, in.k, l);
          Value kr = arith::RemUIOp::create(b, loc, in.k, l);
          return ori(cmp(arith::CmpIPredicate::eq, qb, kb),
                     cmp(arith::CmpIPredicate::sge, kr,
                         idx(f.getStride() - f.getSummary())));
        })
        .Case([&](GlobalAttr g) {
          // Runs of consecutive tokens become one range test each, so
          // global<[0, ..., 255]> costs two comparisons per position.
          SmallVector<int64_t> tokens(g.getTokens().begin(),
                                      g.getTokens().end());
          llvm::sort(tokens);
          tokens.erase(std::unique(tokens.begin(), tokens.end()),
                       tokens.end());
          Value any = boolean(false);
          auto inRun = [&](Value pos, int64_t lo, int64_t hi) -> Value {
            if (lo == hi)
              return cmp(arith::CmpIPredicate::eq, pos, idx(lo));
            return andi(cmp(arith::CmpIPredicate::sge, pos, idx(lo)),
                        cmp(arith::CmpIPredicate::sle, pos, idx(hi)));
          };
          for (size_t i = 0; i < tokens.size();) {
            size_t j = i;
            while (j + 1 < tokens.size() && tokens[j + 1] == tokens[j] + 1)
              ++j;
            any = ori(any, ori(inRun(in.q, tokens[i], tokens[j]),
                               inRun(in.k, tokens[i], tokens[j])));
            i = j + 1;
          }
          return any;
        })
        .Case([&](RandomAttr r) -> FailureOr<Value> {
          if (ShapedType::isDynamic(in.sq) || ShapedType::isDynamic(in.sk))
            return emitError(loc, "#sparse_attn.random needs static sequence "
                                  "lengths to build its block table");
          return table(buildRandomTable(r, in.sq, in.sk), r.getBlock(),
                       r.getBlock());
        })
        .Case([&](BlocksAttr bl) {
          return table(bl.getLayout(), bl.getBlockQ(), bl.getBlockK());
        })
        .Case([&](PrefixAttr p) {
          return ori(cmp(arith::CmpIPredicate::slt, in.k, idx(p.getLength())),
                     cmp(arith::CmpIPredicate::sle, in.k, in.q));
        })
        .Case([&](SegmentsAttr) {
          auto read = [&](auto callback, Value mem, Value pos) -> Value {
            if (callback)
              return callback(b, loc, in.b, pos);
            return memref::LoadOp::create(b, loc, mem, ValueRange{in.b, pos});
          };
          Value qs = read(in.querySegment, in.querySegmentIds, in.q);
          Value ks = read(in.keySegment, in.keySegmentIds, in.k);
          return cmp(arith::CmpIPredicate::eq, qs, ks);
        })
        .Case([&](UnionAttr u) { return fold(u.getComponents(), true); })
        .Case([&](IntersectAttr i) { return fold(i.getComponents(), false); })
        .Case([&](CustomAttr c) -> FailureOr<Value> {
          auto mask = llvm::dyn_cast_or_null<MaskOp>(
              SymbolTable::lookupNearestSymbolFrom(in.symbolScope,
                                                   c.getMask()));
          if (!mask)
            return emitError(loc, "custom mask ")
                   << c.getMask() << " not found";
          return inlineRegion(b, mask.getBody(), {in.b, in.h, in.q, in.k})
              .front();
        })
        .Default([&](Attribute a) -> FailureOr<Value> {
          return emitError(loc, "no code generation for pattern ") << a;
        });
  }

  FailureOr<Value> fold(ArrayRef<Attribute> components, bool isUnion) {
    Value acc;
    for (Attribute c : components) {
      FailureOr<Value> v = emit(c);
      if (failed(v))
        return failure();
      acc = acc ? (isUnion ? ori(acc, *v) : andi(acc, *v)) : *v;
    }
    return acc;
  }
};
} // namespace

FailureOr<Value>
mlir::sparse_attn::buildAllowed(OpBuilder &builder, Location loc,
                                Attribute pattern,
                                const PatternCodegenInputs &inputs) {
  Emitter e{builder, loc, inputs};
  return e.emit(pattern);
}

LogicalResult mlir::sparse_attn::finishAttentionLowering(ModuleOp module,
                                                         StringRef what) {
  bool left = false;
  module.walk([&](AttentionOp op) {
    op.emitOpError("could not be lowered to ") << what;
    left = true;
  });
  if (left)
    return failure();
  for (Operation &op : llvm::make_early_inc_range(*module.getBody()))
    if (llvm::isa<MaskOp, ScoreModOp>(op))
      op.erase();
  return success();
}
