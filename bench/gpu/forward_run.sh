#!/usr/bin/env bash
# The forward side on the GPU machine in one command (issue #18), the
# counterpart of training_run.sh: every check of the carried check
# folders against the float reference, compute-sanitizer over a subset,
# then the benchmark of the AFTER folder against the peers, with a BEFORE
# folder (a kernel change's before side) benchmarked in the same run.
# Results under OUT (default $OUT or ./out).
#
# Here, with the build (artifacts into ignored folders, carried there):
#   /usr/bin/python3 bench/gpu/make_artifacts.py check --only '^check_' --out .artifacts/fwdchk
#   /usr/bin/python3 bench/gpu/make_artifacts.py check --mma wgmma --warps 8 \
#       --only '^check_(?!program|tokens)' --out .artifacts/fwd8
#   /usr/bin/python3 bench/gpu/make_artifacts.py bench --only REGEX --out .artifacts/fwd-after
# There (device tool, carrying those folders):
#   [CHECK_DIRS='.artifacts/fwdchk .artifacts/fwd8'] [SANITIZE=DIR:REGEX]
#   [BEFORE=DIR] [VARIANTS='DIR ...'] [AFTER=.artifacts/fwd-after] [PEERS=0]
#   bash bench/gpu/forward_run.sh [BENCH_REGEX]
# SANITIZE: compute-sanitizer's SANITIZE_TOOLS (default memcheck,racecheck)
# over the check cases of DIR matching REGEX; BEFORE and VARIANTS are
# benchmarked without peers before AFTER, each into bench-<folder>.jsonl;
# PEERS=0 leaves out FlexAttention and cuDNN; STAGE_TIMEOUT bounds each stage (a kernel that
# hangs fails its stage instead of the whole command).
set -uo pipefail
source "$(dirname "$0")/runtime.sh" # out, /tmp/libsa.so
bench="${1:-_S8192_}"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt"
for dir in ${CHECK_DIRS-.artifacts/fwdchk .artifacts/fwd8}; do
  [ -d "$dir" ] || continue
  tag=$(basename "$dir")
  timeout "${STAGE_TIMEOUT:-300}" python3 bench/gpu/run_h200.py --runtime /tmp/libsa.so --artifacts "$dir" --only '^check_' \
    --no-peers > "$out/check-$tag.jsonl" 2> "$out/check-$tag.err"
  echo "$tag checks: $(grep -c '"ok": true' "$out/check-$tag.jsonl") passed," \
    "$(grep -c '"ok": false\|"error"' "$out/check-$tag.jsonl") failed"
  grep '"ok": false\|"error"' "$out/check-$tag.jsonl" | cut -c1-300
  tail -2 "$out/check-$tag.err"
done
if [ -n "${SANITIZE:-}" ]; then
  cc -O2 -std=c99 runtime/cuda/sparse-attn-cuda-run.c runtime/cuda/sparse_attn_cuda.c \
    -o /tmp/sacr -ldl -lm || exit 1
  timeout "${SANITIZE_TIMEOUT:-240}" python3 bench/gpu/sanitize.py --artifacts "${SANITIZE%%:*}" \
    --runner /tmp/sacr --tools "${SANITIZE_TOOLS:-memcheck,racecheck}" --only "${SANITIZE#*:}" \
    > "$out/sanitize.txt" 2>&1
  echo "sanitize rc $?"
  grep -i 'summary\|fail\|error' "$out/sanitize.txt" | sort | uniq -c | head -20
fi
peers=()
[ "${PEERS:-1}" = 0 ] && peers=(--no-peers)
for dir in ${BEFORE:-} ${VARIANTS:-}; do
  tag=$(basename "$dir")
  timeout "${STAGE_TIMEOUT:-300}" python3 bench/gpu/run_h200.py --runtime /tmp/libsa.so --artifacts "$dir" --only "$bench" \
    --no-peers > "$out/bench-$tag.jsonl" 2> "$out/bench-$tag.err"
  cut -c1-300 "$out/bench-$tag.jsonl"
  tail -2 "$out/bench-$tag.err"
done
after="${AFTER:-.artifacts/fwd-after}"
if [ -d "$after" ]; then
  timeout "${STAGE_TIMEOUT:-300}" python3 bench/gpu/run_h200.py --runtime /tmp/libsa.so --artifacts "$after" --only "$bench" \
    "${peers[@]}" > "$out/bench-after.jsonl" 2> "$out/bench-after.err"
  cut -c1-300 "$out/bench-after.jsonl"
  tail -2 "$out/bench-after.err"
fi
