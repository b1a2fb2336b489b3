//===- SparseAttnRunMain.cpp - compile and run a sparse_attn module -------===//
//
// The body of the sparse-attn-run tool, as a library function so that a
// project with its own dialects (patterns defined outside this library, for
// instance) builds the same runner over its registry:
//
//   sparse-attn-run FILE.mlir [--entry NAME] [--input X.npy]... [--output Y.npy]...
//                   [--check] [--bench N] [--seed S] [--block-q N --block-k N]
//
// Lowers the module with the sparse-attn-to-llvm-cpu pipeline, JIT-compiles
// it with MLIR's ExecutionEngine and calls the entry function through its C
// interface (one strided-memref descriptor per argument, results as trailing
// out-parameters). Inputs come from .npy files or are generated (seeded);
// --check compares every result with a float64 evaluation of the definition,
// --write-reference saves that evaluation (float64 .npy, one file per result;
// what sparse-attn-cuda-run --check compares a GPU artifact's results with),
// --bench times the call.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/Tools/SparseAttnRunMain.h"
#include "sparse_attn/Dialect/SparseAttn/Analysis/Reference.h"
#include "sparse_attn/Dialect/SparseAttn/Analysis/RoutingReference.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"
#include "sparse_attn/InitAll.h"
#include "sparse_attn/Pipelines/Pipelines.h"
#include "sparse_attn/Support/Npy.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/FormatVariadic.h"
#include <limits>
#include "mlir/Pass/PassManager.h"
#include "sparse_attn/Support/InputModule.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/Support/raw_ostream.h"
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>

using namespace mlir;
using namespace mlir::sparse_attn;
namespace cl = llvm::cl;

namespace {
cl::OptionCategory category("sparse-attn-run options");
cl::opt<std::string> inputFile(cl::Positional, cl::desc("<input .mlir>"),
                               cl::Required, cl::cat(category));
cl::opt<std::string> entryName("entry",
                               cl::desc("Function to run (default: the only "
                                        "public function)"),
                               cl::cat(category));
cl::list<std::string> inputs("input",
                             cl::desc("A .npy file per argument, in order"),
                             cl::cat(category));
cl::list<std::string> outputs("output",
                              cl::desc("A .npy file per result, in order"),
                              cl::cat(category));
cl::opt<bool> check("check",
                    cl::desc("Compare the results with a float64 reference"),
                    cl::cat(category));
cl::list<std::string> writeReference(
    "write-reference",
    cl::desc("Write the float64 reference of each result to a .npy file, in "
             "order"),
    cl::cat(category));
cl::opt<int> bench("bench", cl::desc("Time N calls after warm-up, print JSON"),
                   cl::init(0), cl::cat(category));
cl::opt<int64_t> threads(
    "num-threads",
    cl::desc("Threads of the fused kernel: 0 = one per core (default), 1 = "
             "no OpenMP, N = N threads"),
    cl::init(0), cl::cat(category));
cl::opt<int> warmup("warmup", cl::desc("Untimed calls before --bench timing"),
                    cl::init(2), cl::cat(category));
cl::opt<unsigned> seed("seed", cl::desc("Seed of generated inputs"),
                       cl::init(0), cl::cat(category));
cl::opt<int64_t> blockQ("block-q", cl::desc("Query rows per tile"),
                        cl::init(64), cl::cat(category));
cl::opt<int64_t> blockK("block-k", cl::desc("Key columns per tile"),
                        cl::init(64), cl::cat(category));
enum class Lowering { Fused, Reference };
cl::opt<Lowering> lowering(
    "lowering", cl::desc("Which lowering to compile"), cl::init(Lowering::Fused),
    cl::values(clEnumValN(Lowering::Fused, "fused",
                          "the fused, block-skipping loop nest (default)"),
               clEnumValN(Lowering::Reference, "reference",
                          "the unfused linalg reference (S x S scores)")),
    cl::cat(category));
cl::opt<bool> bf16Dot(
    "bf16-dot",
    cl::desc("bf16 inputs: Q K^T with AVX-512 BF16 dot products (needs "
             "avx512bf16; measured slower than the f32 FMA path on "
             "Sapphire Rapids, see bench/results)"),
    cl::init(false), cl::cat(category));
cl::opt<std::string> amx(
    "amx",
    cl::desc("bf16 inputs: Q K^T and P V as AMX tile products. auto "
             "(default): when the host has amx-bf16; on: required; off"),
    cl::init("auto"), cl::cat(category));
cl::opt<double> tolerance("tolerance",
                          cl::desc("Largest accepted relative error for "
                                   "--check (default: 1e-5 for f32, 1e-2 for "
                                   "f16 / bf16, raised with the scores' magnitude)"),
                          cl::init(0), cl::cat(category));

int fail(const llvm::Twine &msg) {
  llvm::errs() << "sparse-attn-run: error: " << msg << "\n";
  return 1;
}

std::string typeStr(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

//===----------------------------------------------------------------------===//
// Buffers and memref descriptors
//===----------------------------------------------------------------------===//

uint16_t floatToBF16(float f);
float bf16ToFloat(uint16_t h);

std::string shapeStr(ArrayRef<int64_t> shape) {
  std::string s;
  for (int64_t d : shape)
    s += (s.empty() ? "" : "x") + std::to_string(d);
  return s.empty() ? "scalar" : s;
}

/// A tensor argument or result: element type, shape and 64-byte-aligned data.
struct Buffer {
  Type elt;
  std::vector<int64_t> shape;
  void *data = nullptr;
  std::vector<int64_t> descriptor; // {alloc, aligned, offset, sizes, strides}

  Buffer() = default;
  Buffer(const Buffer &) = delete;
  Buffer(Buffer &&o) noexcept { *this = std::move(o); }
  Buffer &operator=(Buffer &&o) noexcept {
    std::swap(elt, o.elt);
    std::swap(shape, o.shape);
    std::swap(data, o.data);
    std::swap(descriptor, o.descriptor);
    return *this;
  }
  ~Buffer() { std::free(data); }

  int64_t numElements() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
  int64_t eltBytes() const { return (elt.getIntOrFloatBitWidth() + 7) / 8; }

  /// Allocates (zeroed) storage for `dims`; fails with a message when the
  /// size overflows or the memory cannot be had.
  llvm::Error allocate(Type type, ArrayRef<int64_t> dims, const llvm::Twine &what) {
    elt = type;
    shape.assign(dims.begin(), dims.end());
    int64_t bytesNeeded = eltBytes();
    for (int64_t d : shape)
      if (d < 0 || llvm::MulOverflow<int64_t>(bytesNeeded, d, bytesNeeded) ||
          bytesNeeded > std::numeric_limits<int64_t>::max() - 64)
        return llvm::createStringError(
            llvm::inconvertibleErrorCode(),
            what + ": " + shapeStr(shape) + " is too large to allocate");
    size_t bytes = std::max<int64_t>(64, bytesNeeded);
    data = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!data)
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "cannot allocate " + llvm::Twine(bytesNeeded) +
                                         " bytes for " + what);
    std::memset(data, 0, bytes);
    descriptor.clear();
    descriptor.push_back(reinterpret_cast<int64_t>(data));
    descriptor.push_back(reinterpret_cast<int64_t>(data));
    descriptor.push_back(0);
    for (int64_t d : shape)
      descriptor.push_back(d);
    int64_t stride = 1;
    std::vector<int64_t> strides(shape.size());
    for (int64_t i = shape.size() - 1; i >= 0; --i) {
      strides[i] = stride;
      stride *= shape[i];
    }
    descriptor.insert(descriptor.end(), strides.begin(), strides.end());
    return llvm::Error::success();
  }

