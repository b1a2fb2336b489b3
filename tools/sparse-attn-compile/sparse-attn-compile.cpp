//===- sparse-attn-compile.cpp - ahead-of-time compilation to a .so -------===//
//
//   sparse-attn-compile FILE.mlir -o libattn.so [--mcpu=native|NAME]
//                       [--header attn.h] [--block-q N --block-k N]
//   sparse-attn-compile FILE.mlir --target=cuda -o ARTIFACT_DIR
//                       [--chip sm_90a] [--format isa|bin|fatbin]
//                       [--warps auto|N] [--block-k N]
//
// With --target=cuda the module is lowered with sparse-attn-to-nvvm and
// written as an artifact directory (PTX / cubin, block tables, manifest.txt;
// see include/sparse_attn/Target/CudaArtifact.h) that runtime/cuda loads and
// launches through the CUDA driver API.
//
// Lowers the module with sparse-attn-to-llvm-cpu, compiles it for the host or
// a named x86-64 CPU and links a shared library that needs neither LLVM nor
// MLIR at run time (only libc and libm). The C ABI, also written to --header:
// each public function F becomes
//
//   void _mlir_ciface_F(SparseAttnMemref<rank>d *arg0, ..., *result0, ...);
//
// with one strided-memref descriptor per tensor argument and then per result
// (results are out-parameters the caller allocates):
//
//   struct { void *allocated; void *aligned; int64_t offset;
//            int64_t sizes[rank]; int64_t strides[rank]; }
//
// Data is row-major (strides = suffix products of sizes, offset 0); f32 is
// float, f16 / bf16 are 16-bit patterns (uint16_t), segment ids int32/int64.
//
//===----------------------------------------------------------------------===//

#include "sparse_attn/InitAll.h"
#include "sparse_attn/Pipelines/Pipelines.h"
#include "sparse_attn/Target/CudaArtifact.h"
#include "sparse_attn/Target/SharedLibrary.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "sparse_attn/Support/InputModule.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;
namespace cl = llvm::cl;

namespace {
cl::OptionCategory category("sparse-attn-compile options");
cl::opt<std::string> inputFile(cl::Positional, cl::desc("<input .mlir>"),
                               cl::Required, cl::cat(category));
cl::opt<std::string> outputFile("o",
                                cl::desc("Shared library (cpu) or artifact "
                                         "directory (cuda) to write"),
                                cl::value_desc("path"), cl::Required,
                                cl::cat(category));
cl::opt<std::string> target("target",
                            cl::desc("cpu (default): a shared library for "
                                     "this machine; cuda: a GPU artifact"),
                            cl::init("cpu"), cl::cat(category));
cl::opt<std::string> chip("chip", cl::desc("GPU architecture (cuda)"),
                          cl::init("sm_90a"), cl::cat(category));
cl::opt<std::string> features("features", cl::desc("PTX features (cuda)"),
                              cl::init("+ptx83"), cl::cat(category));
cl::opt<std::string> format("format",
                            cl::desc("cuda: isa (PTX, default), bin (cubin, "
                                     "needs ptxas) or fatbin"),
                            cl::init("isa"), cl::cat(category));
cl::opt<std::string> warps(
    "warps",
    cl::desc("cuda: warps per thread block (16 query rows each), or auto "
             "(default: 8, two warpgroups, where D = 128 and the rows are "
             "long enough to win on sm_90a, else 4; docs/gpu-lowering.md)"),
    cl::init("auto"), cl::cat(category));
cl::opt<std::string> mma("mma",
                        cl::desc("cuda: tensor-core instructions, sync "
                                 "(mma.sync), wgmma (sm_90a) or auto "
                                 "(default: wgmma where possible on sm_90a)"),
                        cl::init("auto"), cl::cat(category));
cl::opt<bool> tma("tma",
                  cl::desc("cuda: with wgmma, K / V tiles by TMA (default; "
                           "the runtime encodes the tensor maps); "
                           "--tma=false: cp.async"),
                  cl::init(true), cl::cat(category));
cl::opt<bool> overlap("overlap",
                      cl::desc("cuda: with TMA, issue the next tile's Q K^T "
                               "before this tile's softmax; the backward "
                               "with wgmma: P / dS made while the tile's "
                               "other products run (opt-in: within 3% of the default)"),
                      cl::init(false), cl::cat(category));
cl::opt<bool> warpSpecialize(
    "warp-specialize",
    cl::desc("cuda: with TMA, the forward's warp-specialised schedule (a "
             "producer warpgroup; consumer warpgroups in ping-pong)"),
    cl::init(false), cl::cat(category));
cl::opt<bool> approxTanh(
    "approx-tanh",
    cl::desc("cuda: math.tanh of score_mod bodies as tanh.approx.f32 "
             "(default; --approx-tanh=false: the accurate expansion)"),
    cl::init(true), cl::cat(category));
cl::opt<std::string> gradDq(
    "grad-dq",
    cl::desc("cuda: the backward's dQ, deterministic (default: a kernel of "
             "its own, bit-reproducible) or atomic (f32 atomic sums in the "
             "key-block kernel: less work, run-to-run variation)"),
    cl::init("deterministic"), cl::cat(category));
cl::opt<std::string> headerFile("header",
                                cl::desc("Also write a C header of the ABI"),
                                cl::value_desc("file.h"), cl::cat(category));
cl::opt<std::string> mcpu("mcpu",
                          cl::desc("Target CPU: 'native' (the host, default) "
                                   "or an LLVM x86-64 CPU name such as "
                                   "x86-64-v3, skylake-avx512, sapphirerapids"),
                          cl::init("native"), cl::cat(category));
cl::opt<std::string> amx(
    "amx",
    cl::desc("cpu, bf16 inputs: AMX tile products. auto (default): when the "
             "--mcpu has amx-bf16; on: required; off"),
    cl::init("auto"), cl::cat(category));
cl::opt<int64_t> blockQ("block-q", cl::desc("Query rows per tile"),
                        cl::init(64), cl::cat(category));
cl::opt<int64_t> blockK("block-k", cl::desc("Key columns per tile"),
                        cl::init(64), cl::cat(category));
cl::opt<int64_t> threads(
    "num-threads",
    cl::desc("1 (default): single-threaded, needs only libc and libm; 0: "
             "OpenMP, one thread per core; N: OpenMP, N threads (links "
             "libomp)"),
    cl::init(1), cl::cat(category));
cl::opt<std::string> linker("linker",
                            cl::desc("C compiler driver used to link (default: "
                                     "cc, then clang-22, then gcc)"),
                            cl::cat(category));

int fail(const llvm::Twine &msg) {
  llvm::errs() << "sparse-attn-compile: error: " << msg << "\n";
  return 1;
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv, "sparse-attn-compile: compile a sparse_attn module into a "
                  "shared library\n");
  if (blockQ <= 0 || blockK <= 0)
    return fail("--block-q and --block-k must be positive");
  if (threads < 0)
    return fail("--num-threads must be non-negative");

