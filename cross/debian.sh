#!/usr/bin/env bash
# Docker-free cross build of `edge` for the boards, tested under qemu and packaged as .deb:
#   aarch64-unknown-linux-gnu      Jetson (JetPack 4/5/6), 64-bit Raspberry Pi OS
#   armv7-unknown-linux-gnueabihf  32-bit Raspberry Pi OS (Pi 2, 3, 4, Zero 2)
#
#   cross/debian.sh [aarch64] [armv7]        (both when none is named; needs root or sudo)
#
# Debian's own Rust (rustc-web with libstd-rust-web-dev for arm64 and armhf), gcc cross
# compilers and qemu-user come from Debian 13 (trixie), installed in a debootstrap root under
# ~/.cache/mnist-edge: bookworm's rustc-web is 1.85 and tract needs 1.91. zig (PyPI's ziglang,
# through cargo-zigbuild) links against glibc 2.27, so one binary serves JetPack 4 (glibc 2.27)
# and everything newer. Each target: the edge test suite under qemu on two CPUs, the shipped
# model on the 10,000 MNIST test digits and on the sample frames compared with this machine's
# answers, the highest GLIBC symbol version, the stripped size, and a .deb with the systemd unit.
# Results land in target/boards/.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

GLIBC=2.27                 # JetPack 4; Pi OS Buster has 2.28, Bullseye 2.31
MAX_GLIBC_AARCH64=2.31     # the issue's bound for aarch64 (JetPack 5, Pi OS Bullseye)
ZIGLANG=0.14.1
CARGO_ZIGBUILD=0.24.1
CARGO_DEB=3.7.0
SUITE=trixie
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

cache=${MNIST_EDGE_CACHE:-$HOME/.cache/mnist-edge}
root=${CROSS_ROOT:-$cache/$SUITE-root}
cross_target=$cache/cross-target
out=$repo/target/boards
MNIST_DIR=${MNIST_DIR:-$(cd ../shared/data/mnist 2>/dev/null && pwd || true)}
[ -n "$MNIST_DIR" ] && [ -d "$MNIST_DIR" ] || { echo "error: set MNIST_DIR to the MNIST files" >&2; exit 1; }
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(aarch64 armv7)
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
log() { echo "cross: $*" >&2; }

# --- The build root: Debian trixie with Rust, the cross compilers, qemu and zig. -------------
ready=$root/.mnist-edge-ready-$ZIGLANG-$CARGO_ZIGBUILD
if [ ! -e "$ready" ]; then
  log "making the $SUITE build root in $root"
  command -v debootstrap >/dev/null || { $sudo apt-get update -qq; DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq debootstrap >/dev/null; }
  [ -e "$root/etc/debian_version" ] || $sudo debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >/dev/null
  # This machine's certificates, for pip inside the root (a proxy may sign PyPI's).
  $sudo mkdir -p "$root/etc/ssl"
  $sudo cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/host-ca.crt"
  $sudo chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root bash -euc "
    dpkg --add-architecture arm64; dpkg --add-architecture armhf
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      rustc-web cargo-web libstd-rust-web-dev:arm64 libstd-rust-web-dev:armhf \
      gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-arm64-cross libc6-dev-armhf-cross \
      linux-libc-dev-arm64-cross linux-libc-dev-armhf-cross qemu-user libclang-dev clang \
      python3-venv ca-certificates >/dev/null
    python3 -m venv /opt/zig
    /opt/zig/bin/pip install -q --cert /etc/ssl/host-ca.crt ziglang==$ZIGLANG cargo-zigbuild==$CARGO_ZIGBUILD
  "
  $sudo touch "$ready"
fi
[ -z "${CROSS_SETUP_ONLY:-}" ] || exit 0

# --- Mounts: the sources, the crates (fetched here, built offline there), targets, MNIST. ----
cargo fetch --locked -q
registry=${CARGO_HOME:-$HOME/.cargo}/registry
mkdir -p "$cross_target" "$out"
mounts=()
bind() {
  $sudo mkdir -p "$root$2"
  mountpoint -q "$root$2" || $sudo mount --bind "$1" "$root$2"
  mounts+=("$root$2")
}
cleanup() { for m in "${mounts[@]}"; do $sudo umount -l "$m" 2>/dev/null || true; done; }
trap cleanup EXIT
$sudo mkdir -p "$root/proc"
mountpoint -q "$root/proc" || $sudo mount -t proc proc "$root/proc"
mounts+=("$root/proc")
bind "$repo" /src
bind "$registry" /cargo/registry
bind "$cross_target" /target
bind "$MNIST_DIR" /mnist
bind "$out" /out
in_root() {
  $sudo chroot "$root" env -i PATH=/opt/zig/bin:/usr/bin:/bin HOME=/root CARGO_HOME=/cargo \
    CARGO_TARGET_DIR=/target CARGO_TERM_COLOR=never RUST_LOG=warn "$@"
}

# --- This machine's answers, the reference every board build must give. ----------------------
cargo build --locked -q -p edge
host_edge=${CARGO_TARGET_DIR:-$repo/target}/debug/edge
# On tract's integer kernels, as the boards run the quantized default (x86 runs it on float
# kernels on the same grid, which can round an activation the other way: edge::infer::Kernels).
EDGE_KERNELS=integer "$host_edge" mnist --data "$MNIST_DIR" --logits "$out/x86_64.logits"
EDGE_KERNELS=integer RUST_LOG=warn "$host_edge" run --input edge/samples > "$out/x86_64.samples.jsonl"

