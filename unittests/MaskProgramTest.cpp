//===- MaskProgramTest.cpp - compiled mask regions against the interpreter
//-===//
//
// Property tests of `MaskProgram` (issue #14) on randomly generated mask
// regions over index, i32, i8 and i1 values (every supported operation,
// wrapping casts, unsigned compares), at random sizes and rectangles that
// are not aligned to anything. The oracle is the interpreter of
// PatternAnalysis.cpp with compilation off, evaluated on every element:
//
// 1. the abstract classification never claims Full or Empty wrongly;
// 2. `classify` (abstract, halving, lanes) equals brute force exactly;
// 3. `evaluateRow` and `evaluate` equal the interpreter on every element;
// 4. orderings of affine expressions are classified exactly by the
//    abstract evaluation alone (the documented exactness claim).
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Dialect/SparseAttn/Analysis/MaskProgram.h"
#include "sparse_attn/Dialect/SparseAttn/Analysis/PatternAnalysis.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Index/IR/IndexDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"
#include <gtest/gtest.h>
#include <random>

using namespace mlir;
using namespace mlir::sparse_attn;

namespace {

/// Generates the text of a random `sparse_attn.mask @m`.
class RegionGenerator {
public:
  explicit RegionGenerator(std::mt19937_64 &rng) : rng(rng) {}

  std::string generate(bool withSizes) {
    std::string text;
    llvm::raw_string_ostream os(text);
    pools.clear();
    body.clear();
    next = 0;
    os << "sparse_attn.mask @m(%b: index, %h: index, %q: index, %k: index";
    pools["index"] = {"%b", "%h", "%q", "%k", "%q", "%k", "%q", "%k"};
    if (withSizes) {
      os << ", %sq: index, %sk: index";
      pools["index"].push_back("%sq");
      pools["index"].push_back("%sk");
    }
    os << ") {\n";
    for (int c : {0, 1, 2, 7, 64, -3})
      pools["index"].push_back(constant("index", c));
    int steps = 4 + pick(14);
    for (int s = 0; s < steps; ++s)
      step();
    // At least one comparison, then combine the i1 pool.
    for (int s = 0; s < 1 + pick(3); ++s)
      compare(anyIntType());
    std::string result = fromPool("i1");
    for (int s = pick(3); s > 0; --s) {
      const char *ops[] = {"andi", "ori", "xori"};
      result = emit("i1", "arith." + std::string(ops[pick(3)]) + " " + result +
                              ", " + fromPool("i1") + " : i1");
    }
    os << body << "  sparse_attn.yield " << result << " : i1\n}\n";
    return text;
  }

private:
  int pick(int n) { return static_cast<int>(rng() % n); }

  std::string emit(const std::string &type, const std::string &rhs) {
    std::string name = "%v" + std::to_string(next++);
    body += "  " + name + " = " + rhs + "\n";
    pools[type].push_back(name);
    return name;
  }
  std::string constant(const std::string &type, int64_t v) {
    return emit(type, "arith.constant " + std::to_string(v) + " : " + type);
  }
  std::string fromPool(const std::string &type) {
    auto &p = pools[type];
    if (p.empty()) {
      if (type == "i1")
        compare("index");
      else
        return constant(type, pick(5));
    }
    return p[pick(p.size())];
  }
  std::string anyIntType() {
    const char *types[] = {"index", "index", "index", "i32", "i8"};
    std::string t = types[pick(5)];
    return pools[t].empty() ? "index" : t;
  }
  static unsigned widthOf(const std::string &t) {
    return t == "index" ? 64 : t == "i32" ? 32 : t == "i8" ? 8 : 1;
  }

  void compare(const std::string &t) {
    const char *preds[] = {"eq",  "ne",  "slt", "sle", "sgt",
                           "sge", "ult", "ule", "ugt", "uge"};
    emit("i1", "arith.cmpi " + std::string(preds[pick(10)]) + ", " +
                   fromPool(t) + ", " + fromPool(t) + " : " + t);
  }

