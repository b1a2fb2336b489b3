//===- InitAll.h - register what sparse-attn's tools need ------*- C++ -*-===//
#ifndef SPARSE_ATTN_INITALL_H
#define SPARSE_ATTN_INITALL_H

namespace mlir {
class DialectRegistry;
namespace sparse_attn {

/// The dialects a sparse_attn module and its lowerings use, with the
/// bufferization external models they need.
void registerDialects(DialectRegistry &registry);

/// The project's passes and pipelines, plus the upstream passes the
/// pipelines are made of.
void registerPasses();

} // namespace sparse_attn
} // namespace mlir

#endif
