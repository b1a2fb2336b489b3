//===- GradReferenceTest.cpp - the gradient oracle against finite differences
//
// computeGradReference (the float64 oracle of sparse_attn.attention_grad
// that `sparse-attn-run --check` uses) must be the derivative of
// computeReference (the forward's oracle): for every element x of q, k and
// v, d/dx sum(dO * O) by central differences of the forward equals the
// oracle's gradient. Cases cover a plain pattern, score modifications
// (soft-capping, ALiBi, a clamp), a custom mask, grouped-query heads,
// segment ids and runtime block tables.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Dialect/SparseAttn/Analysis/Reference.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnDialect.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include <gtest/gtest.h>
#include <random>

using namespace mlir;
using namespace mlir::sparse_attn;

namespace {

const char *kSymbols = R"mlir(
sparse_attn.score_mod @softcap(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  %c = arith.constant 2.0 : f32
  %x = arith.divf %s, %c : f32
  %t = math.tanh %x : f32
  %r = arith.mulf %t, %c : f32
  sparse_attn.yield %r : f32
}
sparse_attn.score_mod @alibi(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  %d = arith.subi %q, %k : index
  %i = arith.index_cast %d : index to i64
  %f = arith.sitofp %i : i64 to f32
  %a = math.absf %f : f32
  %m = arith.constant 0.25 : f32
  %p = arith.mulf %a, %m : f32
  %r = arith.subf %s, %p : f32
  sparse_attn.yield %r : f32
}
sparse_attn.score_mod @square(%s: f32, %b: index, %h: index, %q: index, %k: index) {
  %e = math.exp %s : f32
  %r = arith.mulf %s, %e : f32
  %l = math.sqrt %e : f32
  %z = arith.addf %r, %l : f32
  sparse_attn.yield %z : f32
}
sparse_attn.mask @even(%b: index, %h: index, %q: index, %k: index) {
  %d = arith.subi %q, %k : index
  %c2 = arith.constant 2 : index
  %r = arith.remsi %d, %c2 : index
  %c0 = arith.constant 0 : index
  %ok = arith.cmpi eq, %r, %c0 : index
  sparse_attn.yield %ok : i1
}
)mlir";

struct Case {
  const char *attrs;
  bool segments = false;
  bool tables = false;
};

class GradReferenceTest : public ::testing::TestWithParam<Case> {
protected:
  GradReferenceTest() {
    context.loadDialect<SparseAttnDialect, arith::ArithDialect,
                        math::MathDialect, func::FuncDialect,
                        tensor::TensorDialect>();
  }
  MLIRContext context;
};