  double get(int64_t i) const {
    if (elt.isF32())
      return static_cast<float *>(data)[i];
    if (elt.isF16())
      return static_cast<float>(static_cast<_Float16 *>(data)[i]);
    if (elt.isBF16())
      return bf16ToFloat(static_cast<uint16_t *>(data)[i]);
    if (elt.isInteger(32))
      return static_cast<int32_t *>(data)[i];
    if (elt.isInteger(64))
      return static_cast<double>(static_cast<int64_t *>(data)[i]);
    return 0;
  }
  int64_t getInt(int64_t i) const {
    if (elt.isInteger(32))
      return static_cast<int32_t *>(data)[i];
    if (elt.isInteger(64))
      return static_cast<int64_t *>(data)[i];
    return static_cast<int64_t>(get(i));
  }
  void set(int64_t i, double v) {
    if (elt.isF32())
      static_cast<float *>(data)[i] = static_cast<float>(v);
    else if (elt.isF16())
      static_cast<_Float16 *>(data)[i] = static_cast<_Float16>(static_cast<float>(v));
    else if (elt.isBF16())
      static_cast<uint16_t *>(data)[i] = floatToBF16(static_cast<float>(v));
    else if (elt.isInteger(32))
      static_cast<int32_t *>(data)[i] = static_cast<int32_t>(v);
    else if (elt.isInteger(64))
      static_cast<int64_t *>(data)[i] = static_cast<int64_t>(v);
  }
};

/// bfloat16 <-> float, round to nearest even (no compiler runtime needed).
uint16_t floatToBF16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffff) > 0x7f800000)
    return 0x7fc0; // NaN
  bits += 0x7fff + ((bits >> 16) & 1);
  return static_cast<uint16_t>(bits >> 16);
}
float bf16ToFloat(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

bool supportedElement(Type t) {
  return t.isF32() || t.isF16() || t.isBF16() || t.isInteger(32) ||
         t.isInteger(64);
}

/// Fills `buf` (already typed and shaped) from a .npy array.
llvm::Error fillFromNpy(Buffer &buf, const NpyArray &a,
                        StringRef path, int index) {
  auto err = [&](const llvm::Twine &m) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "input #" + llvm::Twine(index) + " ('" +
                                       path + "'): " + m);
  };
  bool isFloat = llvm::isa<FloatType>(buf.elt);
  char kind = a.descr[1];
  if (isFloat && kind != 'f')
    return err("dtype " + a.descr + " does not fit " + typeStr(buf.elt) +
               " (expected a float array: <f4, <f2 or <f8)");
  if (!isFloat && kind != 'i')
    return err("dtype " + a.descr + " does not fit " + typeStr(buf.elt) +
               " (expected an integer array: <i4 or <i8)");
  int64_t n = a.numElements(), size = NpyArray::elementSize(a.descr);
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t *p = a.data.data() + i * size;
    if (!isFloat) {
      // Integers (segment ids) are copied exactly and must fit the
      // argument's type: never a silent wrap or rounding.
      int64_t x = 0;
      if (a.descr == "<i4") {
        int32_t y;
        std::memcpy(&y, p, 4);
        x = y;
      } else if (a.descr == "<i8") {
        std::memcpy(&x, p, 8);
      } else {
        return err("unsupported dtype " + a.descr);
      }
      if (buf.elt.isInteger(32) &&
          (x < std::numeric_limits<int32_t>::min() ||
           x > std::numeric_limits<int32_t>::max()))
        return err("element " + llvm::Twine(i) + " (" + llvm::Twine(x) +
                   ") does not fit " + typeStr(buf.elt));
      if (buf.elt.isInteger(32))
        static_cast<int32_t *>(buf.data)[i] = static_cast<int32_t>(x);
      else
        static_cast<int64_t *>(buf.data)[i] = x;
      continue;
    }
    double v = 0;
    if (a.descr == "<f4") {
      float f;
      std::memcpy(&f, p, 4);
      v = f;
    } else if (a.descr == "<f8") {
      std::memcpy(&v, p, 8);
    } else if (a.descr == "<f2") {
      _Float16 h;
      std::memcpy(&h, p, 2);
      v = static_cast<float>(h);
    } else {
      return err("unsupported dtype " + a.descr);
    }
    buf.set(i, v);
    // A finite value that rounds to infinity in the argument's type (f32 or
    // f64 data beyond the f16 range, f64 beyond f32) is refused.
    if (isFloat && std::isfinite(v) && std::isinf(buf.get(i)))
      return err("element " + llvm::Twine(i) + " (" +
                 llvm::formatv("{0:e}", v).str() + ") is beyond the range of " +
                 typeStr(buf.elt) +
                 " and would become infinite");
  }
  return llvm::Error::success();
}

NpyArray toNpy(const Buffer &buf) {
  NpyArray a;
  a.shape = buf.shape;
  int64_t n = buf.numElements();
  if (buf.elt.isF16()) {
    a.descr = "<f2";
    a.data.resize(n * 2);
    if (n) // an empty array has no storage to copy to
      std::memcpy(a.data.data(), buf.data, n * 2);
  } else if (buf.elt.isInteger(32) || buf.elt.isInteger(64)) {
    a.descr = buf.elt.isInteger(32) ? "<i4" : "<i8";
    a.data.resize(n * buf.eltBytes());
    if (n)
      std::memcpy(a.data.data(), buf.data, a.data.size());
  } else { // f32, and bf16 widened to f32 (NumPy has no bfloat16)
    a.descr = "<f4";
    a.data.resize(n * 4);
    for (int64_t i = 0; i < n; ++i) {
      float f = static_cast<float>(buf.get(i));
      std::memcpy(a.data.data() + i * 4, &f, 4);
    }
  }
  return a;
}

/// The attention op whose result `v` is, if any.
AttentionOp producer(Value v) { return v.getDefiningOp<AttentionOp>(); }

int64_t argIndex(func::FuncOp f, Value v) {
  auto arg = llvm::dyn_cast<BlockArgument>(v);
  if (!arg || arg.getOwner()->getParentOp() != f)
    return -1;
  return arg.getArgNumber();
}

