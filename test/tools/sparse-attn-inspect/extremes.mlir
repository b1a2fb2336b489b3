// Extreme attribute values and interpreter corner cases give the exact mask.
// RUN: sparse-attn-inspect %s --op=0 --format=bits | FileCheck %s --check-prefix=WIN
// RUN: sparse-attn-inspect %s --op=1 --format=bits | FileCheck %s --check-prefix=ALL
// RUN: sparse-attn-inspect %s --op=1 --format=blocks --block=9223372036854775807x1 | FileCheck %s --check-prefix=ONEROW
// RUN: sparse-attn-inspect %s --op=2 --format=bits | FileCheck %s --check-prefix=WIN
// RUN: sparse-attn-inspect %s --op=3 --format=bits | FileCheck %s --check-prefix=WIN
// RUN: sparse-attn-inspect %s --op=4 --format=bits | FileCheck %s --check-prefix=F16
// RUN: sparse-attn-inspect %s --op=5 --format=bits | FileCheck %s --check-prefix=ALL

// window<before = 0, after = INT64_MAX>: the upper triangle (q + after must
// not overflow).
// WIN:      1111
// WIN-NEXT: 0111
// WIN-NEXT: 0011
// WIN-NEXT: 0001
// ALL:      1111
// ALL-NEXT: 1111
// ALL-NEXT: 1111
// ALL-NEXT: 1111
// ONEROW: FFFF
// ONEROW-NOT: {{.}}
// f16 arithmetic rounds: (2048 + q) + q == 2048 + 2q fails for odd q.
// F16:      1111
// F16-NEXT: 0000
// F16-NEXT: 1111
// F16-NEXT: 0000

!t = tensor<1x1x4x4xf32>

// i1 true sign-extends to -1: extsi(k >= q) == -1 is the upper triangle.
sparse_attn.mask @extsi(%b: index, %h: index, %q: index, %k: index) {
  %ge = arith.cmpi sge, %k, %q : index
  %w = arith.extsi %ge : i1 to i64
  %m1 = arith.constant -1 : i64
  %ok = arith.cmpi eq, %w, %m1 : i64
  sparse_attn.yield %ok : i1
}
// Negation wraps at INT64_MIN; (0 - x) * -1 == x for x = q + INT64_MIN.
// Then the mask is k >= q. (Division by -1, which overflows there, is a
// verifier error: test/Dialect/SparseAttn/invalid.mlir.)
sparse_attn.mask @divneg(%b: index, %h: index, %q: index, %k: index) {
  %min = arith.constant -9223372036854775808 : index
  %m1 = arith.constant -1 : index
  %zero = arith.constant 0 : index
  %x = arith.addi %q, %min : index
  %y = arith.subi %zero, %x : index
  %z = arith.muli %y, %m1 : index
  %same = arith.cmpi eq, %z, %x : index
  %ge = arith.cmpi sge, %k, %q : index
  %ok = arith.andi %same, %ge : i1
  sparse_attn.yield %ok : i1
}
sparse_attn.mask @f16(%b: index, %h: index, %q: index, %k: index) {
  %qi = arith.index_cast %q : index to i32
  %qf = arith.sitofp %qi : i32 to f16
  %c = arith.constant 2048.0 : f16
  %a = arith.addf %c, %qf : f16
  %s = arith.addf %a, %qf : f16
  %two = arith.constant 2.0 : f16
  %dq = arith.mulf %qf, %two : f16
  %e = arith.addf %c, %dq : f16
  %ok = arith.cmpf oeq, %s, %e : f16
  sparse_attn.yield %ok : i1
}
// negf(negf(x)) folds to x, a value other than the op's operand.
sparse_attn.mask @negneg(%b: index, %h: index, %q: index, %k: index) {
  %qi = arith.index_cast %q : index to i32
  %x = arith.sitofp %qi : i32 to f32
  %n = arith.negf %x : f32
  %nn = math.absf %n : f32
  %ok = arith.cmpf oeq, %nn, %x : f32
  sparse_attn.yield %ok : i1
}

func.func @f(%q: !t) -> (!t, !t, !t, !t, !t, !t) {
  %init0 = tensor.empty() : !t
  %0 = sparse_attn.attention %q, %q, %q outs(%init0 : !t) {pattern = #sparse_attn.window<before = 0, after = 9223372036854775807>} : !t, !t, !t -> !t
  %init1 = tensor.empty() : !t
  %1 = sparse_attn.attention %q, %q, %q outs(%init1 : !t) {pattern = #sparse_attn.random<block = 9223372036854775807, per_row = 1, seed = 0>} : !t, !t, !t -> !t
  %init2 = tensor.empty() : !t
  %2 = sparse_attn.attention %q, %q, %q outs(%init2 : !t) {pattern = #sparse_attn.custom<@extsi>} : !t, !t, !t -> !t
  %init3 = tensor.empty() : !t
  %3 = sparse_attn.attention %q, %q, %q outs(%init3 : !t) {pattern = #sparse_attn.custom<@divneg>} : !t, !t, !t -> !t
  %init4 = tensor.empty() : !t
  %4 = sparse_attn.attention %q, %q, %q outs(%init4 : !t) {pattern = #sparse_attn.custom<@f16>} : !t, !t, !t -> !t
  %init5 = tensor.empty() : !t
  %5 = sparse_attn.attention %q, %q, %q outs(%init5 : !t) {pattern = #sparse_attn.custom<@negneg>} : !t, !t, !t -> !t
  return %0, %1, %2, %3, %4, %5 : !t, !t, !t, !t, !t, !t
}
