// warp-specialize=true: warpgroup 0 of the block is a producer (one thread
// issues every K / V TMA, after waiting on the buffer's empty mbarrier),
// warpgroups 1-2 the consumers (warps = 8: 128 query rows; 384 threads).
// setmaxnreg moves registers to the consumers; warpgroup 1 hands
// warpgroup 0 the first turn, and the consumers issue each tile's S_j =
// Q K_j^T and P_{j-1} V_{j-1} between their turn barriers (ping-pong),
// wait for S_j alone (wait_group 1), release K_j, run the softmax of S_j,
// wait for P V (wait_group 0), release V_{j-1} and rescale O. Causal,
// Sq = Sk = 256, D = 128.
// RUN: sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu="mma=wgmma tma=true warps=8 warp-specialize=true" | FileCheck %s
// RUN: sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu="mma=wgmma tma=true warps=4 warp-specialize=true" | FileCheck %s --check-prefix=ONE
// RUN: sparse-attn-opt %s --split-input-file --sparse-attn-to-nvvm="binary=false tma=true warps=8 warp-specialize=true" | FileCheck %s --check-prefix=NVVM
// RUN: sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu="mma=wgmma tma=true warps=8 warp-specialize=true" | FileCheck %s --check-prefix=DOC
// RUN: sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu="mma=wgmma tma=true warps=8 warp-specialize=true" | FileCheck %s --check-prefix=DENSE
// RUN: sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu="mma=wgmma tma=true warps=8 warp-specialize=true" | FileCheck %s --check-prefix=RT

// Eight mbarriers (64 bytes) after the tiles; 384 threads.
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention blocks in (%c2, %c2, %c1) threads in (%c384, %c1, %c1) dynamic_shared_memory_size %c99392_i32
// CHECK-LABEL: gpu.func @sparse_attention
// CHECK-SAME: known_block_size = array<i32: 384, 1, 1>
// CHECK-SAME: nvvm.minctasm = 1 : i32
// Full barriers: one arrival; empty barriers: lane 0 of the 8 consumer
// warps; made visible to the async proxy.
// CHECK-COUNT-4: nvvm.mbarrier.init %{{.*}}, %c1_i32
// CHECK-COUNT-4: nvvm.mbarrier.init %{{.*}}, %c8_i32
// CHECK: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK: gpu.barrier
// The producer: registers down, then thread 0's loop over both lists.
// CHECK: scf.if
// CHECK-NEXT: nvvm.setmaxregister decrease 24
// CHECK: scf.for
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK: nvvm.mbarrier.arrive.expect_tx
// CHECK: nvvm.cp.async.bulk.tensor.shared.cluster.global
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK: nvvm.mbarrier.arrive.expect_tx
// CHECK: nvvm.cp.async.bulk.tensor.shared.cluster.global
// CHECK: scf.for
// CHECK: } else {
// CHECK-NEXT: nvvm.setmaxregister increase 240
// CHECK: nvvm.barrier.arrive id = %{{.*}} number_of_threads = %c256_i32
// The consumers' Q copy ends on their own barrier (1), not the block's.
// CHECK: nvvm.barrier id = %c1_i32 number_of_threads = %c256_i32
// CHECK-NOT: gpu.barrier
// Tile 0 of the query block (its full tiles, then its partial ones, in
// one sequence: one prologue and one epilogue per query block).
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK: nvvm.barrier id = %{{.*}} number_of_threads = %c256_i32
// CHECK: nvvm.wgmma.mma_async
// CHECK: nvvm.barrier.arrive
// CHECK: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK-NEXT: llvm.extractvalue
// The scores pass through the operand fence before any use.
// CHECK: llvm.inline_asm has_side_effects asm_dialect = att "", "=f,
// CHECK: nvvm.mbarrier.arrive
// The loop: S_j and P_{j-1} V_{j-1} in one turn.
// CHECK: scf.for
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK: nvvm.barrier id
// CHECK: nvvm.wgmma.mma_async
// CHECK: nvvm.wgmma.commit.group.sync.aligned
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK: wgmma.mma_async.sync.aligned.m64n128k16
// CHECK: nvvm.wgmma.commit.group.sync.aligned
// CHECK: nvvm.barrier.arrive
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 1
// CHECK: llvm.inline_asm has_side_effects asm_dialect = att "", "=f,
// CHECK: nvvm.mbarrier.arrive
// CHECK: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f32"
// CHECK: nvvm.wgmma.wait.group.sync.aligned 0
// O, the P V accumulator, is fenced before the rescale reads it.
// CHECK: llvm.inline_asm has_side_effects asm_dialect = att "", "=f,
// CHECK: nvvm.mbarrier.arrive
// CHECK: scf.yield
// The last tile's P V.
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK: nvvm.barrier id
// CHECK: wgmma.mma_async.sync.aligned.m64n128k16
// CHECK: nvvm.barrier.arrive
// CHECK: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK: nvvm.mbarrier.arrive
// CHECK-NOT: gpu.barrier
// CHECK: gpu.return

// One consumer warpgroup: no register reallocation, no turns.
// ONE: threads in (%c256, %c1, %c1)
// ONE-COUNT-4: nvvm.mbarrier.init %{{.*}}, %c4_i32
// ONE-NOT: nvvm.setmaxregister
// ONE-NOT: nvvm.barrier.arrive
// ONE: nvvm.barrier id = %c1_i32 number_of_threads = %c128_i32
// ONE-NOT: nvvm.setmaxregister
// ONE-NOT: nvvm.barrier.arrive
// ONE: gpu.return

