#!/usr/bin/env bash
# Builds `train --features cuda` (issue 16): installs Debian's CUDA toolkit (11.8 on Debian
# 12) from the contrib and non-free components (an apt source of its own,
# /etc/apt/sources.list.d/mnist-edge-non-free.sources; the driver's support packages are in
# contrib), then compiles candle's CUDA kernels for the compute capabilities asked for. No GPU
# is needed to compile and link; `libcuda1` (the driver's user-space library) installs without
# a kernel module. Not in CI: the toolkit is about 3 GB.
#
#   train/cuda/build.sh [CAP ...]     compute capabilities, default 80 90 87 (Ampere and
#                                     Hopper desktops/servers, Jetson Orin)
set -euo pipefail
cd "$(dirname "$0")/../.."
caps=("$@")
[ ${#caps[@]} -gt 0 ] || caps=(80 90 87)
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
. /etc/os-release
src=/etc/apt/sources.list.d/mnist-edge-non-free.sources
if ! command -v nvcc >/dev/null; then
  if [ ! -e "$src" ]; then
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s %s-updates\nComponents: contrib non-free non-free-firmware\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$VERSION_CODENAME" "$VERSION_CODENAME" | $sudo tee "$src" >/dev/null
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    nvidia-cuda-toolkit nvidia-cuda-dev libcuda1 >/dev/null
fi
nvcc --version | tail -2
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/mnist-edge/target-cuda}
for cap in "${caps[@]}"; do
  start=$(date +%s)
  CUDA_COMPUTE_CAP=$cap cargo build --release --locked -p train --features cuda
  mkdir -p "$CARGO_TARGET_DIR/sm_$cap"
  cp "$CARGO_TARGET_DIR/release/train" "$CARGO_TARGET_DIR/sm_$cap/train"
  echo "cuda: sm_$cap built in $(( $(date +%s) - start )) s: $CARGO_TARGET_DIR/sm_$cap/train"
done