  sparse_attn::registerSparseAttnPasses();
  sparse_attn::registerSparseAttnPipelines();
  sparse_attn::registerUpstreamPassesForPipelines();
  DialectRegistry registry;
  sparse_attn::registerSparseAttnDialect(registry);
  MLIRContext context(registry);

  sparse_attn::InputModule input(inputFile, context);
  if (!input.openError().empty())
    return fail(input.openError());
  ModuleOp module = input.module();
  if (!module)
    return 1;

  if (target == "cuda") {
    if (format != "isa" && format != "bin" && format != "fatbin")
      return fail("--format must be isa, bin or fatbin");
    sparse_attn::CudaArtifactOptions cuda;
    cuda.directory = outputFile;
    cuda.chip = chip;
    cuda.features = features;
    cuda.format = format;
    if (warps == "auto") {
      cuda.warps = sparse_attn::kAutoWarps;
    } else if (llvm::StringRef(warps).getAsInteger(10, cuda.warps) ||
               cuda.warps < 1) {
      return fail("--warps must be auto or a positive number, got '" +
                  warps + "'");
    }
    cuda.blockK = blockK;
    if (mma != "sync" && mma != "wgmma" && mma != "auto")
      return fail("--mma must be sync, wgmma or auto");
    if (mma == "wgmma" && chip != "sm_90a")
      return fail("--mma=wgmma needs --chip=sm_90a (warpgroup MMA), got " +
                  chip);
    cuda.mma = mma;
    cuda.tma = tma;
    cuda.overlap = overlap;
    cuda.warpSpecialize = warpSpecialize;
    cuda.approxTanh = approxTanh;
    if (gradDq != "deterministic" && gradDq != "atomic")
      return fail("--grad-dq must be deterministic or atomic");
    cuda.gradDq = gradDq;
    std::string message;
    if (failed(sparse_attn::compileToCudaArtifact(module, cuda, message)))
      return fail(message);
    llvm::errs() << "wrote " << outputFile << " (" << chip << ")\n";
    return 0;
  }
  if (target != "cpu")
    return fail("--target must be cpu or cuda");

  sparse_attn::SharedLibraryOptions options;
  options.outputPath = outputFile;
  options.mcpu = mcpu;
  options.blockQ = blockQ;
  options.blockK = blockK;
  options.linker = linker;
  options.amx = amx;
  options.threads = threads;
  std::string message, cpu;
  if (failed(sparse_attn::compileToSharedLibrary(module, options, message,
                                                 &cpu)))
    return fail(message);
  if (!headerFile.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream os(headerFile, ec, llvm::sys::fs::OF_Text);
    if (ec)
      return fail("cannot write '" + headerFile + "': " + ec.message());
    os << sparse_attn::cHeaderFor(module, inputFile);
  }
  llvm::errs() << "wrote " << outputFile << " ("
               << llvm::sys::getDefaultTargetTriple() << ", cpu " << cpu
               << ")\n";
  return 0;
}
