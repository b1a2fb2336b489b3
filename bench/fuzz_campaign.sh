#!/usr/bin/env bash
# The long fuzzing campaign of issue 13: every libFuzzer target of the
# sanitizer build (scripts/sanitize.sh builds build-san/) for RUNS
# executions (default 10^6) on one core, starting from the seed corpus;
# new corpus entries go to a scratch directory, crashes to ./crash-*.
#   bench/fuzz_campaign.sh [RUNS] [OUTDIR]
# Prints each target's final libFuzzer status line and its exit status.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${1:-1000000}"
out="${2:-/tmp/sparse-attn-fuzz}"
export ASAN_OPTIONS="detect_container_overflow=0:allow_user_poisoning=0:allocator_may_return_null=1:detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
declare -A args=(
  [parse]="-max_len=4096"
  [pattern]="-max_len=512 -dict=$root/fuzz/pattern.dict"
  [npy]="-max_len=1024"
  [manifest]="-max_len=2048"
)
status=0
for t in parse pattern npy manifest; do
  mkdir -p "$out/$t"
  start=$(date +%s)
  "$root/build-san/bin/sparse-attn-fuzz-$t" -runs="$runs" ${args[$t]} -seed=1 \
    -artifact_prefix="$out/crash-$t-" -print_final_stats=1 \
    "$out/$t" "$root/fuzz/corpus/$t" > "$out/$t.log" 2>&1
  rc=$?
  [ $rc -eq 0 ] || status=1
  echo "$t: exit $rc, $(( $(date +%s) - start )) s: $(grep -E '^Done|stat::number_of_executed_units' "$out/$t.log" | tr '\n' ' ')"
done
exit $status
