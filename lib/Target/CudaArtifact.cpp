//===- CudaArtifact.cpp - GPU kernels as a loadable artifact --------------===//

#include "sparse_attn/Target/CudaArtifact.h"

#include "sparse_attn/Conversion/SparseAttnToGPU/SparseAttnToGPU.h"
#include "sparse_attn/Dialect/SparseAttn/IR/SparseAttnOps.h"
#include "sparse_attn/Pipelines/Pipelines.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::sparse_attn;

static std::string dtypeName(Type t) {
  if (t.isF16())
    return "f16";
  if (t.isBF16())
    return "bf16";
  if (t.isF32())
    return "f32";
  if (t.isInteger(32))
    return "i32";
  if (t.isInteger(64))
    return "i64";
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

static LogicalResult writeFile(StringRef path, StringRef data,
                               std::string &error) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    error = ("cannot write '" + path + "': " + ec.message()).str();
    return failure();
  }
  os << data;
  return success();
}

static std::optional<int64_t> constantIndex(Value v) {
  if (auto c = v.getDefiningOp<arith::ConstantOp>())
    if (auto i = llvm::dyn_cast<IntegerAttr>(c.getValue()))
      return i.getInt();
  return std::nullopt;
}

int64_t mlir::sparse_attn::chooseArtifactWarps(
    ModuleOp module, const CudaArtifactOptions &options) {
  // One value for the whole artifact (its manifest names one tile): two
  // warpgroups only if every forward op chooses them and no backward (whose
  // warpgroup kernels need warps = 4) is compiled with them.
  SparseAttnToGPUOptions conversion;
  conversion.blockK = options.blockK;
  conversion.mma = gpuMmaFor(options.mma, options.chip);
  conversion.tma = options.tma;
  conversion.overlap = options.overlap;
  conversion.warpSpecialize = options.warpSpecialize;
  conversion.gradDq = options.gradDq;
  int64_t forward = 0;
  WalkResult walk = module.walk([&](Operation *op) {
    if (llvm::isa<AttentionGradOp>(op))
      return WalkResult::interrupt();
    if (llvm::isa<AttentionOp>(op)) {
      if (chooseForwardWarps(op, conversion) != 8)
        return WalkResult::interrupt();
      ++forward;
    }
    return WalkResult::advance();
  });
  return !walk.wasInterrupted() && forward > 0 ? 8 : 4;
}

