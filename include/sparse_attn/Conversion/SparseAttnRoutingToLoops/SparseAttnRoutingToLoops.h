//===- SparseAttnRoutingToLoops.h - routing ops to CPU loops ----*- C++ -*-===//
#ifndef SPARSE_ATTN_CONVERSION_SPARSEATTNROUTINGTOLOOPS_H
#define SPARSE_ATTN_CONVERSION_SPARSEATTNROUTINGTOLOOPS_H

#include "mlir/IR/PatternMatch.h"

namespace mlir {
class ModuleOp;
namespace sparse_attn {

/// Rewrites the routing ops (sparse_attn.pool, sparse_attn.select_blocks)
/// into scf.parallel loop nests on buffers (bufferization.to_buffer of the
/// operands, bufferization.to_tensor of fresh results).
void populateSparseAttnRoutingToLoopsPatterns(RewritePatternSet &patterns);

/// Emits a diagnostic at every routing op the loop lowering cannot handle
/// (dynamic head dimension, non-constant lengths of a selection, a pattern
/// whose block classes depend on batch or head, too many blocks) and
/// returns failure if there was one.
LogicalResult verifyRoutingLowerable(ModuleOp module);

} // namespace sparse_attn
} // namespace mlir

#endif
