#!/usr/bin/env bash
# Nsight Compute on the backward's kernels (issue #16: where the time goes):
# the first launch of each kernel of the grad.py cases matching CASE_REGEX,
# with the sections that say whether a kernel is bound by its tensor pipes,
# its shared memory, its issue slots or its occupancy. Firecracker machines
# only (the H100 kinds: ncu reads counters there; gVisor does not), clocks
# left alone (METHOD.md). Report text under OUT (default $OUT or ./out).
#
# There (device tool, carrying .artifacts/grad):
#   bash bench/gpu/ncu_grad.sh ['gbench_dense_S8192_D128$']
set -uo pipefail
cases="${1:-gbench_dense_S8192_D128\$}"
source "$(dirname "$0")/runtime.sh"
ncu --clock-control none --target-processes all \
  -k 'regex:sparse_attention_grad_(key|query|dq)' --launch-count 3 \
  --section SpeedOfLight --section ComputeWorkloadAnalysis --section Occupancy \
  --section LaunchStats --section WarpStateStats --section SchedulerStats \
  --section MemoryWorkloadAnalysis --section InstructionStats \
  python3 bench/gpu/grad.py run --runtime /tmp/libsa.so --only "$cases" --no-peers \
  > "$out/ncu-grad.txt" 2> "$out/ncu-grad.err"
echo "ncu rc=$?"
grep -E "sparse_attention_grad|Duration|Compute \(SM\) Throughput|Memory Throughput|Achieved Occupancy|Theoretical Occupancy|Registers Per Thread|Block Limit|Issue Slots Busy|No Eligible|Warp Cycles Per Issued|Stall|L1/TEX Hit|Shared Memory|Executed Ipc A" \
  "$out/ncu-grad.txt" | cut -c1-160 | head -120
tail -3 "$out/ncu-grad.err"
