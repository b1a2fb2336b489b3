#!/usr/bin/env bash
# compute-sanitizer over the backward's kernels (issue #16: the warpgroup
# (wgmma) backward before mma=auto may pick it): each tool in TOOLS
# (default memcheck racecheck synccheck) over grad.py's check cases
# matching CASE_REGEX, the backward's kernels only, each run also checking
# its gradients against the float64 reference. Prints per tool the
# sanitizer's summary and the checks' verdicts; the full reports under OUT
# (default $OUT or ./out). TIMEOUT seconds per tool (default 150).
#
# There (device tool, carrying .artifacts/grad):
#   bash bench/gpu/sanitize_grad.sh ['gcheck_causal_D128_wgmma$']
set -uo pipefail
cases="${1:-gcheck_causal_D128_wgmma\$}"
source "$(dirname "$0")/runtime.sh"
for tool in ${TOOLS:-memcheck racecheck synccheck}; do
  timeout "${TIMEOUT:-150}" compute-sanitizer --tool "$tool" \
    --kernel-name kns=sparse_attention_grad --print-limit 20 \
    python3 bench/gpu/grad.py run --runtime /tmp/libsa.so --only "$cases" --no-peers \
    > "$out/sanitize-grad-$tool.jsonl" 2> "$out/sanitize-grad-$tool.txt"
  echo "$tool rc=$? checks ok=$(grep -c '"ok": true' "$out/sanitize-grad-$tool.jsonl")" \
    "not ok=$(grep -c '"ok": false' "$out/sanitize-grad-$tool.jsonl")"
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY|hazard|Invalid|Error" \
    "$out/sanitize-grad-$tool.txt" | sort | uniq -c | head -8
done
