// Tiles that do not fit in a thread block's 227 KB of shared memory are
// diagnosed before anything is rewritten (one shared-memory plan for the
// check and the kernel; the estimate includes room for
// the document-mask tile lists).
// RUN: not sparse-attn-opt %s --convert-sparse-attn-to-gpu="mma=wgmma block-k=256" 2>&1 | FileCheck %s --check-prefix=WGMMA
// RUN: not sparse-attn-opt %s --convert-sparse-attn-to-gpu="mma=sync block-k=256" 2>&1 | FileCheck %s --check-prefix=SYNC
// RUN: sparse-attn-opt %s --convert-sparse-attn-to-gpu="mma=auto block-k=192" | FileCheck %s --check-prefix=AUTO

// WGMMA: error: 'sparse_attn.attention' op mma=wgmma needs Q, K and V tiles that fit in shared memory (295940 bytes at block-k 256, more than 232448)
// SYNC: error: 'sparse_attn.attention' op the GPU kernel would need up to 294916 bytes of shared memory at block-k 256, more than the 232448 of a thread block; use a smaller block-k
// At block-k 192 the wgmma layout fits (1024 + 16384 + 2 x 49152 x 2 bytes).
// AUTO: dynamic_shared_memory_size %c214016_i32
// AUTO: nvvm.wgmma.mma_async
func.func @wide(%q: tensor<1x1x512x128xbf16>) -> tensor<1x1x512x128xbf16> {
  %init0 = tensor.empty() : tensor<1x1x512x128xbf16>
  %o = sparse_attn.attention %q, %q, %q outs(%init0 : tensor<1x1x512x128xbf16>) {pattern = #sparse_attn.causal}
      : tensor<1x1x512x128xbf16>, tensor<1x1x512x128xbf16>, tensor<1x1x512x128xbf16> -> tensor<1x1x512x128xbf16>
  return %o : tensor<1x1x512x128xbf16>
}
