// RUN: sparse-attn-opt %s --split-input-file --convert-sparse-attn-to-gpu | FileCheck %s

// Token tables (table_block [1, 1], what select_tokens returns): 48 query
// heads over 2 KV heads (groups of 24) with one list per KV head. A thread
// block runs one token for up to 16 heads of a group as its MMA rows: grid
// (Sq = 100, 2 KV heads x 2 blocks of heads, B = 2), one warp. Shared
// memory: two K and two V tiles of 64 x (64 + 8) bf16 (36864 bytes), the
// key list (at most min(N = 40, Sk = 300) keys, padded to a tile: 64) and
// its count (260 bytes), one bit per key position (10 words).
// CHECK-LABEL: func.func @per_kv_head
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention blocks in (%c100, %c4, %c2) threads in (%c32, %c1, %c1) dynamic_shared_memory_size %c37164_i32
// CHECK-SAME: {sparse_attn.kernel_args = ["query", "key", "value", "output", "kv_num_blocks", "kv_indices"]}
// CHECK: gpu.func @sparse_attention
// CHECK-SAME: known_block_size = array<i32: 32, 1, 1>
// CHECK: %[[LIST:.*]] = memref.view %{{.*}}[%c36864][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<65xi32, #gpu.address_space<workgroup>>
// CHECK: %[[BITS:.*]] = memref.view %{{.*}}[%c37124][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<10xi32, #gpu.address_space<workgroup>>
// The block's heads: h0 = 24 (y / 2) + 16 (y % 2), rows = min(24 - 16 (y
// % 2), 16); the KV head h0 / 24; row r reads head h0 + min(r, rows - 1).
// CHECK: %[[TOK:.*]] = gpu.block_id x
// CHECK: %[[Y:.*]] = gpu.block_id y
// CHECK: %[[SUB:.*]] = arith.remui %[[Y]], %c2 : index
// CHECK: %[[LG:.*]] = arith.divui %[[Y]], %c2 : index
// CHECK: %[[A:.*]] = arith.muli %[[LG]], %c24 : index
// CHECK: %[[B:.*]] = arith.muli %[[SUB]], %c16 : index
// CHECK: %[[H0:.*]] = arith.addi %[[A]], %[[B]] : index
// CHECK: %[[USED:.*]] = arith.muli %[[SUB]], %c16 : index
// CHECK: %[[LEFT:.*]] = arith.subi %c24, %[[USED]] : index
// CHECK: %[[ROWS:.*]] = arith.minui %[[LEFT]], %c16 : index
// CHECK: %[[KVH:.*]] = arith.divui %[[H0]], %c24 : index
// CHECK: %[[LAST:.*]] = arith.subi %[[ROWS]], %c1 : index
// CHECK: %[[R0:.*]] = arith.minui %{{.*}}, %[[LAST]] : index
// CHECK: %[[HEAD0:.*]] = arith.addi %[[H0]], %[[R0]] : index
// CHECK: vector.load %arg0[%{{.*}}, %[[HEAD0]], %[[TOK]], %{{.*}}]
// Every listed position inside [0, Sk) sets its bit (row (0, kv head,
// token), count clamped to [0, N]).
// CHECK: memref.store %c0_i32, %[[BITS]]
// CHECK: gpu.barrier
// CHECK: %[[N:.*]] = memref.load %arg4[%c0, %[[KVH]], %[[TOK]]] : memref<1x2x100xi32>
// CHECK: arith.maxsi %[[N]], %c0_i32
// CHECK: arith.minsi %{{.*}}, %c40_i32
// CHECK: %[[KEY:.*]] = memref.load %arg5[%c0, %[[KVH]], %[[TOK]], %{{.*}}] : memref<1x2x100x40xi32>
// CHECK: arith.cmpi ult, %[[KEY]], %c300_i32 : i32
// CHECK: memref.atomic_rmw ori %{{.*}}, %[[BITS]]
// CHECK: gpu.barrier
// Warp 0 compacts the set bits in increasing order: a word per lane, its
// popcount, an inclusive prefix sum by shuffles up, the lane's keys lowest
// bit first, the step's total from lane 31.
// CHECK: scf.for %{{.*}} = %c0 to %c10 step %c32 iter_args
// CHECK: %[[POP:.*]] = llvm.intr.ctpop
// CHECK: gpu.shuffle up %[[POP]], %c1_i32, %c32_i32
// CHECK: gpu.shuffle up %{{.*}}, %c16_i32, %c32_i32
// CHECK: scf.while
// CHECK: llvm.intr.cttz
// CHECK: memref.store %{{.*}}, %[[LIST]]
// CHECK: gpu.shuffle idx %{{.*}}, %c31_i32, %c32_i32
// The padding to a whole tile is Sk (masked, zero-filled); the count in slot
// 64.
// CHECK: memref.store %c300_i32, %[[LIST]]
// CHECK: memref.store %{{.*}}, %[[LIST]][%c64]
// CHECK: gpu.barrier
// CHECK: memref.load %[[LIST]][%c64]
// K / V rows gathered from the list: the key at list position k0 + r,
// zero-filled past Sk, clamped for the address.
// CHECK: %[[GK:.*]] = memref.load %[[LIST]]
// CHECK: %[[GKI:.*]] = arith.index_cast %[[GK]] : i32 to index
// CHECK: %[[CL:.*]] = arith.minui %[[GKI]], %c299 : index
// CHECK: %[[IN:.*]] = arith.cmpi ult, %[[GKI]], %c300 : index
// CHECK: %[[FILL:.*]] = arith.select %[[IN]], %c8, %c0 : index
// CHECK: nvgpu.device_async_copy %arg1[%{{.*}}, %[[KVH]], %[[CL]], %{{.*}}], %{{.*}}, 8, %[[FILL]]
// Rows past the block's heads are not stored.
// CHECK: arith.cmpi ult, %{{.*}}, %[[ROWS]] : index
// CHECK: vector.store %{{.*}}, %arg3[%{{.*}}, %[[HEAD0]], %[[TOK]], %{{.*}}]
func.func @per_kv_head(%q: tensor<2x48x100x64xbf16>, %k: tensor<2x2x300x64xbf16>,
                       %v: tensor<2x2x300x64xbf16>, %n: tensor<1x2x100xi32>,
                       %x: tensor<1x2x100x40xi32>) -> tensor<2x48x100x64xbf16> {
  %init = tensor.empty() : tensor<2x48x100x64xbf16>
  %o = sparse_attn.attention %q, %k, %v
      block_tables(%n, %x : tensor<1x2x100xi32>, tensor<1x2x100x40xi32>)
      outs(%init : tensor<2x48x100x64xbf16>)
      {pattern = #sparse_attn.causal, table_block = array<i64: 1, 1>}
      : tensor<2x48x100x64xbf16>, tensor<2x2x300x64xbf16>, tensor<2x2x300x64xbf16> -> tensor<2x48x100x64xbf16>
  return %o : tensor<2x48x100x64xbf16>
}

// -----

// Per-query-head token tables (H' = Hq = 8 over 2 KV heads) share no list
// between heads: one head per thread block (grid y = 8), its row 0 (h0 =
// y). Tiles of 64 x (32 + 8) f16 (20480 bytes); both tables' widths bound
// the list: min(24 + 16, Sk = 32) = 32 keys, padded to one tile of 64 (the
// list with its count: 260 bytes), one bit word.
// CHECK-LABEL: func.func @per_query_head
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention blocks in (%c32, %c8, %c1) threads in (%c32, %c1, %c1) dynamic_shared_memory_size %c20744_i32
// CHECK-SAME: "full_num_blocks", "full_indices"
// CHECK: gpu.func @sparse_attention
// CHECK: %[[Y:.*]] = gpu.block_id y
// CHECK: %[[H:.*]] = arith.addi %{{.*}}, %{{.*}} : index
// CHECK: memref.load %arg4[%c0, %[[H]],
// CHECK: arith.minsi %{{.*}}, %c24_i32
// CHECK: memref.load %arg6[%c0, %[[H]],
// CHECK: arith.minsi %{{.*}}, %c16_i32
func.func @per_query_head(%q: tensor<1x8x32x32xf16>, %k: tensor<1x2x32x32xf16>,
                          %v: tensor<1x2x32x32xf16>,
                          %n: tensor<1x8x32xi32>, %x: tensor<1x8x32x24xi32>,
                          %fn: tensor<1x8x32xi32>, %fx: tensor<1x8x32x16xi32>)
    -> tensor<1x8x32x32xf16> {
  %init = tensor.empty() : tensor<1x8x32x32xf16>
  %o = sparse_attn.attention %q, %k, %v
      block_tables(%n, %x : tensor<1x8x32xi32>, tensor<1x8x32x24xi32>)
      full_tables(%fn, %fx : tensor<1x8x32xi32>, tensor<1x8x32x16xi32>)
      outs(%init : tensor<1x8x32x32xf16>)
      {pattern = #sparse_attn.causal, table_block = array<i64: 1, 1>}
      : tensor<1x8x32x32xf16>, tensor<1x2x32x32xf16>, tensor<1x2x32x32xf16> -> tensor<1x8x32x32xf16>
  return %o : tensor<1x8x32x32xf16>
}

// -----

// DeepSeek sparse attention: the selection kernel, then the attention over
// its tables (H' = 1: the 4 query heads of the one KV head share each list).
// Selection: grid (Sq, 1, B), one warp per key, the pattern at (b, 0, t, s),
// the score sum_j w_j relu(iq_j . ik_s), NaN -> -inf, warp 0's 8 top-k
// rounds, thread 0 writes the keys, the count and zeros.
// CHECK-LABEL: func.func @dsa
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attn_select_tokens blocks in (%c32, %c1, %c1) threads in (%c128, %c1, %c1)
// CHECK-SAME: {sparse_attn.kernel_args = ["index_query", "index_keys", "weights", "kv_num_blocks", "kv_indices"]}
// CHECK: gpu.launch_func @sparse_attn_kernels::@sparse_attention blocks in (%c32, %c1, %c1) threads in (%c32, %c1, %c1)
// CHECK: gpu.func @sparse_attn_select_tokens
// CHECK-SAME: workgroup(%[[SCORES:.*]] : memref<32xf32, #gpu.address_space<workgroup>>, %[[STATE:.*]] : memref<32xi32, #gpu.address_space<workgroup>>)
// CHECK: %[[T:.*]] = gpu.block_id x
// CHECK: scf.for %[[S:.*]] = %{{.*}} to %c32 step %c4
// CHECK: %[[CAND:.*]] = arith.cmpi sle, %[[S]], %[[T]] : index
// CHECK: gpu.shuffle xor
// CHECK: arith.maximumf
// CHECK: arith.cmpf uno
// CHECK: memref.store %{{.*}}, %[[SCORES]]
// CHECK: arith.select %[[CAND]], %c0_i32, %c2_i32
// CHECK: gpu.barrier
// CHECK: scf.for %{{.*}} = %c0 to %c8 step %c1
// CHECK: memref.store %c1_i32, %[[STATE]]
// CHECK: gpu.barrier
// CHECK: memref.store %{{.*}}, %arg4[%{{.*}}, %c0, %[[T]], %{{.*}}] : memref<1x1x32x8xi32>
// CHECK: memref.store %{{.*}}, %arg3[%{{.*}}, %c0, %[[T]]] : memref<1x1x32xi32>
// CHECK: memref.store %c0_i32, %arg4
func.func @dsa(%q: tensor<1x4x32x32xbf16>, %k: tensor<1x1x32x32xbf16>,
               %v: tensor<1x1x32x32xbf16>, %iq: tensor<1x32x2x16xbf16>,
               %ik: tensor<1x32x16xbf16>, %w: tensor<1x32x2xbf16>)
    -> tensor<1x4x32x32xbf16> {
  %n, %x = sparse_attn.select_tokens %iq, %ik, %w
      {pattern = #sparse_attn.causal, top_k = 8}
      : tensor<1x32x2x16xbf16>, tensor<1x32x16xbf16>, tensor<1x32x2xbf16>
      -> tensor<1x1x32xi32>, tensor<1x1x32x8xi32>
  %init = tensor.empty() : tensor<1x4x32x32xbf16>
  %o = sparse_attn.attention %q, %k, %v
      block_tables(%n, %x : tensor<1x1x32xi32>, tensor<1x1x32x8xi32>)
      outs(%init : tensor<1x4x32x32xbf16>)
      {pattern = #sparse_attn.causal, table_block = array<i64: 1, 1>}
      : tensor<1x4x32x32xbf16>, tensor<1x1x32x32xbf16>, tensor<1x1x32x32xbf16> -> tensor<1x4x32x32xbf16>
  return %o : tensor<1x4x32x32xbf16>
}
