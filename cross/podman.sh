#!/usr/bin/env bash
# `cross build` through podman, as Cross.toml promises (issue 19):
#   cross/podman.sh [aarch64] [armv7]        (both when none is named)
# For each target: cross 0.2.5 (crates.io) builds cross/Containerfile with podman (its
# Debian 11 base made from a debootstrap root where no registry answers) and runs
#   cross build --profile board --target TRIPLE -p edge --features camera
# in it with the host's rustup toolchain; the binary is then run under qemu on this machine's
# MNIST logits (within 1e-4) and sample frames (same digits, boxes and numbers), its highest
# GLIBC symbol version is checked against 2.31, and it is packaged as a .deb in target/boards/
# (deploy/containers/build.sh makes the boards' edge images from it).
# Not in CI: a cold run makes the image and builds for many minutes; run it before a release.
# Needs podman, runc, debootstrap, qemu-user-static (Debian's), rustup, and root or sudo for
# debootstrap.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
CROSS=0.2.5
CARGO_DEB=3.7.0
MAX_GLIBC=2.31
BASE=docker.io/library/debian:bullseye-slim
cache=${MNIST_EDGE_CACHE:-$HOME/.cache/mnist-edge}
work=$cache/containers
tools=$cache/tools
out=$repo/target/boards
export CARGO_TARGET_DIR=$cache/cross-podman-target
MNIST_DIR=${MNIST_DIR:-$(cd ../shared/data/mnist 2>/dev/null && pwd || true)}
[ -n "$MNIST_DIR" ] && [ -d "$MNIST_DIR" ] || { echo "error: set MNIST_DIR to the MNIST files" >&2; exit 1; }
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(aarch64 armv7)
log() { echo "cross: $*" >&2; }
source deploy/containers/engine.sh
base_image "$BASE" bullseye
[ -x "$tools/bin/cross" ] || cargo install -q --locked cross --version "$CROSS" --root "$tools"
[ -x "$tools/bin/cargo-deb" ] || cargo install -q --locked cargo-deb --version "$CARGO_DEB" --root "$tools"
export CROSS_CONTAINER_ENGINE=podman
# The toolchain by its version: cross 0.2.5 does not read rustup 1.28's "(active, default)"
# in `rustup toolchain list`, takes the active toolchain for missing and "installs" it, which
# for a channel such as stable means updating it to the newest release. A version stays put.
rust=$(rustc --version | cut -d' ' -f2)
rustup toolchain install "$rust" --profile minimal >/dev/null 2>&1 || true
mkdir -p "$out" "$CARGO_TARGET_DIR"

# This machine's answers, the reference every board build must give.
cargo fetch --locked -q
cargo build --locked -q -p edge --target-dir "$cache/target"
host_edge=$cache/target/debug/edge
# On tract's integer kernels, as the boards run the quantized default (x86 runs it on float
# kernels on the same grid, which can round an activation the other way: edge::infer::Kernels).
EDGE_KERNELS=integer "$host_edge" mnist --data "$MNIST_DIR" --logits "$out/x86_64.logits"
EDGE_KERNELS=integer RUST_LOG=warn "$host_edge" run --input edge/samples > "$out/x86_64.samples.jsonl"

for t in "${targets[@]}"; do
  case $t in
    aarch64) triple=aarch64-unknown-linux-gnu; qemu=qemu-aarch64-static; gnu=aarch64-linux-gnu
             deb_arch=arm64; cpus=(cortex-a72 cortex-a76); extra=() ;;
    armv7)   triple=armv7-unknown-linux-gnueabihf; qemu=qemu-arm-static; gnu=arm-linux-gnueabihf
             deb_arch=armhf; cpus=(cortex-a7)
             # Under qemu tract cannot see NEON in /proc/cpuinfo; every Pi that runs armv7 has it.
             extra=(TRACT_CPU_ARM32_NEON=true) ;;
    *) echo "error: unknown target '$t' (aarch64 or armv7)" >&2; exit 1 ;;
  esac
  start=$(date +%s)
  rustup target add --toolchain "$rust" "$triple" >/dev/null 2>&1 \
    || rustup target list --installed --toolchain "$rust" | grep -qx "$triple" \
    || { echo "error: rustup could not add $triple to $rust" >&2; exit 1; }
  log "$triple: cross build through podman (profile board)"
  # --frozen: the crates were fetched above and are mounted; the container needs no network.
  "$tools/bin/cross" "+$rust" build --frozen -q --profile board --target "$triple" -p edge --features camera
  bin=$CARGO_TARGET_DIR/$triple/board/edge
  [ -x "$bin" ] || { echo "error: cross left no $bin" >&2; exit 1; }
  log "$triple: built in $(( $(date +%s) - start )) s, $(stat -c %s "$bin") bytes"

  # The image's target libraries, for qemu here.
  image=$(podman images --format '{{.Repository}}:{{.Tag}}' | grep -m1 "cross-custom-.*:$triple") \
    || { echo "error: no image cross built for $triple" >&2; exit 1; }
  sysroot=$work/sysroot-$gnu
  if [ ! -e "$sysroot/lib" ]; then
    ctr=$(podman create "$image" true)
    rm -rf "$sysroot"; podman cp "$ctr:/usr/$gnu" "$sysroot"; podman rm "$ctr" >/dev/null
  fi
  glibc=$(objdump -T "$bin" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
  [ -n "$glibc" ] || glibc=$(strings "$bin" | grep -o '^GLIBC_[0-9.]*$' | sort -uV | tail -1)
  if [ "$(printf '%s\n' "${glibc#GLIBC_}" "$MAX_GLIBC" | sort -V | tail -1)" != "$MAX_GLIBC" ]; then
    echo "error: $bin needs $glibc, newer than the boards' $MAX_GLIBC" >&2; exit 1
  fi
  log "$triple: needs $glibc at most"
  for cpu in "${cpus[@]}"; do
    run=(env "${extra[@]}" "$qemu" -L "$sysroot" -cpu "$cpu" "$bin")
    RUST_LOG=warn "${run[@]}" mnist --data "$MNIST_DIR" --compare "$out/x86_64.logits" --tolerance 1e-4
    RUST_LOG=warn "${run[@]}" run --input edge/samples > "$out/cross-$t-$cpu.samples.jsonl"
    cross/same_readings.py "$out/x86_64.samples.jsonl" "$out/cross-$t-$cpu.samples.jsonl"
  done
  "$tools/bin/cargo-deb" -q -p edge --no-build --no-strip --variant glibc231 \
    --target "$triple" --profile board --output "$out" >/dev/null
  log "$triple: $(ls -t "$out"/mnist-edge_*_"$deb_arch".deb | head -1); done in $(( $(date +%s) - start )) s"
done