/// The run-time shape of `v`: a function argument's, or that of a
/// sparse_attn op's result computed from its operands' shapes (attention,
/// pool, select_blocks, merge); static dimensions of the type otherwise.
std::optional<std::vector<int64_t>>
inferShape(func::FuncOp f, Value v, const std::vector<Buffer> &args) {
  auto type = llvm::cast<RankedTensorType>(v.getType());
  if (type.hasStaticShape())
    return std::vector<int64_t>(type.getShape().begin(), type.getShape().end());
  int64_t arg = argIndex(f, v);
  if (arg >= 0)
    return args[arg].shape;
  auto operand = [&](Value x) { return inferShape(f, x, args); };
  std::optional<std::vector<int64_t>> shape;
  Operation *def = v.getDefiningOp();
  if (auto op = llvm::dyn_cast_or_null<AttentionOp>(def)) {
    auto q = operand(op.getQuery()), val = operand(op.getValue());
    if (!q || !val)
      return std::nullopt;
    shape = std::vector<int64_t>{(*q)[0], (*q)[1], (*q)[2]};
    if (v == op.getOutput())
      shape->push_back((*val)[3]);
  } else if (auto op = llvm::dyn_cast_or_null<PoolOp>(def)) {
    shape = operand(op.getInput());
    if (shape)
      (*shape)[2] = PoolOp::numBlocks((*shape)[2], op.getBlock(),
                                      op.getEffectiveStride());
  } else if (auto op = llvm::dyn_cast_or_null<SelectBlocksOp>(def)) {
    auto q = operand(op.getQuery());
    if (!q)
      return std::nullopt;
    shape = std::vector<int64_t>{(*q)[0], type.getDimSize(1),
                                 ceilDivPositive((*q)[2], op.getBlockQ())};
    if (type.getRank() == 4)
      shape->push_back(type.getDimSize(3));
  } else if (auto op = llvm::dyn_cast_or_null<SelectTokensOp>(def)) {
    auto iq = operand(op.getIndexQuery());
    if (!iq)
      return std::nullopt;
    shape = std::vector<int64_t>{(*iq)[0], 1, (*iq)[1]};
    if (type.getRank() == 4)
      shape->push_back(type.getDimSize(3));
  } else if (auto op = llvm::dyn_cast_or_null<MergeOp>(def)) {
    shape = operand(v == op.getOutput() ? op.getOutputA() : op.getLseA());
  } else if (auto op = llvm::dyn_cast_or_null<AttentionGradOp>(def)) {
    // dQ, dK, dV are shaped as query, key, value.
    shape = operand(v == op.getGradQuery() ? op.getQuery()
                    : v == op.getGradKey() ? op.getKey()
                                           : op.getValue());
  }
  if (!shape || llvm::any_of(*shape, ShapedType::isDynamic))
    return std::nullopt;
  return shape;
}

/// Compares a float result with its float64 reference and prints one line
/// "check LABEL: max_abs_err=... OK|FAILED"; returns whether it passed.
bool compareFloat(StringRef label, const Buffer &got,
                  const std::vector<double> &want, double tol) {
  double maxAbs = 0, maxRef = 0;
  // NaN fails, except where the reference is NaN at the same element
  // (NaN inputs that the definition propagates); a result with nothing
  // but NaN to compare fails too, so an all-NaN output never passes
  // (matching infinities count as compared, e.g. the LSE of empty rows).
  int64_t mismatchedInf = 0, nans = 0, bothNan = 0, compared = 0;
  for (int64_t i = 0; i < got.numElements(); ++i) {
    double g = got.get(i), w = want[i];
    if (std::isnan(g) || std::isnan(w)) {
      nans += std::isnan(g) != std::isnan(w);
      bothNan += std::isnan(g) && std::isnan(w);
      continue;
    }
    ++compared;
    if (std::isinf(w) || std::isinf(g)) {
      mismatchedInf += g != w;
      continue;
    }
    maxAbs = std::max(maxAbs, std::fabs(g - w));
    maxRef = std::max(maxRef, std::fabs(w));
  }
  double rel = maxAbs / std::max(maxRef, 1e-30);
  bool ok = nans == 0 && mismatchedInf == 0 && rel <= tol && compared > 0;
  llvm::outs() << "check " << label
               << ": max_abs_err=" << llvm::format("%.3e", maxAbs)
               << " max_rel_err=" << llvm::format("%.3e", rel)
               << " (relative to max |reference| = "
               << llvm::format("%.3g", maxRef) << ", tolerance "
               << llvm::format("%.0e", tol) << ")";
  if (nans)
    llvm::outs() << " NaN-mismatch=" << nans;
  if (bothNan)
    llvm::outs() << " NaN-as-reference=" << bothNan;
  if (compared == 0)
    llvm::outs() << " nothing-to-compare";
  if (mismatchedInf)
    llvm::outs() << " infinite-mismatch=" << mismatchedInf;
  llvm::outs() << (ok ? " OK" : " FAILED") << "\n";
  return ok;
}

/// The float64 evaluation of a whole function built from sparse_attn ops
/// (pool, select_blocks, attention, merge) on its arguments: each op by its
/// definition (RoutingReference.h, Reference.h), the attention over the
/// reference's own block tables, which so materialise the selected mask.
struct ProgramReference {
  struct Value64 {
    RefArray array;
    Type elt;
    double scoreBound = 0; // of the attention ops it depends on
  };
  llvm::DenseMap<Value, Value64> values;
  llvm::DenseMap<Value, int64_t> indices;
  int64_t nearTies = 0;

  /// Evaluates `entry`; emits a diagnostic and fails at the first op it
  /// cannot evaluate.
  LogicalResult run(func::FuncOp entry, const std::vector<Buffer> &args);

private:
  LogicalResult attention(AttentionOp op);
  LogicalResult attentionGrad(AttentionGradOp op);
  /// The problem of an attention or its gradient: operands, scale, segment
  /// ids, runtime tables.
  template <typename OpTy>
  LogicalResult problemOf(OpTy op, AttentionProblem &p);
  const Value64 *get(Operation *op, Value v) {
    auto it = values.find(v);
    if (it == values.end()) {
      op->emitError("sparse-attn-run --check: an operand is not a value the "
                    "reference has evaluated");
      return nullptr;
    }
    return &it->second;
  }
};

