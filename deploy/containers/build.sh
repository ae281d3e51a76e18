#!/usr/bin/env bash
# Builds the edge and train images with podman and checks them (issue 19):
#   - the base image (docker.io/library/debian:trixie-slim, which the Containerfiles name) is
#     made locally from a debootstrap minbase root when the machine has no registry to pull
#     it from;
#   - edge from its amd64 .deb (cargo-deb over this machine's release build), and from the
#     arm64 and armhf .debs in target/boards/ when cross/podman.sh (or cross/debian.sh) made
#     them, built and run through qemu-user-static; a manifest mnist-edge:VERSION of them all;
#     train from its CPU release build;
#   - the edge image reads the sample frames under --memory 128m --cpus 1 --read-only
#     --cap-drop all as this machine's binary does, serves its page on a loopback port, and
#     its health check passes; the train image trains a smoke run into a volume and resumes;
#   - both Containerfiles pass hadolint (deploy/check.sh); image sizes are printed.
# Not in CI (a cold run debootstraps and builds for minutes); run by hand before a release.
#   deploy/containers/build.sh   needs podman, runc, debootstrap and qemu-user-static (Debian's)
#                                and root or sudo for debootstrap and binfmt_misc
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
cache=${MNIST_EDGE_CACHE:-$HOME/.cache/mnist-edge}
work=$cache/containers
CARGO_DEB=3.7.0
PORT=${PORT:-18080}
BASE=docker.io/library/debian:trixie-slim
MNIST_DIR=${MNIST_DIR:-$(cd ../shared/data/mnist 2>/dev/null && pwd || true)}
[ -n "$MNIST_DIR" ] && [ -d "$MNIST_DIR" ] || { echo "error: set MNIST_DIR to the MNIST files" >&2; exit 1; }
log() { echo "containers: $*" >&2; }
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
# podman, and base images made locally where no registry answers.
source deploy/containers/engine.sh
base_image "$BASE" trixie

# --- What goes into the images: this machine's release builds, edge as a .deb. -------------
cargo build --release --locked -p edge -p train
stage=$work/context; rm -rf "$stage"; mkdir -p "$stage/edge" "$stage/train"
tools=$cache/tools
[ -x "$tools/bin/cargo-deb" ] || cargo install -q --locked cargo-deb --version "$CARGO_DEB" --root "$tools"
"$tools/bin/cargo-deb" -q -p edge --no-build --output "$stage/edge" >/dev/null
deb=$(cd "$stage/edge" && ls mnist-edge_*_amd64.deb | head -1)
cp "$CARGO_TARGET_DIR/release/train" "$stage/train/train"

# --- Lint: hadolint, and the manifests' checks beside it (deploy/check.sh). ----------------
deploy/check.sh

# --- Build. --------------------------------------------------------------------------------
podman build -q --format docker -f deploy/containers/edge.Containerfile --build-arg DEB="$deb" \
  -t mnist-edge:amd64 "$stage/edge" >/dev/null
podman build -q --format docker -f deploy/containers/train.Containerfile --build-arg BASE="$BASE" \
  -t mnist-edge-train:cpu "$stage/train" >/dev/null
for image in mnist-edge:amd64 mnist-edge-train:cpu "$BASE"; do
  log "$image: $(podman image inspect --format '{{.Size}}' "$image") bytes"
done

# --- The edge image reads the samples as this machine does, under the limits. --------------
limits=(--memory 128m --memory-swap 128m --cpus 1 --read-only --cap-drop all --security-opt no-new-privileges)
podman run --rm --no-healthcheck "${limits[@]}" -v "$repo/edge/samples:/samples:ro" mnist-edge:amd64 \
  run --input /samples > "$work/samples.container.jsonl"
"$CARGO_TARGET_DIR/release/edge" run --input edge/samples > "$work/samples.host.jsonl"
cross/same_readings.py "$work/samples.host.jsonl" "$work/samples.container.jsonl" >/dev/null
log "edge image: $(wc -l < "$work/samples.container.jsonl") sample frames read as on this machine, under ${limits[*]}"

# The page: the samples looped through --input on a loopback port; /latest.json answers and
# the image's own health check passes.
name=mnist-edge-check
podman rm -f "$name" >/dev/null 2>&1 || true
podman run -d --name "$name" "${limits[@]}" -p "127.0.0.1:$PORT:8080" \
  -v "$repo/edge/samples:/samples:ro" mnist-edge:amd64 \
  run --input /samples --max-fps 2 --serve 0.0.0.0:8080 >/dev/null 2>&1
trap 'podman rm -f "$name" >/dev/null 2>&1 || true' EXIT
for _ in $(seq 1 30); do
  curl -fsS "http://127.0.0.1:$PORT/latest.json" 2>/dev/null | grep -q '"digits"' && break
  sleep 1
