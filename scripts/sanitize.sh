#!/usr/bin/env bash
# The whole test suite on an AddressSanitizer + UndefinedBehaviorSanitizer
# build (build-san/), with the libFuzzer targets and their smoke runs
# (test/fuzz). LLVM / MLIR stay uninstrumented; every library, tool and
# test binary of this project is instrumented. Run by scripts/test.sh
# (and so by CI) after the Release suite.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [ ! -f build-san/build.ninja ]; then
  cmake -G Ninja -S . -B build-san -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DCMAKE_C_FLAGS_RELEASE="-O1 -g1 -DNDEBUG" \
    -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g1 -DNDEBUG" \
    -DLLVM_USE_LINKER=lld \
    -DSPARSE_ATTN_SANITIZE=address,undefined -DSPARSE_ATTN_FUZZERS=ON \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir
fi
# Container-overflow checks and user poisoning need every user of
# std::vector and of LLVM's BumpPtrAllocator instrumented (libMLIR is not:
# its allocator hands out memory that inlined, instrumented header code
# poisoned); huge allocations must fail as they do in a normal build (the
# tools report them) instead of aborting; leaks are errors.
export ASAN_OPTIONS="detect_container_overflow=0:allow_user_poisoning=0:allocator_may_return_null=1:detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ninja -C build-san check-sparse-attn