  void step() {
    std::string t = anyIntType();
    unsigned w = widthOf(t);
    switch (pick(9)) {
    case 0:
    case 1: { // add / sub / mul (by a small constant or a value)
      const char *ops[] = {"addi", "subi", "addi", "subi", "muli"};
      std::string op = ops[pick(5)];
      std::string rhs =
          op == "muli" && pick(3) ? constant(t, pick(9) - 3) : fromPool(t);
      emit(t, "arith." + op + " " + fromPool(t) + ", " + rhs + " : " + t);
      return;
    }
    case 2: { // division and remainder by a constant
      const char *ops[] = {"divsi",      "divui",     "remsi",    "remui",
                           "floordivsi", "ceildivsi", "ceildivui"};
      std::string op = ops[pick(7)];
      int64_t d = 0;
      while (d == 0 || (d == -1 && op.find("ui") == std::string::npos))
        d = pick(2) ? 1 + pick(40) : pick(200) - 100;
      if (d < 0 && op.find("ui") != std::string::npos && w == 8)
        d = 3;
      emit(t, "arith." + op + " " + fromPool(t) + ", " + constant(t, d) +
                  " : " + t);
      return;
    }
    case 3: { // min / max
      const char *ops[] = {"minsi", "maxsi", "minui", "maxui"};
      emit(t, "arith." + std::string(ops[pick(4)]) + " " + fromPool(t) + ", " +
                  fromPool(t) + " : " + t);
      return;
    }
    case 4: { // bitwise, often with a mask constant
      const char *ops[] = {"andi", "ori", "xori"};
      std::string rhs =
          pick(2) ? constant(t, (int64_t(1) << pick(7)) - 1) : fromPool(t);
      emit(t, "arith." + std::string(ops[pick(3)]) + " " + fromPool(t) + ", " +
                  rhs + " : " + t);
      return;
    }
    case 5: { // shifts by a constant below the width
      const char *ops[] = {"shli", "shrsi", "shrui"};
      emit(t, "arith." + std::string(ops[pick(3)]) + " " + fromPool(t) + ", " +
                  constant(t, pick(std::min<unsigned>(w, 12))) + " : " + t);
      return;
    }
    case 6: { // casts between index, i32 and i8 (wrapping)
      std::string v = fromPool("index");
      switch (pick(5)) {
      case 0:
        emit("i32", "arith.index_cast " + v + " : index to i32");
        return;
      case 1:
        emit("i8", "arith.index_castui " + v + " : index to i8");
        return;
      case 2:
        if (!pools["i32"].empty()) {
          emit("index",
               "arith.index_castui " + fromPool("i32") + " : i32 to index");
          return;
        }
        [[fallthrough]];
      case 3:
        if (!pools["i8"].empty()) {
          emit("i32", (pick(2) ? "arith.extui " : "arith.extsi ") +
                          fromPool("i8") + " : i8 to i32");
          return;
        }
        [[fallthrough]];
      default:
        if (!pools["i32"].empty())
          emit("i8", "arith.trunci " + fromPool("i32") + " : i32 to i8");
        return;
      }
    }
    case 7: // a comparison, fed back through select or extui
      compare(t);
      if (pick(2))
        emit(t, "arith.select " + fromPool("i1") + ", " + fromPool(t) + ", " +
                    fromPool(t) + " : " + t);
      else
        emit(t, (t == "index" ? "arith.index_castui " : "arith.extui ") +
                    fromPool("i1") + " : i1 to " + t);
      return;
    default:
      compare(t);
      return;
    }
  }

  std::mt19937_64 &rng;
  std::map<std::string, std::vector<std::string>> pools;
  std::string body;
  int next = 0;
};

class MaskProgramTest : public ::testing::Test {
protected:
  MaskProgramTest() {
    context.loadDialect<SparseAttnDialect, arith::ArithDialect,
                        index::IndexDialect>();
  }

  OwningOpRef<ModuleOp> parse(const std::string &text) {
    return parseSourceString<ModuleOp>(text, &context);
  }