done
curl -fsS "http://127.0.0.1:$PORT/latest.json" > "$work/latest.json"
grep -q '"digits"' "$work/latest.json" || { echo "error: the page gave no reading: $(cat "$work/latest.json")" >&2; exit 1; }
podman healthcheck run "$name"
log "edge image: page on 127.0.0.1:$PORT, /latest.json $(wc -c < "$work/latest.json") bytes, health check passed"
# A stop (SIGTERM, as Kubernetes sends) ends the first process at once, not after the grace.
start=$(date +%s%N)
podman stop -t 10 "$name" >/dev/null 2>&1
took=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$(podman inspect --format '{{.State.ExitCode}}' "$name")" = 0 ] && [ "$took" -lt 5000 ] \
  || { echo "error: the edge container took $took ms to stop, exit code $(podman inspect --format '{{.State.ExitCode}}' "$name")" >&2; exit 1; }
log "edge image: stopped by SIGTERM in $took ms, exit code 0"

# --- The boards' images: arm64 and armhf from the .debs in target/boards (cross/podman.sh or
# cross/debian.sh), built and run through qemu-user-static; each reads the samples as this
# machine does under the same limits (armv7 told of NEON, which qemu hides from tract).
for arch in arm64 armhf; do
  deb_path=$(ls -t "$repo"/target/boards/mnist-edge_*_"$arch".deb 2>/dev/null | head -1 || true)
  [ -n "$deb_path" ] || { log "edge image $arch: no target/boards/mnist-edge_*_$arch.deb (cross/podman.sh makes it); skipped"; continue; }
  case $arch in arm64) binfmt_fixed aarch64; env=() ;; armhf) binfmt_fixed arm; env=(-e TRACT_CPU_ARM32_NEON=true) ;; esac
  base_arch=localhost/debian:trixie-slim-$arch
  base_image "$base_arch" trixie "$arch"
  ctx=$stage/edge-$arch; mkdir -p "$ctx"; cp "$deb_path" "$ctx/"
  podman build -q --format docker --platform "linux/$arch" -f deploy/containers/edge.Containerfile \
    --build-arg BASE="$base_arch" --build-arg DEB="$(basename "$deb_path")" -t "mnist-edge:$arch" "$ctx" >/dev/null
  podman run --rm --no-healthcheck --platform "linux/$arch" "${limits[@]}" "${env[@]}" \
    -v "$repo/edge/samples:/samples:ro" "mnist-edge:$arch" run --input /samples > "$work/samples.$arch.jsonl"
  cross/same_readings.py "$work/samples.host.jsonl" "$work/samples.$arch.jsonl" >/dev/null
  log "mnist-edge:$arch: $(podman image inspect --format '{{.Size}}' "mnist-edge:$arch") bytes, from $(basename "$deb_path"); reads the samples as this machine does, under qemu and ${limits[*]}"
done

# The DaemonSet's image: one name for the boards' architectures (a manifest list), which
# `podman manifest push --all` takes to a registry.
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
podman manifest rm "mnist-edge:$version" >/dev/null 2>&1 || true
podman manifest create "mnist-edge:$version" >/dev/null
for arch in amd64 arm64 armhf; do
  podman image exists "mnist-edge:$arch" && podman manifest add "mnist-edge:$version" "containers-storage:localhost/mnist-edge:$arch" >/dev/null
done
log "mnist-edge:$version: a manifest of $(podman manifest inspect "mnist-edge:$version" | grep -c '"architecture"') architectures"

# --- The train image trains into a volume as a non-root user; killed mid-run (a preempted pod),
# the same command with --resume carries on from the last checkpoint.
runs=$work/runs; $sudo rm -rf "$runs"; mkdir -p "$runs"; chmod 777 "$runs"
run_train=(--read-only --cap-drop all --memory 2g --cpus 2
  -v "$MNIST_DIR:/work/data/mnist:ro" -v "$runs:/work/runs" mnist-edge-train:cpu
  train --arch seed --epochs 3 --train-limit 4096 --out /work/runs/smoke --resume)
name_t=mnist-edge-train-check
podman rm -f "$name_t" >/dev/null 2>&1 || true
podman run -d --name "$name_t" "${run_train[@]}" >/dev/null 2>&1
for _ in $(seq 1 120); do
  [ -s "$runs/smoke/checkpoint.safetensors" ] && break
  sleep 0.5
done
# Stopped as a preempted pod is: SIGTERM, and train ends at once with status 143.
podman stop -t 10 "$name_t" >/dev/null
code=$(podman inspect --format '{{.State.ExitCode}}' "$name_t"); podman rm -f "$name_t" >/dev/null
[ "$code" = 143 ] || { echo "error: the train container stopped with exit code $code, expected 143 (SIGTERM)" >&2; exit 1; }
[ -s "$runs/smoke/checkpoint.safetensors" ] || { echo "error: the train image wrote no checkpoint" >&2; exit 1; }
podman run --rm "${run_train[@]}" > "$work/resume.log" 2>&1
grep -q "resuming /work/runs/smoke/checkpoint.safetensors after epoch" "$work/resume.log" \
  && grep -q '"epoch": *3' "$runs/smoke/metrics.json" \
  || { echo "error: the killed run did not resume to epoch 3" >&2; cat "$work/resume.log" >&2; exit 1; }
log "train image: stopped by SIGTERM (exit 143) $(grep -o 'after epoch [0-9]*' "$work/resume.log"), resumed to epoch 3 in the runs volume, files owned by uid $(stat -c %u "$runs/smoke/metrics.json")"
log "done"
