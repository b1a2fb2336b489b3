#!/usr/bin/env bash
# Installs the Debian 12 packages sparse-attn needs, only those missing.
set -euo pipefail
PKGS=(cmake ninja-build gcc g++ git python3 time python3-numpy python3-pytest
      python3-torch
      llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools clang-22 lld-22
      libomp-22-dev libgtest-dev zlib1g-dev libzstd-dev libclang-rt-22-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
