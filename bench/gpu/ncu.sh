#!/usr/bin/env bash
# Nsight Compute on the project's kernels (issues #16 and #18: where the
# time goes): the first launches of each kernel of the cases matching
# CASE_REGEX, with the sections that say whether a kernel is bound by its
# tensor pipes, its shared memory, its issue slots or its occupancy.
# Firecracker machines only (the H100 kinds: ncu reads counters there;
# gVisor does not), clocks left alone (METHOD.md). Report text under OUT
# (default $OUT or ./out), named after the mode (and the artifacts folder).
#
# There (device tool, carrying .artifacts/grad, or the forward's folder):
#   bash bench/gpu/ncu.sh grad ['gbench_dense_S8192_D128$']
#   bash bench/gpu/ncu.sh forward .artifacts/fwd8 ['^dense_S8192_D128$']
set -uo pipefail
mode="${1:-grad}"
source "$(dirname "$0")/runtime.sh"
case "$mode" in
  grad)
    cases="${2:-gbench_dense_S8192_D128\$}"
    kernels='regex:sparse_attention_grad_(key|query|dq)'
    report="$out/ncu-grad"
    driver=(python3 bench/gpu/grad.py run --runtime /tmp/libsa.so --only "$cases" --no-peers) ;;
  forward)
    artifacts="${2:?forward needs the artifacts folder}"
    cases="${3:-^dense_S8192_D128\$}"
    kernels='regex:^sparse_attention$'
    report="$out/ncu-forward-$(basename "$artifacts")"
    driver=(python3 bench/gpu/run_h200.py --runtime /tmp/libsa.so --artifacts "$artifacts"
            --only "$cases" --no-peers) ;;
  *) echo "usage: ncu.sh grad [CASE_REGEX] | ncu.sh forward ARTIFACTS [CASE_REGEX]" >&2; exit 2 ;;
esac
ncu --clock-control none --target-processes all -k "$kernels" --launch-count 3 \
  --section SpeedOfLight --section ComputeWorkloadAnalysis --section Occupancy \
  --section LaunchStats --section WarpStateStats --section SchedulerStats \
  --section MemoryWorkloadAnalysis --section InstructionStats \
  "${driver[@]}" > "$report.txt" 2> "$report.err"
echo "ncu $mode rc=$?"
grep -E "sparse_attention|Duration|Compute \(SM\) Throughput|Memory Throughput|Achieved Occupancy|Theoretical Occupancy|Registers Per Thread|Block Limit|Issue Slots Busy|No Eligible|Warp Cycles Per Issued|Stall|L1/TEX Hit|Shared Memory|Executed Ipc A" \
  "$report.txt" | cut -c1-160 | head -120
tail -3 "$report.err"