LogicalResult
mlir::sparse_attn::compileToCudaArtifact(ModuleOp module,
                                         const CudaArtifactOptions &requested,
                                         std::string &error) {
  CudaArtifactOptions options = requested;
  if (options.warps == kAutoWarps)
    options.warps = chooseArtifactWarps(module, options);
  OwningOpRef<ModuleOp> clone(module.clone());
  PassManager pm(module.getContext());
  GPUPipelineOptions pipeline;
  pipeline.chip = options.chip;
  pipeline.features = options.features;
  pipeline.format = options.format;
  pipeline.warps = options.warps;
  pipeline.blockK = options.blockK;
  pipeline.mma = options.mma;
  pipeline.tma = options.tma;
  pipeline.overlap = options.overlap;
  pipeline.warpSpecialize = options.warpSpecialize;
  pipeline.approxTanh = options.approxTanh;
  pipeline.gradDq = options.gradDq;
  pipeline.optLevel = options.optLevel;
  buildSparseAttnToNVVMPipeline(pm, pipeline);
  if (failed(pm.run(*clone))) {
    error = "the GPU lowering failed (see the diagnostics above)";
    return failure();
  }

  auto binary = clone->lookupSymbol<gpu::BinaryOp>("sparse_attn_kernels");
  if (!binary) {
    error = "the module has no sparse_attn.attention to compile";
    return failure();
  }
  auto object = llvm::dyn_cast<gpu::ObjectAttr>(binary.getObjects()[0]);
  if (!object) {
    error = "unexpected gpu.binary object";
    return failure();
  }
  std::string moduleFile, moduleFormat;
  switch (object.getFormat()) {
  case gpu::CompilationTarget::Assembly:
    moduleFile = "kernels.ptx";
    moduleFormat = "ptx";
    break;
  case gpu::CompilationTarget::Binary:
    moduleFile = "kernels.cubin";
    moduleFormat = "cubin";
    break;
  case gpu::CompilationTarget::Fatbin:
    moduleFile = "kernels.fatbin";
    moduleFormat = "fatbin";
    break;
  default:
    error = "unsupported object format (use isa, bin or fatbin)";
    return failure();
  }

  if (std::error_code ec =
          llvm::sys::fs::create_directories(options.directory)) {
    error = "cannot create '" + options.directory + "': " + ec.message();
    return failure();
  }
  auto path = [&](StringRef name) {
    SmallString<256> p(options.directory);
    llvm::sys::path::append(p, name);
    return std::string(p);
  };
  if (failed(writeFile(path(moduleFile), object.getObject().getValue(),
                       error)))
    return failure();

  std::string manifest;
  llvm::raw_string_ostream os(manifest);
  os << "sparse-attn-cuda-artifact 1\n";
  os << "module " << moduleFile << " " << moduleFormat << "\n";
  os << "# chip " << options.chip << ", features " << options.features
     << ", warps " << options.warps
     << (requested.warps == kAutoWarps ? " (chosen)" : "") << ", block-k "
     << options.blockK
     << ", mma " << options.mma << (options.tma ? ", tma" : "")
     << (options.overlap ? ", overlap" : "")
     << (options.warpSpecialize ? ", warp-specialized" : "")
     << (options.approxTanh ? "" : ", accurate tanh")
     << (options.gradDq == "atomic" ? ", atomic dQ" : "") << "\n";
  SymbolTable symbols(*clone);
  bool ok = true;
  // Program buffers: which value of the host function each launch argument
  // is, so that a launcher can run several kernels in order (a routing
  // program: pooling, selection, attention over the selected blocks).
  llvm::DenseMap<Value, std::string> bufferNames;
  int64_t temps = 0;
  auto programBuffer = [&](Value v) -> std::string {
    for (;;) {
      if (auto c = v.getDefiningOp<memref::ReinterpretCastOp>())
        v = c.getSource();
      else if (auto c = v.getDefiningOp<bufferization::ToBufferOp>())
        v = c.getTensor();
      else if (auto c = v.getDefiningOp<bufferization::ToTensorOp>())
        v = c.getBuffer();
      else
        break;
    }
    auto it = bufferNames.find(v);
    if (it != bufferNames.end())
      return it->second;
    std::string name;
    if (auto arg = llvm::dyn_cast<BlockArgument>(v)) {
      name = "input:" + std::to_string(arg.getArgNumber());
    } else {
      // A buffer the lowering allocated: an output if the function returns
      // it (through bufferization.to_tensor), a temporary otherwise.
      for (Operation *user : v.getUsers())
        if (auto t = llvm::dyn_cast<bufferization::ToTensorOp>(user))
          for (OpOperand &use : t.getResult().getUses())
            if (llvm::isa<func::ReturnOp>(use.getOwner()))
              name = "output:" + std::to_string(use.getOperandNumber());
      if (name.empty())
        name = "temp:" + std::to_string(temps++);
    }
    bufferNames[v] = name;
    return name;
  };
  clone->walk([&](gpu::LaunchFuncOp launch) {
    std::string binds;
    auto func = launch->getParentOfType<func::FuncOp>();
    os << "kernel " << launch.getKernelName().getValue() << "\n";
    os << "function " << (func ? func.getSymName() : "?") << "\n";
    auto dims = [&](StringRef what, Value x, Value y, Value z) {
      os << what;
      for (Value v : {x, y, z}) {
        std::optional<int64_t> c = constantIndex(v);
        if (!c) {
          error = "launch sizes must be constants";
          ok = false;
          return;
        }
        os << " " << *c;
      }
      os << "\n";
    };
    if (auto grid = launch->getAttrOfType<ArrayAttr>(kKernelGridAttrName)) {
      // Sizes known at run time: the grid in their names.
      os << "grid";
      for (Attribute g : grid)
        os << " " << llvm::cast<StringAttr>(g).getValue();
      os << "\n";
    } else {
      dims("grid", launch.getGridSizeX(), launch.getGridSizeY(),
           launch.getGridSizeZ());
    }
    dims("block", launch.getBlockSizeX(), launch.getBlockSizeY(),
         launch.getBlockSizeZ());
    int64_t shared = 0;
    if (Value s = launch.getDynamicSharedMemorySize())
      shared = constantIndex(s).value_or(0);
    os << "shared_bytes " << shared << "\n";
    os << "tile " << 16 * options.warps << " " << options.blockK << "\n";
    auto roles = launch->getAttrOfType<ArrayAttr>(kKernelArgsAttrName);
    auto argDims = launch->getAttrOfType<ArrayAttr>(kKernelArgDimsAttrName);
    for (auto [i, operand] : llvm::enumerate(launch.getKernelOperands())) {
      StringRef role =
          roles ? llvm::cast<StringAttr>(roles[i]).getValue() : "arg";
      if (role.starts_with("size:")) {
        os << "size " << role.drop_front(5) << "\n";
        continue;
      }
      auto type = llvm::dyn_cast<MemRefType>(operand.getType());
      if (!type) {
        error = "kernel argument " + std::to_string(i) +
                " is neither a buffer nor a size";
        ok = false;
        return;
      }
      if (role.starts_with("table:")) {
        auto get = operand.getDefiningOp<memref::GetGlobalOp>();
        auto global = get ? symbols.lookup<memref::GlobalOp>(get.getName())
                          : memref::GlobalOp();
        auto value = global ? llvm::dyn_cast_or_null<DenseIntElementsAttr>(
                                  global.getInitialValueAttr())
                            : DenseIntElementsAttr();
        if (!value) {
          error = "table argument without constant data";
          ok = false;
          return;
        }
        std::string file = (global.getSymName() + ".i32").str();
        std::string data;
        for (const APInt &x : value.getValues<APInt>()) {
          uint32_t w = (uint32_t)x.getSExtValue();
          for (int b = 0; b < 4; ++b)
            data.push_back((char)((w >> (8 * b)) & 0xff));
        }
        if (failed(writeFile(path(file), data, error))) {
          ok = false;
          return;
        }
        os << "table " << file << " " << value.getNumElements() << "\n";
        continue;
      }
      if (role.starts_with("tensormap:")) {
        // tensormap:<argument>:<rows>x<cols> -> "tensormap <argument> <rows>
        // <cols>": a CUtensorMap of that argument, encoded at launch.
        auto [what, box] = role.drop_front(10).split(':');
        auto [rows, cols] = box.split('x');
        os << "tensormap " << what << " " << rows << " " << cols << "\n";
        continue;
      }
      binds += " " + programBuffer(operand);
      os << "arg " << role << " " << dtypeName(type.getElementType()) << " ";
      if (argDims) { // dimensions as integers or run-time size names
        auto dimsOf = llvm::cast<ArrayAttr>(argDims[i]);
        os << dimsOf.size();
        for (Attribute d : dimsOf) {
          if (auto n = llvm::dyn_cast<IntegerAttr>(d))
            os << " " << n.getInt();
          else
            os << " " << llvm::cast<StringAttr>(d).getValue();
        }
      } else {
        os << type.getRank();
        for (int64_t d : type.getShape())
          os << " " << d;
      }
      os << "\n";
    }
    os << "bind" << binds << "\n";
    os << "end\n";
  });
  if (!ok)
    return failure();
  return writeFile(path("manifest.txt"), manifest, error);
}