# Same digits, boxes and numbers as on this machine, confidences within 1e-4.
same_readings() { cross/same_readings.py "$out/x86_64.samples.jsonl" "$1"; }

for t in "${targets[@]}"; do
  case $t in
    aarch64) triple=aarch64-unknown-linux-gnu; qemu=qemu-aarch64; sysroot=/usr/aarch64-linux-gnu
             gnu=aarch64-linux-gnu; deb_arch=arm64
             # Pi 4 (no dot product) and Pi 5 / Jetson Orin class (dot-product int8 kernels).
             cpus=(cortex-a72 cortex-a76); extra=() ;;
    armv7)   triple=armv7-unknown-linux-gnueabihf; qemu=qemu-arm; sysroot=/usr/arm-linux-gnueabihf
             gnu=arm-linux-gnueabihf; deb_arch=armhf
             # Under qemu tract cannot see NEON in /proc/cpuinfo; every Pi that runs armv7 has it.
             cpus=(cortex-a7); extra=(TRACT_CPU_ARM32_NEON=true) ;;
    *) echo "error: unknown target '$t' (aarch64 or armv7)" >&2; exit 1 ;;
  esac
  up=$(echo "$triple" | tr 'a-z-' 'A-Z_')
  start=$(date +%s)
  log "$triple: building (profile board, glibc $GLIBC)"
  build=(cargo-zigbuild test --frozen --profile board -p edge --features camera --target "$triple.$GLIBC")
  in_root bash -o pipefail -c "cd /src && ${build[*]} --no-run 2>&1 | sed '/^ *\\(Compiling\\|Executable\\)/d'"
  bin=$cross_target/$triple/board/edge
  [ -x "$bin" ] || { echo "error: $bin was not built" >&2; exit 1; }
  log "$triple: built in $(( $(date +%s) - start )) s"

  for cpu in "${cpus[@]}"; do
    runner="$qemu -L $sysroot -cpu $cpu"
    log "$triple: tests under $runner"
    # The live-page test needs Chromium and the frame-pipe tests ffmpeg, which the build root
    # lacks; they run on x86_64 (the stream parsing's unit tests run here).
    in_root env "${extra[@]}" "CARGO_TARGET_${up}_RUNNER=$runner" "EDGE_TEST_RUNNER=$runner" MNIST_DIR=/mnist \
      bash -o pipefail -c "cd /src && ${build[*]} -q -- --skip live:: --skip pipe:: 2>&1 | sed -n '/^test result\\|FAILED\\|panicked/p'"
    in_root env "${extra[@]}" bash -c "cd /src && $runner /target/$triple/board/edge mnist \
      --data /mnist --compare /out/x86_64.logits --tolerance 1e-4"
    in_root env "${extra[@]}" bash -c "cd /src && $runner /target/$triple/board/edge run \
      --input edge/samples > /out/$t-$cpu.samples.jsonl"
    same_readings "$out/$t-$cpu.samples.jsonl"
  done

  glibc=$(in_root "$gnu-objdump" -T "/target/$triple/board/edge" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
  size=$(stat -c %s "$bin")
  log "$triple: needs $glibc at most, $size bytes stripped"
  if [ "$t" = aarch64 ] && [ "$(printf '%s\n' "${glibc#GLIBC_}" "$MAX_GLIBC_AARCH64" | sort -V | tail -1)" != "$MAX_GLIBC_AARCH64" ]; then
    echo "error: $bin needs $glibc, newer than the boards' $MAX_GLIBC_AARCH64" >&2; exit 1
  fi
  cp "$bin" "$out/edge-$t"

  # The .deb: cargo-deb from crates.io, built once for this machine.
  tools=$cache/tools
  [ -x "$tools/bin/cargo-deb" ] || cargo install -q --locked cargo-deb --version "$CARGO_DEB" --root "$tools"
  CARGO_TARGET_DIR=$cross_target "$tools/bin/cargo-deb" -q -p edge --no-build --no-strip \
    --target "$triple" --profile board --output "$out" >/dev/null
  deb=$(ls -t "$out"/mnist-edge_*_"$deb_arch".deb | head -1)
  # What it installs runs: the packaged binary finds the packaged default model by itself.
  unpacked=$root/tmp/deb-$t; $sudo rm -rf "$unpacked"; $sudo dpkg-deb -x "$deb" "$unpacked"
  for f in usr/bin/edge usr/share/mnist-edge/models/models.json usr/lib/systemd/system/mnist-edge.service etc/default/mnist-edge; do
    [ -e "$unpacked/$f" ] || { echo "error: $deb lacks $f" >&2; exit 1; }
  done
  in_root env "${extra[@]}" RUST_LOG=info bash -c "cd / && $qemu -L $sysroot -cpu ${cpus[0]} \
    /tmp/deb-$t/usr/bin/edge run --input /src/edge/samples > /out/$t-deb.samples.jsonl 2> /out/$t-deb.log"
  grep -q "model /tmp/deb-$t/usr/bin/../share/mnist-edge/models/" "$out/$t-deb.log" \
    || { echo "error: the packaged edge did not use the packaged model: $(grep model "$out/$t-deb.log")" >&2; exit 1; }
  same_readings "$out/$t-deb.samples.jsonl"
  log "$triple: $(basename "$deb") $(stat -c %s "$deb") bytes; done in $(( $(date +%s) - start )) s"
done
