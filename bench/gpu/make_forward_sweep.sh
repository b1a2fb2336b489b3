#!/usr/bin/env bash
# Issue #18's forward campaign, the build machine's half: every artifact
# folder that one forward_run.sh command on the GPU machine needs (under
# 64 MB, the device tool's carry limit), made by this tree's compiler.
#
#   bash bench/gpu/make_forward_sweep.sh            # here
#   # there (device tool, carry the printed folders):
#   CHECK_DIRS='.artifacts/fwdchk .artifacts/fwd8 .artifacts/ws8chk .artifacts/ws4chk' \
#   SANITIZE='.artifacts/ws8chk:^check_(causal_D128|dense_D64|softcap_D128|causal_D256)$' \
#   SANITIZE_TOOLS=memcheck,racecheck,synccheck STAGE_TIMEOUT=150 \
#   VARIANTS='.artifacts/sweep' AFTER=.artifacts/base bash bench/gpu/forward_run.sh
#
# base: the default compile (schedule selection, peers measured against
# it); sweep: the same cases under the warp-specialised schedule with two
# consumer warpgroups at block-k 64 and 128 and with one (suffixes _ws8,
# _ws8k128, _ws4), and the two-warpgroup block without it (_w8).
set -euo pipefail
cd "$(dirname "$0")/../.."
mk=(/usr/bin/python3 bench/gpu/make_artifacts.py)
A=.artifacts
cases='^(dense|causal|sliding1024|bigbird|document8)_S8192_D(64|128)$|^(chunked_region|softcap)_S8192_D128$|^(dense|causal)_S8192_D256$|^gqa_causal_S8192_D128$|^topk16_S8192_D(64|128)$'
rm -rf $A/fwdchk $A/fwd8 $A/ws8chk $A/ws4chk $A/base $A/sweep
"${mk[@]}" check --only '^check_(?!program|tokens)' --out $A/fwdchk > /dev/null
"${mk[@]}" check --mma wgmma --warps 8 --only '^check_(?!program|tokens)' --out $A/fwd8 > /dev/null || true
# The warp-specialised schedule refuses run-time key lengths and D < 64
# (diagnostics: make_artifacts.py reports them skipped).
ws='^check_(?!program|tokens|tiny)'
"${mk[@]}" check --mma wgmma --warps 8 --warp-specialize --only "$ws" --out $A/ws8chk | grep -v '^wrote' || true
"${mk[@]}" check --mma wgmma --warps 4 --warp-specialize --only "$ws" --out $A/ws4chk | grep -v '^wrote' || true
"${mk[@]}" bench --only "$cases" --out $A/base > /dev/null
mkdir -p $A/sweep
variant() { # suffix, make_artifacts options...
  local suffix=$1 tmp
  shift
  tmp=$(mktemp -d)
  "${mk[@]}" bench "$@" --only "$cases" --out "$tmp" > /dev/null
  for d in "$tmp"/*; do mv "$d" "$A/sweep/$(basename "$d")_$suffix"; done
  rm -rf "$tmp"
}
variant ws8 --mma wgmma --warps 8 --warp-specialize
variant ws8k128 --mma wgmma --warps 8 --block-k 128 --warp-specialize
variant ws4 --mma wgmma --warps 4 --warp-specialize
variant w8 --mma wgmma --warps 8
du -sh $A/fwdchk $A/fwd8 $A/ws8chk $A/ws4chk $A/base $A/sweep
du -shc $A/fwdchk $A/fwd8 $A/ws8chk $A/ws4chk $A/base $A/sweep | tail -1