LogicalResult ProgramReference::run(func::FuncOp entry,
                                    const std::vector<Buffer> &args) {
  for (auto [i, arg] : llvm::enumerate(entry.getArguments())) {
    Value64 v;
    v.array.shape = args[i].shape;
    v.array.data.resize(args[i].numElements());
    for (int64_t e = 0; e < args[i].numElements(); ++e)
      v.array.data[e] = args[i].get(e);
    v.elt = args[i].elt;
    values[arg] = std::move(v);
  }
  for (Operation &op : entry.getBody().front()) {
    if (llvm::isa<tensor::EmptyOp, func::ReturnOp>(op))
      continue;
    if (auto c = llvm::dyn_cast<arith::ConstantOp>(op)) {
      // Index constants (key_length) are recorded; other constants matter
      // only to the ops using them, which must be evaluable themselves.
      if (auto i = llvm::dyn_cast<IntegerAttr>(c.getValue());
          i && c.getType().isIndex())
        indices[c] = i.getInt();
      continue;
    }
    if (auto dim = llvm::dyn_cast<tensor::DimOp>(op)) {
      std::optional<int64_t> i = dim.getConstantIndex();
      const Value64 *src = get(&op, dim.getSource());
      if (!src || !i)
        return op.emitError("sparse-attn-run --check: tensor.dim needs a "
                            "constant index");
      indices[dim] = src->array.shape[*i];
      continue;
    }
    if (auto pool = llvm::dyn_cast<PoolOp>(op)) {
      const Value64 *in = get(&op, pool.getInput());
      if (!in)
        return failure();
      Value64 out;
      out.elt = llvm::cast<RankedTensorType>(pool.getType()).getElementType();
      out.array = poolReference(in->array, pool.getKind() == "max",
                                pool.getBlock(), pool.getEffectiveStride(),
                                out.elt);
      values[pool] = std::move(out);
      continue;
    }
    if (auto select = llvm::dyn_cast<SelectBlocksOp>(op)) {
      const Value64 *q = get(&op, select.getQuery());
      const Value64 *kp = get(&op, select.getPooledKeys());
      if (!q || !kp)
        return failure();
      int64_t sk = kp->array.shape[2] * select.getBlockK();
      if (Value len = select.getKeyLength()) {
        auto it = indices.find(len);
        if (it == indices.end())
          return op.emitError("sparse-attn-run --check: key_length must be "
                              "a constant or a tensor.dim");
        sk = it->second;
      }
      auto xT = llvm::cast<RankedTensorType>(select.getKvIndices().getType());
      if (xT.isDynamicDim(1) || xT.isDynamicDim(3))
        return op.emitError("sparse-attn-run --check: the tables need a "
                            "static H' and N");
      MaskInterpreter interp(select);
      SelectBlocksReference r =
          selectBlocksReference(select, q->array, kp->array, sk,
                                xT.getDimSize(1), xT.getDimSize(3), interp);
      if (interp.hadError())
        return failure();
      nearTies += r.nearTies;
      Type i32 = IntegerType::get(op.getContext(), 32);
      RefArray *parts[] = {&r.kvNum, &r.kvIdx, &r.fullNum, &r.fullIdx};
      for (auto [res, part] : llvm::zip(select.getResults(), parts))
        values[res] = Value64{std::move(*part), i32, 0};
      continue;
    }
    if (auto select = llvm::dyn_cast<SelectTokensOp>(op)) {
      const Value64 *iq = get(&op, select.getIndexQuery()),
                    *ik = get(&op, select.getIndexKeys()),
                    *w = get(&op, select.getWeights());
      if (!iq || !ik || !w)
        return failure();
      auto xT = llvm::cast<RankedTensorType>(select.getIndices().getType());
      if (xT.isDynamicDim(3))
        return op.emitError("sparse-attn-run --check: the tables need a "
                            "static N");
      MaskInterpreter interp(select);
      SelectTokensReference r = selectTokensReference(
          select, iq->array, ik->array, w->array, xT.getDimSize(3), interp);
      if (interp.hadError())
        return failure();
      nearTies += r.nearTies;
      Type i32 = IntegerType::get(op.getContext(), 32);
      values[select.getNum()] = Value64{std::move(r.num), i32, 0};
      values[select.getIndices()] = Value64{std::move(r.indices), i32, 0};
      continue;
    }
    if (auto attn = llvm::dyn_cast<AttentionOp>(op)) {
      if (failed(attention(attn)))
        return failure();
      continue;
    }
    if (auto grad = llvm::dyn_cast<AttentionGradOp>(op)) {
      if (failed(attentionGrad(grad)))
        return failure();
      continue;
    }
    if (auto merge = llvm::dyn_cast<MergeOp>(op)) {
      const Value64 *oa = get(&op, merge.getOutputA()),
                    *la = get(&op, merge.getLseA()),
                    *ob = get(&op, merge.getOutputB()),
                    *lb = get(&op, merge.getLseB());
      if (!oa || !la || !ob || !lb)
        return failure();
      Value64 o{oa->array, oa->elt, std::max(oa->scoreBound, ob->scoreBound)};
      Value64 l{la->array, la->elt, 0};
      int64_t rows = la->array.numElements();
      int64_t dv = rows ? oa->array.numElements() / rows : 0;
      for (int64_t r = 0; r < rows; ++r) {
        double a = la->array.data[r], b = lb->array.data[r];
        double m = std::max(a, b);
        if (std::isinf(m) && m < 0) {
          l.array.data[r] = m;
          for (int64_t e = 0; e < dv; ++e)
            o.array.data[r * dv + e] = 0;
          continue;
        }
        double wa = std::exp(a - m), wb = std::exp(b - m);
        l.array.data[r] = m + std::log(wa + wb);
        for (int64_t e = 0; e < dv; ++e)
          o.array.data[r * dv + e] = (wa * oa->array.data[r * dv + e] +
                                      wb * ob->array.data[r * dv + e]) /
                                     (wa + wb);
      }
      values[merge.getOutput()] = std::move(o);
      values[merge.getLse()] = std::move(l);
      continue;
    }
    return op.emitError("sparse-attn-run --check cannot evaluate '")
           << op.getName() << "' (it evaluates sparse_attn.pool, "
           << "select_blocks, select_tokens, attention, attention_grad and "
           << "merge)";
  }
  return success();
}

template <typename OpTy>
LogicalResult ProgramReference::problemOf(OpTy op, AttentionProblem &p) {
  const Value64 *q = get(op, op.getQuery()), *k = get(op, op.getKey()),
                *v = get(op, op.getValue());
  if (!q || !k || !v)
    return failure();
  p.b = q->array.shape[0];
  p.hq = q->array.shape[1];
  p.sq = q->array.shape[2];
  p.d = q->array.shape[3];
  p.hkv = k->array.shape[1];
  p.sk = k->array.shape[2];
  p.dv = v->array.shape[3];
  p.scale = op.getScaleAttr() ? op.getScaleAttr().getValueAsDouble()
                              : 1.0 / std::sqrt(static_cast<double>(p.d));
  p.q = q->array.data;
  p.k = k->array.data;
  p.v = v->array.data;
  if (Value s = op.getQuerySegmentIds()) {
    const Value64 *qs = get(op, s), *ks = get(op, op.getKeySegmentIds());
    if (!qs || !ks)
      return failure();
    for (double x : qs->array.data)
      p.qSeg.push_back(static_cast<int64_t>(x));
    for (double x : ks->array.data)
      p.kSeg.push_back(static_cast<int64_t>(x));
  }
  if (op.hasBlockTables()) {
    p.tableBQ = op.getTableBlock()->front();
    p.tableBK = op.getTableBlock()->back();
    for (auto [num, idx] : {std::pair(op.getKvNumBlocks(), op.getKvIndices()),
                            std::pair(op.getFullNumBlocks(), op.getFullIndices())}) {
      if (!num)
        continue;
      const Value64 *n = get(op, num), *x = get(op, idx);
      if (!n || !x)
        return failure();
      AttentionProblem::BlockTable t;
      t.bp = n->array.shape[0];
      t.hp = n->array.shape[1];
      t.mq = n->array.shape[2];
      t.n = x->array.shape[3];
      for (double c : n->array.data)
        t.num.push_back(static_cast<int64_t>(c));
      for (double c : x->array.data)
        t.idx.push_back(static_cast<int64_t>(c));
      p.tables.push_back(std::move(t));
    }
  }
  return success();
}

LogicalResult ProgramReference::attention(AttentionOp op) {
  if (op.isTile())
    return op.emitError("sparse-attn-run --check: a tile (tile_of / at) of "
                        "an attention has no reference of its own");
  AttentionProblem p;
  if (failed(problemOf(op, p)))
    return failure();
  MaskInterpreter interp(op);
  AttentionResult r = computeReference(op, p, interp);
  if (interp.hadError())
    return failure();
  Type elt = llvm::cast<RankedTensorType>(op.getQuery().getType()).getElementType();
  values[op.getOutput()] =
      Value64{RefArray{{p.b, p.hq, p.sq, p.dv}, std::move(r.out)}, elt,
              r.scoreBound};
  if (Value lse = op.getLse())
    values[lse] = Value64{RefArray{{p.b, p.hq, p.sq}, std::move(r.lse)},
                          Float32Type::get(op.getContext()), r.scoreBound};
  return success();
}