// NVVM: nvvm.setmaxregister decrease 24
// NVVM: nvvm.setmaxregister increase 240
// NVVM: "bar.arrive $0, $1;"

func.func @causal(%q: tensor<1x2x256x128xbf16>, %k: tensor<1x2x256x128xbf16>, %v: tensor<1x2x256x128xbf16>) -> tensor<1x2x256x128xbf16> {
  %init = tensor.empty() : tensor<1x2x256x128xbf16>
  %o = sparse_attn.attention %q, %k, %v outs(%init : tensor<1x2x256x128xbf16>) {pattern = #sparse_attn.causal}
      : tensor<1x2x256x128xbf16>, tensor<1x2x256x128xbf16>, tensor<1x2x256x128xbf16> -> tensor<1x2x256x128xbf16>
  return %o : tensor<1x2x256x128xbf16>
}

// -----

// Document masks: every warp of the block (12) classifies the partial
// tiles from the segment-id ranges and warp 0 compacts them, with block
// barriers, before the roles split; the producer walks the compacted list
// (the count at slot 4, entries 2 key block + needs mask) and the
// consumers choose the mask per tile from it.
// DOC-LABEL: func.func @documents
// DOC: gpu.func @sparse_attention
// DOC: nvvm.mbarrier.init
// DOC: gpu.barrier
// DOC: vector.reduction <minsi>
// DOC: gpu.barrier
// DOC: nvvm.vote.sync ballot
// DOC: gpu.barrier
// DOC: nvvm.setmaxregister decrease 24
// DOC: scf.for
// DOC: memref.load %{{.*}}[%c4]
// DOC: scf.for
// DOC: arith.shrui
// DOC: nvvm.cp.async.bulk.tensor.shared.cluster.global
// DOC: nvvm.setmaxregister increase 240
// The full and partial tiles are one sequence: tile j is partial from
// j >= (full count) on, and masked if its entry says so.
// DOC: arith.cmpi uge
// DOC: arith.andi %{{.*}}, %c1 : index
// DOC: scf.if
// DOC: arith.select
// DOC: gpu.return

// Dense over whole tiles has no partial tile anywhere: one sequence of
// full tiles, no run-time mask choice.
// DENSE-LABEL: func.func @dense
// DENSE: nvvm.setmaxregister increase 240
// DENSE-NOT: arith.cmpi uge, %{{.*}}, %{{.*}} : index
// DENSE: nvvm.wgmma.mma_async
// DENSE-NOT: arith.cmpi uge, %{{.*}}, %{{.*}} : index
// DENSE: gpu.return

func.func @documents(%q: tensor<1x2x256x128xbf16>, %ids: tensor<1x256xi32>) -> tensor<1x2x256x128xbf16> {
  %init = tensor.empty() : tensor<1x2x256x128xbf16>
  %o = sparse_attn.attention %q, %q, %q segments(%ids : tensor<1x256xi32>) outs(%init : tensor<1x2x256x128xbf16>) {pattern = #sparse_attn.intersect<[#sparse_attn.segments, #sparse_attn.causal]>}
      : tensor<1x2x256x128xbf16>, tensor<1x2x256x128xbf16>, tensor<1x2x256x128xbf16> -> tensor<1x2x256x128xbf16>
  return %o : tensor<1x2x256x128xbf16>
}

// -----

func.func @dense(%q: tensor<1x2x256x128xbf16>) -> tensor<1x2x256x128xbf16> {
  %init = tensor.empty() : tensor<1x2x256x128xbf16>
  %o = sparse_attn.attention %q, %q, %q outs(%init : tensor<1x2x256x128xbf16>) {pattern = #sparse_attn.dense}
      : tensor<1x2x256x128xbf16>, tensor<1x2x256x128xbf16>, tensor<1x2x256x128xbf16> -> tensor<1x2x256x128xbf16>
  return %o : tensor<1x2x256x128xbf16>
}

// -----

// Runtime block tables (static Sk, one chunk): the whole block (12 warps)
// sets the listed bits and warp 0 compacts the listed, non-empty tiles
// before the roles split; the producer and the consumers walk that list.
// RT-LABEL: func.func @runtime_tables
// RT: gpu.func @sparse_attention
// RT: nvvm.mbarrier.init
// RT: gpu.barrier
// RT: memref.atomic_rmw ori
// RT: gpu.barrier
// RT: nvvm.vote.sync ballot
// RT: gpu.barrier
// RT: nvvm.setmaxregister decrease 24
// RT-NOT: scf.for
// RT: memref.load %{{.*}}[%c4]
// RT: scf.for
// RT: arith.shrui
// RT: nvvm.cp.async.bulk.tensor.shared.cluster.global
// RT: nvvm.setmaxregister increase 240
// RT: gpu.return
func.func @runtime_tables(%q: tensor<1x2x256x128xbf16>, %n: tensor<1x2x2xi32>, %x: tensor<1x2x2x2xi32>) -> tensor<1x2x256x128xbf16> {
  %init = tensor.empty() : tensor<1x2x256x128xbf16>
  %o = sparse_attn.attention %q, %q, %q block_tables(%n, %x : tensor<1x2x2xi32>, tensor<1x2x2x2xi32>) outs(%init : tensor<1x2x256x128xbf16>) {pattern = #sparse_attn.causal, table_block = array<i64: 128, 128>}
      : tensor<1x2x256x128xbf16>, tensor<1x2x256x128xbf16>, tensor<1x2x256x128xbf16> -> tensor<1x2x256x128xbf16>
  return %o : tensor<1x2x256x128xbf16>
}
