//===- ExtPatterns.cpp - sparsity patterns defined outside sparse-attn ----===//
//
// Each pattern answers the interface's questions: exact membership, exact
// tile classification and, for those that run, its predicate as IR through
// the PatternCodegen helpers (scalar positions, or vectors of positions for
// the CPU's vector form).
//
//===----------------------------------------------------------------------===//

#include "ExtPatterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::sparse_attn;
using namespace ext;

#include "ExtPatternsDialect.cpp.inc"
#define GET_ATTRDEF_CLASSES
#include "ExtPatternsAttrs.cpp.inc"

void ExtDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "ExtPatternsAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// checker
//===----------------------------------------------------------------------===//

LogicalResult
CheckerAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                    int64_t block) {
  if (block <= 0)
    return emitError() << "#sa_ext.checker: block must be positive, got "
                       << block;
  return success();
}

bool CheckerAttr::isAllowed(const PatternContext &, int64_t q,
                            int64_t k) const {
  return (q / getBlock() + k / getBlock()) % 2 == 0;
}

TileKind CheckerAttr::classifyTile(const PatternContext &, int64_t q0,
                                   int64_t q1, int64_t k0, int64_t k1) const {
  int64_t n = getBlock();
  // A tile spanning two query (or key) blocks holds consecutive block
  // indices against one key (query) block: both parities, so partial.
  if (q0 / n != (q1 - 1) / n || k0 / n != (k1 - 1) / n)
    return TileKind::Partial;
  return (q0 / n + k0 / n) % 2 == 0 ? TileKind::Full : TileKind::Empty;
}

FailureOr<Value> CheckerAttr::buildAllowed(PatternCodegen &gen) const {
  OpBuilder &b = gen.getBuilder();
  Location loc = gen.getLoc();
  // gen.index() is a scalar or a vector constant, matching the positions.
  Value n = gen.index(getBlock());
  Value sum = arith::AddIOp::create(
      b, loc, arith::DivUIOp::create(b, loc, gen.queryPos(), n),
      arith::DivUIOp::create(b, loc, gen.keyPos(), n));
  Value parity = arith::AndIOp::create(b, loc, sum, gen.index(1));
  return gen.cmp(arith::CmpIPredicate::eq, parity, gen.index(0));
}

bool CheckerAttr::supportsVectorCodegen() const { return true; }

//===----------------------------------------------------------------------===//
// opaque: no buildAllowed (the interface's default diagnoses and fails)
//===----------------------------------------------------------------------===//

bool NoCodegenAttr::isAllowed(const PatternContext &, int64_t q,
                           int64_t k) const {
  return (q + k) % 3 != 0;
}

TileKind NoCodegenAttr::classifyTile(const PatternContext &ctx, int64_t q0,
                                  int64_t q1, int64_t k0, int64_t k1) const {
  return classifyTileByScan(*this, ctx, q0, q1, k0, k1);
}

//===----------------------------------------------------------------------===//
// broken_vector
//===----------------------------------------------------------------------===//

bool BrokenVectorAttr::isAllowed(const PatternContext &, int64_t q,
                                 int64_t k) const {
  return k <= q;
}

TileKind BrokenVectorAttr::classifyTile(const PatternContext &ctx, int64_t q0,
                                        int64_t q1, int64_t k0,
                                        int64_t k1) const {
  return classifyTileByScan(*this, ctx, q0, q1, k0, k1);
}

FailureOr<Value> BrokenVectorAttr::buildAllowed(PatternCodegen &gen) const {
  if (!gen.isVector())
    return gen.cmp(arith::CmpIPredicate::sle, gen.keyPos(), gen.queryPos());
  // Wrong on purpose in the vector form: a scalar i1.
  return (Value)arith::ConstantIntOp::create(gen.getBuilder(), gen.getLoc(),
                                             1, 1);
}

bool BrokenVectorAttr::supportsVectorCodegen() const { return true; }