LogicalResult ProgramReference::attentionGrad(AttentionGradOp op) {
  AttentionProblem p;
  if (failed(problemOf(op, p)))
    return failure();
  const Value64 *dout = get(op, op.getGradOutput());
  if (!dout)
    return failure();
  MaskInterpreter interp(op);
  AttentionGradResult r = computeGradReference(
      op.getPattern(), op.getScoreModAttr(), p, dout->array.data, interp);
  if (interp.hadError())
    return failure();
  Type elt =
      llvm::cast<RankedTensorType>(op.getQuery().getType()).getElementType();
  values[op.getGradQuery()] = Value64{
      RefArray{{p.b, p.hq, p.sq, p.d}, std::move(r.dq)}, elt, r.scoreBound};
  values[op.getGradKey()] = Value64{
      RefArray{{p.b, p.hkv, p.sk, p.d}, std::move(r.dk)}, elt, r.scoreBound};
  values[op.getGradValue()] = Value64{
      RefArray{{p.b, p.hkv, p.sk, p.dv}, std::move(r.dv)}, elt, r.scoreBound};
  return success();
}

/// --check / --write-reference of a routing program: every result against
/// the program's float64 evaluation; integer results (block tables) must be
/// equal.
int checkProgram(func::FuncOp entry, const std::vector<Buffer> &args,
                 const std::vector<Buffer> &results, bool doCheck,
                 ArrayRef<std::string> referenceFiles) {
  ProgramReference ref;
  if (failed(ref.run(entry, args)))
    return 1;
  auto ret = llvm::cast<func::ReturnOp>(entry.getBody().front().getTerminator());
  for (unsigned r = 0; r < referenceFiles.size(); ++r) {
    const auto &want = ref.values[ret.getOperand(r)].array;
    NpyArray a;
    a.descr = "<f8";
    a.shape = want.shape;
    a.data.resize(want.data.size() * sizeof(double));
    if (!a.data.empty())
      std::memcpy(a.data.data(), want.data.data(), a.data.size());
    if (auto err = writeNpy(referenceFiles[r], a))
      return fail(llvm::toString(std::move(err)));
  }
  if (!doCheck)
    return 0;
  int status = 0;
  if (ref.nearTies)
    llvm::outs() << "note: " << ref.nearTies
                 << " selections decided by scores within 1e-6 of each "
                    "other (f32 may choose either)\n";
  for (unsigned r = 0; r < results.size(); ++r) {
    Value v = ret.getOperand(r);
    const ProgramReference::Value64 &want = ref.values[v];
    std::string label;
    llvm::raw_string_ostream os(label);
    Operation *def = v.getDefiningOp();
    unsigned resultNumber = llvm::cast<OpResult>(v).getResultNumber();
    static const char *selectNames[] = {"kv_num_blocks", "kv_indices",
                                        "full_num_blocks", "full_indices"};
    os << "#" << r << " (" << def->getName().stripDialect();
    if (llvm::isa<SelectBlocksOp>(def))
      os << " " << selectNames[resultNumber];
    else if (llvm::isa<SelectTokensOp>(def))
      os << (resultNumber ? " indices" : " num");
    else if (llvm::isa<AttentionOp, MergeOp>(def))
      os << (resultNumber ? " lse" : " output");
    else if (llvm::isa<AttentionGradOp>(def))
      os << (resultNumber == 0 ? " dq" : resultNumber == 1 ? " dk" : " dv");
    os << ")";
    const Buffer &got = results[r];
    if (got.shape != want.array.shape) {
      llvm::outs() << "check " << label << ": shape " << shapeStr(got.shape)
                   << " but the reference's is " << shapeStr(want.array.shape)
                   << " FAILED\n";
      status = 1;
      continue;
    }
    if (!llvm::isa<FloatType>(got.elt)) {
      int64_t mismatches = 0, first = -1;
      for (int64_t i = 0; i < got.numElements(); ++i)
        if (got.getInt(i) != static_cast<int64_t>(want.array.data[i])) {
          if (first < 0)
            first = i;
          ++mismatches;
        }
      llvm::outs() << "check " << label << ": " << got.numElements()
                   << " integers, " << mismatches << " differ";
      if (first >= 0)
        llvm::outs() << " (first at flat index " << first << ": "
                     << got.getInt(first) << " vs reference "
                     << static_cast<int64_t>(want.array.data[first]) << ")";
      llvm::outs() << (mismatches ? " FAILED" : " exact OK") << "\n";
      if (mismatches)
        status = 1;
      continue;
    }
    double floorTol = got.elt.isF32() ? 1e-5 : 1e-2;
    double tol = tolerance > 0
                     ? tolerance.getValue()
                     : std::max(floorTol, 16 * 0x1p-24 * want.scoreBound);
    if (!compareFloat(label, got, want.array.data, tol))
      status = 1;
  }
  return status;
}
} // namespace