TEST_P(GradReferenceTest, MatchesFiniteDifferences) {
  const Case &c = GetParam();
  // B = 1, Hq = 2, Hkv = 1, Sq = Sk = 9, D = 3, Dv = 2.
  std::string segs = c.segments ? " segments(%ids : tensor<1x9xi32>)" : "";
  std::string tables =
      c.tables ? " block_tables(%n, %x : tensor<1x2x3xi32>, tensor<1x2x3x2xi32>)"
               : "";
  std::string text = std::string(kSymbols) +
                     "func.func @f(%q: tensor<1x2x9x3xf32>, %k: "
                     "tensor<1x1x9x3xf32>, %v: tensor<1x1x9x2xf32>, %ids: "
                     "tensor<1x9xi32>, %n: tensor<1x2x3xi32>, %x: "
                     "tensor<1x2x3x2xi32>) -> tensor<1x2x9x2xf32> {\n"
                     "  %init = tensor.empty() : tensor<1x2x9x2xf32>\n"
                     "  %o = sparse_attn.attention %q, %k, %v" +
                     segs + tables +
                     " outs(%init : tensor<1x2x9x2xf32>) " + c.attrs +
                     " : tensor<1x2x9x3xf32>, tensor<1x1x9x3xf32>, "
                     "tensor<1x1x9x2xf32> -> tensor<1x2x9x2xf32>\n"
                     "  return %o : tensor<1x2x9x2xf32>\n}\n";
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(text, &context);
  ASSERT_TRUE(module) << text;
  AttentionOp op;
  module->walk([&](AttentionOp a) { op = a; });
  ASSERT_TRUE(op);

  AttentionProblem p;
  p.b = 1, p.hq = 2, p.hkv = 1, p.sq = 9, p.sk = 9, p.d = 3, p.dv = 2;
  p.scale = 0.7;
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> dist(-1.5, 1.5);
  auto fill = [&](std::vector<double> &v, size_t n) {
    v.resize(n);
    for (double &x : v)
      x = dist(rng);
  };
  fill(p.q, 2 * 9 * 3);
  fill(p.k, 9 * 3);
  fill(p.v, 9 * 2);
  std::vector<double> dout;
  fill(dout, 2 * 9 * 2);
  if (c.segments) {
    p.qSeg = {0, 0, 0, 1, 1, 1, 1, 2, 2};
    p.kSeg = p.qSeg;
  }
  if (c.tables) {
    // Blocks of 4 x 4; head 0 lists {0, 2} everywhere, head 1 lists block 1
    // twice for query block 0 and an out-of-range block for block 2.
    p.tableBQ = p.tableBK = 4;
    AttentionProblem::BlockTable t;
    t.bp = 1, t.hp = 2, t.mq = 3, t.n = 2;
    t.num = {2, 2, 2, 2, 1, 2};
    t.idx = {0, 2, 0, 2, 0, 2, 1, 1, 0, 5, 2, 7};
    p.tables.push_back(t);
  }
  MaskInterpreter interp(op);
  // Without the rounding of the region's f32 values (noise of 1e-7
  // relative, amplified 1 / h by a finite difference).
  interp.exactFloats = true;
  AttentionGradResult g = computeGradReference(
      op.getPattern(), op.getScoreModAttr(), p, dout, interp);
  ASSERT_FALSE(interp.hadError());

  auto loss = [&]() {
    AttentionResult r = computeReference(op, p, interp);
    double sum = 0;
    for (size_t i = 0; i < r.out.size(); ++i)
      sum += r.out[i] * dout[i];
    return sum;
  };
  double maxGrad = 0;
  for (auto *v : {&g.dq, &g.dk, &g.dv})
    for (double x : *v)
      maxGrad = std::max(maxGrad, std::fabs(x));
  ASSERT_GT(maxGrad, 1e-3) << "a test whose gradient is 0 tests nothing";
  const double h = 1e-5;
  int64_t checked = 0;
  for (auto [values, grads, name] :
       {std::tuple(&p.q, &g.dq, "dq"), std::tuple(&p.k, &g.dk, "dk"),
        std::tuple(&p.v, &g.dv, "dv")}) {
    for (size_t i = 0; i < values->size(); ++i) {
      double x = (*values)[i];
      (*values)[i] = x + h;
      double up = loss();
      (*values)[i] = x - h;
      double down = loss();
      (*values)[i] = x;
      double fd = (up - down) / (2 * h);
      EXPECT_NEAR((*grads)[i], fd, 1e-6 * std::max(1.0, maxGrad))
          << name << "[" << i << "] for " << c.attrs;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2 * 9 * 3 + 9 * 3 + 9 * 2);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, GradReferenceTest,
    ::testing::Values(
        Case{"{pattern = #sparse_attn.causal}"},
        Case{"{pattern = #sparse_attn.dense, score_mod = @softcap}"},
        Case{"{pattern = #sparse_attn.window<before = 3, after = 1>, "
             "score_mod = @alibi}"},
        Case{"{pattern = #sparse_attn.causal, score_mod = @square}"},
        Case{"{pattern = #sparse_attn.union<[#sparse_attn.custom<@even>, "
             "#sparse_attn.global<[1]>]>}"},
        Case{"{pattern = #sparse_attn.segments}", /*segments=*/true},
        Case{"{pattern = #sparse_attn.dense, table_block = array<i64: 4, 4>}",
             false, /*tables=*/true}));

} // namespace
