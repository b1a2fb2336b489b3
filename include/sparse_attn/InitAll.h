//===- InitAll.h - registration entry points -------------------*- C++ -*-===//
//
// What an embedding compiler or a tool calls, once each:
//
//   DialectRegistry registry;
//   sparse_attn::registerSparseAttnDialect(registry);
//   sparse_attn::registerSparseAttnPasses();
//   sparse_attn::registerSparseAttnPipelines();   // Pipelines/Pipelines.h
//
// A program that is not mlir-opt (which registers every upstream pass) also
// calls registerUpstreamPassesForPipelines(), because the pipelines are
// assembled from registered upstream passes.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSE_ATTN_INITALL_H
#define SPARSE_ATTN_INITALL_H

namespace mlir {
class DialectRegistry;
namespace sparse_attn {

/// The sparse_attn dialect, the dialects its IR and lowerings produce
/// (arith, math, scf, vector, memref, tensor, linalg, bufferization, LLVM,
/// ...), and the bufferization external models those need.
void registerSparseAttnDialect(DialectRegistry &registry);

/// The project's passes: transforms and conversions.
void registerSparseAttnPasses();

/// The upstream passes that sparse-attn's pipelines are made of.
void registerUpstreamPassesForPipelines();

} // namespace sparse_attn
} // namespace mlir

#endif