int mlir::sparse_attn::sparseAttnRunMain(int argc, char **argv,
                                         DialectRegistry &registry) {
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv, "sparse-attn-run: compile and run a sparse_attn module\n");
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  if (bench < 0)
    return fail("--bench must be non-negative");
  if (warmup < 0)
    return fail("--warmup must be non-negative");
  if (blockQ <= 0 || blockK <= 0)
    return fail("--block-q and --block-k must be positive");
  if (threads < 0)
    return fail("--num-threads must be non-negative");

  registerSparseAttnPasses();
  registerSparseAttnPipelines();
  registerUpstreamPassesForPipelines(); // the pipelines are made of them
  registerSparseAttnDialect(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerOpenMPDialectTranslation(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  InputModule input(inputFile, context);
  if (!input.openError().empty())
    return fail(input.openError());
  ModuleOp module = input.module();
  if (!module)
    return 1;

  // The entry function.
  func::FuncOp entry;
  if (!entryName.empty()) {
    entry = module.lookupSymbol<func::FuncOp>(entryName);
    if (!entry || entry.isExternal())
      return fail("no function @" + entryName + " with a body in '" +
                  inputFile + "'");
  } else {
    SmallVector<func::FuncOp> publics;
    for (auto f : module.getOps<func::FuncOp>())
      if (f.isPublic() && !f.isExternal())
        publics.push_back(f);
    if (publics.size() != 1)
      return fail("'" + inputFile + "' has " + llvm::Twine(publics.size()) +
                  " public functions; choose one with --entry NAME");
    entry = publics.front();
  }
  FunctionType fnType = entry.getFunctionType();
  for (auto [i, t] : llvm::enumerate(llvm::concat<const Type>(
           fnType.getInputs(), fnType.getResults()))) {
    auto rt = llvm::dyn_cast<RankedTensorType>(t);
    if (!rt || !supportedElement(rt.getElementType()))
      return (entry.emitError("sparse-attn-run calls functions whose arguments "
                              "and results are ranked tensors of f32, f16, "
                              "bf16, i32 or i64; got ")
              << t),
             1;
  }

  // Arguments: from .npy files or generated.
  unsigned numArgs = fnType.getNumInputs(), numResults = fnType.getNumResults();
  if (!inputs.empty() && inputs.size() != numArgs)
    return fail("@" + entry.getName() + " takes " + llvm::Twine(numArgs) +
                " arguments but " + llvm::Twine(inputs.size()) +
                " --input files were given");
  if (outputs.size() > numResults)
    return fail("@" + entry.getName() + " has " + llvm::Twine(numResults) +
                " results but " + llvm::Twine(outputs.size()) +
                " --output files were given");
  std::vector<Buffer> args(numArgs);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  for (unsigned i = 0; i < numArgs; ++i) {
    auto t = llvm::cast<RankedTensorType>(fnType.getInput(i));
    if (!inputs.empty()) {
      auto arr = readNpy(inputs[i]);
      if (!arr)
        return fail(llvm::toString(arr.takeError()));
      if (arr->shape.size() != static_cast<size_t>(t.getRank()))
        return fail("input #" + llvm::Twine(i) + " ('" + inputs[i] +
                    "') has rank " + llvm::Twine(arr->shape.size()) +
                    " but argument #" + llvm::Twine(i) + " is " + typeStr(t));
      for (int64_t d = 0; d < t.getRank(); ++d)
        if (!t.isDynamicDim(d) && t.getDimSize(d) != arr->shape[d]) {
          std::string shape;
          for (int64_t s : arr->shape)
            shape += (shape.empty() ? "" : "x") + std::to_string(s);
          return fail("input #" + llvm::Twine(i) + " ('" + inputs[i] +
                      "') has shape " + shape + " but argument #" +
                      llvm::Twine(i) + " is " + typeStr(t));
        }
      if (auto err = args[i].allocate(t.getElementType(), arr->shape,
                                      "argument #" + llvm::Twine(i)))
        return fail(llvm::toString(std::move(err)));
      if (auto err = fillFromNpy(args[i], *arr, inputs[i], i))
        return fail(llvm::toString(std::move(err)));
      continue;
    }
    if (!t.hasStaticShape())
      return fail("argument #" + llvm::Twine(i) + " of @" + entry.getName() +
                  " has the dynamic type " + typeStr(t) +
                  "; pass its values with --input FILE.npy");
    if (auto err = args[i].allocate(t.getElementType(), t.getShape(),
                                    "argument #" + llvm::Twine(i)))
      return fail(llvm::toString(std::move(err)));
    if (llvm::isa<FloatType>(t.getElementType())) {
      for (int64_t e = 0; e < args[i].numElements(); ++e)
        args[i].set(e, uniform(rng));
    } else {
      // Segment ids: for every row (last dimension), documents of random
      // lengths numbered 0, 1, 2, ...
      int64_t len = t.getRank() ? t.getShape().back() : 1;
      for (int64_t row = 0; row < args[i].numElements() / std::max<int64_t>(1, len); ++row) {
        int64_t id = 0, left = 1 + rng() % std::max<int64_t>(1, len / 3);
        for (int64_t e = 0; e < len; ++e) {
          if (left-- == 0) {
            ++id;
            left = rng() % std::max<int64_t>(1, len / 3);
          }
          args[i].set(row * len + e, id);
        }
      }
    }
  }

  // The concrete shapes must satisfy what the op's verifier could only check
  // for static dimensions (a kernel trusts them).
  std::string shapeError;
  entry.walk([&](AttentionOp op) {
    if (!shapeError.empty())
      return;
    auto shapeOf = [&](Value v) -> const std::vector<int64_t> * {
      int64_t i = argIndex(entry, v);
      return i < 0 ? nullptr : &args[i].shape;
    };
    const auto *q = shapeOf(op.getQuery()), *k = shapeOf(op.getKey()),
               *v = shapeOf(op.getValue());
    if (!q || !k || !v)
      return;
    std::string where;
    llvm::raw_string_ostream os(where);
    op.getLoc().print(os);
    auto bad = [&](const llvm::Twine &why) {
      shapeError = ("input shapes do not fit sparse_attn.attention at " +
                    where + ": " + why)
                       .str();
    };
    if ((*k)[0] != (*q)[0] || (*v)[0] != (*q)[0])
      return bad("batch sizes differ");
    if ((*v)[1] != (*k)[1])
      return bad("key and value head counts differ");
    if ((*k)[1] == 0 || (*q)[1] % (*k)[1] != 0)
      return bad("query heads (" + llvm::Twine((*q)[1]) +
                 ") are not a multiple of key/value heads (" +
                 llvm::Twine((*k)[1]) + ")");
    if ((*k)[3] != (*q)[3])
      return bad("query and key head dimensions differ");
    if ((*v)[2] != (*k)[2])
      return bad("key and value sequence lengths differ");
    if (op.hasBlockTables()) {
      int64_t bq = op.getTableBlock()->front();
      int64_t mq = ceilDivPositive((*q)[2], bq);
      for (auto [num, idx] :
           {std::pair(op.getKvNumBlocks(), op.getKvIndices()),
            std::pair(op.getFullNumBlocks(), op.getFullIndices())}) {
        if (!num)
          continue;
        const auto *n = shapeOf(num), *x = shapeOf(idx);
        if (!n || !x)
          continue;
        if ((*n)[0] != (*x)[0] || (*n)[1] != (*x)[1] || (*n)[2] != (*x)[2])
          return bad("block-table counts and indices disagree on [B', H', Mq]");
        if ((*n)[0] != 1 && (*n)[0] != (*q)[0])
          return bad("block tables: B' must be 1 or B");
        if ((*n)[1] != 1 && (*n)[1] != (*q)[1] && (*n)[1] != (*k)[1])
          return bad("block tables: H' must be 1, Hkv or Hq");
        if ((*n)[2] != mq)
          return bad("block tables: Mq must be ceil(Sq / BQ) = " +
                     llvm::Twine(mq) + ", got " + llvm::Twine((*n)[2]));
      }
    }
    auto segs = op.getSegmentIds();
    for (auto [i, seg] : llvm::enumerate(segs)) {
      const auto *sh = shapeOf(seg);
      if (!sh)
        continue;
      bool isKey = segs.size() == 2 && i == 1;
      int64_t len = isKey ? (*k)[2] : (*q)[2];
      if ((*sh)[0] != (*q)[0] || (*sh)[1] != len ||
          (segs.size() == 1 && (*q)[2] != (*k)[2]))
        return bad("segment ids must be [B, S] for the sequence they label");
    }
  });
  if (!shapeError.empty())
    return fail(shapeError);

  // Results: shapes from the types, or from the attention op producing them.
  std::vector<Buffer> results(numResults);
  auto ret = llvm::cast<func::ReturnOp>(entry.getBody().front().getTerminator());
  for (unsigned r = 0; r < numResults; ++r) {
    auto t = llvm::cast<RankedTensorType>(fnType.getResult(r));
    SmallVector<int64_t> shape(t.getShape());
    if (!t.hasStaticShape()) {
      std::optional<std::vector<int64_t>> inferred =
          inferShape(entry, ret.getOperand(r), args);
      if (!inferred)
        return fail("result #" + llvm::Twine(r) + " of @" + entry.getName() +
                    " has a dynamic shape that sparse-attn-run cannot infer "
                    "(only results of sparse_attn ops whose sizes follow "
                    "from the function's arguments can be)");
      shape.assign(inferred->begin(), inferred->end());
    }
    if (auto err = results[r].allocate(t.getElementType(), shape,
                                       "result #" + llvm::Twine(r)))
      return fail(llvm::toString(std::move(err)));
  }

  // Scores that can leave the f32 range (a huge scale, huge inputs) give
  // inf / NaN: say so. |scale q . k| <= |scale| max|q| max|k| (row norms).
  entry.walk([&](AttentionOp a) {
    int64_t qa = argIndex(entry, a.getQuery()), ka = argIndex(entry, a.getKey());
    if (qa < 0 || ka < 0)
      return;
    auto maxRowNorm = [](const Buffer &b) {
      int64_t d = b.shape.back(), rows = d ? b.numElements() / d : 0;
      double best = 0;
      for (int64_t r = 0; r < rows; ++r) {
        double n = 0;
        for (int64_t j = 0; j < d; ++j)
          n += b.get(r * d + j) * b.get(r * d + j);
        best = std::max(best, std::sqrt(n));
      }
      return best;
    };
    std::optional<double> scale = a.getEffectiveScale();
    double sc = scale ? *scale
                      : 1.0 / std::sqrt(static_cast<double>(
                                  std::max<int64_t>(1, args[qa].shape.back())));
    double bound = std::fabs(sc) * maxRowNorm(args[qa]) *
                   maxRowNorm(args[ka]);
    if (bound > std::numeric_limits<float>::max())
      llvm::errs() << "sparse-attn-run: warning: scores may leave the f32 "
                      "range (|scale| max|q| max|k| = "
                   << llvm::formatv("{0:e}", bound)
                   << " > 3.4e38): overflowing scores give inf / NaN\n";
  });

  // Compile.
  OwningOpRef<ModuleOp> lowered = module.clone();
  PassManager pm(&context);
  CPUPipelineOptions pipelineOptions;
  pipelineOptions.blockQ = blockQ;
  pipelineOptions.blockK = blockK;
  pipelineOptions.threads = threads;
  if (bf16Dot && !llvm::sys::getHostCPUFeatures().lookup("avx512bf16"))
    return fail("--bf16-dot needs a CPU with avx512bf16");
  pipelineOptions.bf16Dot = bf16Dot;
  bool hostAmx = llvm::sys::getHostCPUFeatures().lookup("amx-bf16");
  if (amx != "auto" && amx != "on" && amx != "off")
    return fail("--amx must be auto, on or off");
  if (amx == "on" && !hostAmx)
    return fail("--amx=on needs a CPU with amx-bf16");
  if (amx == "on" && bf16Dot)
    return fail("--bf16-dot and --amx=on exclude each other");
  // An explicit --bf16-dot asks for the AVX-512 path.
  pipelineOptions.amx = amx == "on" || (amx == "auto" && hostAmx && !bf16Dot);
  pipelineOptions.expandBF16 =
      !llvm::sys::getHostCPUFeatures().lookup("avx512bf16");
  if (lowering == Lowering::Fused)
    buildSparseAttnToLLVMCPUPipeline(pm, pipelineOptions);
  else
    buildSparseAttnReferenceToLLVMCPUPipeline(pm);
  auto compileStart = std::chrono::steady_clock::now();
  if (failed(pm.run(*lowered)))
    return fail("lowering '" + inputFile + "' failed");
  // The options hold a function_ref: keep the transformer alive.
  std::function<llvm::Error(llvm::Module *)> optimize =
      makeOptimizingTransformer(3, 0, nullptr);
  ExecutionEngineOptions engineOptions;
  engineOptions.transformer = optimize;
  // The OpenMP runtime of the LLVM installation the kernels are built with.
  SmallVector<StringRef> libs;
  if (lowering == Lowering::Fused && threads != 1)
    libs.push_back(SPARSE_ATTN_LIBOMP);
  engineOptions.sharedLibPaths = libs;
  auto engine = ExecutionEngine::create(*lowered, engineOptions);
  if (!engine)
    return fail("JIT compilation failed: " + llvm::toString(engine.takeError()));
  double compileMs = std::chrono::duration<double, std::milli>(
                         std::chrono::steady_clock::now() - compileStart)
                         .count();

  std::vector<void *> descPtrs, packed;
  for (auto *list : {&args, &results})
    for (Buffer &b : *list)
      descPtrs.push_back(b.descriptor.data());
  for (void *&p : descPtrs)
    packed.push_back(&p);
  std::string cName = ("_mlir_ciface_" + entry.getName()).str();
  auto call = [&]() -> llvm::Error {
    return (*engine)->invokePacked(cName, packed);
  };
  if (auto err = call())
    return fail("calling @" + entry.getName() + " failed: " +
                llvm::toString(std::move(err)));

  for (unsigned r = 0; r < outputs.size(); ++r)
    if (auto err = writeNpy(outputs[r], toNpy(results[r])))
      return fail(llvm::toString(std::move(err)));

  // A routing program (pooling, selection, attention over the selected
  // blocks, merges) is checked op by op against its float64 evaluation.
  bool routingProgram = false;
  entry.walk([&](Operation *o) {
    routingProgram |=
        llvm::isa<PoolOp, SelectBlocksOp, SelectTokensOp, AttentionGradOp>(o);
  });
  int programStatus = 0;
  if (routingProgram && (check || !writeReference.empty())) {
    if (writeReference.size() > numResults)
      return fail("@" + entry.getName() + " has " + llvm::Twine(numResults) +
                  " results but " + llvm::Twine(writeReference.size()) +
                  " --write-reference files were given");
    programStatus = checkProgram(entry, args, results, check, writeReference);
    if (!bench)
      return programStatus;
  }

  // The attention op the check and the FLOP count refer to.
  AttentionOp op;
  AttentionProblem problem;
  std::unique_ptr<MaskInterpreter> interpOwner;
  auto buildProblem = [&]() -> bool {
    if (numResults == 0)
      return false;
    op = producer(ret.getOperand(0));
    // A tile (tile_of / at) is part of a problem the reference does not
    // see: no float64 evaluation of it alone.
    if (!op || op.isTile())
      return false;
    for (unsigned r = 0; r < numResults; ++r)
      if (producer(ret.getOperand(r)) != op)
        return false;
    int64_t qi = argIndex(entry, op.getQuery()), ki = argIndex(entry, op.getKey()),
            vi = argIndex(entry, op.getValue());
    if (qi < 0 || ki < 0 || vi < 0)
      return false;
    const Buffer &q = args[qi], &k = args[ki], &v = args[vi];
    problem.b = q.shape[0];
    problem.hq = q.shape[1];
    problem.sq = q.shape[2];
    problem.d = q.shape[3];
    problem.hkv = k.shape[1];
    problem.sk = k.shape[2];
    problem.dv = v.shape[3];
    problem.scale = op.getScaleAttr()
                        ? op.getScaleAttr().getValueAsDouble()
                        : 1.0 / std::sqrt(static_cast<double>(problem.d));
    auto fill = [](const Buffer &b, std::vector<double> &out) {
      out.resize(b.numElements());
      for (int64_t i = 0; i < b.numElements(); ++i)
        out[i] = b.get(i);
    };
    fill(q, problem.q);
    fill(k, problem.k);
    fill(v, problem.v);
    if (Value s = op.getQuerySegmentIds()) {
      int64_t si = argIndex(entry, s), ski = argIndex(entry, op.getKeySegmentIds());
      if (si < 0 || ski < 0)
        return false;
      for (int64_t i = 0; i < args[si].numElements(); ++i)
        problem.qSeg.push_back(args[si].getInt(i));
      for (int64_t i = 0; i < args[ski].numElements(); ++i)
        problem.kSeg.push_back(args[ski].getInt(i));
    }
    if (op.hasBlockTables()) {
      problem.tableBQ = op.getTableBlock()->front();
      problem.tableBK = op.getTableBlock()->back();
      for (auto [num, idx] :
           {std::pair(op.getKvNumBlocks(), op.getKvIndices()),
            std::pair(op.getFullNumBlocks(), op.getFullIndices())}) {
        if (!num)
          continue;
        int64_t ni = argIndex(entry, num), xi = argIndex(entry, idx);
        if (ni < 0 || xi < 0)
          return false;
        AttentionProblem::BlockTable t;
        t.bp = args[ni].shape[0];
        t.hp = args[ni].shape[1];
        t.mq = args[ni].shape[2];
        t.n = args[xi].shape[3];
        for (int64_t i = 0; i < args[ni].numElements(); ++i)
          t.num.push_back(args[ni].getInt(i));
        for (int64_t i = 0; i < args[xi].numElements(); ++i)
          t.idx.push_back(args[xi].getInt(i));
        problem.tables.push_back(std::move(t));
      }
    }
    return true;
  };
  if (writeReference.size() > numResults)
    return fail("@" + entry.getName() + " has " + llvm::Twine(numResults) +
                " results but " + llvm::Twine(writeReference.size()) +
                " --write-reference files were given");
  bool haveProblem = !routingProgram &&
                     (check || bench || !writeReference.empty()) &&
                     buildProblem();
  if (haveProblem)
    interpOwner = std::make_unique<MaskInterpreter>(op);

  int status = 0;
  AttentionResult ref; // the float64 evaluation, for --check and
                       // --write-reference
  if (!routingProgram && (check || !writeReference.empty())) {
    if (!haveProblem)
      return fail(llvm::Twine(check ? "--check" : "--write-reference") +
                  " needs @" + entry.getName() +
                  " to return the results of one sparse_attn.attention whose "
                  "operands are the function's arguments");
    ref = computeReference(op, problem, *interpOwner);
    if (interpOwner->hadError())
      return 1;
  }
  if (!routingProgram && !writeReference.empty()) {
    for (unsigned r = 0; r < writeReference.size(); ++r) {
      bool isLse =
          llvm::cast<OpResult>(ret.getOperand(r)).getResultNumber() == 1;
      const std::vector<double> &want = isLse ? ref.lse : ref.out;
      NpyArray a;
      a.descr = "<f8";
      a.shape = results[r].shape;
      a.data.resize(want.size() * sizeof(double));
      if (!a.data.empty())
        std::memcpy(a.data.data(), want.data(), a.data.size());
      if (auto err = writeNpy(writeReference[r], a))
        return fail(llvm::toString(std::move(err)));
    }
  }
  if (check && !problem.tables.empty()) {
    // What the tables hold beyond well-formed lists: ignored by the
    // definition (and by the kernel, which never reads out of bounds), but
    // worth telling.
    int64_t nk = ceilDivPositive(problem.sk, problem.tableBK);
    int64_t outOfRange = 0, clamped = 0, repeated = 0;
    for (const AttentionProblem::BlockTable &t : problem.tables)
      for (int64_t row = 0; row < static_cast<int64_t>(t.num.size()); ++row) {
        int64_t count = t.num[row];
        if (count < 0 || count > t.n)
          ++clamped;
        count = std::clamp<int64_t>(count, 0, t.n);
        std::vector<char> seen(nk, 0);
        for (int64_t e = 0; e < count; ++e) {
          int64_t kb = t.idx[row * t.n + e];
          if (kb < 0 || kb >= nk)
            ++outOfRange;
          else if (seen[kb]++)
            ++repeated;
        }
      }
    llvm::outs() << "tables: " << outOfRange
                 << " listed indices out of range (ignored), " << clamped
                 << " counts outside [0, N] (clamped), " << repeated
                 << " repeated blocks (counted once)\n";
  }
  if (check && !routingProgram) {
    Type elt = llvm::cast<RankedTensorType>(op.getQuery().getType()).getElementType();
    // The default tolerance grows with the scores' magnitude: a score of
    // magnitude A computed in f32 is off by about A * 2^-24 per rounding,
    // and that error is the relative error of its weight exp(s - m). With
    // unit-scale inputs (A of order 10) the floor (1e-5 / 1e-2) applies.
    double floorTol = elt.isF32() ? 1e-5 : 1e-2;
    double tol = tolerance > 0
                     ? tolerance.getValue()
                     : std::max(floorTol, 16 * 0x1p-24 * ref.scoreBound);
    for (unsigned r = 0; r < numResults; ++r) {
      // Which result of the op this function result is.
      bool isLse = llvm::cast<OpResult>(ret.getOperand(r)).getResultNumber() == 1;
      const std::vector<double> &want = isLse ? ref.lse : ref.out;
      const Buffer &got = results[r];
      if (!compareFloat(isLse ? "lse" : "output", got, want, tol))
        status = 1;
    }
  }

  if (bench > 0) {
    for (int i = 0; i < warmup; ++i)
      if (auto err = call())
        return fail(llvm::toString(std::move(err)));
    std::vector<double> times;
    for (int i = 0; i < bench; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      if (auto err = call())
        return fail(llvm::toString(std::move(err)));
      times.push_back(std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - t0)
                          .count());
    }
    std::sort(times.begin(), times.end());
    double median = times[times.size() / 2];
    llvm::outs() << "{\"median_ms\": " << llvm::format("%.4f", median)
                 << ", \"threads\": " << threads.getValue()
                 << ", \"min_ms\": " << llvm::format("%.4f", times.front())
                 << ", \"runs\": " << bench.getValue()
                 << ", \"compile_ms\": " << llvm::format("%.1f", compileMs);
    if (haveProblem) {
      int64_t allowed = countAllowedPairsTotal(op, problem, *interpOwner);
      double flops = double(2 * problem.d + 2 * problem.dv) * double(allowed);
      double total = double(problem.b) * problem.hq * problem.sq * problem.sk;
      llvm::outs() << ", \"gflops\": " << llvm::format("%.3f", flops / (median * 1e6))
                   << ", \"density\": "
                   << llvm::format("%.6f", total > 0 ? allowed / total : 0.0)
                   << ", \"allowed_pairs\": " << allowed;
    }
    llvm::outs() << "}\n";
  }

  if (!check && !bench && outputs.empty()) {
    for (unsigned r = 0; r < numResults; ++r) {
      const Buffer &b = results[r];
      llvm::outs() << "result #" << r << ": " << typeStr(fnType.getResult(r))
                   << " [";
      for (int64_t i = 0; i < std::min<int64_t>(6, b.numElements()); ++i)
        llvm::outs() << (i ? ", " : "") << llvm::format("%.6g", b.get(i));
      llvm::outs() << (b.numElements() > 6 ? ", ...]" : "]") << "\n";
    }
  }
  return status | programStatus;
}
