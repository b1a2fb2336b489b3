#!/usr/bin/env bash
# The training side on the GPU machine in one command (issues #16, #17):
# the backward's checks (both dQ modes), the PyTorch front end's op checks
# and transformer-block training step, then the backward's benchmark
# against the peers. First, when carried, the routing programs' checks
# (issue #15: examples/moba, nsa, dsa against their float64 reference).
# Results under OUT (default $OUT or ./out).
#
# Here, with the build (artifacts into ignored folders, carried there):
#   /usr/bin/python3 bench/gpu/grad.py make [--bench-variants 8x64,8x32,4x128]
#   /usr/bin/python3 bench/gpu/torch_train.py make
#   /usr/bin/python3 bench/gpu/make_artifacts.py check --only "check_program|check_tokens" \
#       --out .artifacts/routing
# There (device tool, carry .artifacts/grad, .artifacts/torch-cache and
# .artifacts/routing):
#   [CHECKS=REGEX] [BEFORE=DIR] [TRAIN=0] bash bench/gpu/training_run.sh [BENCH_REGEX]
# BEFORE: artifacts of the same cases from an earlier compiler (a kernel
# change's before side), benchmarked first in the same run, without peers;
# TRAIN=0 skips the torch front end's checks.
set -uo pipefail
out="${OUT:-out}"
mkdir -p "$out"
bench="${1:-gbench_[a-z0-9]*_S8192_D128(_atomic|_wgmma)?$}"
cc -O2 -std=c99 -shared -fPIC runtime/cuda/sparse_attn_cuda.c -o /tmp/libsa.so -ldl || exit 1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt"
if [ -d .artifacts/routing ]; then
  python3 bench/gpu/run_h200.py --runtime /tmp/libsa.so --artifacts .artifacts/routing \
    --only check --no-peers > "$out/routing-check.jsonl" 2> "$out/routing.err"
  cut -c1-300 "$out/routing-check.jsonl"
  tail -3 "$out/routing.err"
fi
python3 bench/gpu/grad.py run --runtime /tmp/libsa.so --only "${CHECKS:-gcheck}" \
  > "$out/grad-check.jsonl" 2> "$out/check.err"
echo "grad checks passed: $(grep -c '"ok": true' "$out/grad-check.jsonl")"
grep '"ok": false\|error' "$out/grad-check.jsonl" | cut -c1-300
tail -3 "$out/check.err"
if [ "${TRAIN:-1}" != 0 ]; then
  SPARSE_ATTN_CUDA_RUNTIME=/tmp/libsa.so timeout 400 python3 bench/gpu/torch_train.py run \
    > "$out/torch-train.jsonl" 2> "$out/train.err"
  cut -c1-400 "$out/torch-train.jsonl"
  tail -4 "$out/train.err" | cut -c1-300
fi
if [ -n "${BEFORE:-}" ]; then
  python3 bench/gpu/grad.py run --runtime /tmp/libsa.so --artifacts "$BEFORE" --only "$bench" \
    --no-peers > "$out/grad-bench-before.jsonl" 2> "$out/bench-before.err"
  cut -c1-300 "$out/grad-bench-before.jsonl"
  tail -3 "$out/bench-before.err"
fi
python3 bench/gpu/grad.py run --runtime /tmp/libsa.so --only "$bench" \
  > "$out/grad-bench.jsonl" 2> "$out/bench.err"
cut -c1-300 "$out/grad-bench.jsonl"
tail -3 "$out/bench.err"