  MLIRContext context;
};

TileKind bruteForce(const MaskInterpreter &oracle, FlatSymbolRefAttr name,
                    const PatternContext &ctx, int64_t q0, int64_t q1,
                    int64_t k0, int64_t k1) {
  bool any = false, all = true;
  for (int64_t q = q0; q < q1; ++q)
    for (int64_t k = k0; k < k1; ++k) {
      bool a = oracle.evaluate(name, ctx, q, k);
      any |= a;
      all &= a;
    }
  return all ? TileKind::Full : any ? TileKind::Partial : TileKind::Empty;
}

TEST_F(MaskProgramTest, RandomRegionsAgreeWithTheInterpreter) {
  std::mt19937_64 rng(14);
  RegionGenerator gen(rng);
  int programs = 0, rects = 0, decided = 0, claims = 0;
  for (int iter = 0; iter < 400; ++iter) {
    bool withSizes = iter % 3 == 0;
    std::string text = gen.generate(withSizes);
    OwningOpRef<ModuleOp> module = parse(text);
    ASSERT_TRUE(module) << text;
    auto mask = *module->getOps<MaskOp>().begin();
    std::unique_ptr<MaskProgram> prog = MaskProgram::compile(mask);
    ASSERT_TRUE(prog) << "not compiled:\n" << text;
    ++programs;
    MaskInterpreter oracle(mask, /*compile=*/false);
    FlatSymbolRefAttr name = FlatSymbolRefAttr::get(&context, "m");
    for (int size = 0; size < 3; ++size) {
      PatternContext ctx(1 + rng() % 150, 1 + rng() % 150);
      ctx.batch = rng() % 3;
      ctx.head = rng() % 5;
      // Every element once, then rectangles.
      std::vector<uint8_t> row(ctx.sk);
      for (int64_t q = 0; q < ctx.sq; q += 1 + rng() % 7) {
        prog->evaluateRow(ctx.batch, ctx.head, ctx.sq, ctx.sk, q, 0, ctx.sk,
                          row.data());
        for (int64_t k = 0; k < ctx.sk; ++k) {
          bool want = oracle.evaluate(name, ctx, q, k);
          ASSERT_EQ(bool(row[k]), want) << text << "q=" << q << " k=" << k;
          ASSERT_EQ(prog->evaluate(ctx.batch, ctx.head, ctx.sq, ctx.sk, q, k),
                    want);
        }
      }
      for (int r = 0; r < 12; ++r) {
        int64_t q0 = rng() % ctx.sq, k0 = rng() % ctx.sk;
        int64_t q1 = q0 + 1 + rng() % (ctx.sq - q0);
        int64_t k1 = k0 + 1 + rng() % (ctx.sk - k0);
        TileKind want = bruteForce(oracle, name, ctx, q0, q1, k0, k1);
        MaskBox box;
        int64_t lo[] = {ctx.batch, ctx.head, q0, k0, ctx.sq, ctx.sk};
        int64_t hi[] = {ctx.batch, ctx.head, q1 - 1, k1 - 1, ctx.sq, ctx.sk};
        std::copy(lo, lo + kNumMaskVars, box.lo);
        std::copy(hi, hi + kNumMaskVars, box.hi);
        TileKind abstract = prog->abstractClassify(box);
        if (abstract != TileKind::Partial) {
          ++claims;
          ASSERT_EQ(abstract, want)
              << "wrong abstract claim on [" << q0 << ", " << q1 << ") x ["
              << k0 << ", " << k1 << ") at sizes " << ctx.sq << "x" << ctx.sk
              << "\n"
              << text;
        }
        decided += abstract == want;
        ASSERT_EQ(
            prog->classify(ctx.batch, ctx.head, ctx.sq, ctx.sk, q0, q1, k0, k1),
            want)
            << text;
        ++rects;
      }
    }
  }
  EXPECT_EQ(programs, 400);
  // Not vacuous: the abstract evaluation decides a good share by itself.
  EXPECT_GT(claims, rects / 5) << claims << " of " << rects;
  EXPECT_GT(decided, rects / 4);
}

/// a*q + b*k + c <pred> 0 over random rectangles: decided by the abstract
/// evaluation alone, exactly (including through i32 arithmetic that does
/// not wrap, and after a remainder whose quotient is one over the box).
TEST_F(MaskProgramTest, AffineOrderingsAreExact) {
  std::mt19937_64 rng(1414);
  const char *preds[] = {"slt", "sle", "sgt", "sge"};
  for (int iter = 0; iter < 300; ++iter) {
    int64_t a = int64_t(rng() % 7) - 3, b = int64_t(rng() % 7) - 3,
            c = int64_t(rng() % 201) - 100;
    std::string pred = preds[rng() % 4];
    std::string text =
        "sparse_attn.mask @m(%b: index, %h: index, %q: index, %k: index) {\n"
        "  %a = arith.constant " +
        std::to_string(a) +
        " : index\n"
        "  %bb = arith.constant " +
        std::to_string(b) +
        " : index\n"
        "  %c = arith.constant " +
        std::to_string(c) +
        " : index\n"
        "  %z = arith.constant 0 : index\n"
        "  %aq = arith.muli %a, %q : index\n"
        "  %bk = arith.muli %k, %bb : index\n"
        "  %s = arith.addi %aq, %bk : index\n"
        "  %t = arith.addi %s, %c : index\n"
        "  %ok = arith.cmpi " +
        pred +
        ", %t, %z : index\n"
        "  sparse_attn.yield %ok : i1\n}\n";
    OwningOpRef<ModuleOp> module = parse(text);
    ASSERT_TRUE(module);
    auto mask = *module->getOps<MaskOp>().begin();
    std::unique_ptr<MaskProgram> prog = MaskProgram::compile(mask);
    ASSERT_TRUE(prog);
    MaskInterpreter oracle(mask, false);
    FlatSymbolRefAttr name = FlatSymbolRefAttr::get(&context, "m");
    PatternContext ctx(200, 200);
    for (int r = 0; r < 20; ++r) {
      int64_t q0 = rng() % 200, k0 = rng() % 200;
      int64_t q1 = q0 + 1 + rng() % (200 - q0),
              k1 = k0 + 1 + rng() % (200 - k0);
      MaskBox box;
      box.lo[kVarQ] = q0;
      box.hi[kVarQ] = q1 - 1;
      box.lo[kVarK] = k0;
      box.hi[kVarK] = k1 - 1;
      ASSERT_EQ(prog->abstractClassify(box),
                bruteForce(oracle, name, ctx, q0, q1, k0, k1))
          << text << "[" << q0 << ", " << q1 << ") x [" << k0 << ", " << k1
          << ")";
    }
  }
}

/// Division-like operations of an affine expression f by a constant,
/// compared with a constant, with f itself or with f's remainder identity:
/// where the abstract evaluation keeps an affine form through the operation
/// (one quotient over the box), a wrong form would be claimed here.
TEST_F(MaskProgramTest, DivisionFamiliesAreSound) {
  std::mt19937_64 rng(4141);
  const char *ops[] = {"remsi",     "remui", "divsi", "divui", "floordivsi",
                       "ceildivsi", "andi",  "shrsi", "shrui", "shli"};
  const char *preds[] = {"eq", "ne", "slt", "sle", "sgt", "sge", "ult", "uge"};
  int claims = 0, total = 0;
  for (int iter = 0; iter < 600; ++iter) {
    int64_t a = int64_t(rng() % 5) - 2, b = int64_t(rng() % 5) - 2,
            c = int64_t(rng() % 301) - 150;
    std::string op = ops[rng() % 10];
    int64_t d = op == "andi"             ? (int64_t(1) << (rng() % 7)) - 1
                : op.rfind("sh", 0) == 0 ? int64_t(rng() % 6)
                                         : int64_t(1 + rng() % 70);
    if (op != "andi" && op.rfind("sh", 0) != 0 &&
        op.find("ui") == std::string::npos && rng() % 3 == 0)
      d = -d - 1; // negative signed divisors too (never -1)
    std::string other;
    switch (rng() % 3) {
    case 0:
      other = "%c5";
      break; // a constant
    case 1:
      other = "%f";
      break; // the dividend itself
    default:
      other = "%g";
      break; // another affine expression
    }
    std::string text =
        "sparse_attn.mask @m(%b: index, %h: index, %q: index, %k: index) {\n"
        "  %a = arith.constant " +
        std::to_string(a) +
        " : index\n"
        "  %bb = arith.constant " +
        std::to_string(b) +
        " : index\n"
        "  %c = arith.constant " +
        std::to_string(c) +
        " : index\n"
        "  %d = arith.constant " +
        std::to_string(d) +
        " : index\n"
        "  %c5 = arith.constant " +
        std::to_string(int64_t(rng() % 11) - 5) +
        " : index\n"
        "  %aq = arith.muli %a, %q : index\n"
        "  %bk = arith.muli %k, %bb : index\n"
        "  %s = arith.addi %aq, %bk : index\n"
        "  %f = arith.addi %s, %c : index\n"
        "  %g = arith.subi %q, %k : index\n"
        "  %r = arith." +
        op +
        " %f, %d : index\n"
        "  %ok = arith.cmpi " +
        preds[rng() % 8] + ", %r, " + other +
        " : index\n"
        "  sparse_attn.yield %ok : i1\n}\n";
    OwningOpRef<ModuleOp> module = parse(text);
    ASSERT_TRUE(module) << text;
    auto mask = *module->getOps<MaskOp>().begin();
    std::unique_ptr<MaskProgram> prog = MaskProgram::compile(mask);
    ASSERT_TRUE(prog);
    MaskInterpreter oracle(mask, false);
    FlatSymbolRefAttr name = FlatSymbolRefAttr::get(&context, "m");
    PatternContext ctx(120, 120);
    for (int r = 0; r < 20; ++r) {
      // Small rectangles too, where one quotient covers the box.
      int64_t q0 = rng() % 120, k0 = rng() % 120;
      int64_t q1 =
          q0 + 1 + rng() % std::min<int64_t>(120 - q0, r % 2 ? 6 : 120);
      int64_t k1 =
          k0 + 1 + rng() % std::min<int64_t>(120 - k0, r % 2 ? 6 : 120);
      MaskBox box;
      box.lo[kVarQ] = q0;
      box.hi[kVarQ] = q1 - 1;
      box.lo[kVarK] = k0;
      box.hi[kVarK] = k1 - 1;
      TileKind abstract = prog->abstractClassify(box);
      ++total;
      if (abstract == TileKind::Partial)
        continue;
      ++claims;
      ASSERT_EQ(abstract, bruteForce(oracle, name, ctx, q0, q1, k0, k1))
          << text << "[" << q0 << ", " << q1 << ") x [" << k0 << ", " << k1
          << ")";
    }
  }
  EXPECT_GT(claims, total / 4) << claims << " of " << total;
}

/// The whole block analysis of a custom pattern (compiled masks, rows of
/// tiles in parallel, composed with a built-in) against the interpreter's
/// brute force, at sizes the tile does not divide.
TEST_F(MaskProgramTest, BlockClassificationOfRegionsIsExact) {
  std::mt19937_64 rng(77);
  RegionGenerator gen(rng);
  context.enableMultithreading(true);
  for (int iter = 0; iter < 60; ++iter) {
    std::string text = gen.generate(iter % 2 == 0);
    OwningOpRef<ModuleOp> module = parse(text);
    ASSERT_TRUE(module) << text;
    auto mask = *module->getOps<MaskOp>().begin();
    MaskInterpreter compiled(mask), oracle(mask, /*compile=*/false);
    ASSERT_TRUE(compiled.isCompiled(FlatSymbolRefAttr::get(&context, "m")));
    auto custom = CustomAttr::get(&context, FlatSymbolRefAttr::get(&context, "m"));
    SparsityPatternAttrInterface patterns[] = {
        custom, IntersectAttr::get(&context, {custom, CausalAttr::get(&context)})};
    for (SparsityPatternAttrInterface pattern : patterns) {
      int64_t sq = 1 + rng() % 300, sk = 1 + rng() % 300;
      int64_t bq = 1 + rng() % 40, bk = 1 + rng() % 40;
      PatternContext ctx(sq, sk), octx(sq, sk);
      ctx.customMasks = &compiled;
      octx.customMasks = &oracle;
      BlockClassification blocks = classifyBlocks(pattern, ctx, bq, bk);
      for (int64_t i = 0; i < blocks.numQ; ++i)
        for (int64_t j = 0; j < blocks.numK; ++j) {
          int64_t q0 = i * bq, q1 = std::min(sq, q0 + bq);
          int64_t k0 = j * bk, k1 = std::min(sk, k0 + bk);
          bool any = false, all = true;
          for (int64_t q = q0; q < q1; ++q)
            for (int64_t k = k0; k < k1; ++k) {
              bool a = pattern.isAllowed(octx, q, k);
              any |= a;
              all &= a;
            }
          TileKind want = all   ? TileKind::Full
                          : any ? TileKind::Partial
                                : TileKind::Empty;
          ASSERT_EQ(blocks.at(i, j), want)
              << text << "tile (" << i << ", " << j << ") of " << sq << "x"
              << sk << " with " << bq << "x" << bk << " tiles";
        }
    }
  }
}

TEST_F(MaskProgramTest, FloatRegionsAreNotCompiled) {
  OwningOpRef<ModuleOp> module = parse(
      "sparse_attn.mask @m(%b: index, %h: index, %q: index, %k: index) {\n"
      "  %i = arith.index_cast %q : index to i64\n"
      "  %f = arith.sitofp %i : i64 to f32\n"
      "  %z = arith.constant 0.0 : f32\n"
      "  %ok = arith.cmpf oge, %f, %z : f32\n"
      "  sparse_attn.yield %ok : i1\n}\n");
  ASSERT_TRUE(module);
  EXPECT_FALSE(MaskProgram::compile(*module->getOps<MaskOp>().begin()));
}

} // namespace
